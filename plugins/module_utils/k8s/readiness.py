# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When is a StatefulSet or PVC really ready, and if it is not, why not.

Pure functions over the API objects as dicts, so every branch is unit-tested; the modules feed
them objects from a watch.
"""

from __future__ import annotations

WAITING_PROBLEMS = {
    "ErrImagePull": "the image cannot be pulled",
    "ImagePullBackOff": "the image cannot be pulled",
    "ErrImageNeverPull": "the image is not on the node and imagePullPolicy is Never",
    "InvalidImageName": "the image name is invalid",
    "CrashLoopBackOff": "the container keeps crashing",
    "CreateContainerConfigError": "the container cannot be configured (often a missing Secret, key or ConfigMap)",
    "CreateContainerError": "the container cannot be created",
    "RunContainerError": "the container cannot be started",
}


def _status(obj):
    return obj.get("status") or {}


def statefulset_rollout(sts):
    """Return {ready, reason, ...}: has the StatefulSet's latest spec really rolled out?

    RollingUpdate: the controller saw the latest generation, every replica is ready and (above
    the partition) updated, and with no partition the current revision is the update revision.
    OnDelete: pods only change when deleted, so ready means every replica is ready; pods still on
    an older revision are reported, not waited for.
    """
    spec, status, meta = sts.get("spec") or {}, _status(sts), sts.get("metadata") or {}
    replicas = spec.get("replicas", 1)
    strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
    partition = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0) or 0
    ready = status.get("readyReplicas", 0) or 0
    available = status.get("availableReplicas", ready) or 0
    updated = status.get("updatedReplicas", 0) or 0
    current_revision, update_revision = status.get("currentRevision"), status.get("updateRevision")
    state = {
        "name": meta.get("name"), "replicas": replicas, "ready_replicas": ready, "available_replicas": available,
        "updated_replicas": updated, "strategy": strategy, "partition": partition,
        "current_revision": current_revision, "update_revision": update_revision, "outdated_replicas": 0,
    }

    def result(is_ready, reason):
        state.update(ready=is_ready, reason=reason)
        return state

    if (status.get("observedGeneration") or 0) < (meta.get("generation") or 0):
        return result(False, "the controller has not yet seen generation %s (observed %s)"
                      % (meta.get("generation"), status.get("observedGeneration")))
    if replicas == 0:
        return result((status.get("replicas") or 0) == 0, "scaled to zero")
    if strategy == "OnDelete":
        state["outdated_replicas"] = max(replicas - updated, 0)
        if ready < replicas or available < replicas:
            return result(False, "%d of %d replicas ready" % (min(ready, available), replicas))
        note = "; %d pod(s) still on an older revision until deleted (OnDelete)" % state["outdated_replicas"] \
            if state["outdated_replicas"] else ""
        return result(True, "all %d replicas ready%s" % (replicas, note))
    expected_updated = max(replicas - partition, 0)
    if updated < expected_updated:
        return result(False, "%d of %d replicas updated to revision %s" % (updated, expected_updated, update_revision))
    if ready < replicas or available < replicas:
        return result(False, "%d of %d replicas ready" % (min(ready, available), replicas))
    if partition == 0 and update_revision and current_revision != update_revision:
        return result(False, "rollout to revision %s not finished (current %s)" % (update_revision, current_revision))
    if partition:
        state["outdated_replicas"] = replicas - expected_updated
        return result(True, "all %d replicas ready; ordinals below the partition %d stay on revision %s"
                      % (replicas, partition, current_revision))
    return result(True, "all %d replicas ready at revision %s" % (replicas, update_revision))


def pvc_bound(pvc):
    phase = _status(pvc).get("phase", "Pending")
    return {"name": (pvc.get("metadata") or {}).get("name"), "phase": phase, "bound": phase == "Bound",
            "volume": (pvc.get("spec") or {}).get("volumeName"),
            "capacity": (_status(pvc).get("capacity") or {}).get("storage")}


def _events_for(events, kind, name):
    found = [e for e in events if (e.get("involvedObject") or {}).get("kind") == kind
             and (e.get("involvedObject") or {}).get("name") == name and e.get("type") == "Warning"]
    found.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return ["%s: %s" % (e.get("reason"), (e.get("message") or "").strip()) for e in found[-3:]]


def diagnose(pods, pvcs, events, logs=None):
    """Findings that explain why pods are not ready: each a dict with object, problem, details, fix."""
    logs = logs or {}
    findings = []
    for pvc in pvcs:
        state = pvc_bound(pvc)
        if not state["bound"]:
            storage_class = (pvc.get("spec") or {}).get("storageClassName")
            findings.append({
                "object": "PersistentVolumeClaim/%s" % state["name"],
                "problem": "the volume claim is %s" % state["phase"],
                "details": _events_for(events, "PersistentVolumeClaim", state["name"]),
                "fix": "check that StorageClass %r exists and its provisioner runs (kubectl get storageclass)" % storage_class
                if storage_class else "set storage.class or mark a StorageClass as the default",
            })
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name")
        status = _status(pod)
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        scheduled = conditions.get("PodScheduled") or {}
        if scheduled.get("status") == "False":
            findings.append({
                "object": "Pod/%s" % name,
                "problem": "cannot be scheduled (%s)" % scheduled.get("reason", "unknown"),
                "details": [scheduled.get("message", ""), *_events_for(events, "Pod", name)],
                "fix": "free or add node capacity, or relax resources/affinity/taints so a node fits",
            })
            continue
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            waiting = (container.get("state") or {}).get("waiting") or {}
            terminated = (container.get("lastState") or {}).get("terminated") or {}
            reason = waiting.get("reason")
            if reason in WAITING_PROBLEMS:
                details = [waiting.get("message", "")] if waiting.get("message") else []
                if terminated:
                    details.append("last exit code %s (%s)" % (terminated.get("exitCode"), terminated.get("reason")))
                log_lines = logs.get((name, container.get("name")))
                if log_lines:
                    details.append("last log lines:\n" + log_lines)
                findings.append({
                    "object": "Pod/%s container %s" % (name, container.get("name")),
                    "problem": "%s (%s, %s restarts)" % (WAITING_PROBLEMS[reason], reason, container.get("restartCount", 0)),
                    "details": details + _events_for(events, "Pod", name),
                    "fix": _fix_for(reason),
                })
            elif not container.get("ready") and "running" in (container.get("state") or {}):
                findings.append({
                    "object": "Pod/%s container %s" % (name, container.get("name")),
                    "problem": "running but not ready",
                    "details": _events_for(events, "Pod", name),
                    "fix": "check the readiness probe and the container's log",
                })
    return findings


def _fix_for(reason):
    if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"):
        return "check the image name and tag, and that the node can reach the registry (or has the image)"
    if reason == "CreateContainerConfigError":
        return "create the missing Secret or ConfigMap (run the secrets phase) and check the key names"
    return "read the last log lines above; fix the configuration or resources, then re-run"


def format_findings(findings):
    lines = []
    for finding in findings:
        lines.append("%s: %s. Fix: %s" % (finding["object"], finding["problem"], finding["fix"]))
        lines.extend("    " + detail for detail in finding["details"] if detail)
    return "\n".join(lines)
