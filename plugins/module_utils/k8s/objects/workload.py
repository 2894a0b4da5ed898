# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects every database workload has, whatever its engine: its namespace, Services and disruption budget."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import pod_security
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced


def namespace(workload, existing_labels=None):
    labels = pod_security.namespace_labels(workload["pod_security"], existing_labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": workload["namespace"], "labels": labels}}


def disruption_budget(workload):
    budget = namespaced("policy/v1", "PodDisruptionBudget", workload["objects"]["pdb"], workload)
    # A single server: voluntary evictions (drains) wait until an operator moves it on purpose.
    budget["spec"] = {"maxUnavailable": 0, "selector": {"matchLabels": dict(workload["selector"])}}
    return budget


def service(workload, ports, headless):
    """The client Service, or the headless one that names the pods; ``ports``: {name: port} of the server container."""
    objects = workload["objects"]
    result = namespaced("v1", "Service", objects["headless_service"] if headless else objects["service"], workload)
    spec = {"clusterIP": "None", "publishNotReadyAddresses": True} if headless else {"type": "ClusterIP"}
    spec.update(selector=dict(workload["selector"]),
                ports=[{"name": name, "port": port, "targetPort": name} for name, port in ports.items()])
    result["spec"] = spec
    return result
