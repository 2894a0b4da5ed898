"""The migrate phase end to end on the lab: the legacy Docker host's invoicetron database into a
StatefulSet that the databases phase deploys in a namespace of its own, by both transports, with
the backup, the report, idempotent re-runs and no secret in the output at -vvv."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import kubectl, nothing_changed
from .migration_helpers import FINGERPRINT_SQL, MIGRATE, Target, legacy_ssh, source_fingerprint, source_password
from .secrets_helpers import assert_no_value_leaked


@pytest.fixture(scope="module")
def target(playbook, cluster):
    workload = Target(playbook, "mig", "invoicetron", migration={"transport": "job", "backup_dir": "/var/backups/stateshift-tests"})
    workload.deploy()
    yield workload
    workload.remove()


def test_check_mode_reports_the_plan_and_writes_nothing(target):
    result = target.migrate("--check", "--diff")
    assert result.returncode == 0, result.stdout
    assert "would copy 9 tables" in result.stdout
    assert "+invoicetron: 9 tables" in result.stdout
    assert target.marker() == {}
    assert target.table_count() == 0


def test_migration_by_in_cluster_job_is_verified_and_logs_no_secret(target, tmp_path):
    before = source_fingerprint()
    start = time.time()
    result = target.migrate("-vvv", data_migration_report_dir=str(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "transport job (the cluster reaches the source at" in result.stdout
    assert "copy mig/invoicetron: 9/9 tables" in result.stdout
    assert "verification passed" in result.stdout
    assert source_fingerprint() == before, "the source changed"
    assert target.psql(FINGERPRINT_SQL) == before

    report = json.loads((tmp_path / "mig-invoicetron.json").read_text())
    assert report["ok"] and report["transport"] == "job"
    assert {row["table"] for row in report["tables"]} >= {"public.invoices", "public.attachments", "reporting.currency_rates"}
    assert all(row["source_checksum"] == row["target_checksum"] for row in report["tables"])
    assert "Result: **verified**" in (tmp_path / "mig-invoicetron.md").read_text()

    backup = report["backup"]
    on_host = legacy_ssh("sha256sum %s" % backup["path"])
    assert on_host.returncode == 0 and on_host.stdout.split()[0] == backup["sha256"]
    assert target.marker()["state"] == "verified"

    attributes = target.psql("SELECT rolsuper::text || rolreplication::text || rolbypassrls::text FROM pg_roles "
                             "WHERE rolname = 'invoicetron';")
    assert attributes == "falsefalsefalse", "the source's superuser kept its privileges on the target"
    assert target.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_restore';") == "0"
    assert target.psql("SHOW autovacuum;") == "on", "restore tuning was not undone"
    assert_no_value_leaked({source_password(), target.password}, {"stdout": result.stdout, "stderr": result.stderr},
                           start, skip=set())


def test_rerun_after_a_verified_copy_changes_nothing(target):
    result = target.migrate()
    assert result.returncode == 0, result.stdout
    assert nothing_changed(result.stdout), result.stdout[-3000:]
    assert "already migrated" in result.stdout


def test_compare_only_confirms_the_copy(target):
    result = target.migrate(data_migration_compare_only=True)
    assert result.returncode == 0, result.stdout
    assert "source and target match (checksum)" in result.stdout


def test_compare_names_the_table_that_differs(target):
    target.psql("DELETE FROM payments WHERE id IN (SELECT id FROM payments ORDER BY id LIMIT 3);")
    result = target.migrate(data_migration_compare_only=True)
    assert result.returncode != 0
    assert "table public.payments: 2509 rows on the source, 2506 on the target" in result.stdout


def test_force_never_replaces_a_verified_copy(target):
    result = target.migrate(migration={"transport": "stream"}, stateshift_force=True)
    assert result.returncode != 0
    assert "force never replaces a verified copy" in result.stdout
    assert target.marker()["state"] == "verified"


def test_stream_transport_copies_again_once_the_target_was_dropped(target):
    target.reset()
    result = target.migrate("-v", migration={"transport": "stream"})
    assert result.returncode == 0, result.stdout[-4000:]
    assert "transport stream (set by migration.transport)" in result.stdout
    assert "via stream; verification passed" in result.stdout
    assert target.psql(FINGERPRINT_SQL) == source_fingerprint()


def test_force_in_the_catalog_is_refused_naming_the_run_option(target):
    result = target.migrate(migration={"force": True})
    assert result.returncode != 0
    assert "migration.force = True: is no longer a catalog field" in result.stdout
    assert "-e stateshift_force=true" in result.stdout


def test_a_target_with_data_of_its_own_is_refused(target):
    target.reset()
    target.psql("CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (1);")
    result = target.migrate()
    assert result.returncode != 0
    assert "is not empty (1 relations)" in result.stdout
    assert "-e stateshift_force=true" in result.stdout
    assert target.psql("SELECT count(*) FROM keep_me;") == "1"
    assert target.marker() == {}


def test_a_job_that_cannot_reach_the_source_stops_before_any_row_and_a_rerun_finishes(target):
    """The target is prepared while the Job's pod starts: when its probe then finds no way to the source, the run stops
    with no row written and no Job left, the marker says copying, and a re-run by stream finishes the copy."""
    target.reset()
    unreachable = dict(target.workload, source=dict(target.workload["source"], address="192.0.2.1:5432"),
                       migration=dict(target.workload["migration"], transport="job", backup=False))
    result = target.playbook.run(MIGRATE, "-e", json.dumps({"stateshift_workloads": [unreachable]}), check=False)
    assert result.returncode != 0
    assert "the job transport was asked for but the cluster cannot reach the source at 192.0.2.1:5432" in result.stdout
    assert target.marker()["state"] == "copying"
    assert target.psql("SELECT count(*) FROM public.invoices;") == "0"
    assert kubectl("get", "job,secret", "-n", target.namespace, "-l", "stateshift.io/migration", "-o", "name").stdout.strip() == ""

    result = target.migrate(migration={"transport": "stream"})
    assert result.returncode == 0, result.stdout[-4000:]
    assert "via stream; verification passed" in result.stdout
    assert target.psql(FINGERPRINT_SQL) == source_fingerprint()
