# Shared helpers for the lab scripts. Source it; do not run it.
# shellcheck shell=bash

STATESHIFT_CACHE="${STATESHIFT_CACHE:-/var/cache/stateshift-k3s}"
STATESHIFT_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATESHIFT_RUN="${STATESHIFT_RUN:-/run/stateshift-k3s}"
export STATESHIFT_CACHE STATESHIFT_REPO STATESHIFT_RUN

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# need_root WHAT: fail with a clear message when not root.
need_root() {
  [ "$(id -u)" -eq 0 ] || die "$1 needs root (it installs packages and starts daemons). Re-run as root, e.g. 'sudo make $1'."
}

# need_disk PATH MIB: fail before building when PATH's filesystem has less than MIB free.
need_disk() {
  local path=$1 want=$2 have
  mkdir -p "$path"
  have=$(df -Pm "$path" | awk 'NR==2 {print $4}')
  [ "$have" -ge "$want" ] || die "only ${have} MiB free under $path, need ${want} MiB. Free some space or set STATESHIFT_CACHE to a larger disk."
}

# inputs_key FILE...: a short hash of the given files' contents, used to key cached artefacts.
inputs_key() { cat "$@" | sha256sum | cut -c1-16; }

# apt_install PKG...: install missing Debian packages (runs 'apt-get update' once per boot).
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root setup
  if [ ! -f "$STATESHIFT_RUN/apt-updated" ]; then
    log "apt-get update"
    apt-get update -qq || die "apt-get update failed: check the network access to Debian's mirror and /etc/apt/sources.list."
    mkdir -p "$STATESHIFT_RUN" && touch "$STATESHIFT_RUN/apt-updated"
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed: run it by hand to see why."
}
