# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Point a workload's clients at its StatefulSet or back at the source (see plugins/modules/cutover_switch.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import clients
from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import ClusterError
from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.ledger import LedgerError
from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.switch import SwitchError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.plugin_utils import cutover_task
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec

display = Display()
EXPECTED = (ClusterError, LedgerError, SwitchError, SideError, cutover_task.WorkloadNotFound)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("cutover_switch"))
        try:
            workload = cutover_task.workload_of(task_vars or {}, args["workload"])
            with cutover_task.cluster_for(workload, args, self._task.check_mode) as cluster:
                moved = clients.move(cluster, workload, args["to"], display.display, args["rollout_timeout"])
        except EXPECTED as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        result.update(moved)
        if self._task.diff and moved["changes"]:
            result["diff"] = {"before": "", "after": "\n".join(moved["changes"]) + "\n"}
        result["msg"] = "%s: %s" % (args["workload"], "; ".join(moved["changes"]) or "clients already point at the %s" % (
            "StatefulSet" if args["to"] == "target" else "source"))
        return result
