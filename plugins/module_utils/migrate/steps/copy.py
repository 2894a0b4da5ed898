# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 5: globals, a fresh database, the schema without indexes, then the tables ``migration.jobs`` parts at a time.

Each part (a table, or a range of a large one's pages) is written all at once or not at all (the engine's copy_table)
and recorded on the target by the transaction that writes it, so a cut stream never leaves half a part and a re-run
resumes with the parts that are not in (steps/resume.py); the first failure stops every other copy in flight (the
transport is cancelled).
"""

from __future__ import annotations

import concurrent.futures

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import CopyProgress
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import resume


def prepare(run, engine, plan, snapshot):
    """Everything before the rows; returns the parts to copy. A resumed copy keeps the database, its schema and its parts."""
    if plan.resume:
        copied_globals(run, engine)
        run.timed("schema", engine.copy_schema, snapshot, False)
        return resume.parts(run, engine, plan)
    globals_and_database(run, engine, plan)
    schema(run, engine, snapshot)
    parts = engine.plan_parts(plan)
    engine.record_parts(engine.parts_digest(plan.tables), parts)
    return parts


def globals_and_database(run, engine, plan):
    """Roles first (the database's owner may be one), then the database afresh."""
    run.timed("database", engine.create_database, plan, copied_globals(run, engine))


def copied_globals(run, engine):
    """The roles, copied once per task: the other databases of a task over several (databases.py) reuse the first's."""
    if "globals" not in engine.shared:
        engine.shared["globals"] = run.timed("globals", engine.copy_globals)
    copied, run.roles = engine.shared["globals"]
    return copied


def schema(run, engine, snapshot):
    run.timed("schema", engine.copy_schema, snapshot)


def tables(run, engine, transport, parts, snapshot):
    """Copy every part; prints progress lines while it runs and the last one at the end. Then the record is dropped."""
    units = engine.copy_units(parts)
    with engine.quiet(min(run.ctx.jobs, len(units))):
        line = run.timed("data", _copy_tables, run, engine, transport, parts, units, snapshot)
    run.emit(line)
    engine.forget_parts()
    return line


def _copy_tables(run, engine, transport, parts, units, snapshot):
    ctx = run.ctx
    progress = CopyProgress("copy %s" % ctx.label, parts, run.emit, poll=engine.copy_progress,
                            interval=ctx.options.progress_interval, describe=engine.progress_text)

    def copy_one(unit):
        if len(unit) == 1:
            engine.copy_table(transport, unit[0], snapshot)
        else:
            engine.copy_tables_together(transport, unit, snapshot)
        for part in unit:
            progress.table_done(part["key"])

    with progress, concurrent.futures.ThreadPoolExecutor(max_workers=ctx.jobs) as pool:
        futures = {pool.submit(copy_one, unit): unit for unit in units}
        try:
            for future in concurrent.futures.as_completed(futures):
                try:
                    future.result()
                except Exception as exc:
                    transport.cancel()
                    raise MigrationError("%s: copying table %s failed: %s" % (ctx.label, _named(futures[future]), exc), "copy") from None
        except BaseException:
            transport.cancel()
            for future in futures:
                future.cancel()
            raise
    return progress.line()


def _named(unit):
    if len(unit) > 1:
        return "%s (copied together with %s)" % (_named(unit[:1]), ", ".join(part["key"] for part in unit[1:]))
    part = unit[0]
    if part["part"] is None:
        return part["key"]
    return "%s (part %d, pages from %d)" % (part["table"]["key"], part["part"], part["first_block"])
