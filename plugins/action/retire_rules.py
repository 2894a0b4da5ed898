# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remove the temporary network rules still present when a source is retired (see plugins/modules/retire_rules.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import ClusterError
from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.switch import SwitchError
from ansible_collections.stateshift.k3s.plugins.module_utils.retire import rules
from ansible_collections.stateshift.k3s.plugins.plugin_utils import cutover_task
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec

EXPECTED = (ClusterError, SwitchError, cutover_task.WorkloadNotFound)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("retire_rules"))
        try:
            workload = cutover_task.workload_of(task_vars or {}, args["workload"])
            with cutover_task.cluster_for(workload, args, self._task.check_mode) as cluster:
                plan = rules.leftover(cluster, workload)
                removed = rules.remove(cluster, plan)
        except EXPECTED as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        result.update(changed=plan.changed, removed_rules=removed,
                      msg="%s: %s" % (args["workload"], "; ".join(plan.changes) or "no temporary rule is left"))
        if self._task.diff and plan.changed:
            result["diff"] = {"before": "", "after": "\n".join(plan.changes) + "\n"}
        return result
