#!/usr/bin/env bash
# The main job in the local lab: bring the lab up, then run every phase that exists so far,
# end to end, against it, and say what was done.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$STATESHIFT_REPO"

started=$(date +%s)
tests/lab/lab up "$@"

inventory=(-i inventories/lab -i "$STATESHIFT_LAB_INVENTORY/legacy.yml")
phases=(preflight)

for phase in "${phases[@]}"; do
  log "phase $phase"
  ansible-playbook "${inventory[@]}" "stateshift.k3s.$phase"
done

log "cluster nodes:"
kubectl get nodes -o wide
log "demo finished in $(( $(date +%s) - started ))s: ran ${phases[*]} against the lab (KUBECONFIG=$KUBECONFIG)"
