"""Both databases of the lab's legacy PostgreSQL (invoicetron and invoicetron_reports) moved by one migrate run
(source.databases): the roles copied once, each database copied and verified, one task result; a re-run changes
nothing and compare-only checks both."""

from __future__ import annotations

import json

import pytest

from .conftest import kubectl, nothing_changed
from .migration_helpers import FINGERPRINT_SQL, Target, source_fingerprint

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
