"""pg_source_access and pg_final_sync (offline mode) on the lab: a database of their own in the legacy source container,
copied into a StatefulSet the databases phase deploys; a client role's session is cut and its writes refused while
blocked, everything restored exactly by open; a source that changed after the copy is copied again by the final sync."""

from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import REPO, nothing_changed
from .migration_helpers import FINGERPRINT_SQL, SOURCE_CONTAINER, Target, source_psql

DATABASE = "online_sync_offline"
CLIENT = "online_sync_client"
PROBE = REPO / "tests" / "integration" / "playbooks" / "pg_cutover_probe.yml"
ACL_SQL = "SELECT coalesce(datacl::text, 'NULL') FROM pg_database WHERE datname = '%s';" % DATABASE
SETTING_SQL = ("SELECT coalesce((SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s JOIN pg_database d "
               "ON d.oid = s.setdatabase WHERE d.datname = '%s' AND s.setrole = 0), 'unset');" % DATABASE)


def make_source():
    source_psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % DATABASE, database="postgres")
    source_psql("DROP ROLE IF EXISTS %s;" % CLIENT, database="postgres")
    source_psql("CREATE DATABASE %s;" % DATABASE, database="postgres")
    source_psql("CREATE ROLE %s LOGIN;\n"
                "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL);\n"
                "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 500) g;\n"
                "GRANT CONNECT ON DATABASE %s TO %s;\nGRANT ALL ON items, items_id_seq TO %s;\n"
                "ALTER DATABASE %s SET work_mem = '8MB';" % (CLIENT, DATABASE, CLIENT, CLIENT, DATABASE), database=DATABASE)


def client_psql(sql, check=False):
    return subprocess.run(["docker", "exec", "-i", SOURCE_CONTAINER, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           "-U", CLIENT, "-d", DATABASE], input=sql, capture_output=True, text=True, check=check)


def probe(playbook, target, module, *extra, **args):
    payload = {"probe_workloads": [target.workload], "probe_module": module,
               "probe_args": dict(args, workload=target.name)}
    return playbook.run(PROBE, "-e", json.dumps(payload), *extra, check=False)


def access_record(target):
    found = subprocess.run(["kubectl", "get", "configmap", "%s-postgresql-migration" % target.name, "-n", target.namespace,
                            "-o", "json", "--ignore-not-found"], capture_output=True, text=True, check=True).stdout
    data = json.loads(found).get("data") or {} if found.strip() else {}
    return json.loads(data.get("%s.source-access" % DATABASE, "{}"))


@pytest.fixture(scope="module")
def target(playbook, cluster):
    make_source()
    workload = Target(playbook, "onsync", DATABASE, migration={"transport": "stream", "backup_dir": "/var/backups/stateshift-tests"})
    workload.deploy()
    yield workload
    workload.remove()
    source_psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % DATABASE, database="postgres")
    source_psql("DROP ROLE IF EXISTS %s;" % CLIENT, database="postgres")


def test_block_cuts_client_sessions_and_writes_open_restores_exactly(playbook, target):
    acl_before, setting_before = source_psql(ACL_SQL), source_psql(SETTING_SQL)
    session = subprocess.Popen(["docker", "exec", "-i", SOURCE_CONTAINER, "psql", "-X", "-q", "-A", "-t", "-U", CLIENT, "-d", DATABASE],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    session.stdin.write("SELECT 'connected';\n")
    session.stdin.flush()
    assert session.stdout.readline().strip() == "connected"

    checked = probe(playbook, target, "pg_source_access", "--check", "--diff", state="blocked")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "would revoke CONNECT from PUBLIC, %s" % CLIENT in checked.stdout
    assert source_psql(ACL_SQL) == acl_before and access_record(target) == {}

    blocked = probe(playbook, target, "pg_source_access", state="blocked")
    assert blocked.returncode == 0, blocked.stdout[-3000:]
    assert "1 session(s) terminated" in blocked.stdout
    session.stdin.write("SELECT 'still here';\n")
    session.stdin.flush()
    assert session.stdout.readline().strip() != "still here"
    session.wait(timeout=30)
    refused = client_psql("INSERT INTO items (name) VALUES ('late');")
    assert refused.returncode != 0 and "permission denied for database" in refused.stderr, refused.stderr
    assert source_psql("SELECT count(*) FROM items;", database=DATABASE) == "500", "the migration user cannot read"
    assert "read-only transaction" in subprocess.run(
        ["docker", "exec", "-i", SOURCE_CONTAINER, "psql", "-X", "-U", "invoicetron", "-d", DATABASE, "-c",
         "INSERT INTO items (name) VALUES ('superuser')"], capture_output=True, text=True, check=False).stderr
    assert access_record(target)["state"] == "blocked"

    again = probe(playbook, target, "pg_source_access", state="blocked")
    assert again.returncode == 0 and nothing_changed(again.stdout), again.stdout[-3000:]

    opened = probe(playbook, target, "pg_source_access", state="open")
    assert opened.returncode == 0, opened.stdout[-3000:]
    assert source_psql(ACL_SQL) == acl_before
    assert source_psql(SETTING_SQL) == setting_before
    assert client_psql("SELECT count(*) FROM items;").stdout.strip() == "500"
    assert access_record(target)["state"] == "open"
    reopened = probe(playbook, target, "pg_source_access", state="open")
    assert reopened.returncode == 0 and nothing_changed(reopened.stdout), reopened.stdout[-3000:]


def source_write(sql):
    """A write on the blocked source, as a superuser that turns the read-only default off for its session."""
    return source_psql("SET default_transaction_read_only = off;\n" + sql, database=DATABASE)


def test_final_sync_copies_again_a_source_changed_since_the_copy(playbook, target):
    migrated = target.migrate()
    assert migrated.returncode == 0 and target.marker()["state"] == "verified", migrated.stdout[-3000:]
    source_psql("INSERT INTO items (name) SELECT 'late ' || g FROM generate_series(1, 25) g;", database=DATABASE)
    refused = probe(playbook, target, "pg_final_sync")
    assert refused.returncode != 0 and "run stateshift.k3s.pg_source_access with state: blocked first" in refused.stdout

    assert probe(playbook, target, "pg_source_access", state="blocked").returncode == 0
    checked = probe(playbook, target, "pg_final_sync", "--check")
    assert checked.returncode == 0 and "would copy again: the source changed since the copy" in checked.stdout, checked.stdout[-3000:]
    assert target.psql("SELECT count(*) FROM items;") == "500"

    synced = probe(playbook, target, "pg_final_sync", "-v")
    assert synced.returncode == 0, synced.stdout[-4000:]
    assert "copying again" in synced.stdout and "verification passed" in synced.stdout
    assert target.psql("SELECT count(*) FROM items;") == "525"
    assert target.psql(FINGERPRINT_SQL) == source_psql(FINGERPRINT_SQL, database=DATABASE)
    assert target.marker()["state"] == "verified"

    again = probe(playbook, target, "pg_final_sync")
    assert again.returncode == 0 and nothing_changed(again.stdout), again.stdout[-3000:]
    assert "nothing to sync" in again.stdout


def test_final_sync_never_replaces_a_target_written_since_the_copy(playbook, target):
    assert access_record(target)["state"] == "blocked"
    source_write("INSERT INTO items (name) VALUES ('after the sync');")
    target.psql("INSERT INTO items (name) VALUES ('written on the target');")
    refused = probe(playbook, target, "pg_final_sync")
    assert refused.returncode != 0
    assert "but so did the target" in refused.stdout, refused.stdout[-3000:]
    assert target.psql("SELECT count(*) FROM items WHERE name = 'written on the target';") == "1"
    assert probe(playbook, target, "pg_source_access", state="open").returncode == 0
