"""wait_for_ready_pod with kubectl's JSON scripted in place of a cluster."""

from __future__ import annotations

import json
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s import pod_wait
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from tests.unit.plugins.module_utils.fake_clock import FakeClock


def pod(name, ready=False, waiting=None):
    status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if waiting:
        status["containerStatuses"] = [{"name": "worker", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": waiting}}}]
    return {"metadata": {"name": name}, "status": status}


class FakeKubectl:
    def __init__(self, pod_lists, events=(), wait_rc=0):
        self.pod_lists = list(pod_lists)
        self.events = list(events)
        self.wait_rc = wait_rc
        self.calls = []

    def __call__(self, argv, **_kwargs):
        self.calls.append(argv)
        if "wait" in argv:
            if self.wait_rc:
                return subprocess.CompletedProcess(argv, self.wait_rc, b"", b"error: timed out waiting for the condition")
            names = [item["metadata"]["name"] for item in self.pod_lists[0]]
            return subprocess.CompletedProcess(argv, 0, "".join("pod/%s condition met\n" % n for n in names).encode(), b"")
        if argv[argv.index("get") + 1] == "events":
            items = self.events
        else:
            items = self.pod_lists.pop(0) if len(self.pod_lists) > 1 else self.pod_lists[0]
        return subprocess.CompletedProcess(argv, 0, json.dumps({"items": items}).encode(), b"")


@pytest.fixture
def clock():
    return FakeClock()


def test_returns_the_ready_pod_once_it_is_ready(monkeypatch, clock):
    fake = FakeKubectl([[], [pod("job-abc")]])
    monkeypatch.setattr(pod_wait.subprocess, "run", fake)
    assert pod_wait.wait_for_ready_pod(Kubectl("ns"), "app=x", timeout=10, clock=clock, sleep=clock.sleep) == "job-abc"
    assert fake.calls[0] == ["kubectl", "-n", "ns", "get", "pods", "-l", "app=x", "-o", "json"]
    assert fake.calls[2] == ["kubectl", "-n", "ns", "wait", "--for=condition=Ready", "pod", "-l", "app=x", "--timeout=9s"]
    assert len(fake.calls) == 3


def test_a_pod_ready_already_is_returned_without_kubectl_wait(monkeypatch, clock):
    fake = FakeKubectl([[pod("job-old"), pod("job-abc", ready=True)]])
    monkeypatch.setattr(pod_wait.subprocess, "run", fake)
    assert pod_wait.wait_for_ready_pod(Kubectl("ns"), "app=x", timeout=10, clock=clock, sleep=clock.sleep) == "job-abc"
    assert len(fake.calls) == 1 and "wait" not in fake.calls[0]


def test_times_out_with_the_diagnosis(monkeypatch, clock):
    fake = FakeKubectl([[pod("job-abc", waiting="ImagePullBackOff")]], wait_rc=1,
                       events=[{"type": "Warning", "reason": "Failed", "message": "pull denied",
                                "involvedObject": {"kind": "Pod", "name": "job-abc"}}])
    monkeypatch.setattr(pod_wait.subprocess, "run", fake)
    with pytest.raises(pod_wait.PodNotReady) as raised:
        pod_wait.wait_for_ready_pod(Kubectl("ns"), "app=x", timeout=3, clock=clock, sleep=clock.sleep)
    assert "the image cannot be pulled" in str(raised.value)
    assert "pull denied" in str(raised.value)
    assert raised.value.findings[0]["object"] == "Pod/job-abc container worker"


def test_a_kubectl_error_is_reported(monkeypatch):
    monkeypatch.setattr(pod_wait.subprocess, "run",
                        lambda argv, **_kwargs: subprocess.CompletedProcess(argv, 1, b"", b"error: Unauthorized"))
    with pytest.raises(pod_wait.PodNotReady, match="Unauthorized"):
        pod_wait.wait_for_ready_pod(Kubectl("ns"), "app=x", timeout=1)
