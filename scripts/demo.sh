#!/usr/bin/env bash
# The main job in the local lab: bring the lab up, then the whole journey of the lab's workload
# against it - storage, preflight, secrets, databases, migrate, cutover, retire (after a backup) - and a
# report a person reads in ten seconds. A second run starts the journey again from a fresh legacy stack.
#
# The storage phase exports /srv/k3s on the lab's NFS server and makes the StorageClass nfs-lab; the lab's
# workload stays on local-path, because the lab node's kernel has no NFS client
# (inventories/lab/group_vars/all/storage.yml).
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

ledger_state() {
  kubectl get configmap invoicetron-postgresql-ledger -n invoicetron -o 'jsonpath={.data.state}' --ignore-not-found 2>/dev/null || true
}
earlier=$(ledger_state)
if [ -n "$earlier" ]; then
  log "an earlier demo took invoicetron to ${earlier//\"/}: the journey starts again, from a fresh legacy stack and namespace"
  kubectl delete namespace invoicetron --wait=true --timeout=300s
  tests/lab/docker/legacy.sh fresh
fi

timings="$STATESHIFT_CACHE/lab/demo-timings.tsv"
: >"$timings"
run_phase() {
  local label=$1 phase=$2 t0=$SECONDS
  shift 2
  log "phase $label"
  ansible-playbook "${inventory[@]}" "stateshift.k3s.$phase" "$@"
  printf '%s\t%s\n' "$label" "$((SECONDS - t0))" >>"$timings"
}
run_phase storage storage
run_phase preflight preflight
run_phase secrets secrets
run_phase databases databases
run_phase migrate migrate
run_phase cutover cutover
# the retire phase wants a backup taken after the cutover: in the lab it takes one now rather than wait for 03:00
run_phase "retire (with a backup now)" retire -e retirement_backup_now=true

log "what runs in the cluster now:"
kubectl get statefulsets,pods,pvc,cronjobs -n invoicetron -o wide
python3 scripts/demo_report.py --timings "$timings" --total "$(( $(date +%s) - started ))"
log "look around: KUBECONFIG=$KUBECONFIG kubectl get all -n invoicetron; the ledger: kubectl get configmap"
log "  invoicetron-postgresql-ledger -n invoicetron -o yaml; the legacy host: ssh -p 2222 root@127.0.0.1 (tests/lab/lab status)"
log "tear it down: make lab-down"
