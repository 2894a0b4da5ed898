# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The marker ConfigMap, per database: ``copying`` (a run is writing it: the target is ours, a re-run redoes the copy),
``verified``, ``verify_failed`` (copied, but the verification found differences: a re-run re-verifies and copies again only
when forced) or ``copied_unverified`` (``migration.verify: none``). A finished copy records the target's ``fingerprint``
so that a forced re-run can tell whether anything wrote to the target since."""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import worker
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.safe_names import safe_name
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError, run_process, tail
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import utc_now

COPYING, VERIFIED, VERIFY_FAILED, COPIED_UNVERIFIED = "copying", "verified", "verify_failed", "copied_unverified"
REPLICATING = "replicating"  # migration.mode online: copied, the subscription applies the source's changes until pg_final_sync
FINISHED = (VERIFIED, VERIFY_FAILED, COPIED_UNVERIFIED)
OURS = (COPYING, REPLICATING, *FINISHED)


def finished_state(report):
    """The state a finished copy leaves, from its verification report."""
    if report.get("level") == "none":
        return COPIED_UNVERIFIED
    return VERIFIED if report["ok"] else VERIFY_FAILED


def read(cluster, ctx):
    """This database's record, or {} when no run wrote one."""
    completed = run_process(cluster("get", "configmap", ctx.objects["migration_marker"], "-o", "json", "--ignore-not-found"),
                            what="kubectl get configmap %s" % ctx.objects["migration_marker"])
    if completed.returncode != 0:
        raise SideError("cannot read the migration marker: %s" % tail(completed.stderr.decode()))
    if not completed.stdout.strip():
        return {}
    data = json.loads(completed.stdout).get("data") or {}
    key = safe_name(ctx.database)
    return json.loads(data[key]) if key in data else {}


def write(cluster, ctx, state, **fields):
    """Record ``state`` for this database (other databases' records are another field manager's, left alone)."""
    record = dict(fields, state=state, updated=utc_now())
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ctx.objects["migration_marker"],
                         "labels": {"app.kubernetes.io/managed-by": "stateshift", worker.LABEL: ctx.app}},
            "data": {safe_name(ctx.database): json.dumps(record, sort_keys=True)}}
    worker.kubectl_run(cluster, ["apply", "--server-side", "--force-conflicts",
                                 "--field-manager=stateshift-migrate-%s" % safe_name(ctx.database).replace("_", "-").lower(),
                                 "-f", "-"], stdin=json.dumps(body).encode())
    return record
