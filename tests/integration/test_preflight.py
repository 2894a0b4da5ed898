"""pg_source_info and the preflight playbook against the lab's legacy host, over real SSH."""

from __future__ import annotations

import json

from .conftest import REPO, docker_psql, recap

PREFLIGHT = REPO / "playbooks" / "preflight.yml"
SOURCE = {"container": "invoicetron-db", "user": "invoicetron", "database": "invoicetron"}


def catalog(**source):
    # a namespace of its own: the demo's invoicetron namespace may hold a ledger that leaves the workload out
    workload = {"name": "invoicetron", "namespace": "preflight-test", "engine": "postgresql", "storage": {"size": "1Gi"},
                "source": dict(SOURCE, host="legacy-vm", **source)}
    return json.dumps({"stateshift_workloads": [workload]})


def module_result(output):
    """The registered loop result, printed by a callback in JSON."""
    document = json.loads(output[output.index("{"):])
    for play in document["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == "Inventory each PostgreSQL source on this host":
                return task["hosts"]["legacy-vm"]["results"][0]
    raise AssertionError("the inventory task did not run")


def test_preflight_reports_exactly_what_the_source_holds(playbook):
    result = playbook.run(PREFLIGHT, "-e", catalog(), json_output=True)
    inventory = module_result(result.stdout)["inventory"]

    expected_tables = docker_psql(
        SOURCE["container"], SOURCE["user"], SOURCE["database"],
        "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
    assert inventory["table_count"] == int(expected_tables) > 0
    for table in inventory["tables"]:
        counted = docker_psql(SOURCE["container"], SOURCE["user"], SOURCE["database"],
                              'SELECT count(*) FROM "%s"."%s"' % (table["schema"], table["name"]))
        assert table["rows"] == int(counted), table
        assert table["rows_exact"] is True
    assert inventory["server_major"] == 15
    assert inventory["rows_total"] > 0


def test_preflight_is_read_only_and_works_in_check_mode(playbook):
    result = playbook.run(PREFLIGHT, "--check", "-e", catalog())
    hosts = recap(result.stdout)
    assert "legacy-vm" in hosts, hosts
    assert all(counts["changed"] == 0 and counts["failed"] == 0 and counts["unreachable"] == 0
               for counts in hosts.values()), hosts


def test_unknown_container_fails_with_the_field_and_the_fix(playbook):
    result = playbook.run(PREFLIGHT, "-e", catalog(container="invoicetrn-db"), check=False)
    assert result.returncode != 0
    assert "container 'invoicetrn-db' not found" in result.stdout
    assert "source.container" in result.stdout


def test_unknown_database_fails_and_lists_the_databases_there(playbook):
    result = playbook.run(PREFLIGHT, "-e", catalog(database="invoicetrn"), check=False)
    assert result.returncode != 0
    assert "database 'invoicetrn' does not exist" in result.stdout
    assert "invoicetron" in result.stdout.split("the server has:")[1]


def test_preflight_names_every_database_the_migration_moves(playbook):
    listed = playbook.run(PREFLIGHT, "-e", catalog(databases=["invoicetron", "invoicetron_reports"]))
    assert "the migration moves invoicetron, invoicetron_reports" in listed.stdout, listed.stdout[-2000:]
    every = playbook.run(PREFLIGHT, "-e", catalog(databases="all"))
    moved = every.stdout.split("the migration moves ")[1].split('"')[0]
    assert {"invoicetron", "invoicetron_reports"} <= set(moved.split(", ")) and "postgres" not in moved.split(", ")
