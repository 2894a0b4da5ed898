# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects every database workload has, whatever its engine: its namespace, Services, StatefulSet and disruption budget."""

from __future__ import annotations

import hashlib
import json

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import pod_security
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.pod import claim_template


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


def config_checksum(config):
    """A short digest of what the server reads at start only: in the pod template, a change restarts the pods."""
    return hashlib.sha256(json.dumps(config).encode()).hexdigest()[:16]


def statefulset(workload, pod_spec, claim_size, config):
    """The workload's StatefulSet: ``pod_spec`` in a template that rolls when ``config`` changes, one data claim per pod."""
    objects = workload["objects"]
    result = namespaced("apps/v1", "StatefulSet", objects["statefulset"], workload)
    result["spec"] = {
        "serviceName": objects["headless_service"], "replicas": workload["replicas"], "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate"}, "selector": {"matchLabels": dict(workload["selector"])},
        "template": {"metadata": {"labels": dict(workload["labels"]),
                                  "annotations": {"stateshift.io/config-checksum": config_checksum(config)}},
                     "spec": pod_spec},
        "volumeClaimTemplates": [claim_template(workload, claim_size)],
    }
    return result
