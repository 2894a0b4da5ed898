# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``migration.mode: online`` (PostgreSQL logical replication), after preflight:

 1. the source allows it (wal_level, free slot and sender, replica identities, the user may replicate), read-only;
 2. a re-run while the marker says ``replicating`` reports the lag and changes nothing; check mode says what it would do;
 3. the Job transport (the subscription connects from the cluster to the address the Job's pod reached);
 4. backup (as offline), the marker ``copying``, globals, a fresh database, the whole schema (indexes and constraints too:
    the subscription finds rows to update by their primary key);
 5. a publication on the source, a subscription on the target, the initial sync waited for with progress;
 6. the marker ``replicating`` (publication, subscription, slot, LSNs). pg_final_sync ends it at cutover.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import replication
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import human_bytes
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import utc_now
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import (
    backup,
    choose_transport,
    copy,
    indexes,
    marker,
    report,
    snapshot,
)


def migrate(run, engine, plan):
    ctx = run.ctx
    found = replication.names(ctx)
    facts = run.timed("replication preflight", replication.check_source, engine, found)
    if plan.marker.get("state") == marker.REPLICATING:
        return status(run, engine, plan)
    if ctx.options.check_mode:
        out = report.plan_only(run, engine, plan)
        out["msg"] = ("%s: would copy the schema, create publication %s on the source and subscription %s on the target, and "
                      "replicate %d tables (%s)" % (ctx.label, found["publication"], found["subscription"], len(plan.tables),
                                                    human_bytes(plan.data_bytes)))
        return out
    try:
        return start(run, engine, plan, found, facts)
    except SideError as exc:
        raise MigrationError("%s: %s" % (ctx.label, exc), "replicate") from None


def status(run, engine, plan):
    """The lag of a running replication; nothing changes."""
    ctx, record = run.ctx, plan.marker
    slot = replication.slot_state(engine, record)
    if "confirmed" not in slot:
        raise MigrationError("%s: the marker says replicating but the slot %s is gone from the source: drop the target database, "
                             "delete the key of ConfigMap %s and run the migrate phase again" % (
                                 ctx.label, record.get("slot"), ctx.objects["migration_marker"]), "preflight")
    sync = replication.sync_state(engine, record)
    msg = "%s: replicating since %s (%d/%d tables ready, slot %s, %s behind)" % (
        ctx.label, record.get("replicating_since"), sync["ready"], sync["tables"], "active" if slot["active"] else "INACTIVE",
        human_bytes(max(slot["lag_bytes"], 0)))
    return {"changed": False, "msg": msg, "mode": "online", "marker": record, "lag_bytes": slot["lag_bytes"],
            "source_lsn": slot["current"], "confirmed_lsn": slot["confirmed"], "backup": record.get("backup"),
            "transport": record.get("transport"), "summary": report.summary(plan)}


def start(run, engine, plan, found, facts):
    ctx = run.ctx
    transport, reason = run.timed("transport", choose_transport.choose, run, engine)
    try:
        if transport.name != "job":
            raise MigrationError(ctx.field_problem("migration.mode", "online", "the subscription connects from the cluster to the "
                                                   "source, but %s" % reason, "set source.address (and source.password) to an "
                                                   "address the cluster's pods can reach"), "transport")
        run.emit("%s: transport %s (%s)" % (ctx.label, transport.name, reason))
        run.timed("leftovers", replication.remove, engine, found)
        with snapshot.held(engine) as snapshot_id:
            taken = run.timed("backup", backup.take, run, engine, snapshot_id) if ctx.backup else None
            record = marker.write(engine.cluster, ctx, marker.COPYING, started=run.started_at, backup=taken, transport="job",
                                  mode="online")
            copy.globals_and_database(run, engine, plan)
            copy.schema(run, engine, snapshot_id)
        indexes.build(run, engine)
        run.timed("publication", replication.create_publication, engine, found, facts["superuser"], plan.tables)
        run.timed("subscription", replication.create_subscription, engine, transport, found)
    finally:
        try:
            choose_transport.stop_worker(run, engine, wait=False)
        except Exception as exc:  # the run's own outcome is what is reported
            run.notes.append("could not remove the migration Job (it ends by its deadline): %s" % exc)
    synced = run.timed("initial sync", replication.wait_initial_sync, run, engine, found, ctx.options.timeout or 86400)
    slot = replication.slot_state(engine, found)
    final = marker.write(engine.cluster, ctx, marker.REPLICATING, started=record["started"], backup=taken, transport="job",
                         mode="online", replicating_since=utc_now(), start_lsn=slot.get("confirmed"), tables=synced["tables"],
                         source_version=plan.source_version, target_version=plan.target_version, **found)
    msg = "%s: replicating %d tables from %s into %s: initial sync done, %s behind; run pg_final_sync at cutover" % (
        ctx.label, synced["tables"], engine.source.label, engine.target.label, human_bytes(max(slot.get("lag_bytes") or 0, 0)))
    return {"changed": True, "msg": msg, "mode": "online", "marker": final, "backup": taken, "transport": "job",
            "lag_bytes": slot.get("lag_bytes"), "timings": run.timings, "notes": run.notes + engine.notes,
            "summary": report.summary(plan)}
