# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The retire phase's gates for one PostgreSQL workload, read-only (see plugins/modules/retire_check.py)."""

from __future__ import annotations

import datetime

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import ledger as ledgers
from ansible_collections.stateshift.k3s.plugins.module_utils.retire import gates, watch
from ansible_collections.stateshift.k3s.plugins.plugin_utils import cutover_task
from ansible_collections.stateshift.k3s.plugins.plugin_utils.workload_action import WorkloadAction


class ActionModule(WorkloadAction):
    module_name = "retire_check"
    read_only = True
    per_database = False

    def run(self, tmp=None, task_vars=None):
        self._catalog_vars = task_vars or {}
        return super().run(tmp, task_vars)

    def work(self, engine, args, emit):
        workload = cutover_task.workload_of(self._catalog_vars, args["workload"])
        settings = workload["retire"]
        with cutover_task.cluster_for(workload, args, check_mode=True) as cluster:
            ledger = ledgers.read(cluster, workload)
            if ledger["state"] in (ledgers.RETIRING, ledgers.RETIRED):
                started = (ledger.get("retire") or {}).get("retire_started_at")
                return {"changed": False, "gates": [], "passed": True,
                        "msg": "%s: the retirement started at %s, after its gates passed" % (workload["name"], started)}
            checked = [gates.state(ledger)]
            if checked[0].passed:
                now = datetime.datetime.now(datetime.timezone.utc)
                checked.append(gates.soak(ledger, settings["soak_days"], now))
                checked.append(gates.backups(args["drill_output"], [d["name"] for d in workload["databases"]], ledger,
                                             self._task.check_mode))
            statefulset = cluster.get("statefulset", workload["objects"]["statefulset"], workload["namespace"])
        checked.append(gates.target(statefulset, watch.target_primary(engine) if statefulset else None))
        emit("watching the source's client sessions for %d s" % settings["watch_seconds"])
        checked.append(gates.client_sessions(watch.source_sessions(engine, settings["watch_seconds"]), settings["watch_seconds"]))
        passed = all(gate.passed for gate in checked)
        return {"changed": False, "failed": not passed, "passed": passed, "gates": [gate.as_dict() for gate in checked],
                "msg": "%s may be retired: %s" % (workload["name"], "; ".join("%s: %s" % (g.name, g.detail) for g in checked))
                if passed else gates.refusal(workload["name"], checked)}
