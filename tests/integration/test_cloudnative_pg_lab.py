"""A workload with ha: cloudnative-pg, deployed by the databases playbook against the lab's API server, which has
CloudNativePG's Cluster CRD (its full schema, tests/lab/cluster) but no operator: the objects are validated by the API
server, the Secrets the Cluster reads are made without a password in the output, and the run says the operator is
needed. Nothing here runs PostgreSQL: the operator is documented as required, not run."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid

import pytest

from .conftest import kubectl
from .migration_helpers import DATABASES

pytestmark = pytest.mark.lab

IMAGE = "ghcr.io/cloudnative-pg/postgresql:15"


@pytest.fixture(scope="module")
def garden(playbook, cluster):
    namespace = "cnpg-%s" % uuid.uuid4().hex[:6]
    owner_password, source_password = "Owner-%s" % uuid.uuid4().hex[:12], "Source-%s" % uuid.uuid4().hex[:12]
    workload = {"name": "garden", "namespace": namespace, "engine": "postgresql", "ha": "cloudnative-pg", "replicas": 3,
                "image": IMAGE, "storage": {"size": "1Gi"}, "databases": ["gardenos"],
                "source": {"host": "legacy-vm", "container": "invoicetron-db", "database": "invoicetron", "user": "invoicetron",
                           "password": source_password, "address": "192.0.2.10:5432"}}
    kubectl("create", "namespace", namespace)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "garden-secrets", "namespace": namespace},
              "stringData": {"postgres-password": owner_password}}
    subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(secret), text=True, check=True, capture_output=True)

    def run(*extra):
        return playbook.run(DATABASES, "-e", json.dumps({"stateshift_workloads": [workload]}), *extra, check=False)

    try:
        yield namespace, run, (owner_password, source_password)
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_check_mode_has_the_api_server_validate_and_creates_nothing(garden):
    namespace, run, _passwords = garden
    checked = run("--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert kubectl("get", "clusters.postgresql.cnpg.io", "-n", namespace, "-o", "name").stdout.strip() == ""


def test_the_cluster_is_created_its_secrets_made_and_the_missing_operator_named(garden):
    namespace, run, passwords = garden
    result = run("-vvv", "-e", "postgresql_cnpg_operator_timeout=5")
    assert result.returncode != 0
    assert "no CloudNativePG operator acts on it. ha: cloudnative-pg needs the operator running" in result.stdout
    assert not [password for password in passwords if password in result.stdout + result.stderr], "a password in -vvv output"
    made = json.loads(kubectl("get", "clusters.postgresql.cnpg.io", "garden-postgresql", "-n", namespace, "-o", "json").stdout)
    assert made["spec"]["instances"] == 3 and made["spec"]["bootstrap"]["initdb"]["import"]["databases"] == ["invoicetron"]
    owner = json.loads(kubectl("get", "secret", "garden-postgresql-owner", "-n", namespace, "-o", "json").stdout)
    assert owner["type"] == "kubernetes.io/basic-auth"
    assert {key: base64.b64decode(value).decode() for key, value in owner["data"].items()} == {"username": "garden",
                                                                                               "password": passwords[0]}
    imported = json.loads(kubectl("get", "secret", "garden-postgresql-import-source", "-n", namespace, "-o", "json").stdout)
    assert base64.b64decode(imported["data"]["password"]).decode() == passwords[1]


def test_the_api_server_refuses_a_cluster_its_schema_does_not_allow(garden):
    namespace, _run, _passwords = garden
    made = json.loads(kubectl("get", "clusters.postgresql.cnpg.io", "garden-postgresql", "-n", namespace, "-o", "json").stdout)
    bad = {"apiVersion": made["apiVersion"], "kind": "Cluster", "metadata": {"name": "garden-bad", "namespace": namespace},
           "spec": dict(made["spec"], instances=0)}
    refused = subprocess.run(["kubectl", "apply", "--server-side", "--dry-run=server", "-f", "-"], input=json.dumps(bad),
                             capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "spec.instances" in refused.stderr, refused.stderr
