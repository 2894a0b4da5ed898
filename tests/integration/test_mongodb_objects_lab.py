"""The mongodb role's objects against the lab's real API server: every object passes its schema validation (server-side
dry run), and a pod made from the StatefulSet's template passes the namespace's Pod Security admission (restricted).
No mongod runs here (no MongoDB server can be installed on this machine); this proves what the API server decides."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.mongodb import mongodb_objects

from .conftest import KUBECONFIG, kubectl

pytestmark = pytest.mark.lab


def server_dry_run(obj):
    return subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "--server-side", "--dry-run=server", "-f", "-"],
                          input=json.dumps(obj), capture_output=True, text=True, check=False)


@pytest.fixture
def workload(cluster):
    name = "vault-%s" % uuid.uuid4().hex[:6]
    made = validate_catalog([{"name": name, "engine": "mongodb", "storage": {"size": "1Gi"}, "replicas": 3}])[0]
    created = subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(mongodb_objects(made)[0]),
                             capture_output=True, text=True, check=True)
    assert "created" in created.stdout or "configured" in created.stdout
    yield made
    kubectl("delete", "namespace", made["namespace"], "--wait=false", check=False)


def test_every_object_is_valid_and_the_pod_is_admitted_as_restricted(workload):
    labels = json.loads(kubectl("get", "namespace", workload["namespace"], "-o", "json").stdout)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in mongodb_objects(workload)[1:]:
        result = server_dry_run(obj)
        assert result.returncode == 0, "%s %s: %s" % (obj["kind"], obj["metadata"]["name"], result.stderr)
        assert "Warning" not in result.stderr, result.stderr
    statefulset = next(obj for obj in mongodb_objects(workload) if obj["kind"] == "StatefulSet")
    template = statefulset["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "admission-probe", "namespace": workload["namespace"],
                                                           "labels": template["metadata"]["labels"]},
           "spec": dict(template["spec"], volumes=[*template["spec"]["volumes"], {"name": "data", "emptyDir": {}}])}
    admitted = server_dry_run(pod)
    assert admitted.returncode == 0, admitted.stderr
    refused = server_dry_run(dict(pod, spec=dict(pod["spec"], securityContext={})))
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr, "the admission check must be able to fail"
