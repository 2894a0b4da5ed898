"""The secrets phase against the lab cluster (a real kube-apiserver with kwok nodes) and the
1Password op CLI double: Secrets applied whole, idempotent, rotated with client restarts, never logged."""

from __future__ import annotations

import base64
import json
import subprocess
import time

from .conftest import KUBECONFIG, kubectl, nothing_changed
from .secrets_helpers import SECRETS_PLAYBOOK, assert_no_value_leaked, run_playbook


def catalog(namespace, immutable=False, pod_security="baseline"):
    keys = {"postgres-password": {"op": "op://Kubernetes/Invoicetron/postgres-password"},
            "better-auth-secret": {"op": "op://Kubernetes/Invoicetron/better-auth-secret", "generate": "base64_32",
                                   "rotate": True}}
    if immutable:
        keys["$options"] = {"immutable": True}
    return [{"name": "invoicetron", "namespace": namespace, "engine": "postgresql", "storage": {"size": "1Gi"},
             "pod_security": pod_security, "clients": [{"kind": "Deployment", "name": "invoicetron"}],
             "secrets": {"invoicetron-secrets": keys}}]


def secret_data(namespace, name="invoicetron-secrets"):
    document = json.loads(kubectl("get", "secret", name, "-n", namespace, "-o", "json", "--show-managed-fields").stdout)
    return document, {key: base64.b64decode(value).decode() for key, value in document["data"].items()}


def env():
    return {"KUBECONFIG": KUBECONFIG}


def deploy_client(namespace):
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "invoicetron", "namespace": namespace},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "invoicetron"}},
                         "template": {"metadata": {"labels": {"app": "invoicetron"}},
                                      "spec": {"containers": [{"name": "app", "image": "invoicetron:lab",
                                                               "envFrom": [{"secretRef": {"name": "invoicetron-secrets"}}]}],
                                               "tolerations": [{"operator": "Exists"}]}}}}
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(manifest), text=True,
                   check=True, capture_output=True)


def test_secrets_are_applied_idempotent_and_never_logged(fake, namespace):
    start = time.time() - 1
    first = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog(namespace)}, "-vvv", env_extra=env())
    assert first.returncode == 0, first.stdout[-4000:]
    document, data = secret_data(namespace)
    assert data["postgres-password"] == "Known-Postgres-Value-1"
    assert data["better-auth-secret"] == fake.value("Kubernetes", "Invoicetron", "better-auth-secret")
    assert document["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "stateshift.k3s"
    assert any(entry.get("manager") == "stateshift-k3s-secrets" and entry.get("operation") == "Apply"
               for entry in document["metadata"]["managedFields"])
    # Server-side apply: no last-applied-configuration copy of the data, and no value anywhere in the metadata.
    assert "kubectl.kubernetes.io/last-applied-configuration" not in document["metadata"].get("annotations", {})
    metadata = json.dumps(document["metadata"])
    for value in data.values():
        assert value not in metadata and base64.b64encode(value.encode()).decode() not in metadata

    second = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog(namespace)}, env_extra=env())
    assert second.returncode == 0 and nothing_changed(second.stdout), second.stdout[-3000:]
    assert secret_data(namespace)[1] == data  # never regenerated

    check = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog(namespace)}, "--check", env_extra=env())
    assert check.returncode == 0 and nothing_changed(check.stdout), check.stdout[-3000:]

    texts = {"stdout": first.stdout + second.stdout, "stderr": first.stderr + second.stderr}
    assert_no_value_leaked(fake.values() | {fake.service_account_token}, texts, start, skip={fake.path})


def test_rotation_updates_1password_the_secret_and_restarts_clients(fake, namespace):
    assert run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog(namespace)}, env_extra=env()).returncode == 0
    deploy_client(namespace)
    before = secret_data(namespace)[1]
    result = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog(namespace),
                                                   "secrets_rotate": ["invoicetron"]}, env_extra=env())
    assert result.returncode == 0, result.stdout[-4000:]
    after = secret_data(namespace)[1]
    assert after["better-auth-secret"] != before["better-auth-secret"]
    assert after["better-auth-secret"] == fake.value("Kubernetes", "Invoicetron", "better-auth-secret")
    assert after["postgres-password"] == before["postgres-password"]  # not marked rotate
    deployment = json.loads(kubectl("get", "deployment", "invoicetron", "-n", namespace, "-o", "json").stdout)
    assert "stateshift.k3s/restartedAt" in deployment["spec"]["template"]["metadata"].get("annotations", {})


def test_bad_reference_leaves_no_secret_written(fake, namespace):
    workloads = catalog(namespace)
    workloads[0]["secrets"]["invoicetron-secrets"]["broken"] = {"op": "op://Kubernetes/Invoicetron/missing"}
    result = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": workloads}, env_extra=env())
    assert result.returncode != 0 and "op://Kubernetes/Invoicetron/missing" in result.stdout
    assert kubectl("get", "secret", "invoicetron-secrets", "-n", namespace, check=False).returncode != 0


def test_immutable_secret_must_be_replaced_explicitly(fake, namespace):
    workloads = catalog(namespace, immutable=True)
    assert run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": workloads}, env_extra=env()).returncode == 0
    assert secret_data(namespace)[0]["immutable"] is True
    rotate = {"stateshift_workloads": workloads, "secrets_rotate": ["invoicetron"]}
    refused = run_playbook(SECRETS_PLAYBOOK, fake, rotate, env_extra=env())
    assert refused.returncode != 0 and "are immutable and their data differs" in refused.stdout
    replaced = run_playbook(SECRETS_PLAYBOOK, fake, dict(rotate, secrets_replace_immutable=True), env_extra=env())
    assert replaced.returncode == 0, replaced.stdout[-3000:]
    assert secret_data(namespace)[1]["better-auth-secret"] == fake.value("Kubernetes", "Invoicetron", "better-auth-secret")


def pod_security_labels(namespace):
    labels = json.loads(kubectl("get", "namespace", namespace, "-o", "json").stdout)["metadata"].get("labels", {})
    return {key.rsplit("/", 1)[1]: value for key, value in labels.items() if key.startswith("pod-security.kubernetes.io/")}


def test_namespaces_it_creates_get_the_pod_security_labels_and_never_lower_them(fake, namespace):
    created = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog(namespace)}, env_extra=env())
    assert created.returncode == 0, created.stdout[-3000:]
    assert pod_security_labels(namespace) == {"enforce": "baseline", "warn": "baseline", "audit": "baseline"}

    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted", "--overwrite")
    kept = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog(namespace)}, env_extra=env())
    assert kept.returncode == 0, kept.stdout[-3000:]
    assert pod_security_labels(namespace) == {"enforce": "restricted", "warn": "baseline", "audit": "baseline"}

    raised = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog(namespace, pod_security="restricted")},
                          env_extra=env())
    assert raised.returncode == 0, raised.stdout[-3000:]
    assert pod_security_labels(namespace) == {"enforce": "restricted", "warn": "restricted", "audit": "restricted"}
