#!/usr/bin/env bash
# Migration benchmark on the lab, all methods in the same run, on pgbench (scale 50) and the invoicing sample:
#   runbook      the users' manual way: pg_dump > file on the source host, scp to the controller,
#                kubectl cp into the target pod, psql -f there (plain text, no -j)
#   pg_dump_fd   pg_dump -Fd -j2 + pg_restore -j2 on the controller, straight to the container and pod IPs
#   pgcopydb     pgcopydb clone --table-jobs 2 --index-jobs 2, same endpoints, fresh --dir each run
#   best_tools   the same guarantees as ours with the best tools one after another: pg_dump -Fc backup on the source
#                host, pgcopydb clone, then every table's count and sum of row hashes read on both sides at once and
#                compared (the work of pgcopydb compare data, which Debian's pgcopydb 0.10 does not have yet)
#   ours_job     our engine (pg_migration.Migration), transport job, jobs 2, backup on, verify checksum
#   ours_lean    the same with backup off and verify count (against pgcopydb clone alone)
#   ours_stream  the same with transport stream (the data passes through the controller)
#   (with ours_stream: the relay's ceiling, zeros through ssh, the controller and kubectl exec, 1 and 2 streams)
#   ours_resume  the re-run of ours_job, with tables over 2 x BENCH_MIGRATION_RESUME_PART_MIB (default 128) copied in
#                parts of that size, after such a run was interrupted once half the bytes were in (untimed; when
#                that run's copy finished first, as one batch of small tables does, the re-run is not counted)
#   before_job, before_stream   the same two, with the engine of an earlier revision: set BENCH_MIGRATION_BEFORE to
#                a git revision (a worktree of it is made in the work directory), to compare before/after in one run
# Every method runs on both links of the lab (BENCH_MIGRATION_LINKS, default "loopback shaped"): loopback, the plain
# local bridge, and shaped, the legacy host behind a home-LAN-like link (tests/lab/link.sh: 1 Gbit/s both ways by tc,
# +0.5 ms per round trip by toxiproxy) for its SSH and PostgreSQL as the controller and the pods reach them; the
# controller-to-node hop (kubectl cp, kubectl exec) stays local. The link that was on before is put back at the end.
# Every measurement runs BENCH_MIGRATION_ROUNDS times (default 2, the order reversed in even rounds); the table shows
# medians. Each run is timed and the RSS of its whole process tree on the controller sampled every 100 ms
# (measure.py). Results: bench/results/migration-<date>.json and .txt (the table, also on stdout).
#
#   bench/migration/run.sh                      the lab must be up: tests/lab/lab up && bash scripts/demo.sh
#   BENCH_MIGRATION_ROUNDS=1 BENCH_MIGRATION_DATASETS=invoicetron \
#     BENCH_MIGRATION_METHODS="runbook ours_job" bench/migration/run.sh         a quick subset
#   BENCH_MIGRATION_DATASETS="pgbench50 invoicetron invoicetron_large" ...    adds the 1M-line invoicing sample
#                                                                             (loaded once, ~40 s; ~4 min a round)
#   BENCH_MIGRATION_DATASETS="invoicetron pgbench50 pgbench200" ...           the growth series (14 MiB, 755 MiB, ~3 GB;
#                                                                             pgbench200 is created once, ~4 min)
#   BENCH_MIGRATION_LINKS=loopback ...                                        one link only
#   BENCH_MIGRATION_KEEP=1 ...                                                keep the work files (logs, records)
# Run it on a quiet machine: another job on the lab (e.g. the integration tests) skews every figure.
#
# The baselines restore into a scratch database on the target, created before and dropped after each run;
# ours copies into the database named like the source one, dropped beforehand together with its entry in the
# marker ConfigMap, so every run is a full first copy (no force). Each copy is checked against the source
# with tests/lab/sampledata/fingerprint.sql (outside the timing). The source is only read: its fingerprint
# must be the same at the end. The benchmark creates pgbench<scale> in the source container when missing
# and leaves it there; it removes its scratch database, its files, the engine's backups of its runs and the
# target's copy of pgbench<scale>.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/../.."
# the caller's collections root wins (a worktree's own), else env.sh's
collections=${STATESHIFT_COLLECTIONS:-}
# shellcheck source-path=SCRIPTDIR source=../../scripts/env.sh
. scripts/env.sh
STATESHIFT_COLLECTIONS=${collections:-$STATESHIFT_COLLECTIONS}
export PYTHONPATH="$STATESHIFT_COLLECTIONS${PYTHONPATH:+:$PYTHONPATH}"

LAB="$STATESHIFT_CACHE/lab"
SSH_KEY="$LAB/ssh/id_ed25519" KNOWN_HOSTS="$LAB/ssh/known_hosts"
LEGACY_HOST=127.0.0.1 LEGACY_PORT=2222 LEGACY_USER=root
SOURCE_CONTAINER=invoicetron-db DB_USER=invoicetron SOURCE_PASSWORD_FILE="$LAB/legacy/postgres-password"
NS=invoicetron WORKLOAD=invoicetron POD=invoicetron-postgresql-0 CONTAINER=postgresql
SECRET=invoicetron-secrets SECRET_KEY=postgres-password MARKER=invoicetron-postgresql-migration
WORKER_LABEL=stateshift.io/migration=invoicetron-postgresql
SCRATCH_DB=stateshift_bench_scratch
BACKUP_DIR=/var/backups/stateshift
FINGERPRINT=tests/lab/sampledata/fingerprint.sql
PGBENCH_SCALE=${BENCH_MIGRATION_PGBENCH_SCALE:-50}
RESUME_PART_MIB=${BENCH_MIGRATION_RESUME_PART_MIB:-128}
ROUNDS=${BENCH_MIGRATION_ROUNDS:-2}
read -r -a DATASETS <<<"${BENCH_MIGRATION_DATASETS:-pgbench$PGBENCH_SCALE invoicetron}"
read -r -a METHODS <<<"${BENCH_MIGRATION_METHODS:-runbook pg_dump_fd pgcopydb best_tools ours_job ours_lean ours_stream ours_resume}"
read -r -a LINKS <<<"${BENCH_MIGRATION_LINKS:-loopback shaped}"
LINK_SH=tests/lab/link.sh
SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$KNOWN_HOSTS" -i "$SSH_KEY")

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
legacy() { ssh "${SSH_OPTS[@]}" -p "$LEGACY_PORT" "$LEGACY_USER@$LEGACY_HOST" "$@" </dev/null; }
pod() { kubectl -n "$NS" exec "$POD" -c "$CONTAINER" -- "$@"; }
pod_in() { kubectl -n "$NS" exec -i "$POD" -c "$CONTAINER" -- "$@"; }
target_sql() { pod psql -X -q -At -v ON_ERROR_STOP=1 -U "$DB_USER" -d postgres -c 'SET client_min_messages = warning' -c "$1" </dev/null; }
source_sql() { docker exec "$SOURCE_CONTAINER" psql -X -At -v ON_ERROR_STOP=1 -U "$DB_USER" -d "$1" -c "$2" </dev/null; }
source_fingerprint() { docker exec -i "$SOURCE_CONTAINER" psql -X -At -U "$DB_USER" -d "$1" -f - <"$FINGERPRINT"; }
target_fingerprint() { pod_in psql -X -At -U "$DB_USER" -d "$1" -f - <"$FINGERPRINT"; }
# step NAME START: append the seconds since START to the run's step file (read by measure.py)
step() { printf '%s %s\n' "$1" "$(echo "$(now) - $2" | bc)" >>"$RUNDIR/steps"; }

# pgcopydb_clone DB: the pgcopydb baseline, source DB into the scratch database, fresh --dir each run
pgcopydb_clone() {
  # its own session: when it crashes (a segfault after the target's server was OOM-killed at 3 GB) it signals its whole
  # process group, which would otherwise be this benchmark
  PGPASSFILE="$WORK/pgpass" setsid --wait pgcopydb clone --table-jobs 2 --index-jobs 2 --dir "$RUNDIR/pgcopydb" \
    --source "postgres://$DB_USER@$SOURCE_IP:5432/$1" \
    --target "postgres://$DB_USER@$TARGET_IP:5432/$SCRATCH_DB" >"$RUNDIR/pgcopydb.log" 2>&1
}

# ours_engine ENGINE_PY DATABASE OUT_STEM [ARGS...]: our engine on the lab's invoicetron workload, jobs 2, checksums
ours_engine() {
  local engine=$1 db=$2 out=$3
  shift 3
  python3 "$engine" --database "$db" --jobs 2 --verify checksum "$@" \
    --out "$out.json" --log "$out.log" --report-dir "$(dirname "$out")/reports" \
    --workload "$WORKLOAD" --namespace "$NS" --target-user "$DB_USER" --target-secret "$SECRET" \
    --target-password-key "$SECRET_KEY" --target-image "$TARGET_IMAGE" --kubeconfig "$KUBECONFIG" \
    --container "$SOURCE_CONTAINER" --source-user "$DB_USER" --backup-dir "$BACKUP_DIR" \
    --ssh-host "$LEGACY_HOST" --ssh-port "$LEGACY_PORT" --ssh-user "$LEGACY_USER" --ssh-key "$SSH_KEY" \
    --ssh-args "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=$KNOWN_HOSTS"
}

# --- the timed part of one run (invoked as "run.sh _method METHOD DATABASE RUNDIR" under measure.py) ---
method() {
  local method=$1 db=$2 t
  RUNDIR=$3
  case "$method" in
    runbook)
      t=$(now)
      # shellcheck disable=SC2029 # expanded here on purpose (each word quoted for the remote shell): the command a user would type
      legacy "docker exec $(printf %q "$SOURCE_CONTAINER") pg_dump -U $(printf %q "$DB_USER") $(printf %q "$db") > $(printf %q "/tmp/$db.sql")"
      step "pg_dump on the source host" "$t"; t=$(now)
      scp -q "${SSH_OPTS[@]}" -P "$LEGACY_PORT" "$LEGACY_USER@$LEGACY_HOST:/tmp/$db.sql" "$RUNDIR/$db.sql"
      step "scp to the controller" "$t"; t=$(now)
      kubectl cp -n "$NS" -c "$CONTAINER" "$RUNDIR/$db.sql" "$POD:/tmp/$db.sql"
      step "kubectl cp into the pod" "$t"; t=$(now)
      pod psql -U "$DB_USER" -d "$SCRATCH_DB" -f "/tmp/$db.sql" >"$RUNDIR/runbook-psql.log" 2>&1
      step "psql -f in the pod" "$t"
      ;;
    pg_dump_fd)
      t=$(now)
      PGPASSWORD=$(<"$WORK/source.pw") pg_dump -h "$SOURCE_IP" -p 5432 -U "$DB_USER" -Fd -j 2 -f "$RUNDIR/dump" "$db"
      step "pg_dump -Fd -j2" "$t"; t=$(now)
      PGPASSWORD=$(<"$WORK/target.pw") pg_restore -h "$TARGET_IP" -p 5432 -U "$DB_USER" -d "$SCRATCH_DB" -j 2 "$RUNDIR/dump"
      step "pg_restore -j2" "$t"
      ;;
    pgcopydb) pgcopydb_clone "$db" ;;
    best_tools)
      t=$(now)
      # shellcheck disable=SC2029 # expanded here on purpose (each word quoted for the remote shell)
      legacy "docker exec $(printf %q "$SOURCE_CONTAINER") pg_dump -Fc -U $(printf %q "$DB_USER") $(printf %q "$db") > $(printf %q "/tmp/$db.dump")"
      step "pg_dump -Fc on the source host" "$t"; t=$(now)
      pgcopydb_clone "$db"
      step "pgcopydb clone" "$t"; t=$(now)
      PGPASSFILE="$WORK/pgpass" psql -X -q -At -h "$SOURCE_IP" -U "$DB_USER" -d "$db" -f "$HERE/table_hashes.sql" >"$RUNDIR/hashes.source" &
      PGPASSFILE="$WORK/pgpass" psql -X -q -At -h "$TARGET_IP" -U "$DB_USER" -d "$SCRATCH_DB" -f "$HERE/table_hashes.sql" >"$RUNDIR/hashes.target"
      wait $!
      cmp -s "$RUNDIR/hashes.source" "$RUNDIR/hashes.target" || die "best_tools: the tables' hashes differ"
      step "compare data (both sides at once)" "$t"
      ;;
    ours_job | ours_stream | ours_lean | ours_resume | before_job | before_stream)
      local engine=$HERE/engine.py transport=${method#*_} options=()
      if [ "$method" = ours_lean ]; then transport=job options=(--no-backup --verify count); fi
      if [ "$method" = ours_resume ]; then transport=job options=(--table-part-mib "$RESUME_PART_MIB"); fi
      if [[ $method == before_* ]]; then
        engine=$WORK/before/bench/migration/engine.py
        export PYTHONPATH=$WORK/before-collections
      fi
      ours_engine "$engine" "$db" "$RUNDIR/engine" --transport "$transport" "${options[@]}"
      ;;
    *) die "unknown method '$method'" ;;
  esac
}

if [ "${1:-}" = _method ]; then
  shift
  method "$@"
  exit
fi

# --- setup ---
# pgcopydb 0.10 is Debian's; installed here, not by make setup, because only this benchmark uses it
if [[ " ${METHODS[*]} " =~ " "(pgcopydb|best_tools)" " ]] && ! command -v pgcopydb >/dev/null 2>&1; then
  log "installing Debian's pgcopydb"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgcopydb >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgcopydb >/dev/null; } \
    || die "could not install pgcopydb from Debian's packages"
fi

command -v pg_restore >/dev/null || die "the PostgreSQL client tools are missing: apt-get install -y postgresql-client-15"
docker inspect "$SOURCE_CONTAINER" >/dev/null 2>&1 || die "no container $SOURCE_CONTAINER: bring the lab up (tests/lab/lab up && bash scripts/demo.sh)"
kubectl -n "$NS" get pod "$POD" >/dev/null || die "no target pod $NS/$POD: bring the lab up (tests/lab/lab up && bash scripts/demo.sh)"
legacy true || die "cannot ssh to the legacy host $LEGACY_HOST:$LEGACY_PORT"
read -r load _ </proc/loadavg
if [ "$(echo "$load > 1.5" | bc)" = 1 ]; then
  log "WARNING: the machine is busy (load average $load): the figures will be skewed"
fi

for link in "${LINKS[@]}"; do
  case "$link" in loopback | shaped) ;; *) die "BENCH_MIGRATION_LINKS: unknown link '$link' (loopback, shaped)" ;; esac
done
LINK_BEFORE=$("$LINK_SH" status | sed -n 's/^link: //p')
WORK=$(mktemp -d /var/tmp/stateshift-bench-migration.XXXXXX)
export WORK
cleanup() {
  local rc=$?
  [ "$("$LINK_SH" status 2>/dev/null | sed -n 's/^link: //p')" = "$LINK_BEFORE" ] || "$LINK_SH" "$LINK_BEFORE" || true
  target_sql "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
  [ ! -d "$WORK/before" ] || git worktree remove --force "$WORK/before" >/dev/null 2>&1 || true
  for db in "${DATASETS[@]}"; do
    legacy rm -f "/tmp/$db.sql" "/tmp/$db.dump" >/dev/null 2>&1 || true
    pod rm -f "/tmp/$db.sql" >/dev/null 2>&1 || true
  done
  if [ "$rc" -eq 0 ] && [ -z "${BENCH_MIGRATION_KEEP:-}" ]; then rm -rf "$WORK"; else log "work files kept in $WORK"; fi
}
trap cleanup EXIT

SOURCE_IP=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$SOURCE_CONTAINER" | awk '{print $1}')
TARGET_IP=$(kubectl -n "$NS" get pod "$POD" -o jsonpath='{.status.podIP}')
TARGET_IMAGE=$(kubectl -n "$NS" get pod "$POD" -o jsonpath="{.spec.containers[?(@.name==\"$CONTAINER\")].image}")
export SOURCE_IP TARGET_IP TARGET_IMAGE
(
  umask 077
  cp "$SOURCE_PASSWORD_FILE" "$WORK/source.pw"
  kubectl -n "$NS" get secret "$SECRET" -o "jsonpath={.data.$SECRET_KEY}" | base64 -d >"$WORK/target.pw"
  printf '%s:5432:*:%s:%s\n%s:5432:*:%s:%s\n' "$SOURCE_IP" "$DB_USER" "$(<"$WORK/source.pw")" \
    "$TARGET_IP" "$DB_USER" "$(<"$WORK/target.pw")" >"$WORK/pgpass"
)
mkdir -p "$WORK/records" "$WORK/runs" "$WORK/fingerprints" bench/results
if [[ " ${METHODS[*]} " == *" before_"* ]]; then
  [ -n "${BENCH_MIGRATION_BEFORE:-}" ] || die "the before_* methods need BENCH_MIGRATION_BEFORE=<git revision>"
  git worktree add --detach "$WORK/before" "$BENCH_MIGRATION_BEFORE" >/dev/null
  mkdir -p "$WORK/before-collections/ansible_collections/stateshift"
  ln -s "$WORK/before" "$WORK/before-collections/ansible_collections/stateshift/k3s"
  echo "settings.before_revision=\"$(git rev-parse --short "$BENCH_MIGRATION_BEFORE")\"" >>"$WORK/meta"
fi
META="$WORK/meta"
{
  echo "settings.rounds=$ROUNDS"
  echo "settings.jobs=2"
  echo "settings.methods=\"${METHODS[*]}\""
  echo "settings.links=\"${LINKS[*]}\""
  echo "settings.sample_interval_s=0.1"
  echo "environment.target_image=\"$TARGET_IMAGE\""
  echo "environment.target_server=\"$(target_sql 'SHOW server_version')\""
  echo "environment.source_server=\"$(source_sql postgres 'SHOW server_version')\""
} >>"$META"

# The datasets: pgbench<scale> (any scale: pgbench200 is ~3 GB) is created here when missing (or not at full size);
# the large invoicing sample is loaded by the lab's loader when asked for.
pgbench_dbs=()
for db in "${DATASETS[@]}"; do
  exists=$(source_sql postgres "SELECT count(*) FROM pg_database WHERE datname = '$db'")
  if [[ $db =~ ^pgbench([0-9]+)$ ]]; then
    scale=${BASH_REMATCH[1]}
    pgbench_dbs+=("$db")
    have=0
    if [ "$exists" = 1 ]; then
      have=$(source_sql "$db" "SELECT CASE WHEN to_regclass('public.pgbench_accounts') IS NULL THEN 0 ELSE (SELECT count(*) FROM pgbench_accounts) END")
    fi
    if [ "$have" != "$((scale * 100000))" ]; then
      log "creating $db in $SOURCE_CONTAINER (pgbench -i -s $scale, ~1 min per 50)"
      if [ "$exists" = 1 ]; then docker exec "$SOURCE_CONTAINER" dropdb -U "$DB_USER" "$db"; fi
      docker exec "$SOURCE_CONTAINER" createdb -U "$DB_USER" "$db"
      docker exec "$SOURCE_CONTAINER" pgbench -i -q -s "$scale" -U "$DB_USER" "$db" >"$WORK/pgbench-init.log" 2>&1 \
        || { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
    fi
  elif [ "$db" = invoicetron_large ]; then
    tests/lab/sampledata/load.sh --container "$SOURCE_CONTAINER" --user "$DB_USER" --db "$db" --scale large
  elif [ "$exists" != 1 ]; then
    die "database $db does not exist in $SOURCE_CONTAINER"
  fi
  source_fingerprint "$db" >"$WORK/fingerprints/$db.source"
  {
    echo "dataset.$db.size_bytes=$(source_sql postgres "SELECT pg_database_size('$db')")"
    echo "dataset.$db.tables=$(source_sql "$db" "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')")"
    echo "dataset.$db.rows=$(awk -F'|' '/^table /{s += $2} END {print s}' "$WORK/fingerprints/$db.source")"
  } >>"$META"
done
declare -A accounts_before=()
for db in "${pgbench_dbs[@]}"; do
  accounts_before[$db]=$(source_sql "$db" "SELECT count(*) FROM pgbench_accounts")
done

# forget_marker DB: remove DB's entry from the marker ConfigMap, so the engine sees a first migration
forget_marker() {
  local present
  present=$(kubectl -n "$NS" get configmap "$MARKER" -o json --ignore-not-found | jq -r --arg k "$1" '.data[$k] // empty')
  if [ -n "$present" ]; then
    kubectl -n "$NS" patch configmap "$MARKER" --type=json -p "[{\"op\": \"remove\", \"path\": \"/data/$1\"}]" >/dev/null
  fi
}

wait_for_target() {
  local tries=0
  until target_sql 'SELECT 1' >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 120 ] || die "the target's server did not answer for 2 minutes after a failed run"
    sleep 1
  done
}

# run_one LINK ROUND DATABASE METHOD: prepare the target, run and measure, check the copy, clean up
run_one() {
  local link=$1 round=$2 db=$3 method=$4 rundir record target_db rc=0 match errors backup resumed=
  rundir="$WORK/runs/$link-$db-$method-$round" record="$WORK/records/$link-$db-$method-$round.json"
  mkdir -p "$rundir"
  case "$method" in
    ours_* | before_*)
      target_db=$db
      target_sql "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
      forget_marker "$db"
      kubectl -n "$NS" wait --for=delete pod -l "$WORKER_LABEL" --timeout=120s >/dev/null 2>&1 || true
      if [ "$method" = ours_resume ]; then
        # untimed: the same run as ours_job, interrupted once half the bytes are in; the measured run resumes it
        ours_engine "$HERE/engine.py" "$db" "$rundir/interrupted" --transport job --table-part-mib "$RESUME_PART_MIB" --interrupt-at 0.5 \
          >"$rundir/interrupted.out" 2>&1 || true
        backup=$(jq -r '.backup.path // empty' "$rundir/interrupted.json" 2>/dev/null || true)
        [ -z "$backup" ] || echo "$backup" >>"$WORK/backups"
        # a copy done before the interruption's turn came (one batch of small tables) leaves nothing to resume
        resumed=$(jq -r 'if .ok then "false" else "true" end' "$rundir/interrupted.json" 2>/dev/null || echo true)
        [ "$resumed" = true ] || log "  $db: the copy to interrupt finished first (nothing to resume): the re-run is not counted"
        kubectl -n "$NS" wait --for=delete pod -l "$WORKER_LABEL" --timeout=120s >/dev/null 2>&1 || true
      fi
      ;;
    *)
      target_db=$SCRATCH_DB
      target_sql "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)"
      target_sql "CREATE DATABASE $SCRATCH_DB OWNER \"$DB_USER\""
      ;;
  esac
  log "$link link, round $round/$ROUNDS: $db by $method ..."
  python3 "$HERE/measure.py" run --out "$record" --steps "$rundir/steps" --engine "$rundir/engine.json" \
    --meta dataset="$db" method="$method" round="$round" link="$link" -- "$HERE/run.sh" _method "$method" "$db" "$rundir" \
    >"$rundir/output.log" 2>&1 || rc=$?
  # a method that failed may have left the target's server restarting (pgcopydb's index builds at 3 GB get it
  # OOM-killed by its pod's memory limit): wait until it answers again
  [ "$rc" -eq 0 ] || wait_for_target
  if target_fingerprint "$target_db" >"$WORK/fingerprints/$db.$method.$round" 2>"$rundir/fingerprint.err" \
    && cmp -s "$WORK/fingerprints/$db.source" "$WORK/fingerprints/$db.$method.$round"; then
    match=true
  else
    match=false
  fi
  python3 "$HERE/measure.py" annotate "$record" fingerprint_match="$match" ${resumed:+resumed=$resumed}
  if [ "$method" = runbook ]; then
    errors=$(grep -c 'ERROR' "$rundir/runbook-psql.log" || true)
    python3 "$HERE/measure.py" annotate "$record" sql_errors="${errors:-0}"
  fi
  if [ "$rc" -ne 0 ]; then
    python3 "$HERE/measure.py" annotate "$record" error_tail="$(tail -n 5 "$rundir/output.log" "$rundir"/*.log 2>/dev/null | tail -n 12)"
  fi
  log "  $(jq -r '"\(.wall_s) s, peak RSS \(.peak_rss_mb) MB, rc \(.rc)" + (if .engine then ", copy \(.engine.copy_s) s, phases \(.engine.timings | tostring)" + (if .engine.error then ", ERROR: \(.engine.error)" else "" end) else "" end) + (if (.concurrent_jobs | length) > 0 then ", OTHER JOBS RAN: \(.concurrent_jobs | join(" "))" else "" end)' "$record"), fingerprint match: $match"
  # clean up: the runbook's dump files, the engine's backup of this run, the copies on the controller
  case "$method" in
    best_tools)
      legacy rm -f "/tmp/$db.dump"
      target_sql "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)"
      ;;
    runbook)
      legacy rm -f "/tmp/$db.sql"
      pod rm -f "/tmp/$db.sql" </dev/null
      target_sql "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)"
      ;;
    ours_* | before_*)
      backup=$(jq -r '.backup.path // empty' "$rundir/engine.json" 2>/dev/null || true)
      [ -z "$backup" ] || echo "$backup" >>"$WORK/backups"
      ;;
    *) target_sql "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" ;;
  esac
  rm -rf "${rundir:?}/dump" "${rundir:?}/$db.sql" "${rundir:?}/pgcopydb"
}

started=$SECONDS
for link in "${LINKS[@]}"; do
  "$LINK_SH" "$link"
  for round in $(seq 1 "$ROUNDS"); do
    order=("${METHODS[@]}")
    if [ $((round % 2)) -eq 0 ]; then
      order=()
      for ((i = ${#METHODS[@]} - 1; i >= 0; i--)); do order+=("${METHODS[i]}"); done
    fi
    for db in "${DATASETS[@]}"; do
      for method in "${order[@]}"; do
        run_one "$link" "$round" "$db" "$method"
      done
    done
  done
done

# The source must be unchanged; the target keeps ours' last copy of the invoicing sample, not of pgbench.
for db in "${DATASETS[@]}"; do
  if source_fingerprint "$db" | cmp -s - "$WORK/fingerprints/$db.source"; then same=true; else same=false; fi
  echo "source_unchanged.$db=$same" >>"$META"
  [ "$same" = true ] || log "WARNING: the source database $db changed during the benchmark"
done
for db in "${pgbench_dbs[@]}"; do
  echo "source_unchanged.${db}_accounts_before=${accounts_before[$db]}" >>"$META"
  echo "source_unchanged.${db}_accounts_after=$(source_sql "$db" "SELECT count(*) FROM pgbench_accounts")" >>"$META"
  target_sql "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
  forget_marker "$db"
done
# The engine's backups of our runs: keep only the one the marker still refers to (the target's current copy).
if [ -f "$WORK/backups" ]; then
  keep=$(kubectl -n "$NS" get configmap "$MARKER" -o json --ignore-not-found | jq -r '.data // {} | .[] | fromjson | .backup.path // empty')
  while read -r backup; do
    case "$backup" in "$BACKUP_DIR"/*.dump) grep -qxF "$backup" <<<"$keep" || legacy rm -f "$backup" ;; esac
  done <"$WORK/backups"
fi
echo "settings.total_bench_s=$((SECONDS - started))" >>"$META"

# The stream transport's ceiling on this machine: bytes of nothing but zeros through the same path as its data (ssh
# from the legacy host, relayed by the controller into kubectl exec), one and two streams at once, on the last link.
relay_mib_s() {
  local streams=$1 mib=$2 t
  t=$(now)
  for _ in $(seq "$streams"); do
    (legacy "head -c ${mib}M /dev/zero" | kubectl -n "$NS" exec -i "$POD" -c "$CONTAINER" -- sh -c 'cat > /dev/null') &
  done
  wait
  echo "scale=1; $streams * $mib / ($(now) - $t)" | bc
}
if [[ " ${METHODS[*]} " == *" ours_stream "* ]]; then
  log "the stream transport's ceiling: zeros relayed from the legacy host into the target pod"
  {
    echo "relay.one_stream_mib_s=$(relay_mib_s 1 512)"
    echo "relay.two_streams_mib_s=$(relay_mib_s 2 512)"
  } >>"$META"
fi

date=$(date -u +%F)
python3 "$HERE/measure.py" summarize --records "$WORK/records" --meta-file "$META" \
  --json "bench/results/migration-$date.json" --text "bench/results/migration-$date.txt"
