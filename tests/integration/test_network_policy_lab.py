"""Our NetworkPolicy, enforced on the lab's real node by kube-router's policy controller: a workload
deployed by the databases phase admits the pods that network.allow_from names and its migration
Job's pod, refuses any other pod of its namespace, and (network.restrict_egress) reaches DNS only."""

from __future__ import annotations

import json
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.names import object_names
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import worker

from .conftest import REPO, kubectl
from .migration_helpers import DATABASES, SOURCE_CONTAINER, Target

pytestmark = pytest.mark.lab

NODE_SH = REPO / "tests" / "lab" / "cluster" / "node.sh"
CLIENT_LABELS = {"stateshift.io/test-role": "np-client"}
API_NAME = "kubernetes.default.svc.cluster.local"
PORT = 5432


def pod(name, labels):
    """A pod that only sleeps, allowed by the restricted Pod Security level, with pg_isready and bash."""
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
        "spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "client", "image": "postgres:15", "imagePullPolicy": "IfNotPresent",
                            "command": ["sleep", "900"],
                            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
        },
    }


def apply(namespace, manifest):
    result = subprocess.run(["kubectl", "apply", "-n", namespace, "-f", "-"], input=json.dumps(manifest), text=True,
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stderr


def in_pod(namespace, name, *command, container=None):
    argv = ["exec", "-n", namespace, name] + (["-c", container] if container else []) + ["--", *command]
    return kubectl(*argv, check=False)


def pg_reachable(namespace, name, host, container=None):
    """pg_isready from the pod: 0 accepting, 2 no answer (dropped or refused)."""
    return in_pod(namespace, name, "pg_isready", "-h", host, "-p", str(PORT), "-t", "4", container=container).returncode


def source_address():
    """The legacy source database's address on its Docker network, where the migration Job reaches it."""
    found = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                            SOURCE_CONTAINER], capture_output=True, text=True, check=True).stdout.split()
    assert found, "the source container %s has no address" % SOURCE_CONTAINER
    return found[0]


def tcp_connects(namespace, name, host, port, container=None):
    script = "timeout 5 bash -c '</dev/tcp/%s/%d'" % (host, port)
    return in_pod(namespace, name, "bash", "-c", script, container=container).returncode == 0


@pytest.fixture(scope="module")
def enforcing():
    status = subprocess.run([str(NODE_SH), "policy", "status"], capture_output=True, text=True, check=False)
    if status.returncode != 0 or "alive" not in status.stdout:
        pytest.fail("NetworkPolicies are not enforced on the lab (kube-router: %s): run 'tests/lab/cluster/node.sh policy up'"
                    % (status.stdout.strip() or status.stderr.strip()))


@pytest.fixture(scope="module")
def workload(playbook, cluster, enforcing):
    target = Target(playbook, "np", "np")
    target.workload["network"] = {"allow_from": [{"pod_labels": CLIENT_LABELS}], "restrict_egress": True}
    target.deploy()
    objects = object_names(target.workload)
    target.app = objects["app"]
    job = worker.manifests(objects, "postgres:15", "not-the-source-password", "np-secrets", "postgres-password", 900)
    apply(target.namespace, job)
    apply(target.namespace, pod("allowed", CLIENT_LABELS))
    apply(target.namespace, pod("stranger", {"stateshift.io/test-role": "someone-else"}))
    kubectl("wait", "-n", target.namespace, "--for=condition=Ready", "pod", "allowed", "stranger", "--timeout=180s")
    kubectl("wait", "-n", target.namespace, "--for=condition=Ready", "pod", "-l", "%s=%s" % (worker.LABEL, target.app),
            "--timeout=180s")
    target.job_pod = kubectl("get", "pod", "-n", target.namespace, "-l", "%s=%s" % (worker.LABEL, target.app),
                             "-o", "jsonpath={.items[0].metadata.name}").stdout
    yield target
    target.remove()


def test_the_policy_is_the_one_the_catalog_asked_for(workload):
    found = json.loads(kubectl("get", "networkpolicy", workload.app, "-n", workload.namespace, "-o", "json").stdout)
    assert found["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert {"podSelector": {"matchLabels": CLIENT_LABELS}} in found["spec"]["ingress"][0]["from"]


def test_a_pod_that_allow_from_names_connects(workload):
    assert pg_reachable(workload.namespace, "allowed", workload.app) == 0


def test_a_pod_of_the_same_namespace_without_the_label_is_refused(workload):
    assert pg_reachable(workload.namespace, "stranger", workload.app) == 2
    pod_ip = kubectl("get", "pod", workload.pod, "-n", workload.namespace, "-o", "jsonpath={.status.podIP}").stdout
    assert not tcp_connects(workload.namespace, "stranger", pod_ip, PORT), "the pod's own address is not guarded"


def test_the_migration_jobs_pod_is_admitted(workload):
    assert pg_reachable(workload.namespace, workload.job_pod, workload.app) == 0


def test_the_database_pod_reaches_dns_and_nothing_else(workload):
    source = source_address()
    assert pg_reachable(workload.namespace, "allowed", source) == 0, "control: a pod without a policy reaches the source"
    resolved = in_pod(workload.namespace, workload.pod, "getent", "hosts", API_NAME, container="postgresql")
    assert resolved.returncode == 0 and resolved.stdout.strip(), "DNS is refused to the database pod: %s" % resolved.stderr
    assert pg_reachable(workload.namespace, workload.pod, source, container="postgresql") == 2, \
        "the database pod reached %s:%d although network.restrict_egress is true" % (source, PORT)


def test_a_label_added_later_is_admitted_and_removing_it_refuses_again(workload):
    key, value = next(iter(CLIENT_LABELS.items()))
    kubectl("label", "pod", "stranger", "-n", workload.namespace, "%s=%s" % (key, value), "--overwrite")
    try:
        assert any(pg_reachable(workload.namespace, "stranger", workload.app) == 0 for _attempt in range(5))
    finally:
        kubectl("label", "pod", "stranger", "-n", workload.namespace, "%s=someone-else" % key, "--overwrite")
    assert any(pg_reachable(workload.namespace, "stranger", workload.app) == 2 for _attempt in range(5))


def test_restrict_egress_false_lets_the_database_pod_out(workload):
    workload.workload["network"] = dict(workload.workload["network"], restrict_egress=False)
    workload.playbook.run(DATABASES, "-e", json.dumps({"stateshift_workloads": [workload.workload]}))
    found = json.loads(kubectl("get", "networkpolicy", workload.app, "-n", workload.namespace, "-o", "json").stdout)
    assert found["spec"]["policyTypes"] == ["Ingress"]
    source = source_address()
    assert any(pg_reachable(workload.namespace, workload.pod, source, container="postgresql") == 0 for _attempt in range(5))
    assert pg_reachable(workload.namespace, "stranger", workload.app) == 2, "ingress stays guarded"
