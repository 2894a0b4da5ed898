# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Move the messages left on the old broker into the StatefulSet's broker (see plugins/modules/rabbitmq_drain.py)."""

from __future__ import annotations

import contextlib

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import Cluster
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.network import drain_egress
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.workload_module import FIELD_MANAGER
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import move
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.drain import Drain
from ansible_collections.stateshift.k3s.plugins.plugin_utils.broker_action import BrokerAction


class ActionModule(BrokerAction):
    module_name = "rabbitmq_drain"

    def work(self, old, new, workload, args, emit):
        vhosts = [vhost["name"] for vhost in workload["vhosts"]]
        found = move.addresses(old) if not self._task.check_mode else []

        @contextlib.contextmanager
        def path():
            """The broker's own NetworkPolicy lets it reach DNS only (network.restrict_egress): open the old broker's
            addresses for the drain alone."""
            if not workload["network"]["restrict_egress"]:
                yield
                return
            cluster = Cluster(new.kubectl, field_manager=FIELD_MANAGER)
            cluster.apply(drain_egress(workload, found))
            try:
                yield
            finally:
                cluster.delete("networkpolicy", workload["objects"]["drain_network_policy"])

        drain = Drain(old, new, vhosts, found, emit, timeout=args["timeout"], settle=args["settle"], path=path)
        result = drain.run(self._task.check_mode)
        if not result["queues"]:
            said = "no message left on the old broker"
        elif self._task.check_mode:
            said = "would move %d messages of %s" % (result["messages"], ", ".join(result["queues"]))
        else:
            said = "%d messages of %s moved, each queue's depths add up" % (result["messages"], ", ".join(result["queues"]))
        result["msg"] = "%s: %s" % (workload["name"], said)
        if self._task.diff and result["changed"]:
            result["diff"] = {"before": "", "after": "".join("drain %s\n" % queue for queue in result["queues"])}
        emit(result["msg"])
        return result
