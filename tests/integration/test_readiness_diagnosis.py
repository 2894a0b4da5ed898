"""statefulset_ready against real failures in the lab cluster: each diagnosis branch is caused
for real (a claim that cannot bind, a pod no node accepts, an image that cannot be pulled, a
container that crashes) and must be named, with its fix, when the wait times out."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from .conftest import REPO

NAMESPACE = "diagnosis-probe"
PROBE = REPO / "tests" / "integration" / "playbooks" / "statefulset_ready_probe.yml"
KWOK = {"nodeSelector": {"type": "kwok"},
        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]}
REAL = {"nodeSelector": {"stateshift.io/lab-node": "real"}}


def statefulset(name, pod_spec, claim_class=None):
    spec = {"replicas": 1, "serviceName": name, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": dict(pod_spec, terminationGracePeriodSeconds=0)}}
    if claim_class:
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": claim_class, "resources": {"requests": {"storage": "1Mi"}}}}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec}


CASES = {
    "unbound-claim": statefulset("unbound-claim", dict(KWOK, containers=[{"name": "c", "image": "fake"}]),
                                 claim_class="no-such-class"),
    "unschedulable": statefulset("unschedulable", {"nodeSelector": {"stateshift.io/lab-node": "nowhere"},
                                                   "containers": [{"name": "c", "image": "fake"}]}),
    "image-pull": statefulset("image-pull", dict(REAL, containers=[{"name": "c", "image": "registry.invalid/nothing:1"}])),
    # A readiness probe, as every database the collection deploys has: without one the pod counts as ready in the
    # instant between a restart and the crash, and the wait can end there (seen once in CI).
    "crash-loop": statefulset("crash-loop", dict(REAL, containers=[{
        "name": "c", "image": "postgres:15", "command": ["sh", "-c", "echo 'FATAL: simulated startup failure' >&2; exit 3"],
        "readinessProbe": {"exec": {"command": ["pg_isready"]}, "periodSeconds": 2}}])),
}


def kubectl(*args, stdin=None):
    return subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def failing_statefulsets():
    kubectl("create", "namespace", NAMESPACE)
    try:
        kubectl("apply", "-f", "-", stdin="\n---\n".join(json.dumps(case) for case in CASES.values()))
        # Let the crash loop restart at least once so its last log lines exist (a fixed sleep is too short on a busy node).
        deadline = time.time() + 180
        while time.time() < deadline and restarts("crash-loop-0") < 1:
            time.sleep(2)
        yield
    finally:
        kubectl("delete", "namespace", NAMESPACE, "--wait=false")


def restarts(pod):
    found = subprocess.run(["kubectl", "get", "pod", pod, "-n", NAMESPACE, "-o", "jsonpath={.status.containerStatuses[0].restartCount}"],
                           capture_output=True, text=True, check=False)
    return int(found.stdout) if found.returncode == 0 and found.stdout.strip().isdigit() else 0


def wait(name, timeout=10):
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    result = subprocess.run(["ansible-playbook", "-i", "localhost,", str(PROBE), "-e", json.dumps(
        {"probe_name": name, "probe_namespace": NAMESPACE, "probe_timeout": timeout})],
        capture_output=True, text=True, env=env, check=True)
    document = json.loads(result.stdout[result.stdout.index("{"):])
    return document["plays"][0]["tasks"][0]["hosts"]["localhost"]


def findings(result):
    return {finding["object"]: finding for finding in result["diagnosis"]}


def test_a_claim_that_cannot_bind_is_named_with_its_storage_class(failing_statefulsets):
    result = wait("unbound-claim")
    assert result["ready"] is False and "0 of 1 replicas ready" in result["state"]["reason"]
    claim = findings(result)["PersistentVolumeClaim/data-unbound-claim-0"]
    assert claim["problem"] == "the volume claim is Pending"
    assert "'no-such-class'" in claim["fix"]
    assert "StatefulSet %s/unbound-claim not ready after 10s" % NAMESPACE in result["msg"]


def test_a_pod_no_node_accepts_is_reported_as_unschedulable(failing_statefulsets):
    pod = findings(wait("unschedulable"))["Pod/unschedulable-0"]
    assert pod["problem"] == "cannot be scheduled (Unschedulable)"
    assert any("node affinity/selector" in detail for detail in pod["details"])


def test_an_image_that_cannot_be_pulled_is_reported_with_the_fix(failing_statefulsets):
    container = findings(wait("image-pull"))["Pod/image-pull-0 container c"]
    assert "the image cannot be pulled" in container["problem"]
    assert "check the image name" in container["fix"]


def test_a_crash_loop_is_reported_with_its_exit_code_and_last_log_lines(failing_statefulsets):
    result = wait("crash-loop", timeout=20)
    container = findings(result)["Pod/crash-loop-0 container c"]
    assert "the container keeps crashing (CrashLoopBackOff" in container["problem"]
    assert "last exit code 3 (Error)" in container["details"]
    assert any("FATAL: simulated startup failure" in detail for detail in container["details"])
    assert "FATAL: simulated startup failure" in result["msg"]
