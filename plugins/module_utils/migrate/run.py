# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration as a runbook: one source database into the workload's StatefulSet, whatever the engine.

 1. preflight, read-only: nothing is written unless every check passes;
 2. one exported snapshot on the source, read by the backup, the copy and the verification;
 3. the backup on the source host, while the Job's pod starts (the transport is chosen meanwhile, until the rows);
 4. the marker says "copying": a re-run after any interruption knows the target is ours;
 5. restore tuning (undone whatever happens), globals, a fresh database, the schema (all through the target's own pod,
    so they too overlap the Job's start), the tables in parts recorded on the target as they commit (a re-run after an
    interruption copies only the parts not in: steps/resume.py);
 6. sequences, while 7. indexes, constraints, statistics are built;
 8. verification against the snapshot (its source half runs while the target is written);
    the marker says "verified" only if it passed ("verify_failed", "copied_unverified" else), with the target's
    fingerprint, so a forced re-run can tell whether anything wrote to the target since;
 9. the result and the report files.
A re-run after a finished copy only re-verifies (changed=false); force never replaces a verified copy; check mode stops
after step 1.
"""

from __future__ import annotations

import contextlib
import importlib

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import sources
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.background import Background
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import RunState, utc_now
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import (
    backup,
    choose_transport,
    copy,
    indexes,
    marker,
    preflight,
    replicate,
    report,
    resume,
    sequences,
    snapshot,
    tuning,
    verify,
)

# imported when used: a PostgreSQL run never loads pymongo
ENGINES = {"postgresql": ("postgresql", "PostgresEngine"), "mongodb": ("mongodb", "MongoEngine")}


def engine_class(name):
    module, cls = ENGINES[name]
    return getattr(importlib.import_module("ansible_collections.stateshift.k3s.plugins.module_utils.migrate." + module), cls)


@contextlib.contextmanager
def opened_engine(ctx, connection, inventory_name):
    """The engine of the workload (context.build refused engines not in ENGINES), with its source side (over the
    task host's SSH settings) and its cluster."""
    engine_cls = engine_class(ctx.engine)
    with Kubectl(ctx.namespace, dict(ctx.options.connection), ctx.options.kubectl_bin) as cluster, \
            sources.source_side(ctx.source, connection, inventory_name, engine_cls.source_side) as source:
        engine = engine_cls(ctx, source, cluster)
        try:
            yield engine
        finally:
            engine.close()


def migrate(engine, emit=None, run=None):
    """Run the runbook; returns the task's result. Raises MigrationError (the source is unchanged)."""
    run = run or RunState(engine.ctx, emit)
    plan = run.timed("preflight", preflight.check, run, engine)
    plan.resume = resume.point(run, engine, plan)
    if plan.marker.get("state") in marker.FINISHED and not run.ctx.force:
        return reverify(run, engine, plan)
    if run.ctx.mode == "online":
        return replicate.migrate(run, engine, plan)
    if run.ctx.options.check_mode:
        return report.plan_only(run, engine, plan)
    return copy_and_verify(run, engine, plan)


def reverify(run, engine, plan):
    """A finished copy is verified again, never copied again without force; one that now passes is marked verified."""
    checked = run.timed("verify", verify.compare, engine, run.ctx.verify)
    record = plan.marker
    if marker.finished_state(checked) == marker.VERIFIED != record["state"] and not run.ctx.options.check_mode:
        kept = {key: value for key, value in record.items() if key not in ("state", "updated")}
        record = marker.write(engine.cluster, run.ctx, marker.VERIFIED, **dict(kept, verified=True, mismatches=0))
    return report.result(run, engine, plan, checked, record, already=True)


def copy_and_verify(run, engine, plan):
    """Steps 2 to 9."""
    ctx = run.ctx
    starting = Background(choose_transport.begin, run, engine, plan.data_bytes).begin()
    transport = None
    try:
        with snapshot.held(engine) as snapshot_id:
            taken = run.timed("backup", backup.take, run, engine, snapshot_id, plan) if ctx.backup else None
            choice = starting.result()  # the Job exists: its pod starts while the target is prepared
            before = tuning.settings_before(engine, plan.marker)
            record = marker.write(engine.cluster, ctx, marker.COPYING, started=run.started_at, backup=taken, settings_before=before)
            with tuning.tuned(engine, before, run.notes), cleaned_up(run, engine):
                parts = copy.prepare(run, engine, plan, snapshot_id)
                source_half = verify.begin_source(engine, ctx.verify, snapshot_id)
                transport = ready_transport(run, engine, choice)
                copy.tables(run, engine, transport, parts, snapshot_id)
                sequences_and_indexes(run, engine, snapshot_id)
            checked = run.timed("verify", verify.compare, engine, ctx.verify, snapshot_id, source_half)
            checked = resume.recopy_if_changed(run, engine, transport, plan, snapshot_id, source_half, checked)
        final = marker.write(engine.cluster, ctx, marker.finished_state(checked), started=record["started"], finished=utc_now(),
                             backup=taken, transport=transport.name, verified=report.verified(checked),
                             mismatches=len(checked["mismatches"]), fingerprint=checked.get("fingerprint") or engine.fingerprint())
    except SideError as exc:
        raise MigrationError("%s: %s" % (ctx.label, exc), "copy") from None
    finally:
        starting.join()
        try:
            choose_transport.stop_worker(run, engine, wait=False)
        except Exception as exc:  # the run's own outcome is what is reported
            run.notes.append("could not remove the migration Job (it ends by its deadline): %s" % exc)
    return report.result(run, engine, plan, checked, final, backup=taken, transport=transport.name)


def sequences_and_indexes(run, engine, snapshot_id):
    """Steps 6 and 7 at once: the counters are set through the target's session while its pod builds the indexes."""
    building = Background(indexes.build, run, engine).begin()
    try:
        sequences.copy(run, engine, snapshot_id)
    finally:
        building.join()
    building.result()


def ready_transport(run, engine, choice):
    """The transport begun in the background: for a Job, its pod (started during the backup and the schema) waited for."""
    transport, reason = run.timed("transport", choose_transport.settle, run, engine, choice)
    run.emit("%s: transport %s (%s)" % (run.ctx.label, transport.name, reason))
    return transport


@contextlib.contextmanager
def cleaned_up(run, engine):
    """The copy's temporary files are removed whatever happens; a failure to remove them is a note, never the error."""
    try:
        yield
    finally:
        try:
            engine.remove_temporary()
        except Exception as exc:  # the copy's own outcome is what the run reports
            run.notes.append("could not remove the copy's temporary files: %s" % exc)


def compare(engine, level):
    """pg_compare: both sides as they are now, compared at ``level`` (checksum or count); read-only."""
    return report.comparison(engine.ctx, engine, verify.compare(engine, level))
