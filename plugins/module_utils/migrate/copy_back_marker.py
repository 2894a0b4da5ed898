# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The copy-back's record: the key ``<database>.copy-back`` of the migration marker ConfigMap, beside the forward
copy's ``<database>`` key and owned by its own field manager, so neither run touches the other's record.

States: ``copying`` (a copy-back started: the source may or may not hold it, a re-run copies again), ``verified``,
``verify_failed`` and ``copied_unverified`` (``migration.verify: none``); with started, finished, the backup taken
first and the verification's outcome."""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import worker
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.safe_names import safe_name
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError, run_process, tail
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import utc_now

SUFFIX = ".copy-back"


def key(ctx):
    return safe_name(ctx.database) + SUFFIX


def read(cluster, ctx):
    """The copy-back's record for this database, or {}."""
    name = ctx.objects["migration_marker"]
    completed = run_process(cluster("get", "configmap", name, "-o", "json", "--ignore-not-found"), what="kubectl get configmap %s" % name)
    if completed.returncode != 0:
        raise SideError("cannot read the migration marker: %s" % tail(completed.stderr.decode("utf-8", "replace")))
    if not completed.stdout.strip():
        return {}
    data = json.loads(completed.stdout).get("data") or {}
    return json.loads(data[key(ctx)]) if key(ctx) in data else {}


def write(cluster, ctx, state, **fields):
    """Record ``state`` (server-side apply of this one key; the forward copy's keys are left alone)."""
    record = dict(fields, state=state, updated=utc_now())
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ctx.objects["migration_marker"],
                         "labels": {"app.kubernetes.io/managed-by": "stateshift", worker.LABEL: ctx.app}},
            "data": {key(ctx): json.dumps(record, sort_keys=True)}}
    manager = "stateshift-copy-back-%s" % safe_name(ctx.database).replace("_", "-").lower()
    worker.kubectl_run(cluster, ["apply", "--server-side", "--force-conflicts", "--field-manager=%s" % manager[:128], "-f", "-"],
                       stdin=json.dumps(body).encode())
    return record
