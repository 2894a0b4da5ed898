#!/usr/bin/env bash
# The main job in the local lab: bring the lab up, then run every phase that exists so far,
# end to end, against it, and say what was done.
#
# 1Password cannot run here: the secrets phase talks to tests/doubles/op, a test double of the
# `op` CLI, whose vault lives in a 0600 file under the cache. With a real account, drop the
# double from PATH and export OP_SERVICE_ACCOUNT_TOKEN.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$STATESHIFT_REPO"

started=$(date +%s)
tests/lab/lab up "$@"

inventory=(-i inventories/lab -i "$STATESHIFT_LAB_INVENTORY/legacy.yml")

op_state="$STATESHIFT_CACHE/lab/onepassword-double.json"
if [ ! -f "$op_state" ]; then
  (umask 077 && python3 - "$op_state" <<'PY'
import json, secrets, sys
sys.path.insert(0, "tests/doubles")
import onepassword_state as st
state = {"service_account_token": "ops_demo_" + secrets.token_hex(16), "connect_token": "", "fail_next": {"rate_limit": 0},
         "vaults": [{"id": st.new_id(), "name": "Kubernetes", "items": []}], "calls": [], "argv_leaks": []}
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump(state, handle)
PY
  )
fi
OP_SERVICE_ACCOUNT_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["service_account_token"])' "$op_state")
export OP_SERVICE_ACCOUNT_TOKEN OP_DOUBLE_STATE="$op_state"
export PATH="$STATESHIFT_REPO/tests/doubles:$PATH"

phases=(preflight secrets databases migrate)
for phase in "${phases[@]}"; do
  log "phase $phase"
  ansible-playbook "${inventory[@]}" "stateshift.k3s.$phase"
done

log "what runs in the cluster now:"
kubectl get statefulsets,pods,pvc,cronjobs -n invoicetron -o wide
log "demo finished in $(( $(date +%s) - started ))s: ran ${phases[*]} against the lab (KUBECONFIG=$KUBECONFIG)"
