"""Restores on the lab: the restore playbook restores the newest backup into a scratch database and verifies it
against the row counts the backup recorded; the scheduled restore drill passes and the databases phase reports
when; a damaged backup makes the drill fail with what went wrong."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest

from .conftest import KUBECONFIG, REPO, kubectl

pytestmark = pytest.mark.lab

PLAYBOOKS = REPO / "playbooks"
PASSWORD = "Restore-Db-" + uuid.uuid4().hex[:8]


@pytest.fixture
def restore_namespace(cluster):
    name = "restore-%s" % uuid.uuid4().hex[:8]
    kubectl("create", "namespace", name)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "drillshop-secrets", "namespace": name},
              "stringData": {"postgres-password": PASSWORD}}
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(secret), text=True, check=True,
                   capture_output=True)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def play(name, extra):
    return subprocess.run(["ansible-playbook", "-i", "localhost,", str(PLAYBOOKS / name), "-e", json.dumps(extra)], cwd=REPO,
                          capture_output=True, text=True, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))


def psql(namespace, database, sql):
    return kubectl("exec", "-n", namespace, "drillshop-postgresql-0", "--", "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                   "-U", "drillshop", "-d", database, "-c", sql).stdout.strip()


def backup_files(namespace):
    """The backup volume's directory on the lab node (local-path provisioner: a hostPath)."""
    claim = json.loads(kubectl("get", "pvc", "drillshop-postgresql-backup", "-n", namespace, "-o", "json").stdout)
    volume = json.loads(kubectl("get", "pv", claim["spec"]["volumeName"], "-o", "json").stdout)
    spec = volume["spec"]
    return sorted(os.path.join(path, name) for path in [(spec.get("hostPath") or spec.get("local"))["path"]]
                  for name in os.listdir(path))


def test_restore_and_drill_verify_backups_and_a_damaged_backup_fails_the_drill(restore_namespace):
    catalog = [{"name": "drillshop", "namespace": restore_namespace, "engine": "postgresql", "version": "15", "storage": {"size": "64Mi"},
                "databases": ["drillshop", "drillshop_reports"], "backup": {"drill": {"schedule": "* * * * *"}}}]
    deployed = play("databases.yml", {"stateshift_workloads": catalog})
    assert deployed.returncode == 0, deployed.stdout[-3000:]
    psql(restore_namespace, "drillshop", "CREATE TABLE invoices (id int); INSERT INTO invoices SELECT generate_series(1, 1234)")
    backed_up = play("databases.yml", {"stateshift_workloads": catalog, "postgresql_backup_now": True})
    assert backed_up.returncode == 0, backed_up.stdout[-3000:]
    psql(restore_namespace, "drillshop", "INSERT INTO invoices VALUES (0)")  # after the backup: not in the restore

    restored = play("restore.yml", {"stateshift_workloads": catalog, "restore_workload": "drillshop"})
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert "into stateshift_restore (sha256 matches; row counts of 1 tables match the backup's)" in restored.stdout
    assert psql(restore_namespace, "stateshift_restore", "SELECT count(*) FROM invoices") == "1234"

    deadline = time.monotonic() + 180
    status = {}
    while time.monotonic() < deadline and not status.get("lastSuccessfulTime"):
        time.sleep(5)
        status = json.loads(kubectl("get", "cronjob", "drillshop-postgresql-restore-drill", "-n", restore_namespace, "-o", "json")
                            .stdout).get("status", {})
    assert status.get("lastSuccessfulTime"), "the scheduled drill did not pass within 3 minutes: %s" % status
    reported = play("databases.yml", {"stateshift_workloads": catalog})
    assert reported.returncode == 0
    assert "last restore drill passed %s" % status["lastSuccessfulTime"] in reported.stdout

    newest = [path for path in backup_files(restore_namespace) if os.path.basename(path).startswith("drillshop-")
              and path.endswith(".dump")][-1]
    with open(newest, "r+b") as dump:
        dump.truncate(os.path.getsize(newest) // 2)
    drilled = play("restore.yml", {"stateshift_workloads": catalog, "restore_workload": "drillshop", "restore_drill": True})
    assert drilled.returncode != 0
    assert "restore of drillshop failed: backup %s" % os.path.basename(newest) in drilled.stdout
    assert PASSWORD not in deployed.stdout + backed_up.stdout + restored.stdout + drilled.stdout
