#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian machine: packages, the Python tools, the dependency
# collections, and the lab (Docker engine, local images, cluster binaries).
#   scripts/setup.sh            everything
#   scripts/setup.sh tools      only packages, virtualenv and collections (enough for lint and unit tests)
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"

what=${1:-all}

find_python() {
  local candidate
  for candidate in python3.13 python3.12 \
      "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  die "ansible-core 2.21 needs Python 3.12 or newer and none was found (looked for python3.13, python3.12 and pyenv versions). Install one, e.g. 'pyenv install 3.13', then re-run."
}

setup_packages() {
  apt_install git make rsync openssh-client postgresql-15 postgresql-client-15 jq ca-certificates openssl shellcheck bc libnfs13
}

setup_venv() {
  local python key target
  python=$(find_python)
  key=$(printf '%s\n%s\n' "$("$python" -V 2>&1)" "$(cat "$STATESHIFT_REPO/requirements-dev.txt")" | sha256sum | cut -c1-12)
  target="$STATESHIFT_CACHE/venv-$key"
  if [ ! -f "$target/.complete" ]; then
    need_disk "$STATESHIFT_CACHE" 2048
    log "creating the virtualenv $target with $("$python" -V 2>&1)"
    rm -rf "$target"
    "$python" -m venv "$target"
    "$target/bin/pip" install -q --disable-pip-version-check -r "$STATESHIFT_REPO/requirements-dev.txt" \
      || { rm -rf "$target"; die "pip install -r requirements-dev.txt failed: check access to PyPI and re-run."; }
    touch "$target/.complete"
  fi
  ln -sfn "$target" "$STATESHIFT_VENV"
}

setup_collections() {
  # The pinned `ansible` package ships kubernetes.core, community.general, community.docker,
  # community.postgresql and ansible.posix; only this collection itself is linked in.
  mkdir -p "$STATESHIFT_COLLECTIONS/ansible_collections/stateshift"
  ln -sfn "$STATESHIFT_REPO" "$STATESHIFT_COLLECTIONS/ansible_collections/stateshift/k3s"
  # an installed copy of this collection in the user's default path would shadow the working tree
  local stale="$HOME/.ansible/collections/ansible_collections/stateshift/k3s"
  if [ -e "$stale" ] && [ ! -L "$stale" ]; then
    log "removing the stale installed copy $stale (the working tree is linked from $STATESHIFT_COLLECTIONS)"
    rm -rf "$stale"
  fi
  local missing
  missing=$(ansible-galaxy collection list --format json 2>/dev/null | python3 -c '
import json, sys
found = {name for path in json.load(sys.stdin).values() for name in path}
need = ["kubernetes.core", "community.general", "community.docker", "community.postgresql", "ansible.posix", "stateshift.k3s"]
print(" ".join(n for n in need if n not in found))')
  [ -z "$missing" ] || die "collections not found after set-up: $missing"
}

setup_ansible_test() {
  # ansible-test downloads a pip bootstrap script for its sanity virtualenvs from a host that
  # is not reachable here; give it the offline stand-in under the name it looks for.
  local pip_version cache=$HOME/.ansible/test/cache
  pip_version=$(grep -ohP "pip='\\K[0-9.]+" "$STATESHIFT_VENV"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -1)
  [ -n "$pip_version" ] || die "could not read the pip version ansible-test bootstraps; is ansible-core installed in $STATESHIFT_VENV?"
  mkdir -p "$cache"
  install -m 0644 "$STATESHIFT_REPO/scripts/ansible-test-get-pip.py" "$cache/get_pip_${pip_version//./_}.py"
}

setup_postgres16() {
  # A second major version for the tests that need one (a refused downgrade): PostgreSQL 16 server
  # and client binaries as shipped in the pgserver wheel on PyPI (Debian 12 has only 15). Unpacked
  # once under the cache (bin/ links to the binaries); they run as the 'postgres' user.
  local version=0.1.4 target="$STATESHIFT_CACHE/postgresql-16" tmp
  [ -f "$target/.complete-$version" ] && return 0
  log "fetching PostgreSQL 16 binaries (pgserver $version wheel) into $target"
  tmp=$(mktemp -d)
  "$STATESHIFT_VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux2014_x86_64 -d "$tmp" "pgserver==$version" \
    || { rm -rf "$tmp"; die "could not download pgserver $version from PyPI (PostgreSQL 16 for the tests)"; }
  rm -rf "$target" && mkdir -p "$target"
  "$STATESHIFT_VENV/bin/python" - "$tmp"/pgserver-*.whl "$target" <<'PY'
import os, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    for info in archive.infolist():
        if info.filename.startswith(("pgserver/pginstall/", "pgserver.libs/")) and not info.is_dir():
            path = os.path.join(target, info.filename)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with archive.open(info) as src, open(path, "wb") as dst:
                dst.write(src.read())
            os.chmod(path, 0o755 if "/bin/" in info.filename or ".so" in info.filename else 0o644)
os.symlink("pgserver/pginstall/bin", os.path.join(target, "bin"))
PY
  rm -rf "$tmp"
  "$target/bin/postgres" --version >/dev/null || die "the PostgreSQL 16 binaries in $target do not run"
  touch "$target/.complete-$version"
}

setup_lab() {
  "$STATESHIFT_REPO/tests/lab/docker/engine.sh" ensure
  "$STATESHIFT_REPO/tests/lab/docker/images.sh" build
  if [ -x "$STATESHIFT_REPO/tests/lab/cluster/build.sh" ]; then
    "$STATESHIFT_REPO/tests/lab/cluster/build.sh"
  fi
}

started=$(date +%s)
need_root setup
setup_packages
setup_venv
setup_collections
setup_ansible_test
setup_postgres16
[ "$what" = tools ] || setup_lab
log "setup ($what) done in $(( $(date +%s) - started ))s"
