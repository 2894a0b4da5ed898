"""Every bad input stops pg_migrate before anything is written, with a message that names the
cause and the fix: nothing on the target, no marker, no backup file."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from tests.fixtures.postgres import LocalPostgres

from .conftest import CACHE
from .migration_helpers import Target, ensure_big_database, legacy_ssh, probe

BACKUP_DIR = "/var/backups/stateshift-bad-input"
NO_DUMP_CONTAINER = "stateshift-test-nodump"


@pytest.fixture(scope="module")
def target(playbook, cluster):
    workload = Target(playbook, "badin", "invoicetron")
    workload.deploy()
    yield workload
    workload.remove()


def workload(target, source=None, migration=None):
    """The target's catalog workload, streaming, with its backups in BACKUP_DIR; source and migration fields overridden."""
    return dict(target.workload, source=dict(target.workload["source"], **(source or {})),
                migration=dict({"transport": "stream", "backup_dir": BACKUP_DIR}, **(migration or {})))


def backups_on_host():
    listed = legacy_ssh("find %s -type f 2>/dev/null | sort" % BACKUP_DIR)
    return listed.stdout


def assert_refused(target, result, *fragments):
    assert result.returncode != 0, result.stdout
    for fragment in fragments:
        assert fragment in result.stdout, result.stdout[-3000:]
    assert target.marker() == {}
    assert target.table_count() == 0


def test_unknown_container(target):
    before = backups_on_host()
    result = probe(target.playbook, workload(target, source={"container": "invoicetron-dbx"}))
    assert_refused(target, result, "container 'invoicetron-dbx' not found on legacy-vm", "docker ps --format")
    assert backups_on_host() == before


def test_wrong_database_lists_the_ones_that_exist(target):
    result = probe(target.playbook, workload(target, source={"database": "invoicetrn"}))
    assert_refused(target, result, "database 'invoicetrn' does not exist in the source server", "invoicetron_reports")


def test_unreachable_host(target):
    result = probe(target.playbook, workload(target), "-e", "ansible_port=2299")
    assert_refused(target, result, "cannot reach the source host legacy-vm (127.0.0.1:2299) over SSH", "ansible_port")


@pytest.fixture
def container_without_pg_dump():
    subprocess.run(["docker", "rm", "-f", NO_DUMP_CONTAINER], capture_output=True, check=False)
    subprocess.run(["docker", "run", "-d", "--name", NO_DUMP_CONTAINER, "-e", "POSTGRES_USER=invoicetron",
                    "-e", "POSTGRES_PASSWORD=not-a-secret-here", "postgres:15"], capture_output=True, check=True)
    deadline = time.time() + 60
    while subprocess.run(["docker", "exec", NO_DUMP_CONTAINER, "pg_isready", "-q", "-U", "invoicetron"],
                         check=False).returncode != 0:
        assert time.time() < deadline, "the test container never became ready"
        time.sleep(0.5)
    subprocess.run(["docker", "exec", "-u", "root", NO_DUMP_CONTAINER, "sh", "-c",
                    "rm -f /usr/bin/pg_dump /usr/lib/postgresql/*/bin/pg_dump"], check=True)
    yield NO_DUMP_CONTAINER
    subprocess.run(["docker", "rm", "-f", NO_DUMP_CONTAINER], capture_output=True, check=False)


def test_container_without_pg_dump(target, container_without_pg_dump):
    result = probe(target.playbook, workload(target, source={"container": container_without_pg_dump}))
    assert_refused(target, result, "'pg_dump' is not installed in container '%s'" % container_without_pg_dump,
                   "the migration needs pg_dump")


@pytest.fixture
def postgres16():
    """A real PostgreSQL 16 server (binaries from scripts/setup.sh), listening on loopback TCP."""
    bin_dir = CACHE / "postgresql-16" / "bin"
    if not (bin_dir / "postgres").exists():
        pytest.fail("PostgreSQL 16 binaries missing in %s: run 'make setup'" % bin_dir)
    base = tempfile.mkdtemp(prefix="stateshift-pg16-")
    shutil.chown(base, "postgres", "postgres")
    os.chmod(base, 0o755)
    server = LocalPostgres(base, bin_dir=str(bin_dir), port=5416, listen="127.0.0.1")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_source_newer_than_target_is_refused(target, postgres16):
    assert postgres16.psql("SHOW server_version_num;").stdout.strip().startswith("16")
    dsn_source = {"dsn": "host=127.0.0.1 port=5416 user=postgres dbname=postgres", "database": "postgres"}
    source_16 = dict(workload(target, migration={"backup_dir": tempfile.mkdtemp(prefix="stateshift-backup-")}), source=dsn_source)
    result = probe(target.playbook, source_16, host="localhost")
    assert result.returncode != 0
    assert "the source runs PostgreSQL 16 but the target runs 15: a migration to an older major version is not possible" \
        in result.stdout, result.stdout[-3000:]
    assert "Set the workload's version (and image) to 16 or newer" in result.stdout
    assert target.marker() == {}


def test_too_little_disk_for_the_backup(target):
    database = ensure_big_database()
    result = probe(target.playbook, workload(target, migration={"backup_dir": "/dev/shm/stateshift"}), database=database)
    assert_refused(target, result, "not enough disk for the backup in /dev/shm/stateshift/badin on legacy-vm",
                   "set migration.backup_dir to a larger filesystem")
    assert legacy_ssh("test -e /dev/shm/stateshift").returncode != 0, "the backup directory was created"
