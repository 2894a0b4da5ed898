from __future__ import annotations

import base64
import json
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import names
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.pod_wait import PodNotReady
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import worker as migration_worker
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError

PASSWORD = "Zq9-s0urce-p4ss"


def build(password=PASSWORD, **kwargs):
    objects = names.object_names({"name": "invoicetron", "engine": "db"})
    options = {"objects": objects, "image": "postgres:15.6", "source_password": password, "target_secret": "invoicetron-db",
               "target_password_key": "POSTGRES_PASSWORD", "deadline_seconds": 3600}
    options.update(kwargs)
    return migration_worker.manifests(**options)


def parts(manifest):
    assert manifest["kind"] == "List"
    secret, job = manifest["items"]
    assert secret["kind"] == "Secret"
    assert job["kind"] == "Job"
    return secret, job


def test_names_come_from_the_catalog_names():
    _ignored_value, job = parts(build())
    assert job["metadata"]["name"] == "invoicetron-db-migration"


ENCODED = base64.b64encode(PASSWORD.encode()).decode()


def test_secret_holds_the_source_password_as_base64_data():
    secret, _ignored_value = parts(build())
    assert secret["metadata"]["name"] == "invoicetron-db-migration-source"
    assert secret["data"] == {"password": ENCODED}
    assert "stringData" not in secret
    assert secret["metadata"]["labels"][migration_worker.LABEL] == "invoicetron-db"


def test_no_source_password_gives_an_empty_value():
    secret, _ignored_value = parts(build(password=None))
    assert secret["data"] == {"password": ""}


def test_the_password_appears_only_in_the_secret_and_never_in_plain_text():
    _secret, job = parts(build())
    assert ENCODED not in json.dumps(job)
    manifest = json.dumps(build())
    assert manifest.count(ENCODED) == 1 and PASSWORD not in manifest


FAKE_KUBECTL = r"""#!%s
import json, os, sys
args = sys.argv[1:]
body = sys.stdin.read() if "-f" in args else ""
with open(os.environ["KUBECTL_LOG"], "a") as log:
    log.write(json.dumps({"args": args, "stdin": body}) + "\n")
if "apply" in args:
    items = json.loads(body)["items"]
    if os.environ.get("FAIL_JOB"):
        sys.exit("admission webhook denied the Job")
    uids = {"Secret": "secret-uid-1", "Job": "job-uid-1"}
    print(json.dumps({"kind": "List", "items": [dict(item, metadata=dict(item["metadata"], uid=uids[item["kind"]]))
                                                for item in items]}))
""" % sys.executable


def started(tmp_path, monkeypatch, fail_job=False):
    script = tmp_path / "kubectl"
    script.write_text(FAKE_KUBECTL)
    script.chmod(0o755)
    monkeypatch.setenv("KUBECTL_LOG", str(tmp_path / "log"))
    if fail_job:
        monkeypatch.setenv("FAIL_JOB", "1")
    monkeypatch.setattr(migration_worker, "wait_for_ready_pod", lambda kubectl, selector, timeout: "pod-1")
    kubectl = Kubectl("ns", {}, kubectl_bin=str(script))
    objects = names.object_names({"name": "invoicetron", "engine": "db"})
    try:
        migration_worker.create(kubectl, objects, build())
        return migration_worker.ready_pod(kubectl, objects["app"]), calls(tmp_path)
    except SideError as exc:
        return exc, calls(tmp_path)


def calls(tmp_path):
    return [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()]


def test_the_secret_is_applied_server_side_then_owned_by_the_job(tmp_path, monkeypatch):
    pod, log = started(tmp_path, monkeypatch)
    assert pod == "pod-1"
    [apply] = [call for call in log if "apply" in call["args"]]
    assert "--server-side" in apply["args"]
    assert [item["kind"] for item in json.loads(apply["stdin"])["items"]] == ["Secret", "Job"]
    patch = next(call for call in log if "patch" in call["args"])["args"]
    owner = json.loads(patch[patch.index("-p") + 1])["metadata"]["ownerReferences"][0]
    assert owner == {"apiVersion": "batch/v1", "kind": "Job", "name": "invoicetron-db-migration", "uid": "job-uid-1",
                     "blockOwnerDeletion": True}
    assert all(PASSWORD not in json.dumps(call) for call in log)
    assert all(ENCODED not in " ".join(call["args"]) for call in log), "the Secret went on a command line"


def test_a_failed_job_removes_the_secret(tmp_path, monkeypatch):
    error, log = started(tmp_path, monkeypatch, fail_job=True)
    assert isinstance(error, SideError) and "admission webhook denied the Job" in str(error)
    assert "delete" in log[-1]["args"] and "job,secret,pod" in log[-1]["args"]


def test_a_pod_that_never_becomes_ready_removes_the_job_and_says_why(tmp_path, monkeypatch):
    script = tmp_path / "kubectl"
    script.write_text(FAKE_KUBECTL)
    script.chmod(0o755)
    monkeypatch.setenv("KUBECTL_LOG", str(tmp_path / "log"))

    def never_ready(kubectl, selector, timeout):
        raise PodNotReady("no pod of %s was Ready after %ss: the image cannot be pulled" % (selector, timeout))

    monkeypatch.setattr(migration_worker, "wait_for_ready_pod", never_ready)
    with pytest.raises(SideError, match=r"did not become Ready in 180s: .*the image cannot be pulled"):
        migration_worker.ready_pod(Kubectl("ns", {}, kubectl_bin=str(script)), "invoicetron-db")
    [delete] = calls(tmp_path)
    assert "delete" in delete["args"] and "stateshift.io/migration=invoicetron-db" in delete["args"]


def test_container_env_reads_both_passwords_from_secrets():
    _ignored_value, job = parts(build())
    [container] = job["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert env["SRC_PASSWORD"] == {"name": "SRC_PASSWORD",
                                   "valueFrom": {"secretKeyRef": {"name": "invoicetron-db-migration-source", "key": "password"}}}
    assert env["TGT_PASSWORD"] == {"name": "TGT_PASSWORD",
                                   "valueFrom": {"secretKeyRef": {"name": "invoicetron-db", "key": "POSTGRES_PASSWORD"}}}
    literal = [item for item in container["env"] if "value" in item]
    assert literal == [{"name": "PGCONNECT_TIMEOUT", "value": "10"}]


def test_pod_is_compatible_with_the_restricted_pod_security_standard():
    _ignored_value, job = parts(build(uid=70))
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 70
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    assert "volumes" not in pod and "volumeMounts" not in pod["containers"][0], "the pod writes no file: no volume to wait for"
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert not context["capabilities"].get("add")
        assert not context.get("privileged")
        assert context.get("runAsUser", 1) != 0


def default_stop_signals():
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, signal.SIG_DFL)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_the_idle_process_ends_at_once_on_the_stop_signal(stop_signal):
    """The container's command, run by bash as the pod runs it: the image's stop signal (SIGINT for postgres images,
    else SIGTERM) ends it with status 0, instead of the kubelet waiting out the grace period to kill it."""
    # A container's first process starts with every signal at its default; a shell that starts with one ignored (as
    # make and pytest do when started with & by a shell without job control) cannot trap it.
    process = subprocess.Popen(migration_worker.idle_command(600), preexec_fn=default_stop_signals)  # noqa: PLW1509
    try:
        children = pathlib.Path("/proc/%d/task/%d/children" % (process.pid, process.pid))
        deadline = time.monotonic() + 5
        while not children.read_text(encoding="ascii").strip() and time.monotonic() < deadline:
            time.sleep(0.02)  # bash sets the trap before it starts sleep
        process.send_signal(stop_signal)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("deadline", [3600, "900"])
def test_job_never_retries_and_ends_by_its_deadline(deadline):
    _ignored_value, job = parts(build(deadline_seconds=deadline))
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == int(deadline)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["command"] == ["bash", "-c", "trap 'exit 0' INT TERM; sleep %d & wait" % int(deadline)]
    assert pod["containers"][0]["image"] == "postgres:15.6"
    assert spec["template"]["metadata"]["labels"][migration_worker.LABEL] == "invoicetron-db"
    assert job["metadata"]["name"] == "invoicetron-db-migration"
