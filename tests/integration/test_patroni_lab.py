"""A PostgreSQL workload with ha: patroni, deployed by the databases playbook on the lab's real node (its API server the
Patroni store, kube-router enforcing the NetworkPolicy), with stateshift-lab/patroni:15 (Debian's PostgreSQL 15, Patroni
4.1 from PyPI).

In order, on one cluster: three members come up (one leader the client Service selects, two streaming replicas,
patroni_ready in the role); the lab's legacy invoicetron database is migrated into the leader and every member holds
it (the migrate phase waits until the replicas replayed past the leader's WAL position); a writer commits through the
client Service while the leader pod is deleted five times, and no acknowledged write is lost (count and checksum on
every member), each failover's time printed; the databases playbook scales it to one member and back to three, and
the data stays on every member."""

from __future__ import annotations

import functools
import json
import statistics

import pytest

from .conftest import kubectl
from .migration_helpers import FINGERPRINT_SQL, source_fingerprint
from .patroni_helpers import FAILOVERS, LEDGER_CHECKSUM, Cluster, leader_deletions, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.serial]


@pytest.fixture(scope="module")
def gardenos(playbook, cluster):
    target = Cluster(playbook)
    try:
        yield target
    finally:
        target.remove()


def test_the_databases_phase_brings_up_a_leader_and_two_streaming_replicas(gardenos):
    result = gardenos.deploy()
    assert "Wait for the Patroni cluster's leader" in result.stdout
    leader = wait_for("one leader and two ready replicas", gardenos.leader, timeout=60)
    endpoints = json.loads(kubectl("get", "endpointslices", "-n", gardenos.namespace, "-l",
                                   "kubernetes.io/service-name=gardenos-postgresql", "-o", "json").stdout)
    selected = {endpoint["targetRef"]["name"] for item in endpoints["items"] for endpoint in item.get("endpoints") or []}
    assert selected == {leader}, "the client Service selects the leader only"
    assert kubectl("get", "configmap", "gardenos-postgresql-ha-leader", "-n", gardenos.namespace, check=False).returncode == 0
    assert gardenos.member_psql(leader, "SELECT datname FROM pg_database WHERE datname = 'invoicetron'") == "invoicetron"


def test_a_migration_into_the_leader_reaches_every_member(gardenos):
    expected = source_fingerprint()
    result = gardenos.migrate()
    assert result.returncode == 0, result.stdout[-4000:]
    assert "has replayed what was migrated" in result.stdout
    for pod in gardenos.ready_roles():
        assert gardenos.member_psql(pod, FINGERPRINT_SQL, database="invoicetron") == expected, pod


def test_a_leader_deleted_five_times_loses_no_acknowledged_write(gardenos):
    leader, acknowledged, gaps = leader_deletions(gardenos, FAILOVERS)
    print("patroni failover: %d acknowledged writes; gaps %s s; p50 %.1f s, max %.1f s"
          % (len(acknowledged), ", ".join("%.1f" % gap for gap in gaps), statistics.median(gaps), max(gaps)))
    stored = {int(line) for line in gardenos.member_psql(leader, "SELECT id FROM ledger").split()}
    assert acknowledged <= stored, "acknowledged writes lost: %s" % sorted(acknowledged - stored)[:20]
    expected = gardenos.member_psql(leader, LEDGER_CHECKSUM)
    wait_for("every member has replayed the ledger", lambda: all(
        gardenos.member_psql(pod, LEDGER_CHECKSUM) == expected for pod in gardenos.ready_roles()), timeout=60)


def test_scaling_to_one_member_and_back_keeps_the_data(gardenos):
    expected = source_fingerprint()
    first = "gardenos-postgresql-0"
    if gardenos.leader() == first:  # the scale-down must hand the leadership to the member that stays
        kubectl("delete", "pod", first, "-n", gardenos.namespace, "--wait=false")
        wait_for("another leader", functools.partial(gardenos.another_leader, first))
    shrunk = gardenos.deploy(replicas=1)
    switchover = shrunk.stdout.split("Make the first member the leader", 1)[1].split("TASK [", 1)[0]
    assert "changed: [localhost]" in switchover, switchover
    (only,) = wait_for("one member left", lambda: list(gardenos.ready_roles()) if len(gardenos.ready_roles()) == 1 else None)
    assert gardenos.member_psql(only, FINGERPRINT_SQL, database="invoicetron") == expected
    gardenos.deploy(replicas=3)
    wait_for("one leader and two ready replicas again", gardenos.leader, timeout=60)
    for pod in gardenos.ready_roles():
        assert gardenos.member_psql(pod, FINGERPRINT_SQL, database="invoicetron") == expected, pod
