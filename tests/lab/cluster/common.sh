# Shared by build.sh, cluster.sh, node.sh and smoke.sh. Source it; do not run it.
# shellcheck shell=bash disable=SC2034

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$CLUSTER_DIR/../lib.sh"
# shellcheck source=versions.env
. "$CLUSTER_DIR/versions.env"

# Bump when the way a component is built changes (flags, layout), to force a rebuild.
BUILD_RECIPE=3

CLUSTER_COMPONENTS=(kubernetes etcd kwok coredns pause toxiproxy kube-router versitygw)
# Built only when named (build.sh mongo-tools ferretdb): a bare build.sh, and so cluster.sh up and
# setup.sh, never builds them, and they are not linked into bin/current (find them with
# build.sh --print-dir COMPONENT or lab_bin NAME).
OPTIONAL_COMPONENTS=(mongo-tools ferretdb)

LAB_DIR="$STATESHIFT_CACHE/lab"           # cluster state: kubeconfig, kwokctl home, node dirs
LAB_KUBECONFIG="$LAB_DIR/kubeconfig"
LAB_LOGS="$LAB_DIR/logs"
export LAB_DIR LAB_KUBECONFIG LAB_LOGS

# cnpg_crd_file: CloudNativePG's Cluster CRD, as build.sh fetched it (the lab installs the CRD so the API server
# validates the Cluster objects the collection renders; the operator does not run here).
cnpg_crd_file() { printf '%s\n' "$STATESHIFT_CACHE/crds/cloudnative-pg-$CNPG_VERSION/postgresql.cnpg.io_clusters.yaml"; }

# go_bin: the Go toolchain to build with (go on PATH, else /usr/local/go/bin/go).
go_bin() {
  local g
  g=$(command -v go 2>/dev/null || true)
  [ -n "$g" ] || { [ -x /usr/local/go/bin/go ] && g=/usr/local/go/bin/go; }
  [ -n "$g" ] || die "no Go toolchain: install Go >= 1.26 (needed to build Kubernetes, etcd, kwok and CoreDNS) and put it on PATH."
  printf '%s\n' "$g"
}

# component_version COMPONENT: the pinned version from versions.env.
component_version() {
  case "$1" in
    kubernetes) echo "$K8S_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;;
    pause) echo "v3.10" ;;
    toxiproxy) echo "$TOXIPROXY_VERSION" ;;
    kube-router) echo "$KUBE_ROUTER_VERSION" ;;
    versitygw) echo "$VERSITYGW_VERSION" ;;
    mongo-tools) echo "$MONGO_TOOLS_VERSION" ;;
    ferretdb) echo "$FERRETDB_VERSION" ;;
    *) die "unknown component '$1' (known: ${CLUSTER_COMPONENTS[*]}; built only when named: ${OPTIONAL_COMPONENTS[*]})" ;;
  esac
}

# component_binaries COMPONENT: the binaries the component's cache directory holds.
component_binaries() {
  case "$1" in
    kubernetes) echo "kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl" ;;
    etcd) echo "etcd" ;;
    kwok) echo "kwok kwokctl" ;;
    coredns) echo "coredns" ;;
    pause) echo "pause" ;;
    toxiproxy) echo "toxiproxy-server" ;;
    kube-router) echo "kube-router" ;;
    versitygw) echo "versitygw" ;;
    mongo-tools) echo "mongodump mongorestore" ;;
    ferretdb) echo "ferretdb" ;;
    *) die "unknown component '$1'" ;;
  esac
}

# component_key COMPONENT: hash of everything the build of COMPONENT depends on.
component_key() {
  local c=$1 goversion files=()
  goversion=$(GOTOOLCHAIN=local "$(go_bin)" env GOVERSION 2>/dev/null || echo unknown)
  case "$c" in
    kubernetes) files=("$CLUSTER_DIR"/k8s-wrapper/*) ;;
    etcd) files=("$CLUSTER_DIR"/etcd-wrapper/*) ;;
    pause) files=("$CLUSTER_DIR"/pause/*) ;;
    coredns) files=("$CLUSTER_DIR"/coredns-wrapper/*) ;;
    kube-router) files=("$CLUSTER_DIR"/kube-router-wrapper/*) ;;
  esac
  inputs_key <(printf '%s %s %s recipe=%s\n' "$c" "$(component_version "$c")" "$goversion" "$BUILD_RECIPE") "${files[@]}"
}

# component_dir COMPONENT: $STATESHIFT_CACHE/bin/<component>-<version>-<key>
component_dir() {
  printf '%s/bin/%s-%s-%s\n' "$STATESHIFT_CACHE" "$1" "$(component_version "$1")" "$(component_key "$1")"
}

# component_built COMPONENT: true when the cache holds a complete build.
component_built() { [ -f "$(component_dir "$1")/.complete" ]; }

# lab_bin NAME: path of a built binary, or die telling how to build it.
lab_bin() {
  local name=$1 c d
  for c in "${CLUSTER_COMPONENTS[@]}" "${OPTIONAL_COMPONENTS[@]}"; do
    case " $(component_binaries "$c") " in
      *" $name "*)
        d=$(component_dir "$c")
        if [ ! -x "$d/$name" ] || [ ! -f "$d/.complete" ]; then
          die "$name is not built (expected $d/$name): run tests/lab/cluster/build.sh $c"
        fi
        printf '%s\n' "$d/$name"
        return 0 ;;
    esac
  done
  die "lab_bin: unknown binary '$name'"
}

# lab_path: a directory of symlinks to every built binary (kubectl first on PATH).
lab_path() { printf '%s\n' "$STATESHIFT_CACHE/bin/current"; }

# kc ARGS...: kubectl (the lab's own build) against the lab cluster.
kc() { "$(lab_path)/kubectl" --kubeconfig "$LAB_KUBECONFIG" "$@"; }

# --- cluster layout ----------------------------------------------------------------------------
LAB_CLUSTER_NAME=stateshift-lab
KWOK_WORKDIR="$LAB_DIR/kwok"                                  # kwokctl's home (KWOK_WORKDIR)
KWOK_CLUSTER_DIR="$KWOK_WORKDIR/clusters/$LAB_CLUSTER_NAME"
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1          # the 'kubernetes' Service: the first address of SERVICE_CIDR
CLUSTER_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24       # the real node's pods (CNI host-local range)
NODE_BRIDGE=stateshift0           # CNI bridge; its address is the pods' gateway and DNS server
NODE_BRIDGE_IP=10.244.0.1
CLUSTER_DOMAIN=cluster.local
DNS_SERVICE_IP=10.96.0.10         # Service kube-system/kube-dns -> CoreDNS on $NODE_BRIDGE_IP
REAL_NODE_NAME=lab-node
KWOK_NODES="${LAB_KWOK_NODES:-2}"
export KWOK_WORKDIR

# kwokctl_ ARGS...: kwokctl for the lab cluster (fd 9, the lab lock, is not passed on to the
# components it forks).
kwokctl_() { PATH="$(lab_path):$PATH" KWOK_WORKDIR="$KWOK_WORKDIR" "$(lab_path)/kwokctl" --name "$LAB_CLUSTER_NAME" "$@" 9>&-; }

# lab_lock: serialise 'up' and 'down' of concurrent callers (e.g. parallel test sessions) on fd 9.
lab_lock() {
  [ -n "${LAB_LOCK_HELD:-}" ] && return 0
  mkdir -p "$STATESHIFT_RUN"
  exec 9>"$STATESHIFT_RUN/lab.lock"
  if ! flock -n 9; then
    log "waiting for another 'cluster.sh up/down' to finish (lock $STATESHIFT_RUN/lab.lock)"
    flock -w 900 9 || die "another cluster.sh up/down has held $STATESHIFT_RUN/lab.lock for 15 minutes"
  fi
  export LAB_LOCK_HELD=1
}

# api_ready: the API server answers /readyz with our kubeconfig.
api_ready() { [ -f "$LAB_KUBECONFIG" ] && kc get --raw /readyz >/dev/null 2>&1; }

# proc_running PID: the process exists and is not a zombie. (This host's PID 1 may reap
# orphans late, so a dead daemon can linger as a zombie for a minute.)
proc_running() {
  local st
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pid_alive PIDFILE BINARY: the pid in PIDFILE runs BINARY (guards against reused pids).
pid_alive() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  proc_running "$pid" || return 1
  grep -qF -- "$2" <<<"$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
}
