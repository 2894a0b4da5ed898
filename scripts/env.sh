# Environment for every make target: the lab virtualenv, our collection on the collections path,
# and the lab's kubeconfig and inventory. Source it; do not run it.
# shellcheck shell=bash
# shellcheck source=../tests/lab/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/lab/lib.sh"

STATESHIFT_VENV="$STATESHIFT_CACHE/venv"
STATESHIFT_COLLECTIONS="$STATESHIFT_CACHE/collections"
export STATESHIFT_VENV STATESHIFT_COLLECTIONS
export PATH="$STATESHIFT_VENV/bin:$STATESHIFT_CACHE/bin/current:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$STATESHIFT_COLLECTIONS"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"
export KUBECONFIG="${KUBECONFIG:-$STATESHIFT_CACHE/lab/kubeconfig}"
export STATESHIFT_LAB_INVENTORY="$STATESHIFT_CACHE/lab/inventory"
