#!/usr/bin/env bash
# Load the sample invoicing data into a PostgreSQL container (SQL piped through 'docker exec -i').
#
#   load.sh [--container NAME] [--user USER] [--db DB] [--scale small|large] [--rows N]
#
#   --container  default invoicetron-db         --user  default invoicetron
#   --db         default invoicetron            (a second database, DB_reports, is loaded too)
#   --scale      small = 20000 invoice_lines (default), large = 1000000
#   --rows       exact number of invoice_lines (overrides --scale; env SAMPLE_ROWS likewise)
#
# Idempotent: a database whose sample_meta says 'loaded' is left alone. Schema and data load in one
# transaction, so an interrupted load leaves nothing behind.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$HERE/../lib.sh"

container=invoicetron-db user=invoicetron db=invoicetron scale=small rows=${SAMPLE_ROWS:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --container) container=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "load.sh: unknown argument '$1' (see --help)" ;;
  esac
done
if [ -z "$rows" ]; then
  case "$scale" in
    small) rows=20000 ;;
    large) rows=1000000 ;;
    *) die "unknown scale '$scale' (small or large, or give --rows N)" ;;
  esac
fi
case "$rows" in '' | *[!0-9]*) die "rows must be a number, not '$rows'" ;; esac
[ "$rows" -ge 5 ] || die "rows must be at least 5"
reports_db="${db}_reports"

psql_in() { # DB [psql args...]: run psql in the container, SQL on stdin
  local d=$1; shift
  docker exec -i "$container" psql -X -q -v ON_ERROR_STOP=1 -U "$user" -d "$d" "$@"
}
query() { psql_in "$1" -At <<<"$2"; }

# The image's init server listens on the unix socket only: wait for TCP, i.e. the real server.
waited=0
until docker exec "$container" pg_isready -q -h 127.0.0.1 -U "$user" -d "$db" 2>/dev/null; do
  if [ "$(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null)" != true ]; then
    docker logs --tail 20 "$container" >&2 2>&1 || true
    die "container $container is not running (log tail above)"
  fi
  [ "$waited" -lt 120 ] || die "PostgreSQL in $container did not accept connections within 120s"
  sleep 1; waited=$((waited + 1))
done

state=$(query "$db" "SELECT CASE WHEN to_regclass('public.sample_meta') IS NOT NULL THEN 'meta'
  WHEN EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public') THEN 'foreign' ELSE 'empty' END;")
if [ "$state" = meta ]; then
  state=$(query "$db" "SELECT coalesce((SELECT 'loaded:' || (SELECT value FROM sample_meta WHERE key = 'rows')
    FROM sample_meta WHERE key = 'loaded'), 'partial');")
fi
case "$state" in
  empty)
    log "loading the sample data into $container/$db ($rows invoice_lines)"
    t0=$SECONDS
    cat "$HERE/invoicing.sql" "$HERE/generate.sql" \
      | psql_in "$db" --single-transaction -v rows="$rows" -v scale="$scale" -f - >/dev/null
    query "$db" "ANALYZE;" >/dev/null
    log "loaded $db in $((SECONDS - t0))s: $(query "$db" "SELECT string_agg(substr(key, 7) || '=' || value, ' ' ORDER BY key) FROM sample_meta WHERE key LIKE 'count.%';")"
    ;;
  loaded:*)
    have=${state#loaded:}
    if [ "$have" = "$rows" ]; then
      log "$container/$db already holds the sample data ($have invoice_lines): not reloading"
    else
      log "warning: $container/$db already holds the sample data with $have invoice_lines (not $rows): not reloading; remove the stack to change the scale"
    fi
    ;;
  *) die "$container/$db has tables but no complete sample data (state '$state'): remove the database first" ;;
esac

if [ -z "$(query postgres "SELECT 1 FROM pg_database WHERE datname = '$reports_db';")" ]; then
  query postgres "CREATE DATABASE \"$reports_db\";" >/dev/null
fi
if [ "$(query "$reports_db" "SELECT to_regclass('public.report_runs') IS NOT NULL;")" = t ]; then
  log "$container/$reports_db already loaded"
else
  psql_in "$reports_db" --single-transaction -f - <"$HERE/reports.sql" >/dev/null
  log "loaded $container/$reports_db"
fi
