# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy the old broker's topology into the StatefulSet's broker (see plugins/modules/rabbitmq_migrate.py)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import move
from ansible_collections.stateshift.k3s.plugins.plugin_utils.broker_action import BrokerAction


class ActionModule(BrokerAction):
    module_name = "rabbitmq_migrate"

    def work(self, old, new, workload, args, emit):
        result = move.move_topology(old, new, workload, self._task.check_mode, args["import_timeout"])
        imported = sum(len(names) for names in result["imported"].values())
        said = "%d definitions imported" % imported if imported else "the broker has the old one's topology"
        result["msg"] = "%s: %s" % (workload["name"], said)
        if result["users_not_moved"]:
            result["msg"] += "; users of the old broker not in the catalog, not moved: %s" % ", ".join(result["users_not_moved"])
        if self._task.diff and result["changed"]:
            result["diff"] = {"before": "", "after": "".join("%s %s\n" % (kind[:-1], name) for kind, names in result["imported"].items()
                                                             for name in names)}
        emit(result["msg"])
        return result
