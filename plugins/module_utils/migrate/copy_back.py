# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The copy-back as a runbook: the StatefulSet's database back into the source database in its Docker container (what
a rollback does to keep writes made after cutover, and what a reverse split does).

 1. preflight, read-only (copy_back_preflight.py); check mode stops here;
 2. one exported snapshot on the StatefulSet's server, read by the copy and by its half of the verification;
 3. a backup of the source database on its host (the forward backup step: pg_dump, .partial, sha256);
 4. the record ``<database>.copy-back`` in the migration marker says ``copying``;
 5. ONE transaction on the source (copy_back_load.py): TRUNCATE of every table, each table's rows streamed from the
    StatefulSet, every sequence set, COMMIT only when all of it went through: an interruption leaves the source as it was;
 6. verification, source against the snapshot (row counts and checksums, objects, sequences); the record says
    ``verified`` (or ``verify_failed``, ``copied_unverified``).
A re-run after a verified copy-back only re-verifies (changed=false) unless forced; any other record copies again.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import copy_back_marker, copy_back_preflight, postgresql_snapshot
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.background import Background
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.copy_back_load import Loader
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import Ticker, human_bytes, human_seconds
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError, run
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import RunState, utc_now
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import backup, marker, report, verify
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import copy_back_sql, psql, sql
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import verify as pg_verify

UNCHANGED = "the source database is unchanged (the copy-back's transaction was not committed)"


class SourceDump:
    """The forward backup step's view of the source database: pg_dump -Fc of it as it is now (it takes no writes)."""

    backup_suffix = ".before-copy-back.dump"
    backup_format = "custom"

    def __init__(self, engine):
        self.source, self.database = engine.source, engine.ctx.database

    def backup_command(self, _snapshot):
        return self.source.program_words("pg_dump", ["-Fc", "-Z1"], self.database)


def copy_back(engine, emit=None):
    """Run the runbook; returns the task's result. Raises MigrationError (the source database is then unchanged)."""
    run_state = RunState(engine.ctx, emit)
    plan = run_state.timed("preflight", copy_back_preflight.check, run_state, engine)
    for note in engine.notes:
        run_state.emit("%s: %s" % (run_state.ctx.label, note))
    if plan.record.get("state") == marker.VERIFIED and not run_state.ctx.force:
        checked = run_state.timed("verify", compare, engine, run_state.ctx.verify)
        return result(run_state, engine, plan, checked, plan.record, already=True)
    if run_state.ctx.options.check_mode:
        return plan_only(run_state, engine, plan)
    return copy_and_verify(run_state, engine, plan)


def copy_and_verify(run_state, engine, plan):
    ctx, committed = run_state.ctx, False
    try:
        end_leftover_sessions(run_state, engine)
        with postgresql_snapshot.ExportedSnapshot(engine.target, ctx.database, copy_back_sql.APPLICATION_NAME) as snapshot:
            taken = run_state.timed("backup", take_backup, run_state, engine)
            record = copy_back_marker.write(engine.cluster, ctx, marker.COPYING, started=run_state.started_at, backup=taken)
            run_state.timed("data", load, run_state, engine, plan, snapshot)
            committed = True
            checked = run_state.timed("verify", compare, engine, ctx.verify, snapshot)
    except SideError as exc:
        raise MigrationError("%s: %s; %s" % (ctx.label, exc, "the copy-back was committed but could not be verified: re-run"
                                             if committed else UNCHANGED + ": re-run to copy back again"),
                             "verify" if committed else "copy") from None
    final = copy_back_marker.write(engine.cluster, ctx, marker.finished_state(checked), started=record["started"], finished=utc_now(),
                                   backup=taken, verified=report.verified(checked), mismatches=len(checked["mismatches"]),
                                   fingerprint=checked.get("fingerprint"))
    if final["state"] == marker.VERIFIED:
        rebase_forward_copy(engine)
    return result(run_state, engine, plan, checked, final, backup=taken)


def end_leftover_sessions(run_state, engine):
    """End the StatefulSet's sessions an interrupted copy-back left behind (they hold a snapshot open)."""
    statement = copy_back_sql.END_LEFTOVER_SESSIONS_SQL + ";\n"
    ended = run(engine.target, "psql", psql.FLAGS, run_state.ctx.database, stdin=statement.encode()).strip()
    if ended not in ("", "0"):
        run_state.emit("copy-back %s: ended %s session(s) an interrupted copy-back left on the StatefulSet's database"
                       % (run_state.ctx.label, ended))


def rebase_forward_copy(engine):
    """The source now equals the StatefulSet: the forward copy's record takes the StatefulSet's fingerprint of now, so a
    later cutover's final sync sees an unchanged target and may copy again what the source takes from here on."""
    forward = marker.read(engine.cluster, engine.ctx)
    if forward.get("state") == marker.VERIFIED:
        kept = {key: value for key, value in forward.items() if key not in ("state", "updated")}
        marker.write(engine.cluster, engine.ctx, marker.VERIFIED, **dict(kept, fingerprint=engine.fingerprint()))


def take_backup(run_state, engine):
    try:
        return backup.take(run_state, SourceDump(engine), None)
    except MigrationError as exc:
        raise MigrationError(str(exc).replace("nothing was written to the target", "nothing was copied back"), "backup") from None


def load(run_state, engine, plan, snapshot):
    """Step 5: every table in one source transaction; progress lines while it runs, one line per table."""
    ctx, count = run_state.ctx, len(plan.tables)
    reading = sql.snapshot_statements(snapshot)
    with Loader(engine.source, ctx.database, engine.long) as loader, \
            Ticker(ctx.options.progress_interval, lambda: run_state.emit(progress_line(ctx, loader.progress()))):
        loader.begin(copy_back_sql.load_head(plan.tables, plan.encoding))
        for index, table in enumerate(plan.tables, 1):
            statements = copy_back_sql.read_statements(table, reading, plan.encoding, loader.end_tag)
            rows, size = loader.load(engine.target, table, statements)
            run_state.emit("copy-back %s: %d/%d %s: %d rows, %s" % (ctx.label, index, count, table["key"], rows, human_bytes(size)))
        sequences = engine.target_json(sql.SEQUENCE_VALUES_SQL, ctx.database, what="the StatefulSet's sequences")
        loader.commit(copy_back_sql.load_tail(sequences, plan.materialized_views))
    run_state.emit("copy-back %s: committed %d tables and %d sequences" % (ctx.label, count, len(sequences)))


def progress_line(ctx, current):
    table, rows, size, seconds = current
    if table is None:
        return "copy-back %s: truncating" % ctx.label
    rate = human_bytes(size / max(seconds, 1e-6))
    return "copy-back %s: %s: %d rows, %s, %s/s, %s" % (ctx.label, table, rows, human_bytes(size), rate, human_seconds(seconds))


def compare(engine, level, snapshot=None):
    """The StatefulSet's database (at the snapshot, or now) against the source database now; mismatches say which is which."""
    if level == verify.NONE:
        return verify.not_verified()
    database, deadline = engine.ctx.database, engine.long
    origin = Background(lambda: pg_verify.parse_side(run(engine.target, "psql", psql.FLAGS, database, timeout=deadline,
                                                         stdin=pg_verify.side_script(level, snapshot).encode()))).begin()
    into = pg_verify.parse_side(run(engine.source, "psql", psql.FLAGS, database, timeout=deadline,
                                    stdin=pg_verify.side_script(level, sequences=True, fingerprint=True).encode()))
    findings = pg_verify.sequence_findings(into.pop("sequences", []))
    checked = pg_verify.compare(origin.result(), into, findings, level)
    checked["mismatches"] = [reworded(line) for line in checked["mismatches"]]
    if into.get("fingerprint"):
        checked["fingerprint"] = into["fingerprint"]
    return checked


def reworded(line):
    """A forward mismatch sentence, its sides named for this direction."""
    return line.replace("the source", "\0").replace("the target", "the source database").replace("\0", "the StatefulSet's database")


def tables_of(checked):
    return [{"name": row["table"], "rows": row["target_rows"], "checksum": row["target_checksum"], "match": row["match"]}
            for row in checked["tables"]]


def markdown(checked, title):
    text = pg_verify.markdown(checked, title)
    return text.replace("| table | source rows | target rows |", "| table | StatefulSet rows | source rows |")


def plan_only(run_state, engine, plan):
    """Check mode: what the copy-back would do."""
    ctx = run_state.ctx
    return {"changed": True, "verified": False, "copy_back": plan.record, "backup": None,
            "msg": "%s: would back up the source database on %s, then replace its %d tables (%s) with those of %s in one "
                   "transaction" % (ctx.label, engine.source.where(), len(plan.tables), human_bytes(plan.data_bytes), engine.target.label),
            "source_version": plan.source["version"], "target_version": plan.target["version"],
            "diff": {"before": "%s (source): as it is\n" % ctx.database,
                     "after": "%s (source): the %d tables of the StatefulSet's database\n" % (ctx.database, len(plan.tables))}}


def result(run_state, engine, plan, checked, record, backup=None, already=False):
    ctx = run_state.ctx
    taken = backup or record.get("backup")
    checked.update(workload=ctx.workload, database=ctx.database, direction="statefulset->source", source=engine.target.label,
                   target=engine.source.label, started=run_state.started_at, finished=utc_now(), duration_seconds=run_state.duration(),
                   backup=taken, timings=run_state.timings, notes=run_state.notes + engine.notes, verified=report.verified(checked))
    files = report.write_files(checked, ctx.options.report_dir, "%s-%s-copy-back" % (ctx.workload, ctx.database.replace("/", "_")),
                               lambda doc, stem: markdown(doc, "Copy-back of %s" % stem))
    if already:
        msg = "%s: already copied back and verified (%s); re-verified: %s" % (ctx.label, record.get("updated"), report.outcome(checked))
    else:
        msg = "%s: copied back %d tables (%s rows) into %s in %s; verification %s" % (
            ctx.label, len(plan.tables), checked["totals"].get("rows_target", "?"), engine.source.label,
            human_seconds(checked["duration_seconds"]), report.outcome(checked, "passed", "FAILED"))
    if not checked["ok"]:
        msg += ": " + "; ".join(checked["mismatches"][:5])
        if already:
            msg += (". One of the databases changed since the copy-back: check which, then re-run with force: true "
                    "(-e stateshift_force=true) to copy back again")
    return {"changed": not already, "failed": not checked["ok"], "verified": report.verified(checked), "msg": msg,
            "tables": tables_of(checked), "totals": checked["totals"], "backup": taken, "report": checked, "report_files": files,
            "source_version": plan.source["version"], "target_version": plan.target["version"], "copy_back": record}
