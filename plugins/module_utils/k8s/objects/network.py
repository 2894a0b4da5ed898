# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NetworkPolicies of a database workload: who may connect to its pods."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def peer(rule):
    """The NetworkPolicy peer of one network.allow_from rule."""
    if "namespace" in rule or "namespace_labels" in rule:
        match = dict(rule.get("namespace_labels") or {})
        if "namespace" in rule:
            match[NAMESPACE_NAME_LABEL] = rule["namespace"]
        result = {"namespaceSelector": {"matchLabels": match}}
        if "pod_labels" in rule:
            result["podSelector"] = {"matchLabels": dict(rule["pod_labels"])}
        return result
    return {"podSelector": {"matchLabels": dict(rule["pod_labels"])}}


def ingress_policy(workload, port):
    policy = namespaced("networking.k8s.io/v1", "NetworkPolicy", workload["objects"]["network_policy"], workload)
    peers = [{"podSelector": {}}] + [peer(rule) for rule in workload["network"]["allow_from"]]
    policy["spec"] = {
        "podSelector": {"matchLabels": dict(workload["selector"])},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": port, "protocol": "TCP"}], "from": peers}],
    }
    return policy
