# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 1, read-only: everything that could stop the migration is checked before anything is written."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import backup, marker


def check(run, engine):
    """The engine's own checks (source, tools, versions), then: the target database is empty, or was written by a
    stateshift run (its marker), or force is set; the backup fits on the source host's disk. Returns the Plan."""
    ctx = run.ctx
    plan = engine.inspect()
    plan.marker = marker.read(engine.cluster, ctx)
    found = plan.target_objects()
    if found and plan.marker.get("state") not in (marker.COPYING, marker.VERIFIED) and not ctx.force:
        listed = ", ".join("%s %s" % (count, kind) for kind, count in sorted(found.items()))
        raise MigrationError(ctx.field_problem(
            "migration.force", ctx.force, "the target database '%s' in pod %s/%s is not empty (%s) and no stateshift migration "
            "wrote it" % (ctx.database, ctx.namespace, engine.target.pod, listed),
            "refusing to overwrite it: check what it holds, then set migration.force: true to replace its contents"), "preflight")
    if ctx.backup:
        backup.check_space(run, engine.source, plan.backup_bytes)
    return plan
