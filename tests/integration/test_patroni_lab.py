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
import os
import statistics
import subprocess
import threading
import time

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import patroni

from .conftest import kubectl
from .migration_helpers import DATABASES, FINGERPRINT_SQL, Target, source_fingerprint

pytestmark = [pytest.mark.lab, pytest.mark.serial]

IMAGE = "stateshift-lab/patroni:15"
FAILOVERS = 5
LEDGER_CHECKSUM = "SELECT count(*) || ' ' || md5(string_agg(id::text, ',' ORDER BY id)) FROM ledger"


class Cluster(Target):
    """The migration target as a Patroni cluster: three passwords in its Secret, psql in any member."""

    def __init__(self, playbook):
        super().__init__(playbook, "gardenos", "invoicetron", migration={"transport": "stream", "backup": False})
        self.workload.update(ha="patroni", replicas=3, image=IMAGE)

    def deploy(self, replicas=3, *extra):
        if kubectl("get", "namespace", self.namespace, check=False).returncode != 0:
            kubectl("create", "namespace", self.namespace)
            secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gardenos-secrets", "namespace": self.namespace},
                      "stringData": {"postgres-password": self.password, "replication-password": self.password + "-replication",
                                     "rewind-password": self.password + "-rewind"}}
            subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(secret), text=True, check=True, capture_output=True)
        self.workload["replicas"] = replicas
        return self.playbook.run(DATABASES, "-e", json.dumps({"stateshift_workloads": [self.workload]}), *extra)

    def passwords(self):
        return [self.password, self.password + "-replication", self.password + "-rewind"]

    def member_psql(self, pod, sql, database="postgres"):
        """psql in a member with the script on stdin (meta-commands such as \\gexec work)."""
        result = subprocess.run(["kubectl", "exec", "-i", "-n", self.namespace, pod, "-c", "postgresql", "--", "psql", "-X", "-q",
                                 "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", self.name, "-d", database],
                                input=sql, capture_output=True, text=True, check=False)
        assert result.returncode == 0, "psql in %s: %s" % (pod, result.stderr)
        return result.stdout.strip()

    def ready_roles(self):
        """{pod: role label} of the Ready members."""
        listed = json.loads(kubectl("get", "pods", "-n", self.namespace, "-l", "app.kubernetes.io/instance=gardenos,"
                                    "app.kubernetes.io/name=postgresql", "-o", "json").stdout)
        return {pod["metadata"]["name"]: pod["metadata"].get("labels", {}).get(patroni.ROLE_LABEL)
                for pod in listed["items"] if pod["metadata"].get("deletionTimestamp") is None and any(
                    condition["type"] == "Ready" and condition["status"] == "True"
                    for condition in pod.get("status", {}).get("conditions", []))}

    def leader(self, members=3):
        roles = self.ready_roles()
        leaders = [pod for pod, role in roles.items() if role == patroni.PRIMARY]
        replicas = [pod for pod, role in roles.items() if role == patroni.REPLICA]
        return leaders[0] if len(leaders) == 1 and len(replicas) == members - 1 else None

    def another_leader(self, old_leader):
        found = self.leader()
        return found if found and found != old_leader else None


def wait_for(what, check, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError("%s within %ds" % (what, timeout))


class Writer(threading.Thread):
    """Inserts 1, 2, 3, ... through the client Service, one psql (one connection, one commit) each, and keeps the
    ids the server acknowledged and when. A failover's time is the longest stretch without an acknowledged write."""

    def __init__(self, address, user, password):
        super().__init__(daemon=True)
        self.address, self.user = address, user
        self.env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="2")
        self.acknowledged, self.stop, self.next_id = [], threading.Event(), 1

    def run(self):
        while not self.stop.is_set():
            done = subprocess.run(["psql", "-X", "-q", "-h", self.address, "-U", self.user, "-d", "postgres", "-v",
                                   "ON_ERROR_STOP=1", "-c", "INSERT INTO ledger (id) VALUES (%d)" % self.next_id],
                                  env=self.env, capture_output=True, text=True, check=False)
            if done.returncode == 0:
                self.acknowledged.append((self.next_id, time.monotonic()))
            self.next_id += 1

    def acknowledged_after(self, moment):
        return bool(self.acknowledged) and self.acknowledged[-1][1] > moment

    def longest_gap(self, start, end):
        """The longest time without an acknowledged write from the last one before ``start`` to the last by ``end``."""
        times = [at for _write_id, at in self.acknowledged if at <= end]
        times = [at for at in times if at >= max([at for at in times if at <= start] or [start])]
        return max((later - earlier for earlier, later in zip(times, times[1:])), default=end - start)


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
    leader = gardenos.leader()
    gardenos.member_psql(leader, "CREATE TABLE ledger (id bigint PRIMARY KEY)")
    service = kubectl("get", "service", "gardenos-postgresql", "-n", gardenos.namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    writer = Writer(service, gardenos.name, gardenos.password)
    writer.start()
    gaps = []
    try:
        wait_for("the first acknowledged write", lambda: writer.acknowledged, timeout=60)
        for _failover in range(FAILOVERS):
            time.sleep(3)
            deleted_at = time.monotonic()
            kubectl("delete", "pod", leader, "-n", gardenos.namespace, "--wait=false")
            leader = wait_for("a replica taking over and the old leader back as a replica",
                              functools.partial(gardenos.another_leader, leader))
            wait_for("a write acknowledged after the new leader took over",
                     functools.partial(writer.acknowledged_after, time.monotonic()), timeout=60)
            gaps.append(writer.longest_gap(deleted_at, writer.acknowledged[-1][1]))
    finally:
        writer.stop.set()
        writer.join(30)
    acknowledged = {write_id for write_id, _at in writer.acknowledged}
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
