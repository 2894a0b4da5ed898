from __future__ import annotations

import json

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import names
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import worker as migration_worker

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


def test_secret_holds_the_source_password_as_string_data():
    secret, _ignored_value = parts(build())
    assert secret["metadata"]["name"] == "invoicetron-db-migration-source"
    assert secret["stringData"] == {"password": PASSWORD}
    assert "data" not in secret
    assert secret["metadata"]["labels"][migration_worker.LABEL] == "invoicetron-db"


def test_no_source_password_gives_an_empty_string():
    secret, _ignored_value = parts(build(password=None))
    assert secret["stringData"] == {"password": ""}


def test_the_password_appears_only_in_the_secret():
    secret, job = parts(build())
    assert PASSWORD not in json.dumps(job)
    assert PASSWORD in json.dumps(secret)
    manifest = json.dumps(build())
    assert manifest.count(PASSWORD) == 1


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
    assert all("hostPath" not in volume for volume in pod["volumes"])
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert not context["capabilities"].get("add")
        assert not context.get("privileged")
        assert context.get("runAsUser", 1) != 0


@pytest.mark.parametrize("deadline", [3600, "900"])
def test_job_never_retries_and_ends_by_its_deadline(deadline):
    _ignored_value, job = parts(build(deadline_seconds=deadline))
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == int(deadline)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["command"] == ["sleep", str(int(deadline))]
    assert pod["containers"][0]["image"] == "postgres:15.6"
    assert spec["template"]["metadata"]["labels"][migration_worker.LABEL] == "invoicetron-db"
    assert job["metadata"]["name"] == "invoicetron-db-migration"
