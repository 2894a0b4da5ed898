# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collect what explains a StatefulSet or claim that is not ready: its pods, claims, warnings and logs
(read with the Python client; readiness.diagnose turns them into findings)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.readiness import WAITING_PROBLEMS, diagnose

LOG_LINES = 15


def _selector(match_labels):
    return ",".join("%s=%s" % item for item in sorted((match_labels or {}).items()))


def _items(resource, **params):
    return [item.to_dict() for item in resource.get(**params).items]


def _last_logs(k8s, namespace, pod, container, previous):
    try:
        import kubernetes.client  # noqa: PLC0415
        api = kubernetes.client.CoreV1Api(k8s.client.client)
        return api.read_namespaced_pod_log(pod, namespace, container=container, tail_lines=LOG_LINES, previous=previous)
    except Exception:
        return None


def statefulset_diagnosis(k8s, sts):
    """Findings for the StatefulSet's pods and claims (see readiness.diagnose)."""
    namespace = sts["metadata"]["namespace"]
    name = sts["metadata"]["name"]
    replicas = sts["spec"].get("replicas", 1)
    pods = _items(k8s.resource("Pod", "v1"), namespace=namespace,
                  label_selector=_selector(sts["spec"]["selector"].get("matchLabels")))
    claim_names = {"%s-%s-%d" % (template["metadata"]["name"], name, ordinal)
                   for template in sts["spec"].get("volumeClaimTemplates") or [] for ordinal in range(replicas)}
    pvcs = [pvc for pvc in _items(k8s.resource("PersistentVolumeClaim", "v1"), namespace=namespace)
            if pvc["metadata"]["name"] in claim_names]
    events = _items(k8s.resource("Event", "v1"), namespace=namespace, field_selector="type=Warning")
    logs = {}
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            reason = ((container.get("state") or {}).get("waiting") or {}).get("reason")
            if reason in WAITING_PROBLEMS and container.get("restartCount", 0):
                text = _last_logs(k8s, namespace, pod["metadata"]["name"], container["name"], previous=True)
                if text:
                    logs[(pod["metadata"]["name"], container["name"])] = text.rstrip()
    return diagnose(pods, pvcs, events, logs)


def claim_diagnosis(k8s, pvc):
    """Findings for a claim that is not bound (see readiness.diagnose)."""
    events = _items(k8s.resource("Event", "v1"), namespace=pvc["metadata"]["namespace"], field_selector="type=Warning")
    return diagnose([], [pvc], events)
