"""The retire phase end to end on the lab: a Compose project of its own on the legacy host (a PostgreSQL with a named
volume and an application writing to it, both restarting unless stopped), made afresh for each test.

The phase alone: migrated, backed up, cut over, then each gate refused once with nothing stopped - the newest backup
from before the cutover; the soak period and a client session held open on the source, in one run - then --check
shows what would go, the retirement stops and disables the containers, archives the volume with its sha256 and
removes a temporary rule that came back; a re-run changes nothing, rollback is refused, migrate leaves it out.

The site playbook on the lab's inventory: every phase (storage: the lab's NFS server's export checked, the
StorageClass nfs-lab), refused at retire (soak period, no backup since the cutover); again with nothing changed; a
rollback before the retirement; site again with a backup taken by the retire phase: cut over again and retired; and
once more with nothing changed."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid

import pytest

from .conftest import REPO, kubectl, nothing_changed, recap
from .cutover_helpers import apply, get, ledger, project_up
from .migration_helpers import DATABASES, Target, legacy_ssh

pytestmark = pytest.mark.lab

CUTOVER = REPO / "playbooks" / "cutover.yml"
RETIRE = REPO / "playbooks" / "retire.yml"
SITE = REPO / "playbooks" / "site.yml"
ROLLBACK = REPO / "playbooks" / "rollback.yml"
PROJECT_DIR = "/home/app/retiree"
CONTAINER, APP, VOLUME = "retiree-db", "retiree-app", "retiree_retireedata"
OWNER, CLIENT = "retiree", "retiree_app"
OWNER_PASSWORD = "Owner-%s" % secrets.token_hex(8)
CLIENT_PASSWORD = "Client-%s" % secrets.token_hex(8)
ARCHIVE_DIR = "/var/backups/stateshift-tests/retired-%s" % uuid.uuid4().hex[:6]

COMPOSE = {
    "services": {
        "db": {"image": "postgres:15", "container_name": CONTAINER, "restart": "unless-stopped",
               "environment": {"POSTGRES_USER": OWNER, "POSTGRES_DB": "shop", "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}"},
               "volumes": ["retireedata:/var/lib/postgresql/data"]},
        "app": {"image": "postgres:15", "container_name": APP, "depends_on": ["db"], "restart": "always",
                "environment": {"PGPASSWORD": "${APP_PASSWORD}"},
                "entrypoint": ["sh", "-c", "while :; do psql -h db -U %s -d shop -qc 'INSERT INTO app_writes DEFAULT VALUES' "
                               ">/dev/null 2>&1; sleep 0.2; done" % CLIENT]},
    },
    "volumes": {"retireedata": {}},
    "networks": {"default": {"name": "stateshift-legacy", "external": True}},
}


def source_psql(sql, check=True):
    result = subprocess.run(["docker", "exec", "-i", CONTAINER, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", OWNER,
                             "-d", "shop"], input=sql, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError("psql in %s: %s" % (CONTAINER, result.stderr))
    return result.stdout.strip()


def inspect(name, template):
    return subprocess.run(["docker", "inspect", "-f", template, name], capture_output=True, text=True, check=False).stdout.strip()


@pytest.fixture
def source_ip(cluster):
    yield project_up(PROJECT_DIR, COMPOSE, "POSTGRES_PASSWORD=%s\nAPP_PASSWORD=%s\n" % (OWNER_PASSWORD, CLIENT_PASSWORD), source_psql,
                     "CREATE ROLE %s LOGIN PASSWORD '%s';\n"
                     "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL);\n"
                     "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 2000) g;\n"
                     "CREATE TABLE app_writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());\n"
                     "GRANT CONNECT ON DATABASE shop TO %s;\n"
                     "GRANT ALL ON app_writes, app_writes_id_seq TO %s;" % (CLIENT, CLIENT_PASSWORD, CLIENT, CLIENT), CONTAINER)
    legacy_ssh("cd %s && docker-compose down -v; rm -rf %s %s" % (PROJECT_DIR, PROJECT_DIR, ARCHIVE_DIR))


@pytest.fixture
def target(playbook, source_ip):
    workload = Target(playbook, "retiree", "shop", migration={"transport": "job", "backup_dir": "/var/backups/stateshift-tests"})
    workload.workload.update(
        source={"host": "legacy-vm", "container": CONTAINER, "database": "shop", "user": OWNER, "password": OWNER_PASSWORD,
                "compose_dir": PROJECT_DIR, "address": "%s:5432" % source_ip},
        backup={"drill": {"schedule": "0 5 * * 0"}},
        cutover={"remove_rules": [{"kind": "NetworkPolicy", "namespace": workload.namespace, "name": "dmz", "cidr": "%s/32" % source_ip}]},
        retire={"soak_days": 0, "watch_seconds": 3, "archive_dir": ARCHIVE_DIR})
    workload.deploy()
    apply(dmz_policy(workload, source_ip))
    yield workload
    workload.remove()


def dmz_policy(target, ip):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "dmz", "namespace": target.namespace},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
                     "egress": [{"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgresql"}}}]},
                                {"to": [{"ipBlock": {"cidr": "%s/32" % ip}}], "ports": [{"port": 5432, "protocol": "TCP"}]}]}}


def phase(target, playbook_path, *args, retire=None, check=True):
    workload = dict(target.workload, retire=dict(target.workload["retire"], **(retire or {})))
    result = target.playbook.run(playbook_path, "-e", json.dumps({"stateshift_workloads": [workload]}), *args, check=check)
    for secret in (OWNER_PASSWORD, CLIENT_PASSWORD, target.password):
        assert secret not in result.stdout + result.stderr, "a password reached the output"
    return result


def back_up_now(target):
    phase(target, DATABASES, "-e", "postgresql_backup_now=true")


def untouched():
    return inspect(CONTAINER, "{{.State.Status}} {{.HostConfig.RestartPolicy.Name}}") == "running unless-stopped"


def test_each_gate_refuses_then_the_source_is_retired_once(playbook, target, source_ip):
    assert target.migrate().returncode == 0
    back_up_now(target)
    time.sleep(1)  # backup stamps have one-second steps: the next one must be after the cutover
    phase(target, CUTOVER)
    assert ledger(target)["state"] == "cut_over" and inspect(APP, "{{.State.Status}}") == "exited"

    refused = phase(target, RETIRE, check=False)
    assert refused.returncode != 0
    assert "retiree is not retired, nothing was stopped: verified backup: the newest backup of shop, shop-" in refused.stdout
    assert "was taken before the cutover" in refused.stdout
    assert untouched() and ledger(target)["state"] == "cut_over"

    back_up_now(target)
    held = subprocess.Popen(["docker", "exec", CONTAINER, "psql", "-U", OWNER, "-d", "shop", "-c", "SELECT pg_sleep(120)"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        refused = phase(target, RETIRE, retire={"soak_days": 1}, check=False)
    finally:
        held.kill()
        source_psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(120)%';")
    assert refused.returncode != 0, refused.stdout[-3000:]
    assert "soak period: cut over " in refused.stdout, refused.stdout[-3000:]
    assert " ago, and retire.soak_days is 1: the source may be retired from " in refused.stdout
    assert "no clients: clients still use the source during the 3 s watch: %s from a local socket (psql) on shop" % OWNER in refused.stdout
    assert "verified backup" not in refused.stdout.split("nothing was stopped:")[1].split("\n")[0], "the new backup passes"
    assert untouched() and ledger(target)["state"] == "cut_over"

    apply(dmz_policy(target, source_ip))  # the temporary rule, put back by hand since the cutover
    checked = phase(target, RETIRE, "--check", "--diff", "-v")
    assert "restart disabled: %s, %s; stopped: %s" % (APP, CONTAINER, CONTAINER) in checked.stdout
    assert "verified backup: not checked in check mode" in checked.stdout
    assert "rules naming %s/32 removed" % source_ip in checked.stdout
    assert untouched() and ledger(target)["state"] == "cut_over" and len(get(target, "networkpolicy", "dmz")["spec"]["egress"]) == 2

    retired = phase(target, RETIRE, "-vvv")
    assert_retired(target, retired, source_ip)

    again = phase(target, RETIRE)
    assert nothing_changed(again.stdout) and "was retired at" in again.stdout
    rollback = phase(target, ROLLBACK, check=False)
    assert rollback.returncode != 0 and "the source was retired" in rollback.stdout
    assert inspect(CONTAINER, "{{.State.Status}}") == "exited"
    migrated = target.migrate()
    assert nothing_changed(migrated.stdout) and "its ledger says retired, so this phase leaves it out" in migrated.stdout


def assert_retired(target, retired, source_ip):
    """The containers stopped and disabled, the volume archived and checked on the host, the rule gone, the ledger."""
    assert "restart disabled: %s, %s; stopped: %s" % (APP, CONTAINER, CONTAINER) in retired.stdout
    assert inspect(CONTAINER, "{{.State.Status}} {{.HostConfig.RestartPolicy.Name}}") == "exited no"
    assert inspect(APP, "{{.State.Status}} {{.HostConfig.RestartPolicy.Name}}") == "exited no"
    record = ledger(target)
    assert record["state"] == "retired" and record["retire"]["containers"] == [APP, CONTAINER]
    # the application's image (postgres) declares a volume too: every volume of the project is archived, each once
    archive = next(item for item in record["retire"]["archives"] if item["volume"] == VOLUME)
    assert len(record["retire"]["archives"]) == 2 and all(item["made"] for item in record["retire"]["archives"])
    assert archive["path"] == "%s/retiree-%s.tar" % (ARCHIVE_DIR, VOLUME) and archive["bytes"] > 10 << 20
    verified = legacy_ssh("cd %s && sha256sum -c retiree-%s.tar.sha256 && stat -c %%a . retiree-%s.tar && "
                          "tar -tf retiree-%s.tar | grep -cx data/PG_VERSION" % (ARCHIVE_DIR, VOLUME, VOLUME, VOLUME))
    assert verified.returncode == 0 and verified.stdout.split()[1:] == ["OK", "700", "600", "1"], verified.stdout + verified.stderr
    assert archive["sha256"] in legacy_ssh("cat %s/retiree-%s.tar.sha256" % (ARCHIVE_DIR, VOLUME)).stdout
    assert [rule["to"] for rule in get(target, "networkpolicy", "dmz")["spec"]["egress"]] == [
        [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgresql"}}}]]
    assert [gate["name"] for gate in record["retire"]["gates"]] == [
        "cut over", "soak period", "verified backup", "target healthy", "no clients"]


def refusal(stdout):
    return next(line for line in stdout.splitlines() if "is not retired, nothing was stopped:" in line)


def test_site_refuses_at_retire_runs_again_unchanged_rolls_back_and_then_retires(playbook, target):
    first = phase(target, SITE, retire={"soak_days": 1}, check=False)
    assert first.returncode != 0 and ledger(target)["state"] == "cut_over", first.stdout[-3000:]
    assert "soak period: cut over " in refusal(first.stdout)
    assert "verified backup: the restore drill did not pass for shop (the drill said: " in refusal(first.stdout)
    assert inspect(CONTAINER, "{{.State.Status}}") == "running" and inspect(APP, "{{.State.Status}}") == "exited"
    checked = first.stdout.split("Check each export from every node", 1)[1].split("TASK [", 1)[0]
    assert "ok: [localhost] => (item=lab-nfs from localhost)" in checked, checked
    assert kubectl("get", "storageclass", "nfs-lab", "-o", "jsonpath={.reclaimPolicy}").stdout == "Retain"

    again = phase(target, SITE, retire={"soak_days": 1}, check=False)
    counts = recap(again.stdout)
    assert all(host["changed"] == 0 for host in counts.values()), counts
    assert sum(host["failed"] for host in counts.values()) == 1 and "soak period: cut over " in refusal(again.stdout)
    assert "its ledger says cut_over, so this phase leaves it out" in again.stdout

    phase(target, ROLLBACK)
    assert ledger(target)["state"] == "rolled_back" and inspect(APP, "{{.State.Status}}") == "running"

    retired = phase(target, SITE, "-e", "retirement_backup_now=true")
    record = ledger(target)
    assert record["state"] == "retired" and [event["event"] for event in record["history"]][-4:] == [
        "cutover_started", "cutover_finished", "retire_started", "retire_finished"], retired.stdout[-3000:]
    assert inspect(CONTAINER, "{{.State.Status}} {{.HostConfig.RestartPolicy.Name}}") == "exited no"

    last = phase(target, SITE)
    assert nothing_changed(last.stdout), last.stdout[-3000:]
    assert "its ledger says retired, so this phase leaves it out" in last.stdout and "was retired at" in last.stdout
