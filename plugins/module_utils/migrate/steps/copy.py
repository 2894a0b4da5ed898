# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 5: globals, a fresh database, the schema without indexes, then the tables ``migration.jobs`` at a time.

Each table is replaced all at once or not at all (the engine's copy_table), so a cut stream never leaves
half a table; the first failure stops every other copy in flight (the transport is cancelled).
"""

from __future__ import annotations

import concurrent.futures

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import CopyProgress


def globals_and_database(run, engine, plan):
    """Roles first (the database's owner may be one), then the database afresh."""
    copied, run.roles = run.timed("globals", engine.copy_globals)
    run.timed("database", engine.create_database, plan, copied)


def schema(run, engine, transport, snapshot):
    run.timed("schema", engine.copy_schema, transport, snapshot)


def tables(run, engine, transport, plan, snapshot):
    """Copy every table of the plan; prints progress lines while it runs and the last one at the end."""
    line = run.timed("data", _copy_tables, run, engine, transport, plan.tables, snapshot)
    run.emit(line)
    return line


def _copy_tables(run, engine, transport, tables_to_copy, snapshot):
    ctx = run.ctx
    progress = CopyProgress("copy %s" % ctx.label, tables_to_copy, run.emit, poll=engine.copy_progress,
                            interval=ctx.options.progress_interval)

    def copy_one(table):
        engine.copy_table(transport, table, snapshot)
        progress.table_done(table["key"])

    with progress, concurrent.futures.ThreadPoolExecutor(max_workers=ctx.jobs) as pool:
        futures = {pool.submit(copy_one, table): table for table in tables_to_copy}
        try:
            for future in concurrent.futures.as_completed(futures):
                try:
                    future.result()
                except Exception as exc:
                    transport.cancel()
                    raise MigrationError("%s: copying table %s failed: %s" % (ctx.label, futures[future]["key"], exc), "copy") from None
        except BaseException:
            transport.cancel()
            for future in futures:
                future.cancel()
            raise
    return progress.line()
