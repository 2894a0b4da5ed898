# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cutover's final sync (pg_final_sync), with the source blocked (access.py):

- offline mode: the source and the target are compared now. Equal: nothing to do (changed=false). Different, and the
  target's fingerprint still equals the one the copy recorded (nothing wrote to the target since): the copy runs again
  (backup, copy, verification) - the one path on which a verified copy is replaced; force never is. Different and the
  target was written to: refused, the target is left alone.
- online mode: replication.py waits until the subscription applied the source's current WAL position, then the same
  verification, and the replication objects are dropped. Once synced (a re-run, or a cutover again after a rollback),
  it syncs as offline mode does: there is no replication left to wait for.
"""

from __future__ import annotations

import types

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import access, replication
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import run as runbook
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.background import Background
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.safe_names import safe_name
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import RunState, utc_now
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import marker, preflight, report, verify


def level_of(ctx):
    """A final sync always reads rows: count when the catalog verifies by count, else checksum."""
    return "count" if ctx.verify == "count" else "checksum"


def require_blocked(engine):
    """Refused unless the source is blocked (in check mode the blocking task before this one only said it would)."""
    record = access.read_record(engine.cluster, engine.ctx)
    if record.get("state") != access.BLOCKED and not engine.ctx.options.check_mode:
        ctx = engine.ctx
        raise MigrationError("%s: the source database is not blocked (%s), so it could take writes during and after the final "
                             "sync: run stateshift.k3s.pg_source_access with state: blocked first (the cutover phase does)"
                             % (ctx.label, record.get("state") or "never blocked"), "final_sync")


def sync(engine, emit=None, wait_timeout=600, blocked_source=True):
    """pg_final_sync (and mongo_final_sync, ``blocked_source=False``: its writers are stopped by the cutover): the result."""
    run = RunState(engine.ctx, emit)
    run.wait_timeout = wait_timeout
    if blocked_source:
        require_blocked(engine)
    if engine.ctx.mode == "online":
        return online(run, engine)
    return offline(run, engine)


def offline(run, engine):
    ctx = run.ctx
    plan = run.timed("preflight", preflight.check, run, engine)
    state = plan.marker.get("state")
    if state == marker.COPYING:
        return copy_again(run, engine, plan, "a copy was interrupted (marker: copying)")
    if state not in marker.FINISHED:
        raise MigrationError("%s: there is no finished copy to sync (marker: %s): run the migrate phase first"
                             % (ctx.label, state or "none"), "final_sync")
    checked = run.timed("verify", verify.compare, engine, level_of(ctx))
    if checked["ok"]:
        if state != marker.VERIFIED and not ctx.options.check_mode:
            kept = {key: value for key, value in plan.marker.items() if key not in ("state", "updated")}
            marker.write(engine.cluster, ctx, marker.VERIFIED, **dict(kept, verified=True, mismatches=0))
        return result(ctx, plan, checked, False, "source and target already match: nothing to sync", plan.marker.get("backup"))
    recorded = plan.marker.get("fingerprint")
    if not recorded or recorded != plan.target_fingerprint:
        raise MigrationError("%s: the source changed since the copy (%s) but so did the target (fingerprint %s at the copy, %s "
                             "now): something wrote to it, so it is not replaced. Find out what wrote to the target; to copy "
                             "again, back it up, drop it and delete the key '%s' of ConfigMap %s/%s, then run the migrate "
                             "phase" % (ctx.label, "; ".join(checked["mismatches"][:3]), recorded, plan.target_fingerprint,
                                        safe_name(ctx.database), ctx.namespace, ctx.objects["migration_marker"]),
                             "final_sync")
    return copy_again(run, engine, plan, "the source changed since the copy (%s) and the target did not"
                      % "; ".join(checked["mismatches"][:3]), checked)


def copy_again(run, engine, plan, why, checked=None):
    ctx = run.ctx
    if ctx.options.check_mode:
        return result(ctx, plan, checked or verify.not_verified(), True, "would copy again: %s" % why, None)
    run.emit("%s: %s; copying again" % (ctx.label, why))
    copied = runbook.copy_and_verify(run, engine, plan)
    return result(ctx, plan, copied["report"], True, copied["msg"], copied["backup"])


def online(run, engine):
    """Wait until the target applied the source's current WAL position, sync sequences, verify, drop the replication."""
    ctx = run.ctx
    # the source is blocked: every second here is write downtime, so no full preflight (replicate recorded the versions)
    record = marker.read(engine.cluster, ctx)
    plan = types.SimpleNamespace(source_version=record.get("source_version"), target_version=record.get("target_version"))
    if record.get("state") in marker.FINISHED:
        # synced before (a re-run, or a cutover again after a rollback copied the StatefulSet back): the replication is
        # gone, so the source and the target are compared and, when the source changed since, copied like offline mode
        synced = offline(run, engine)
        synced.setdefault("final_lsn", record.get("final_lsn"))
        return synced
    if record.get("state") != marker.REPLICATING:
        raise MigrationError("%s: nothing replicates into the target (marker: %s): run the migrate phase with migration.mode: "
                             "online first" % (ctx.label, record.get("state") or "none"), "final_sync")
    position = run.timed("final position", replication.final_position, engine, record)
    final_lsn = position["slot"]["current"]
    if ctx.options.check_mode:
        return result(ctx, plan, verify.not_verified(), True, "would wait until the target applied %s (now at %s), sync the "
                      "sequences, verify and drop the subscription" % (final_lsn, position["slot"].get("confirmed")),
                      record.get("backup"), final_lsn=final_lsn)
    # the apply worker never touches sequences, so they are set while it catches up
    sequences = Background(run.timed, "sequences", replication.set_sequences, engine, position["sequences"]).begin()
    try:
        waited = run.timed("catch-up", replication.wait_applied, run, engine, record, final_lsn, run.wait_timeout)
    finally:
        sequences.result()
    run.emit("%s: the target applied the source's WAL up to %s (waited %ss)" % (ctx.label, final_lsn, waited))
    checked = run.timed("verify", verify.compare, engine, level_of(ctx))
    if not checked["ok"]:
        return result(ctx, plan, checked, True, "caught up to %s but the verification FAILED (replication left running)"
                      % final_lsn, record.get("backup"), final_lsn=final_lsn)
    checked["fingerprint"] = run.timed("drop replication", replication.remove, engine, record, True)
    kept = {key: value for key, value in record.items() if key not in ("state", "updated")}
    fields = dict(kept, verified=True, mismatches=0, final_lsn=final_lsn, finished=utc_now(), fingerprint=checked["fingerprint"])
    marker.write(engine.cluster, ctx, marker.VERIFIED, **fields)
    return result(ctx, plan, checked, True, "caught up to %s, sequences synced, verification passed, replication dropped (%s)"
                  % (final_lsn, ", ".join("%s %.1fs" % item for item in run.timings.items())), record.get("backup"),
                  final_lsn=final_lsn, timings=run.timings)


def result(ctx, plan, checked, changed, msg, backup, final_lsn=None, timings=None):
    """The contract's result: changed, mode, verified, final_lsn, versions, tables, totals, fingerprint, backup."""
    tables = [{"name": row["table"], "rows": row["target_rows"], "checksum": row["target_checksum"], "match": row["match"]}
              for row in checked.get("tables", [])]
    failed = not checked["ok"] and not (changed and ctx.options.check_mode)  # check mode reports what a run would do
    out = {"changed": changed, "failed": failed, "mode": ctx.mode, "verified": report.verified(checked),
           "source_version": plan.source_version, "target_version": plan.target_version, "tables": tables,
           "totals": checked.get("totals", {}), "fingerprint": checked.get("fingerprint"), "report": checked,
           "backup": {key: backup[key] for key in ("path", "sha256", "host", "bytes") if key in backup} if backup else None,
           "msg": "%s: %s" % (ctx.label, msg) if not msg.startswith(ctx.label) else msg, "timings": timings or {}}
    if final_lsn is not None:
        out["final_lsn"] = final_lsn
    if failed:
        out["msg"] += ": " + "; ".join(checked["mismatches"][:5])
    return out
