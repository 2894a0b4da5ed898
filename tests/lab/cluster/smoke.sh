#!/usr/bin/env bash
# Smoke test of the lab cluster with a real PostgreSQL StatefulSet on the real node.
#
#   tests/lab/cluster/smoke.sh        (runs 'cluster.sh up' first; SMOKE_KEEP=1 keeps the namespace)
#
# Checks, in namespace lab-smoke (Pod Security "baseline" enforced): StatefulSet with a PVC
# (local-path), headless Service and pg_isready readiness probe becomes Ready; a Job writes a
# row through the pod's DNS name (postgresql-0.postgresql.lab-smoke.svc.cluster.local) and its
# logs are read; another pod reads it through a ClusterIP Service (kube-proxy); the host reads
# it through `kubectl port-forward`; after the pod is deleted it comes back with the row. Pod
# Security admission rejects a hostNetwork pod; a pod with imagePullPolicy: Always runs (no pull).
# Prints "N passed, N failed" last; exits non-zero on the first failure.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

NS=lab-smoke
PASSED=0
PF_PID=""
T0=$SECONDS

cleanup() {
  if [ -n "$PF_PID" ]; then kill "$PF_PID" 2>/dev/null || true; fi
  if [ "${SMOKE_KEEP:-0}" != 1 ] && [ -f "$LAB_KUBECONFIG" ]; then kc delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); log "ok: $* ($((SECONDS - T0))s)"; }
fail() {
  log "FAILED: $*"
  kc -n "$NS" get all,pvc,pv -o wide 2>&1 | sed 's/^/    /' >&2 || true
  kc -n "$NS" get events --sort-by=.lastTimestamp 2>&1 | tail -n 15 | sed 's/^/    /' >&2 || true
  echo "$PASSED passed, 1 failed"
  exit 1
}

"$CLUSTER_DIR/cluster.sh" up
apt_install postgresql-client

log "namespace $NS"
if kc get namespace "$NS" >/dev/null 2>&1; then
  kc delete namespace "$NS" --timeout=120s >/dev/null || fail "deleting the old namespace $NS"
fi
kc apply -f "$CLUSTER_DIR/manifests/smoke-postgresql.yaml" >/dev/null || fail "applying manifests/smoke-postgresql.yaml"

kc -n "$NS" rollout status statefulset/postgresql --timeout=180s >/dev/null || fail "StatefulSet postgresql did not become Ready"
[ "$(kc -n "$NS" get pvc data-postgresql-0 -o jsonpath='{.status.phase}')" = Bound ] || fail "PVC data-postgresql-0 is not Bound"
node=$(kc -n "$NS" get pod postgresql-0 -o jsonpath='{.spec.nodeName}')
[ "$node" = "$REAL_NODE_NAME" ] || fail "postgresql-0 runs on '$node', not on the real node $REAL_NODE_NAME"
# Pod Security admission enforces the namespace's level.
if out=$(kc -n "$NS" run psa-probe --image=postgres:18-alpine --restart=Never \
    --overrides='{"spec":{"hostNetwork":true}}' --command -- true 2>&1); then
  kc -n "$NS" delete pod psa-probe --wait=false >/dev/null 2>&1 || true
  fail "a hostNetwork pod was admitted in a 'baseline' namespace: Pod Security admission is off"
fi
grep -q 'violates PodSecurity "baseline' <<<"$out" || fail "unexpected error for the hostNetwork pod: $out"
ok "Pod Security admission rejects a hostNetwork pod (baseline)"
ok "StatefulSet Ready on $node, PVC Bound ($(kc get pv -o jsonpath='{.items[0].spec.hostPath.path}'))"

# A Job writes through the pod's stable DNS name.
kc -n "$NS" apply -f - >/dev/null <<'EOF'
apiVersion: batch/v1
kind: Job
metadata:
  name: writer
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      securityContext: {runAsNonRoot: true, runAsUser: 999}
      containers:
      - name: psql
        image: postgres:18-alpine
        imagePullPolicy: IfNotPresent
        env:
        - {name: PGPASSWORD, valueFrom: {secretKeyRef: {name: postgresql, key: postgres-password}}}
        command: ["sh", "-c"]
        args:
        - |
          set -e
          getent hosts postgresql-0.postgresql.lab-smoke.svc.cluster.local
          psql -v ON_ERROR_STOP=1 -h postgresql-0.postgresql.lab-smoke.svc.cluster.local -U postgres -d smoke \
            -c "CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, note text)" \
            -c "INSERT INTO t VALUES (1, 'written-by-job') ON CONFLICT DO NOTHING" \
            -c "SELECT 'rows=' || count(*) FROM t"
EOF
kc -n "$NS" wait --for=condition=complete job/writer --timeout=120s >/dev/null || { kc -n "$NS" logs job/writer >&2 || true; fail "Job writer did not complete"; }
logs=$(kc -n "$NS" logs job/writer 2>&1) || fail "kubectl logs job/writer: $logs"
grep -q 'rows=1' <<<"$logs" || fail "Job writer's logs lack 'rows=1': $logs"
ok "Job writer completed via DNS name; logs: $(echo "$logs" | tr '\n' ' ' | cut -c1-120)"

# Another pod (imagePullPolicy: Always) reads through the ClusterIP Service (kube-proxy, CoreDNS).
kc -n "$NS" apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, runAsUser: 999}
  containers:
  - name: psql
    image: postgres:18-alpine
    imagePullPolicy: Always         # no registry: the lab's MutatingAdmissionPolicy makes it IfNotPresent
    env:
    - {name: PGPASSWORD, valueFrom: {secretKeyRef: {name: postgresql, key: postgres-password}}}
    command: ["psql", "-h", "postgresql-rw", "-U", "postgres", "-d", "smoke", "-Atc", "SELECT note FROM t WHERE id = 1"]
EOF
kc -n "$NS" wait --for=jsonpath='{.status.phase}'=Succeeded pod/reader --timeout=120s >/dev/null \
  || { kc -n "$NS" logs reader >&2 || true; fail "pod reader did not succeed"; }
out=$(kc -n "$NS" logs reader 2>&1) || fail "kubectl logs reader: $out"
[ "$out" = written-by-job ] || fail "pod reader read '$out'"
ok "pod reader read the row through ClusterIP Service postgresql-rw ($(kc -n "$NS" get svc postgresql-rw -o jsonpath='{.spec.clusterIP}'))"

# The host reads through kubectl port-forward.
PASSWORD=$(kc -n "$NS" get secret postgresql -o jsonpath='{.data.postgres-password}' | base64 -d)
host_query() {
  local port=$1 _i
  for _i in $(seq 1 20); do
    PGPASSWORD=$PASSWORD PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p "$port" -U postgres -d smoke -Atc "$2" 2>/dev/null && return 0
    sleep 0.5
  done
  return 1
}
port_forward() {
  PORT=$((20000 + RANDOM % 20000))
  kc -n "$NS" port-forward pod/postgresql-0 "$PORT:5432" >"$LAB_LOGS/smoke-port-forward.log" 2>&1 &
  PF_PID=$!
}
port_forward
[ "$(host_query "$PORT" 'SELECT note FROM t WHERE id = 1')" = written-by-job ] || fail "reading through kubectl port-forward (see $LAB_LOGS/smoke-port-forward.log)"
host_query "$PORT" "INSERT INTO t VALUES (2, 'written-from-host')" >/dev/null || fail "writing through kubectl port-forward"
kill "$PF_PID" 2>/dev/null || true; wait "$PF_PID" 2>/dev/null || true; PF_PID=""
ok "host read and wrote through kubectl port-forward"

# The pod comes back with its data.
uid=$(kc -n "$NS" get pod postgresql-0 -o jsonpath='{.metadata.uid}')
kc -n "$NS" delete pod postgresql-0 --wait=true --timeout=120s >/dev/null || fail "deleting pod postgresql-0"
for _ in $(seq 1 120); do
  new=$(kc -n "$NS" get pod postgresql-0 -o jsonpath='{.metadata.uid}' 2>/dev/null || true)
  [ -n "$new" ] && [ "$new" != "$uid" ] && break
  sleep 0.5
done
kc -n "$NS" wait --for=condition=Ready pod/postgresql-0 --timeout=180s >/dev/null || fail "postgresql-0 did not come back Ready"
rows=$(kc -n "$NS" exec postgresql-0 -- psql -U postgres -d smoke -Atc 'SELECT string_agg(note, chr(44) ORDER BY id) FROM t') || fail "kubectl exec into the new postgresql-0"
[ "$rows" = "written-by-job,written-from-host" ] || fail "after the restart the table holds '$rows'"
port_forward
[ "$(host_query "$PORT" 'SELECT count(*) FROM t')" = 2 ] || fail "port-forward to the new pod"
ok "postgresql-0 recreated with its data (exec: $rows; port-forward: 2 rows)"

echo "$PASSED passed, 0 failed"
