"""Both databases of the lab's legacy PostgreSQL (invoicetron and invoicetron_reports) moved by one migrate run
(source.databases): the roles copied once, each database copied and verified, one task result; a re-run changes
nothing and compare-only checks both."""

from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import kubectl, nothing_changed
from .migration_helpers import FINGERPRINT_SQL, SOURCE_CONTAINER, Target, source_fingerprint, source_psql
from .test_cutover_offline_lab import probe

DATABASES = ["invoicetron", "invoicetron_reports"]


@pytest.fixture(scope="module")
def target(playbook, cluster):
    workload = Target(playbook, "multi", "invoicetron", migration={"transport": "stream", "backup": False})
    workload.workload["source"]["databases"] = DATABASES
    workload.deploy()
    yield workload
    workload.remove()


def markers(target):
    found = kubectl("get", "configmap", "multi-postgresql-migration", "-n", target.namespace, "-o", "json").stdout
    return {name: json.loads(record)["state"] for name, record in json.loads(found)["data"].items()}


def test_one_run_moves_every_listed_database(target):
    before = {name: source_fingerprint(name) for name in DATABASES}
    result = target.migrate()
    assert result.returncode == 0, result.stdout[-4000:]
    for name in DATABASES:
        assert "multi/%s: copied" % name in result.stdout
        assert target.psql(FINGERPRINT_SQL, database=name) == before[name], name
    assert result.stdout.count("verification passed") >= len(DATABASES)
    globals_steps = [line for line in result.stdout.splitlines() if ": globals ..." in line]
    assert len(globals_steps) == 1 and "multi/invoicetron: globals ..." in globals_steps[0], "the roles are copied once"
    assert markers(target) == {name: "verified" for name in DATABASES}


def test_a_rerun_changes_nothing_and_compare_only_checks_both(target):
    again = target.migrate()
    assert again.returncode == 0 and nothing_changed(again.stdout), again.stdout[-3000:]
    assert all("multi/%s: already migrated" % name in again.stdout for name in DATABASES)
    compared = target.migrate(data_migration_compare_only=True)
    assert compared.returncode == 0, compared.stdout[-3000:]
    assert all("multi/%s: " % name in compared.stdout and "source and target match" in compared.stdout for name in DATABASES)


SYNC_DATABASES = ["multi_sync_a", "multi_sync_b"]


@pytest.fixture(scope="module")
def sync_target(playbook, cluster):
    """Two databases of their own on the legacy source (blocking them at cutover leaves the shared ones alone)."""
    for name in SYNC_DATABASES:
        source_psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % name, database="postgres")
        source_psql("CREATE DATABASE %s;" % name, database="postgres")
        source_psql("CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL);\n"
                    "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 200) g;", database=name)
    workload = Target(playbook, "msync", SYNC_DATABASES[0], migration={"transport": "stream", "backup": False})
    workload.workload["source"]["databases"] = SYNC_DATABASES
    workload.deploy()
    yield workload
    workload.remove()
    for name in SYNC_DATABASES:
        source_psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % name, database="postgres")


def test_the_cutover_steps_take_every_database(playbook, sync_target):
    migrated = sync_target.migrate()
    assert migrated.returncode == 0, migrated.stdout[-3000:]
    source_psql("INSERT INTO items (name) VALUES ('late');", database=SYNC_DATABASES[1])

    blocked = probe(playbook, sync_target, "pg_source_access", state="blocked")
    assert blocked.returncode == 0, blocked.stdout[-3000:]
    for name in SYNC_DATABASES:
        refused = subprocess.run(["docker", "exec", "-i", SOURCE_CONTAINER, "psql", "-X", "-U", "invoicetron", "-d", name, "-c",
                                  "INSERT INTO items (name) VALUES ('blocked')"], capture_output=True, text=True, check=False)
        assert "read-only transaction" in refused.stderr, (name, refused.stderr)

    synced = probe(playbook, sync_target, "pg_final_sync")
    assert synced.returncode == 0, synced.stdout[-3000:]
    assert "msync/multi_sync_b: " in synced.stdout and "copying again" in synced.stdout
    for name in SYNC_DATABASES:
        assert sync_target.psql(FINGERPRINT_SQL, database=name) == source_fingerprint(name), name

    opened = probe(playbook, sync_target, "pg_source_access", state="open")
    assert opened.returncode == 0, opened.stdout[-3000:]
    assert all(source_psql("INSERT INTO items (name) VALUES ('open again') RETURNING 1;", database=name) == "1"
               for name in SYNC_DATABASES)
