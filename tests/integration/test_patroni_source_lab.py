"""A source run by Patroni in Docker (the gardenos runbook's: three members and etcd, see docker_patroni.py), named in
the catalog by source.patroni_members: the preflight and migrate playbooks ask each member's Patroni which leads and
read from it.
The replicas' replay is paused after more rows went to the leader, so a read from a replica would miss them; the
target gets the leader's data. Listing only the replicas stops the run before anything is written."""

from __future__ import annotations

import json

import pytest

from .conftest import REPO, kubectl
from .docker_patroni import DockerPatroni
from .migration_helpers import FINGERPRINT_SQL, Target

pytestmark = pytest.mark.lab

SCHEMA = """
CREATE TABLE plantings (id bigserial PRIMARY KEY, bed text NOT NULL, planted date NOT NULL);
INSERT INTO plantings (bed, planted) SELECT 'bed ' || (g % 12), date '2026-03-01' + g % 90 FROM generate_series(1, 5000) g;
"""


@pytest.fixture(scope="module")
def source():
    cluster = DockerPatroni().start()
    try:
        leader, replicas = cluster.wait_ready()
        cluster.psql(leader, "CREATE DATABASE gardenos")
        cluster.psql(leader, SCHEMA, database="gardenos")
        for replica in replicas:
            cluster.psql(replica, "SELECT pg_wal_replay_pause()")
        cluster.psql(leader, "INSERT INTO plantings (bed, planted) SELECT 'late', date '2026-06-01' FROM generate_series(1, 700)",
                     database="gardenos")
        yield cluster, leader, replicas
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def target(playbook, cluster, source):
    members, leader, replicas = source[0].members, source[1], source[2]
    workload = Target(playbook, "gdock", "gardenos", migration={"transport": "stream", "backup": False})
    # the replicas first: the leader is found by asking, not by its place in the list
    workload.workload["source"] = {"host": "legacy-vm", "patroni_members": [*replicas, leader], "database": "gardenos",
                                   "user": "postgres"}
    assert sorted(members) == sorted([*replicas, leader])
    workload.deploy()
    yield workload
    workload.remove()


def test_only_replicas_listed_stops_before_anything_is_written(source, target):
    cluster, _leader, replicas = source
    target.workload["source"]["patroni_members"], members = replicas, target.workload["source"]["patroni_members"]
    try:
        refused = target.migrate()
    finally:
        target.workload["source"]["patroni_members"] = members
    assert refused.returncode != 0
    assert "no member of the Patroni cluster %s leads" % ", ".join(replicas) in refused.stdout, refused.stdout[-3000:]
    assert "role replica" in refused.stdout
    marker = kubectl("get", "configmap", "gdock-postgresql-migration", "-n", target.namespace, "--ignore-not-found").stdout
    assert not marker.strip() and target.table_count() == 0
    assert cluster  # the cluster stays up for the next test


def test_preflight_inventories_the_leader_not_a_lagging_replica(source, target):
    _cluster, leader, _replicas = source
    result = target.playbook.run(REPO / "playbooks" / "preflight.yml", "-e", json.dumps({"stateshift_workloads": [target.workload]}))
    assert "gdock: PostgreSQL 15" in result.stdout and "database gardenos in %s (" % leader in result.stdout, result.stdout[-3000:]
    assert "1 tables, 5700 rows" in result.stdout


def test_the_migration_reads_from_the_leader_never_a_lagging_replica(source, target):
    cluster, leader, replicas = source
    on_leader = cluster.psql(leader, FINGERPRINT_SQL, database="gardenos")
    assert all(cluster.psql(replica, FINGERPRINT_SQL, database="gardenos") != on_leader for replica in replicas)
    result = target.migrate()
    assert result.returncode == 0, result.stdout[-4000:]
    assert target.psql(FINGERPRINT_SQL) == on_leader
    assert target.psql("SELECT count(*) FROM plantings") == "5700"
