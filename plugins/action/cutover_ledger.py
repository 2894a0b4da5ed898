# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read or advance a workload's cutover ledger (see plugins/modules/cutover_ledger.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import ledger as ledgers
from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import ClusterError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.plugin_utils import cutover_task
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec

EXPECTED = (ClusterError, ledgers.LedgerError, SideError, cutover_task.WorkloadNotFound)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("cutover_ledger"))
        try:
            workload = cutover_task.workload_of(task_vars or {}, args["workload"])
            with cutover_task.cluster_for(workload, args, self._task.check_mode) as cluster:
                before = ledgers.read(cluster, workload)
                after = self._advanced(before, args)
                if after is not before:
                    ledgers.write(cluster, workload, after)
        except EXPECTED as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        result.update(changed=after is not before, ledger=after, msg="%s: %s" % (args["workload"], after["state"]))
        if self._task.diff and after is not before:
            result["diff"] = {"before": "state: %s\n" % before["state"], "after": "state: %s\n" % after["state"]}
        return result

    def _advanced(self, before, args):
        """The ledger after the event; in check mode a *_finished event follows the *_started one that was only checked."""
        if not args["event"]:
            return before
        if self._task.check_mode and args["event"].endswith("_finished"):
            started = args["event"].replace("_finished", "_started")
            try:
                return ledgers.advanced(ledgers.advanced(before, started), args["event"], args["record"])
            except ledgers.LedgerError:
                pass
        return ledgers.advanced(before, args["event"], args["record"])
