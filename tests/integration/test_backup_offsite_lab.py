"""Off-site backups on the lab: the databases phase deploys a workload whose backup.s3 names a real S3 server
(versitygw, see s3_server.py); its backup Job dumps every database, uploads the checked dumps, checks them in the
bucket and applies the bucket's retention; the restore playbook restores a backup from the bucket and verifies it;
a bucket that does not exist fails the backup with a message that says so. Neither the S3 secret key nor the
database password reaches the output."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from .conftest import KUBECONFIG, REPO, kubectl
from .s3_server import S3Server

pytestmark = pytest.mark.lab

DATABASES_PLAYBOOK = REPO / "playbooks" / "databases.yml"
PASSWORD = "Offsite-Db-" + uuid.uuid4().hex[:8]
PG_RESTORE = "/usr/lib/postgresql/15/bin/pg_restore"


@pytest.fixture
def s3(tmp_path):
    server = S3Server(tmp_path / "s3").start()
    yield server
    server.stop()


@pytest.fixture
def offsite_namespace(cluster):
    name = "offsite-%s" % uuid.uuid4().hex[:8]
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def create_secret(namespace, s3):
    kubectl("create", "namespace", namespace)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vault-secrets", "namespace": namespace},
              "stringData": {"postgres-password": PASSWORD, "s3-access-key-id": s3.access_key, "s3-secret-access-key": s3.secret_key}}
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(secret), text=True, check=True,
                   capture_output=True)


def workload(namespace, s3, bucket):
    return {"name": "vault", "namespace": namespace, "engine": "postgresql", "version": "15", "storage": {"size": "64Mi"},
            "databases": ["vault", "vault_reports"],
            "backup": {"retention_days": 30, "s3": {"endpoint": s3.endpoint, "bucket": bucket, "prefix": "lab/vault", "retention_days": 7}}}


def deploy_and_back_up(namespace, s3, bucket):
    extra = {"stateshift_workloads": [workload(namespace, s3, bucket)], "postgresql_backup_now": True, "postgresql_backup_timeout": 240}
    return subprocess.run(["ansible-playbook", "-i", "localhost,", str(DATABASES_PLAYBOOK), "-e", json.dumps(extra), "-vvv"],
                          cwd=REPO, capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR="1"))


def test_backups_are_copied_off_site_checked_and_expired_and_a_missing_bucket_fails_clearly(offsite_namespace, s3, tmp_path):
    s3.make_bucket("offsite")
    s3.put("offsite", "lab/vault/vault-20250101T030000Z.dump", b"expired", age_days=40)
    s3.put("offsite", "lab/vault/vault-20261130T030000Z.dump", b"recent", age_days=2)
    s3.put("offsite", "elsewhere/other-20250101T030000Z.dump", b"another prefix", age_days=40)
    create_secret(offsite_namespace, s3)

    done = deploy_and_back_up(offsite_namespace, s3, "offsite")
    assert done.returncode == 0, done.stdout[-4000:]
    keys = s3.keys("offsite")
    new = [key for key in keys if key.startswith("lab/vault/") and "2026113" not in key and "20250101" not in key]
    names = [key.split("/")[-1] for key in new]
    assert sorted((name.split("-")[0], name.rsplit(".", 1)[1]) for name in names) == [
        ("vault", "counts"), ("vault", "dump"), ("vault", "sha256"), ("vault_reports", "counts"), ("vault_reports", "dump"),
        ("vault_reports", "sha256")], keys
    assert "lab/vault/vault-20250101T030000Z.dump" not in keys, "the bucket's retention did not delete an expired backup"
    assert "lab/vault/vault-20261130T030000Z.dump" in keys, "retention deleted a backup younger than retention_days"
    assert "elsewhere/other-20250101T030000Z.dump" in keys, "retention reached outside the workload's prefix"
    for key in (key for key in new if key.endswith(".dump")):
        listed = subprocess.run([PG_RESTORE, "--list", str(s3.root / "offsite" / key)], capture_output=True, text=True, check=False)
        assert listed.returncode == 0, listed.stderr
    assert "off-site: 3 backup(s) in bucket offsite" in done.stdout

    restored = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(REPO / "playbooks" / "restore.yml"), "-e",
         json.dumps({"stateshift_workloads": [workload(offsite_namespace, s3, "offsite")], "restore_workload": "vault",
                     "postgresql_restore_from": "s3", "postgresql_restore_database": "vault_reports"})],
        cwd=REPO, capture_output=True, text=True, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert "downloaded vault_reports-" in restored.stdout and "from bucket offsite" in restored.stdout
    assert "into stateshift_restore (sha256 matches; row counts of 0 tables match the backup's)" in restored.stdout

    failed = deploy_and_back_up(offsite_namespace, s3, "missing-bucket")
    assert failed.returncode != 0
    assert "off-site copy failed: upload (bucket missing-bucket at %s, prefix lab/vault)" % s3.endpoint in failed.stdout
    assert "NoSuchBucket" in failed.stdout

    for output in (done.stdout + done.stderr, failed.stdout + failed.stderr, restored.stdout + restored.stderr):
        assert s3.secret_key not in output and PASSWORD not in output
