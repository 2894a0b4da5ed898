# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leave out of a phase the workloads whose ledger is past it (see plugins/modules/ledger_scope.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import ledger as ledgers
from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import ClusterError
from ansible_collections.stateshift.k3s.plugins.plugin_utils import cutover_task
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("ledger_scope"))
        catalog = (task_vars.get("ansible_facts") or {}).get(args["fact_name"])
        if catalog is None:
            result.update(failed=True, msg="%s is not set: run stateshift.k3s.validate_catalog first" % args["fact_name"])
            return result
        kept, left_out = [], {}
        try:
            for workload in catalog:
                with cutover_task.cluster_for(workload, args, check_mode=True) as cluster:
                    state = ledgers.read(cluster, workload)["state"]
                if state in args["leave_out"]:
                    left_out[workload["name"]] = state
                    display.display("%s: its ledger says %s, so this phase leaves it out (%s)"
                                    % (workload["name"], state, ledgers.what_to_run(state)))
                else:
                    kept.append(workload)
        except ClusterError as exc:
            if args["if_unreachable"] == "fail":
                result.update(failed=True, msg="cannot read the ledgers: %s" % exc)
                return result
            result.update(changed=False, left_out={}, warnings=["cannot read the ledgers, so every workload is in scope: %s" % exc])
            return result
        result.update(changed=False, left_out=left_out, ansible_facts={args["fact_name"]: kept},
                      msg="left out: %s" % ", ".join("%s (%s)" % item for item in sorted(left_out.items())) if left_out
                      else "every workload is in scope")
        return result
