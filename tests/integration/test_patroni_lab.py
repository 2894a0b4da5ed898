"""A three-member PostgreSQL cluster run by Patroni (stateshift-lab/patroni:15: Debian's PostgreSQL 15, Patroni 4.1
from PyPI) on the lab's real node, with the lab's real API server as its store (ConfigMaps), from the objects
plugins/module_utils/k8s/objects/patroni.py builds.

It comes up with one leader (labelled primary, selected by the primary Service) and two streaming replicas; a writer
commits through the primary Service and records every acknowledged write; the leader pod is deleted, a replica takes
over, the old leader rejoins as a replica; no acknowledged write is lost (count and checksum, on the new leader and on
every member), five times. Each failover's time (last acknowledged write before, first after) is printed."""

from __future__ import annotations

import base64
import functools
import json
import os
import statistics
import subprocess
import threading
import time
import uuid

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import patroni

from .conftest import kubectl

pytestmark = [pytest.mark.lab, pytest.mark.serial]

IMAGE = "stateshift-lab/patroni:15"
POD_NETWORK = "10.244.0.0/16"  # the lab's cluster CIDR (tests/lab/cluster/common.sh)
FAILOVERS = 5
CHECKSUM = "SELECT count(*) || ' ' || md5(string_agg(id::text, ',' ORDER BY id)) FROM ledger"


def cluster_spec(namespace):
    return {"name": "gardenos", "namespace": namespace, "replicas": 3, "image": IMAGE, "storage_size": "256Mi",
            "storage_class": None, "secret": "gardenos-passwords", "uid": 999, "pod_network": POD_NETWORK,
            "node_selector": {"stateshift.io/lab-node": "real"},
            "labels": {"app.kubernetes.io/name": "gardenos", "app.kubernetes.io/instance": "gardenos"}}


def apply(objects):
    result = subprocess.run(["kubectl", "--kubeconfig", os.environ.get("KUBECONFIG", "/var/cache/stateshift-k3s/lab/kubeconfig"),
                             "apply", "--server-side", "-f", "-"], input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                                     "items": objects}),
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def pods(namespace):
    """{pod name: its role label} of the cluster's pods that are Ready."""
    listed = json.loads(kubectl("get", "pods", "-n", namespace, "-l", "app.kubernetes.io/name=gardenos", "-o", "json").stdout)
    return {pod["metadata"]["name"]: pod["metadata"].get("labels", {}).get("role")
            for pod in listed["items"] if pod["metadata"].get("deletionTimestamp") is None and any(
                condition["type"] == "Ready" and condition["status"] == "True"
                for condition in pod.get("status", {}).get("conditions", []))}


def wait_for(what, check, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError("%s within %ds" % (what, timeout))


def one_leader_two_replicas(namespace):
    roles = pods(namespace)
    leaders = [name for name, role in roles.items() if role == patroni.PRIMARY]
    replicas = [name for name, role in roles.items() if role == patroni.REPLICA]
    return leaders[0] if len(leaders) == 1 and len(replicas) == 2 else None


def another_leader(namespace, old_leader):
    leader = one_leader_two_replicas(namespace)
    return leader if leader and leader != old_leader else None


def psql(namespace, pod, sql):
    return kubectl("exec", "-n", namespace, pod, "--", "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U",
                   "postgres", "-d", "postgres", "-c", sql).stdout.strip()


class Writer(threading.Thread):
    """Inserts 1, 2, 3, ... through the primary Service, one psql (one connection, one commit) each, and keeps the
    ids the server acknowledged and when. A failover's time is the longest stretch without an acknowledged write."""

    def __init__(self, address, password):
        super().__init__(daemon=True)
        self.address, self.env = address, dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="2")
        self.acknowledged, self.stop, self.next_id = [], threading.Event(), 1

    def run(self):
        while not self.stop.is_set():
            done = subprocess.run(["psql", "-X", "-q", "-h", self.address, "-U", "postgres", "-d", "postgres", "-v",
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


@pytest.fixture
def patroni_cluster(cluster):
    namespace = "patroni-%s" % uuid.uuid4().hex[:6]
    password = "Pg-%s" % uuid.uuid4().hex[:12]
    kubectl("create", "namespace", namespace)
    try:
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gardenos-passwords", "namespace": namespace},
                  "data": {key: base64.b64encode(("%s-%s" % (password, key)).encode()).decode()
                           for key in patroni.SECRET_KEYS.values()}}
        secret["data"]["superuser-password"] = base64.b64encode(password.encode()).decode()
        apply([secret, *patroni.patroni_objects(cluster_spec(namespace))])
        yield namespace, password
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_a_leader_deleted_five_times_loses_no_acknowledged_write(patroni_cluster):
    namespace, password = patroni_cluster
    leader = wait_for("one leader and two ready replicas", lambda: one_leader_two_replicas(namespace), timeout=300)
    assert kubectl("get", "configmap", "gardenos-leader", "-n", namespace, check=False).returncode == 0
    psql(namespace, leader, "CREATE TABLE ledger (id bigint PRIMARY KEY)")
    service = kubectl("get", "service", "gardenos", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    writer = Writer(service, password)
    writer.start()
    gaps = []
    try:
        wait_for("the first acknowledged write", lambda: writer.acknowledged, timeout=60)
        for _failover in range(FAILOVERS):
            time.sleep(3)
            deleted_at = time.monotonic()
            kubectl("delete", "pod", leader, "-n", namespace, "--wait=false")
            leader = wait_for("a replica taking over and the old leader back as a replica",
                              functools.partial(another_leader, namespace, leader))
            wait_for("a write acknowledged after the new leader took over",
                     functools.partial(writer.acknowledged_after, time.monotonic()), timeout=60)
            gaps.append(writer.longest_gap(deleted_at, writer.acknowledged[-1][1]))
    finally:
        writer.stop.set()
        writer.join(30)
    acknowledged = {write_id for write_id, _at in writer.acknowledged}
    print("patroni failover: %d acknowledged writes; gaps %s s; p50 %.1f s, max %.1f s"
          % (len(acknowledged), ", ".join("%.1f" % gap for gap in gaps), statistics.median(gaps), max(gaps)))
    stored = {int(line) for line in psql(namespace, leader, "SELECT id FROM ledger").split()}
    assert acknowledged <= stored, "acknowledged writes lost: %s" % sorted(acknowledged - stored)[:20]
    expected = psql(namespace, leader, CHECKSUM)
    wait_for("every member has replayed the ledger", lambda: all(
        psql(namespace, pod, CHECKSUM) == expected for pod in pods(namespace)), timeout=60)
