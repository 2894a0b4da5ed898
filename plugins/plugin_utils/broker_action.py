# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The frame of an action plugin that moves one RabbitMQ workload (rabbitmq_migrate, rabbitmq_drain): its arguments
checked against the module's documentation, the workload read from the catalog fact, both brokers opened (the old one
over the task host's SSH settings), progress lines printed, and every failure a result with a message."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import ClusterError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import PodExecError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import move
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.broker import BrokerError
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.drain import DrainError
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.topology import TopologyError
from ansible_collections.stateshift.k3s.plugins.plugin_utils import cutover_task
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec

display = Display()
EXPECTED = (BrokerError, ClusterError, DrainError, TopologyError, PodExecError, cutover_task.WorkloadNotFound)


class BrokerAction(ActionBase):
    """Subclasses set ``module_name`` and implement ``work(old, new, workload, args, emit)``, returning the result."""

    TRANSFERS_FILES = False
    module_name = None

    def work(self, old, new, workload, args, emit):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec(self.module_name))
        host = task_vars.get("inventory_hostname", "localhost")

        def emit(line):
            display.display("[%s] %s" % (host, line))

        try:
            workload = cutover_task.workload_of(task_vars, args["workload"])
            if workload["engine"] != "rabbitmq" or not workload.get("source"):
                raise cutover_task.WorkloadNotFound("workload %s is not a RabbitMQ workload with a source" % args["workload"])
            with Kubectl(workload["namespace"], connection_options(args), args["kubectl_bin"]) as kubectl, \
                    move.brokers(workload, kubectl, self._connection, host) as (old, new):
                result.update(self.work(old, new, workload, args, emit))
        except EXPECTED as exc:
            result.update(failed=True, changed=False, msg=str(exc))
        return result
