"""Cross-version migrations on the lab: a real source on PostgreSQL X (a container of the legacy host's
Docker engine, loaded with the sample data) into a StatefulSet on PostgreSQL Y deployed by the
databases phase, by both transports, ending verified; and a newer source into an older target refused
before anything is written.

One source per major (15, 16, 18) and one target per major (16, 18) for the whole module, each started on first
use: each migration drops the target database and its marker first (Target.reset), so the targets are reused.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid

import pytest

from .conftest import REPO
from .migration_helpers import FINGERPRINT_SQL, Target, legacy_ssh, source_fingerprint, source_psql

pytestmark = pytest.mark.lab

SOURCE_MAJORS = ("15", "16", "18")
TARGET_MAJORS = ("16", "18")
UPGRADES = [("15", "16"), ("15", "18"), ("16", "18")]
TRANSPORTS = ("job", "stream")
LOAD = REPO / "tests" / "lab" / "sampledata" / "load.sh"
RUN = uuid.uuid4().hex[:6]
BACKUP_DIR = "/var/backups/stateshift-xver-%s" % RUN


def docker(*args, check=True):
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError("docker %s: %s" % (" ".join(args[:3]), result.stderr))
    return result


def start_source(major):
    """postgres:MAJOR on the legacy host's Docker engine and network, with the sample data; its container name."""
    name = "stateshift-xver-pg%s-%s" % (major, RUN)
    docker("run", "-d", "--name", name, "--network", "stateshift-legacy", "--label", "org.stateshift.lab=test",
           "-e", "POSTGRES_USER=invoicetron", "-e", "POSTGRES_PASSWORD=Source-%s" % secrets.token_hex(12),
           "-e", "POSTGRES_DB=invoicetron", "-e", "POSTGRES_INITDB_ARGS=--no-sync", "postgres:%s" % major)
    deadline = time.monotonic() + 90
    while docker("exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "invoicetron", "-d", "invoicetron",
                 check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise AssertionError("postgres:%s did not get ready: %s" % (major, docker("logs", "--tail", "20", name).stderr))
        time.sleep(0.5)
    subprocess.run([str(LOAD), "--container", name, "--user", "invoicetron", "--db", "invoicetron", "--scale", "small"],
                   check=True, capture_output=True, text=True)
    return name


class Started(dict):
    """Made on first use (a test run that selects one case starts only what that case needs), then reused."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, major):
        self[major] = self.make(major)
        return self[major]


@pytest.fixture(scope="module")
def sources():
    if docker("network", "inspect", "stateshift-legacy", check=False).returncode != 0:
        pytest.fail("the lab's legacy host is not up (no network stateshift-legacy): run 'tests/lab/lab up'")
    started = Started(start_source)
    try:
        yield started
    finally:
        for name in started.values():
            docker("rm", "-f", "-v", name, check=False)


@pytest.fixture(scope="module")
def targets(playbook, cluster, sources):
    def deploy(major):
        target = Target(playbook, "xver%s" % major, "invoicetron", version=major, container="unset",
                        migration={"backup_dir": BACKUP_DIR})
        made_list.append(target)
        target.deploy()
        return target

    made_list = []
    try:
        yield Started(deploy)
    finally:
        for target in made_list:
            target.remove()
        legacy_ssh("rm -rf %s" % BACKUP_DIR)


def server_version_num(target):
    return target.psql("SHOW server_version_num;")


def test_sources_and_targets_run_the_majors_they_claim(sources, targets):
    for major in SOURCE_MAJORS:
        assert source_psql("SHOW server_version_num;", container=sources[major])[:2] == major
    for major in TARGET_MAJORS:
        assert server_version_num(targets[major])[:2] == major


def test_a_newer_source_into_an_older_target_is_refused_before_anything_is_written(sources, targets):
    target = targets["16"]
    target.reset()
    target.workload["source"]["container"] = sources["18"]
    result = target.migrate(migration={"transport": "job"})
    assert result.returncode != 0
    assert "version = '16': the source runs PostgreSQL 18 but the target runs 16" in result.stdout, result.stdout[-3000:]
    assert "to 18 or newer" in result.stdout
    assert target.marker() == {}
    assert target.table_count() == 0
    assert legacy_ssh("test -e %s" % BACKUP_DIR).returncode != 0, "a backup was written before the refusal"


def upgrade_cases():
    for source_major, target_major in UPGRADES:
        for transport in TRANSPORTS:
            yield pytest.param(source_major, target_major, transport,
                               id="%s-to-%s-%s" % (source_major, target_major, transport))


@pytest.mark.parametrize(("source_major", "target_major", "transport"), list(upgrade_cases()))
def test_upgrade_ends_verified(sources, targets, source_major, target_major, transport, tmp_path):
    container, target = sources[source_major], targets[target_major]
    target.reset()
    target.workload["source"]["container"] = container
    before = source_fingerprint(container=container)
    result = target.migrate(migration={"transport": transport}, data_migration_report_dir=str(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "verification passed" in result.stdout
    assert target.psql(FINGERPRINT_SQL) == before
    assert source_fingerprint(container=container) == before, "the source changed"
    assert target.marker()["state"] == "verified"
    assert server_version_num(target)[:2] == target_major
    report = json.loads((tmp_path / ("xver%s-invoicetron.json" % target_major)).read_text())
    assert report["transport"] == transport and report["verified"] is True
    assert "the target (PostgreSQL %s) is newer than the source (%s)" % (target_major, source_major) in report["notes"]
