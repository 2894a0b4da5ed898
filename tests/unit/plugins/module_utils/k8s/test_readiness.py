from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s import readiness as r


def sts(replicas=1, generation=2, observed=2, ready=1, updated=1, current="rev-b", update="rev-b",
        strategy="RollingUpdate", partition=None, available=None):
    spec = {"replicas": replicas, "updateStrategy": {"type": strategy}}
    if partition is not None:
        spec["updateStrategy"]["rollingUpdate"] = {"partition": partition}
    status = {"observedGeneration": observed, "readyReplicas": ready, "updatedReplicas": updated,
              "currentRevision": current, "updateRevision": update, "replicas": replicas}
    if available is not None:
        status["availableReplicas"] = available
    return {"metadata": {"name": "postgresql", "generation": generation}, "spec": spec, "status": status}


def test_finished_rollout_is_ready():
    state = r.statefulset_rollout(sts())
    assert state["ready"] is True
    assert "revision rev-b" in state["reason"]


def test_unobserved_generation_is_not_ready_even_if_counts_look_fine():
    state = r.statefulset_rollout(sts(generation=3, observed=2))
    assert state["ready"] is False
    assert "not yet seen generation 3" in state["reason"]


def test_rollout_waits_for_current_revision_to_catch_up():
    state = r.statefulset_rollout(sts(replicas=3, ready=3, updated=3, current="rev-a", update="rev-b"))
    assert state["ready"] is False
    assert "rollout to revision rev-b not finished" in state["reason"]


def test_not_enough_updated_replicas():
    state = r.statefulset_rollout(sts(replicas=3, ready=3, updated=1, current="rev-a"))
    assert not state["ready"]
    assert "1 of 3 replicas updated" in state["reason"]


def test_not_enough_ready_or_available_replicas():
    assert "0 of 1 replicas ready" in r.statefulset_rollout(sts(ready=0))["reason"]
    assert not r.statefulset_rollout(sts(ready=1, available=0))["ready"]


def test_partition_only_requires_ordinals_above_it():
    state = r.statefulset_rollout(sts(replicas=3, ready=3, updated=1, current="rev-a", update="rev-b", partition=2))
    assert state["ready"] is True
    assert state["outdated_replicas"] == 2
    assert "partition 2" in state["reason"]


def test_partition_still_waits_for_the_updated_ordinals():
    state = r.statefulset_rollout(sts(replicas=3, ready=3, updated=0, current="rev-a", update="rev-b", partition=2))
    assert not state["ready"]


def test_on_delete_waits_for_readiness_only_and_reports_outdated_pods():
    state = r.statefulset_rollout(sts(replicas=2, ready=2, updated=0, current="rev-a", update="rev-b", strategy="OnDelete"))
    assert state["ready"] is True
    assert state["outdated_replicas"] == 2
    assert "older revision until deleted" in state["reason"]
    assert not r.statefulset_rollout(sts(replicas=2, ready=1, strategy="OnDelete"))["ready"]


def test_scaled_to_zero():
    assert r.statefulset_rollout(sts(replicas=0, ready=0, updated=0))["ready"] is True


def test_pvc_bound():
    assert r.pvc_bound({"metadata": {"name": "d"}, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}})["bound"]
    assert not r.pvc_bound({"metadata": {"name": "d"}, "status": {"phase": "Pending"}})["bound"]
    assert not r.pvc_bound({"metadata": {"name": "d"}})["bound"]


def event(kind, name, reason, message, when="2026-01-01T00:00:01Z"):
    return {"involvedObject": {"kind": kind, "name": name}, "type": "Warning", "reason": reason, "message": message,
            "lastTimestamp": when}


def pod(name="postgresql-0", **status):
    return {"metadata": {"name": name}, "status": status}


def test_diagnosis_of_a_pending_claim_names_the_storage_class_and_its_events():
    pvc = {"metadata": {"name": "data-postgresql-0"}, "spec": {"storageClassName": "longhorn"}, "status": {"phase": "Pending"}}
    events = [event("PersistentVolumeClaim", "data-postgresql-0", "ProvisioningFailed",
                    'storageclass.storage.k8s.io "longhorn" not found')]
    [finding] = r.diagnose([], [pvc], events)
    assert finding["object"] == "PersistentVolumeClaim/data-postgresql-0"
    assert "Pending" in finding["problem"]
    assert "'longhorn'" in finding["fix"]
    assert "ProvisioningFailed" in finding["details"][0]


def test_diagnosis_of_an_unschedulable_pod():
    unschedulable = pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                     "message": "0/3 nodes are available: 3 Insufficient memory."}])
    [finding] = r.diagnose([unschedulable], [], [])
    assert "cannot be scheduled (Unschedulable)" in finding["problem"]
    assert "Insufficient memory" in finding["details"][0]


@pytest.mark.parametrize(("reason", "problem", "fix"), [
    ("ImagePullBackOff", "the image cannot be pulled", "check the image name"),
    ("ErrImageNeverPull", "imagePullPolicy is Never", "check the image name"),
    ("CreateContainerConfigError", "missing Secret", "run the secrets phase"),
])
def test_diagnosis_of_waiting_containers(reason, problem, fix):
    waiting = pod(containerStatuses=[{"name": "postgresql", "ready": False, "restartCount": 0,
                                      "state": {"waiting": {"reason": reason, "message": "details here"}}}])
    [finding] = r.diagnose([waiting], [], [])
    assert problem in finding["problem"]
    assert fix in finding["fix"]
    assert "details here" in finding["details"]


def test_diagnosis_of_a_crash_loop_includes_exit_code_and_last_log_lines():
    crashing = pod(containerStatuses=[{
        "name": "postgresql", "ready": False, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}])
    logs = {("postgresql-0", "postgresql"): "FATAL:  data directory has wrong ownership"}
    [finding] = r.diagnose([crashing], [], [], logs)
    assert "keeps crashing (CrashLoopBackOff, 4 restarts)" in finding["problem"]
    assert "last exit code 1 (Error)" in finding["details"]
    assert any("wrong ownership" in detail for detail in finding["details"])


def test_diagnosis_of_a_running_container_that_is_not_ready_shows_probe_events():
    running = pod(containerStatuses=[{"name": "postgresql", "ready": False, "state": {"running": {}}}])
    events = [event("Pod", "postgresql-0", "Unhealthy", "Readiness probe failed: no response")]
    [finding] = r.diagnose([running], [], events)
    assert finding["problem"] == "running but not ready"
    assert "Readiness probe failed" in finding["details"][0]


def test_healthy_pods_and_bound_claims_give_no_findings():
    healthy = pod(containerStatuses=[{"name": "postgresql", "ready": True, "state": {"running": {}}}],
                  conditions=[{"type": "PodScheduled", "status": "True"}])
    bound = {"metadata": {"name": "data-postgresql-0"}, "status": {"phase": "Bound"}}
    assert r.diagnose([healthy], [bound], []) == []


def test_only_the_last_three_warnings_are_kept_in_order():
    events = [event("Pod", "postgresql-0", "Unhealthy", "m%d" % i, when="2026-01-01T00:00:0%dZ" % i) for i in range(5, 0, -1)]
    running = pod(containerStatuses=[{"name": "c", "ready": False, "state": {"running": {}}}])
    [finding] = r.diagnose([running], [], events)
    assert [d.split(": ")[1] for d in finding["details"]] == ["m3", "m4", "m5"]


def test_format_findings_is_readable():
    text = r.format_findings([{"object": "Pod/x", "problem": "p", "fix": "f", "details": ["d1", ""]}])
    assert text == "Pod/x: p. Fix: f\n    d1"
