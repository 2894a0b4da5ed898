#!/usr/bin/env bash
# Idempotent re-run of the databases phase for 3 PostgreSQL workloads on the lab: converge once,
# then time a second run (which must report changed=0).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"; for n in 1 2 3; do kubectl delete namespace "bench-db-$n" --wait=false >/dev/null 2>&1 || true; done' EXIT

cat > "$scratch/catalog.yml" <<'YAML'
stateshift_workloads:
  - {name: bench-db-1, engine: postgresql, version: "15", storage: {size: 64Mi}}
  - {name: bench-db-2, engine: postgresql, version: "15", storage: {size: 64Mi}, databases: [app, reports]}
  - {name: bench-db-3, engine: postgresql, version: "15", storage: {size: 64Mi}, settings: {max_connections: 40}}
YAML
for n in 1 2 3; do
  kubectl create namespace "bench-db-$n" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl -n "bench-db-$n" create secret generic "bench-db-$n-secrets" \
    --from-literal=postgres-password="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
done

run() { ansible-playbook -i localhost, -e "@$scratch/catalog.yml" stateshift.k3s.databases; }
first_started=$(date +%s.%N)
run > "$scratch/first.log"
first=$(echo "$(date +%s.%N) - $first_started" | bc)
second_started=$(date +%s.%N)
run > "$scratch/second.log"
second=$(echo "$(date +%s.%N) - $second_started" | bc)
recap=$(grep -E '^localhost +:' "$scratch/second.log")
changed=$(sed -E 's/.*changed=([0-9]+).*/\1/' <<<"$recap")
printf '{"workloads": 3, "first_run_s": %.1f, "rerun_s": %.1f, "rerun_changed": %s}\n' "$first" "$second" "$changed" \
  | tee bench/results/databases_rerun.json
[ "$changed" = 0 ] || { echo "the re-run changed $changed task(s): not idempotent" >&2; exit 1; }
