# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 1, read-only: everything that could stop the migration is checked before anything is written."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.background import Background
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.safe_names import safe_name
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import backup, marker

FORCE_HOW = "run the migrate playbook with -e stateshift_force=true (pg_migrate: force: true)"


def check(run, engine):
    """The engine's own checks (source, tools, versions), then: the target database is empty, or was written by a
    stateshift run (its marker), or force is set; force never replaces a verified copy nor one written to since the
    copy; the backup fits on the source host's disk. Returns the Plan."""
    ctx = run.ctx
    reading_marker = Background(marker.read, engine.cluster, ctx).begin()  # the API server answers while the sides do
    try:
        plan = engine.inspect()
    finally:
        reading_marker.join()
    plan.marker = reading_marker.result()
    found, state = plan.target_objects(), plan.marker.get("state")
    where = "the target database '%s' in pod %s/%s" % (ctx.database, ctx.namespace, engine.target.pod)
    if found and state not in marker.OURS and not ctx.force:
        listed = ", ".join("%s %s" % (count, kind) for kind, count in sorted(found.items()))
        raise MigrationError("%s: %s is not empty (%s) and no stateshift migration wrote it; refusing to overwrite it: check what "
                             "it holds, then %s to replace its contents" % (ctx.label, where, listed, FORCE_HOW), "preflight")
    if found and ctx.force and state in marker.FINISHED:
        refuse_forced_recopy(ctx, where, plan)
    if ctx.backup:
        backup.check_space(run, engine.source, plan.backup_bytes)
    return plan


DROP_BY_ENGINE = {"mongodb": "db.dropDatabase() in mongosh"}


def engine_drop(ctx):
    """How a user drops the target database by hand, in the engine's own words."""
    return DROP_BY_ENGINE.get(ctx.engine, "DROP DATABASE")


def refuse_forced_recopy(ctx, where, plan):
    """Force replaces a copy of ours only when it failed verification or was not verified, and nothing wrote to it since."""
    state = plan.marker["state"]
    fix = ("if it is to be replaced, back it up, drop it yourself (%s) and delete the key '%s' of ConfigMap %s/%s, "
           "then re-run" % (engine_drop(ctx), safe_name(ctx.database), ctx.namespace, ctx.objects["migration_marker"]))
    if state == marker.VERIFIED:
        raise MigrationError("%s: %s holds a verified copy (%s) that applications may have written to since; force never replaces "
                             "a verified copy: %s" % (ctx.label, where, plan.marker.get("updated"), fix), "preflight")
    recorded = plan.marker.get("fingerprint")
    if not recorded or recorded != plan.target_fingerprint:
        why = ("something wrote to it after the copy finished (%s then, %s now)" % (recorded, plan.target_fingerprint)
               if recorded else "the copy recorded no fingerprint, so writes since cannot be ruled out")
        raise MigrationError("%s: %s was copied by stateshift (%s) but %s; refusing to drop it even with force: %s"
                             % (ctx.label, where, state, why, fix), "preflight")
