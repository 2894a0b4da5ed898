#!/usr/bin/env bash
# shellcheck disable=SC2317  # build_<component> and the helpers are called indirectly
# Compile the lab cluster's binaries from the Go module proxy and cache them.
#
#   tests/lab/cluster/build.sh [component...]     components: kubernetes etcd kwok coredns pause toxiproxy kube-router versitygw
#                                                 (default: all of these), and, only when named: mongo-tools ferretdb
#   tests/lab/cluster/build.sh --print-dir COMPONENT
#
# Each component lands in $STATESHIFT_CACHE/bin/<component>-<version>-<key>/, where <key>
# hashes the pinned version (versions.env), the wrapper templates, the Go version and the
# build recipe; it is rebuilt only when one of those changes. $STATESHIFT_CACHE/bin/current/
# holds symlinks to the binaries of the current keys (not those of mongo-tools and ferretdb). Build logs:
# $STATESHIFT_CACHE/logs/build-<component>.log. Go caches: $STATESHIFT_CACHE/go-build and
# go-mod (override with STATESHIFT_GOCACHE / STATESHIFT_GOMODCACHE).
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

GO=$(go_bin)
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false -modcacherw"
export GOCACHE="${STATESHIFT_GOCACHE:-$STATESHIFT_CACHE/go-build}"
export GOMODCACHE="${STATESHIFT_GOMODCACHE:-$STATESHIFT_CACHE/go-mod}"
BUILD_LOGS="$STATESHIFT_CACHE/logs"

if [ "${1:-}" = --print-dir ]; then
  [ $# -eq 2 ] || die "usage: build.sh --print-dir COMPONENT"
  component_dir "$2"
  exit 0
fi

# Go >= 1.26: etcd 3.6.16 and CoreDNS 1.15 declare 'go 1.26.0'.
gov=$("$GO" env GOVERSION)
case "$gov" in
  go1.2[6-9]*|go1.[3-9]*) ;;
  *) die "Go $gov is too old: etcd $ETCD_VERSION and CoreDNS $COREDNS_VERSION need Go >= 1.26 (GOTOOLCHAIN=local: no toolchain download)." ;;
esac

CURRENT_COMPONENT=""
CURRENT_LOG=""
TICKER_PID=""

stop_ticker() {
  if [ -n "$TICKER_PID" ]; then kill "$TICKER_PID" 2>/dev/null || true; wait "$TICKER_PID" 2>/dev/null || true; TICKER_PID=""; fi
}
trap stop_ticker EXIT

# run CMD...: run a build step, output to the component's log; on failure show its tail and
# name the component and the command.
run() {
  local rc=0
  printf '\n$ %s\n' "$*" >>"$CURRENT_LOG"
  "$@" >>"$CURRENT_LOG" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    stop_ticker
    tail -n 30 "$CURRENT_LOG" | sed 's/^/    | /' >&2
    die "building '$CURRENT_COMPONENT' failed: '$*' exited $rc (in $(pwd)). Full log: $CURRENT_LOG"
  fi
}

# ticker WHAT: a progress line every minute while a long step runs.
start_ticker() {
  local what=$1 start=$SECONDS
  ( while sleep 60; do
      log "  ... $what: $(( (SECONDS - start) / 60 )) min, Go build cache $(du -sm "$GOCACHE" 2>/dev/null | cut -f1) MiB"
    done ) &
  TICKER_PID=$!
}

go_tidy() { run "$GO" mod tidy; }

build_kubernetes() {
  local out=$1 work=$2 v=$K8S_VERSION minor patch stage_v gomod replaces ldflags pkgs=() b
  minor=$(echo "$v" | cut -d. -f2); patch=$(echo "$v" | cut -d. -f3)
  stage_v="v0.$minor.$patch"
  cd "$work"
  # The staging modules k8s.io/kubernetes replaces with ./staging/src/... come from its go.mod.
  gomod=$("$GO" mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$gomod" ] || die "building 'kubernetes' failed: 'go mod download k8s.io/kubernetes@$v' gave no go.mod (is $v on the Go module proxy?)"
  replaces=$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9.-]*\) => \./staging/src/k8s\.io/[a-z0-9.-]*$#\t\1 => \1 '"$stage_v"'#p' "$gomod")
  [ "$(printf '%s\n' "$replaces" | grep -c .)" -ge 20 ] || die "building 'kubernetes' failed: found too few staging replaces in $gomod"
  awk -v ver="$v" -v rep="$replaces" '{ gsub(/@K8S_VERSION@/, ver); if ($0 == "@REPLACES@") print rep; else print }' \
    "$CLUSTER_DIR/k8s-wrapper/go.mod.in" >go.mod
  cp "$CLUSTER_DIR/k8s-wrapper/tools.go" tools.go
  log "  resolving modules (go mod tidy)"
  go_tidy
  for p in "k8s.io/component-base/version" "k8s.io/client-go/pkg/version"; do
    ldflags+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ldflags+=" -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  for b in $(component_binaries kubernetes); do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  log "  compiling ${pkgs[*]##*/} in one go build (cold: ~7 min on 2 cores)"
  start_ticker "kubernetes"
  run "$GO" build -trimpath -ldflags "-s -w$ldflags" -o "$out/" "${pkgs[@]}"
  stop_ticker
}

build_etcd() {
  local out=$1 work=$2
  cd "$work"
  sed "s/@ETCD_VERSION@/$ETCD_VERSION/g" "$CLUSTER_DIR/etcd-wrapper/go.mod.in" >go.mod
  cp "$CLUSTER_DIR/etcd-wrapper/main.go" main.go
  go_tidy
  start_ticker "etcd"
  run "$GO" build -trimpath -ldflags "-s -w" -o "$out/etcd" .
  stop_ticker
}

build_kwok() {
  local out=$1 work=$2 ld="sigs.k8s.io/kwok/pkg/consts"
  cd "$work"
  start_ticker "kwok"
  run env GOBIN="$out" "$GO" install -trimpath \
    -ldflags "-s -w -X $ld.Version=${KWOK_VERSION#v} -X $ld.KubeVersion=${K8S_VERSION#v}" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  stop_ticker
}

build_pause() {
  local out=$1 work=$2
  cp "$CLUSTER_DIR/pause/go.mod" "$CLUSTER_DIR/pause/main.go" "$work/"
  cd "$work"
  run "$GO" build -trimpath -ldflags "-s -w" -o "$out/pause" .
}

# CoreDNS with only the lab Corefile's plugins (coredns-wrapper/main.go): the module's own main
# links every plugin and the cloud SDKs behind route53, azure and clouddns.
build_coredns() {
  local out=$1 work=$2
  cd "$work"
  sed "s/@COREDNS_VERSION@/$COREDNS_VERSION/g" "$CLUSTER_DIR/coredns-wrapper/go.mod.in" >go.mod
  cp "$CLUSTER_DIR/coredns-wrapper/main.go" main.go
  go_tidy
  start_ticker "coredns"
  run "$GO" build -trimpath -ldflags "-s -w" -o "$out/coredns" .
  stop_ticker
}

build_toxiproxy() {
  local out=$1 work=$2
  cd "$work"
  run env GOBIN="$work/bin" "$GO" install -trimpath \
    -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION#v}" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
  mv "$work/bin/server" "$out/toxiproxy-server"
}

# versitygw: an S3 gateway (Apache-2.0) over a directory, checking SigV4 signatures: the lab's off-site backup target.
build_versitygw() {
  local out=$1 work=$2
  cd "$work"
  start_ticker "versitygw"
  run env GOBIN="$work/bin" "$GO" install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  stop_ticker
  mv "$work/bin/versitygw" "$out/versitygw"
}

# kube-router: only its NetworkPolicy controller runs (node.sh: --run-firewall=true
# --run-router=false --run-service-proxy=false), so kube-router-wrapper/main.go builds that
# controller alone, without the GoBGP, IPVS and AWS SDK code of the module's cmd/kube-router.
build_kube_router() {
  local out=$1 work=$2 ld="github.com/cloudnativelabs/kube-router/v2/pkg/version"
  cd "$work"
  sed "s/@KUBE_ROUTER_VERSION@/$KUBE_ROUTER_VERSION/g" "$CLUSTER_DIR/kube-router-wrapper/go.mod.in" >go.mod
  cp "$CLUSTER_DIR/kube-router-wrapper/main.go" main.go
  go_tidy
  start_ticker "kube-router"
  run "$GO" build -trimpath \
    -ldflags "-s -w -X $ld.Version=$KUBE_ROUTER_VERSION -X $ld.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -o "$out/kube-router" .
  stop_ticker
}

# module_src MODULE VERSION DEST [VAR=VALUE...]: a writable copy of the source of MODULE@VERSION
# (downloaded into the module cache) in DEST, for modules that cannot be built with 'go install
# MODULE/cmd@VERSION'. VAR=VALUE: environment of the download (e.g. GONOSUMDB).
module_src() {
  local mod=$1 v=$2 dest=$3 json dir
  printf '\n$ go mod download -json %s@%s\n' "$mod" "$v" >>"$CURRENT_LOG"
  json=$(env "${@:4}" "$GO" mod download -json "$mod@$v" 2>&1) || {
    printf '%s\n' "$json" >>"$CURRENT_LOG"
    die "building '$CURRENT_COMPONENT' failed: 'go mod download $mod@$v' failed: $(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$json" | head -n 1) (is $v on the Go module proxy? see $CURRENT_LOG)"
  }
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")
  [ -f "${dir:-/nonexistent}/go.mod" ] || die "building '$CURRENT_COMPONENT' failed: 'go mod download $mod@$v' gave no source directory"
  mkdir -p "$dest"
  cp -R "$dir/." "$dest/"
  chmod -R u+w "$dest"
}

# mongo-tools: mongodump and mongorestore only. The module's tags (100.x.y) are not semver, so it is
# pinned at a pseudo-version, which the checksum database does not know: GONOSUMDB for this module
# alone (its dependencies are still checked against its go.sum and the checksum database). Built
# from a copy of its source without vendor/ (-mod=mod: modules from the proxy, as for the rest),
# without cgo and build tags: SCRAM and TLS (Go's crypto/tls) work, GSSAPI/Kerberos does not.
build_mongo_tools() {
  local out=$1 work=$2 mod=github.com/mongodb/mongo-tools v=$MONGO_TOOLS_VERSION ld b
  module_src "$mod" "$v" "$work/src" "GONOSUMDB=$mod"
  cd "$work/src"
  rm -rf vendor
  ld="-s -w -X main.VersionStr=$v -X main.GitCommit=${v##*-}"
  start_ticker "mongo-tools"
  for b in mongodump mongorestore; do
    run env GONOSUMDB="$mod" GOFLAGS="$GOFLAGS -mod=mod" "$GO" build -trimpath -ldflags "$ld" -o "$out/$b" "./$b/main"
  done
  stop_ticker
}

# FerretDB v1 (MongoDB wire protocol on SQLite or PostgreSQL). Its build/version package embeds
# version.txt, which the module does not ship (a 'go install' binary panics at start: "Invalid
# build/version/version.txt file content"): built from a copy of its source with that file written.
build_ferretdb() {
  local out=$1 work=$2
  module_src github.com/FerretDB/FerretDB "$FERRETDB_VERSION" "$work/src"
  cd "$work/src"
  printf '%s\n' "$FERRETDB_VERSION" >build/version/version.txt
  start_ticker "ferretdb"
  run "$GO" build -trimpath -ldflags "-s -w" -o "$out/ferretdb" ./cmd/ferretdb
  stop_ticker
}

# CloudNativePG's Cluster CRD from its module's config/crd/bases (the Go module proxy, checked against the checksum
# database), cached per version: no binary, so not a component.
fetch_cnpg_crd() {
  local file dir json src
  file=$(cnpg_crd_file); dir=${file%/*}
  if [ -f "$dir/.complete" ]; then
    log "cloudnative-pg $CNPG_VERSION Cluster CRD: cached in $dir"
    return 0
  fi
  json=$("$GO" mod download -json "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION" 2>&1) \
    || die "fetching CloudNativePG's CRD failed: 'go mod download github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION': $(tail -n 3 <<<"$json")"
  src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")
  [ -f "$src/config/crd/bases/${file##*/}" ] || die "fetching CloudNativePG's CRD failed: no config/crd/bases/${file##*/} in $src"
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  cp "$src/config/crd/bases/${file##*/}" "$dir.tmp/"
  touch "$dir.tmp/.complete"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
  log "cloudnative-pg $CNPG_VERSION Cluster CRD: fetched into $dir"
}

link_current() {
  local cur c b d
  cur=$(lab_path)
  mkdir -p "$cur"
  for c in "${CLUSTER_COMPONENTS[@]}"; do
    component_built "$c" || continue
    d=$(component_dir "$c")
    for b in $(component_binaries "$c"); do ln -sfn "$d/$b" "$cur/$b"; done
  done
}

build_one() {
  local c=$1 dir tmp work t0 b
  dir=$(component_dir "$c")
  if [ -f "$dir/.complete" ]; then
    log "$c $(component_version "$c"): cached in $dir"
    return 0
  fi
  CURRENT_COMPONENT=$c
  CURRENT_LOG="$BUILD_LOGS/build-$c.log"
  : >"$CURRENT_LOG"
  tmp="$dir.tmp"
  work="$STATESHIFT_CACHE/src/$(basename "$dir")"
  rm -rf "$tmp" "$work"
  mkdir -p "$tmp" "$work"
  t0=$SECONDS
  log "$c $(component_version "$c"): building into $dir (log: $CURRENT_LOG)"
  "build_${c//-/_}" "$tmp" "$work"
  cd "$CLUSTER_DIR"
  for b in $(component_binaries "$c"); do
    [ -x "$tmp/$b" ] || die "building '$c' failed: $b was not produced in $tmp (see $CURRENT_LOG)"
  done
  printf '%s %s built in %ss with %s\n' "$c" "$(component_version "$c")" "$((SECONDS - t0))" "$gov" >"$tmp/.complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  rm -rf "$work"
  log "$c $(component_version "$c"): built in $((SECONDS - t0))s ($(du -sm "$dir" | cut -f1) MiB)"
}

main() {
  local comps=("$@") c
  [ ${#comps[@]} -gt 0 ] || comps=("${CLUSTER_COMPONENTS[@]}")
  for c in "${comps[@]}"; do component_version "$c" >/dev/null; done
  mkdir -p "$STATESHIFT_CACHE/bin" "$BUILD_LOGS"
  local need=0
  for c in "${comps[@]}"; do component_built "$c" || need=1; done
  [ "$need" -eq 0 ] || need_disk "$STATESHIFT_CACHE" 10000
  for c in "${comps[@]}"; do build_one "$c"; done
  link_current
  [ $# -gt 0 ] || fetch_cnpg_crd
}

main "$@"; exit $?
