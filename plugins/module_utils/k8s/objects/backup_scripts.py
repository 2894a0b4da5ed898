# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scripts of the backup's pods: dump (with the row counts of the dump's snapshot), off-site upload,
download from the bucket, and restore with verification.

They read every value from their environment (BACKUP_DIR, DATABASES, ...), never from their own text.
A backup is ``<database>-<UTC stamp>.dump`` beside ``<database>-<UTC stamp>.counts`` (one line per user table,
``<schema>.<table><TAB><rows>``, counted in the snapshot pg_dump used) and ``<database>-<UTC stamp>.sha256`` (the dump's
sha256, checked by every restore and drill); a file is renamed from .partial only
after it is complete and, for a dump, read back by pg_restore --list.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import NOT_EXTENSION_MEMBER, USER_SCHEMAS

# Rows of every user table, counted in the running transaction's snapshot (query_to_xml runs each count
# inside the same statement), sorted so that two runs compare line by line.
ROW_COUNTS_SQL = (
    "SELECT format('%I.%I', n.nspname, c.relname) || E'\\t' || (xpath('/row/c/text()', query_to_xml("
    "format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND " + USER_SCHEMAS + " AND " + NOT_EXTENSION_MEMBER.format(oid="c.oid") + " "
    "ORDER BY 1"
)

WAIT_FOR_SERVER = """\
tries=0
until pg_isready -q -t 2; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || { echo "the database server did not answer pg_isready for 60 s" >&2; exit 1; }
  sleep 2
done
"""

# pick: the newest backup of $DATABASE among the names on stdin, no later than $BEFORE (a UTC stamp) when
# it is set; or $BACKUP itself, which must be one of them.
PICK = """\
pick() {
  chosen=""
  while read -r name; do
    case "$name" in "$DATABASE"-????????T??????Z.dump) ;; *) continue ;; esac
    if [ -n "$BACKUP" ]; then [ "$name" = "$BACKUP" ] && chosen=$name; continue; fi
    stamp=${name#"$DATABASE"-}; stamp=${stamp%.dump}
    if [ -n "$BEFORE" ] && [ "$(expr "$stamp" \\<= "$BEFORE")" != 1 ]; then continue; fi
    if [ -z "$chosen" ] || [ "$(expr "$name" \\> "$chosen")" = 1 ]; then chosen=$name; fi
  done
  [ -n "$chosen" ] || { echo "no backup of $DATABASE matches (backup: ${BACKUP:-latest}, before: ${BEFORE:-any time})" >&2; exit 1; }
  echo "$chosen"
}
"""

# A new pod's address reaches the NetworkPolicy engine's rules a moment after the pod starts (kube-router,
# as in k3s, refuses it until then): WAIT_FOR_SERVER waits up to 60 s before the first connection.
# The counts are taken in the transaction whose snapshot pg_dump uses (--snapshot): psql holds it open,
# reading its commands from a FIFO.
BACKUP_SCRIPT = WAIT_FOR_SERVER + """\
stamp=$(date -u +%Y%m%dT%H%M%SZ)
session=/tmp/stateshift-snapshot
for db in $DATABASES; do
  base="$BACKUP_DIR/$db-$stamp"
  rm -rf "$session"; mkdir -m 700 "$session"; mkfifo "$session/in"
  psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" < "$session/in" &
  holder=$!
  exec 3> "$session/in"
  printf '%s\\n' "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;" "\\\\o $session/id.partial" \\
    "SELECT pg_export_snapshot();" "\\\\o" "\\\\! mv $session/id.partial $session/id" >&3
  tries=0
  until [ -s "$session/id" ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] && kill -0 "$holder" 2>/dev/null || { echo "could not open a snapshot of $db" >&2; exit 1; }
    sleep 0.1
  done
  pg_dump -Fc --snapshot="$(cat "$session/id")" -d "$db" -f "$base.dump.partial"
  printf '%s\\n' "\\\\o $base.counts.partial" "$ROW_COUNTS_SQL;" "\\\\o" "COMMIT;" >&3
  exec 3>&-
  wait "$holder" || { echo "counting the rows of $db failed" >&2; exit 1; }
  pg_restore --list "$base.dump.partial" > /dev/null
  sha256sum < "$base.dump.partial" | cut -d ' ' -f 1 > "$base.sha256.partial"
  mv "$base.counts.partial" "$base.counts"
  mv "$base.sha256.partial" "$base.sha256"
  mv "$base.dump.partial" "$base.dump"
  echo "backed up $db to $db-$stamp.dump ($(wc -c < "$base.dump") bytes, sha256 $(cat "$base.sha256")," \\
    "$(wc -l < "$base.counts") tables counted)"
done
rm -rf "$session"
find "$BACKUP_DIR" \\( -name '*.dump' -o -name '*.counts' -o -name '*.sha256' \\) -mtime "+$RETENTION_DAYS" -print -delete
find "$BACKUP_DIR" -name '*.partial' -mmin +60 -delete
"""

# The off-site copy: every checked dump younger than the bucket's retention is uploaded with its counts and sha256,
# checked there against the volume's copy (size and MD5), then the bucket's older files are deleted.
# A missing bucket is an error, never created.
UPLOAD_SCRIPT = """\
: > "$RCLONE_CONFIG"
where="bucket $S3_BUCKET at $RCLONE_CONFIG_OFFSITE_ENDPOINT"
fail() { echo "off-site copy failed: $1 ($where, prefix $S3_PREFIX); check backup.s3 and the keys of auth.secret" >&2; exit 1; }
target="offsite:$S3_BUCKET/$S3_PREFIX"
rclone copy "$BACKUP_DIR" "$target" --max-depth 1 --include '*.{dump,counts,sha256}' --max-age "${S3_RETENTION_DAYS}d" --retries 2 \\
  --low-level-retries 2 --contimeout 10s --timeout 120s || fail "upload"
rclone check "$BACKUP_DIR" "$target" --one-way --max-depth 1 --include '*.{dump,counts,sha256}' --max-age "${S3_RETENTION_DAYS}d" \\
  || fail "a copy in the bucket differs from the volume's"
rclone delete "$target" --max-depth 1 --include '*.{dump,counts,sha256}' --min-age "${S3_RETENTION_DAYS}d" -v || fail "retention"
echo "off-site: $(rclone lsf "$target" --max-depth 1 --include '*.dump' | wc -l) backup(s) in $where, prefix $S3_PREFIX"
"""

# The restore's first step when the backup comes from the bucket: the chosen dump, its counts and its sha256, into
# $BACKUP_DIR.
DOWNLOAD_SCRIPT = PICK + """\
: > "$RCLONE_CONFIG"
source="offsite:$S3_BUCKET/$S3_PREFIX"
listed=$(rclone lsf "$source" --max-depth 1 --include '*.{dump,counts,sha256}' --contimeout 10s --timeout 60s) \\
  || { echo "cannot list bucket $S3_BUCKET at $RCLONE_CONFIG_OFFSITE_ENDPOINT (prefix $S3_PREFIX)" >&2; exit 1; }
chosen=$(printf '%s\\n' "$listed" | pick)
rclone copyto "$source/$chosen" "$BACKUP_DIR/$chosen"
for kept in "${chosen%.dump}.counts" "${chosen%.dump}.sha256"; do
  if printf '%s\\n' "$listed" | grep -qxF "$kept"; then rclone copyto "$source/$kept" "$BACKUP_DIR/$kept"; fi
done
echo "downloaded $chosen from bucket $S3_BUCKET"
"""

# Restore $DATABASE's chosen backup into $INTO (dropped and made again), verify it (pg_restore --list, then the
# row counts the backup recorded), then: keep it (scratch), drop it (a drill), or - MODE=replace - put it in
# place of $DATABASE, whose present state is kept, renamed to $KEEP_AS and closed to connections.
RESTORE_SCRIPT = WAIT_FOR_SERVER + PICK + """\
fail() { echo "restore of $DATABASE failed: $1" >&2; exit 1; }
chosen=$(ls "$BACKUP_DIR" | pick) || exit 1
dump="$BACKUP_DIR/$chosen"
counts="${dump%.dump}.counts"
sums="${dump%.dump}.sha256"
if [ -f "$sums" ]; then
  [ "$(sha256sum < "$dump" | cut -d ' ' -f 1)" = "$(cat "$sums")" ] \\
    || fail "backup $chosen does not match the sha256 recorded when it was written ($(cat "$sums")): it changed since"
  summed="sha256 matches; "
else
  summed=""
fi
pg_restore --list "$dump" > /dev/null || fail "backup $chosen is unreadable (pg_restore --list)"
run_sql() {
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d postgres -v into="$INTO" -v database="$DATABASE" \\
    -v keep_as="$KEEP_AS"
}
run_sql <<'SQL' || fail "could not make the scratch database"
SELECT count(*) > 0 AS taken FROM pg_database
  WHERE datname = :'into' AND coalesce(shobj_description(oid, 'pg_database'), '') <> 'stateshift scratch restore' \\gset
\\if :taken
SELECT format('database %s exists and was not made by a restore: give another scratch database name', :'into')::int;
\\endif
SELECT count(*) > 0 AS taken FROM pg_database WHERE :'keep_as' <> '' AND datname = :'keep_as' \\gset
\\if :taken
SELECT format('database %s exists: the database as it is cannot be kept under that name', :'keep_as')::int;
\\endif
SELECT format('DROP DATABASE IF EXISTS %I', :'into') \\gexec
SELECT format('CREATE DATABASE %I', :'into') \\gexec
SELECT format('COMMENT ON DATABASE %I IS %L', :'into', 'stateshift scratch restore') \\gexec
SQL
pg_restore --exit-on-error -d "$INTO" "$dump" || fail "backup $chosen does not restore (pg_restore above)"
if [ -f "$counts" ]; then
  psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$INTO" -c "$ROW_COUNTS_SQL" > /tmp/restored.counts
  if ! cmp -s "$counts" /tmp/restored.counts; then
    echo "row counts differ from those recorded at backup time (recorded | restored):" >&2
    diff "$counts" /tmp/restored.counts >&2 || true
    fail "backup $chosen restores other rows than it recorded"
  fi
  checked="${summed}row counts of $(wc -l < "$counts") tables match the backup's"
else
  checked="${summed}read by pg_restore --list only: no row counts were recorded with this backup"
fi
case "$MODE" in
  drill)
    run_sql <<'SQL' || fail "could not drop the scratch database"
SELECT format('DROP DATABASE %I', :'into') \\gexec
SQL
    echo "restore drill passed: $chosen restored and verified ($checked); scratch database dropped" ;;
  replace)
    reopen() {
      printf '%s\\n' "SELECT format('ALTER DATABASE %I ALLOW_CONNECTIONS true', :'database') \\\\gexec" | run_sql
    }
    run_sql <<'SQL' || { reopen; fail "could not put the restored database in place (it is as it was, open again)"; }
SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = :'database' \\gset
SELECT format('ALTER DATABASE %I ALLOW_CONNECTIONS false', :'database') \\gexec
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :'database' AND pid <> pg_backend_pid();
SELECT format('ALTER DATABASE %I RENAME TO %I', :'database', :'keep_as') \\gexec
SELECT format('ALTER DATABASE %I RENAME TO %I', :'into', :'database') \\gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'database', :'owner') \\gexec
SELECT format('COMMENT ON DATABASE %I IS NULL', :'database') \\gexec
SQL
    echo "restored $chosen over $DATABASE ($checked); the database as it was is kept as $KEEP_AS (connections closed)" ;;
  *)
    echo "restored $chosen into $INTO ($checked)" ;;
esac
"""
