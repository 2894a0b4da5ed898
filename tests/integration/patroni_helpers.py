"""Shared by the Patroni lab tests and the failover benchmark: a ha: patroni workload deployed by the databases
playbook (with the three passwords in its Secret), psql in its members, and a writer that records acknowledged writes."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import threading
import time

from .conftest import kubectl
from .migration_helpers import DATABASES, Target

ROLE_LABEL, PRIMARY, REPLICA = "role", "primary", "replica"  # what the objects label the members with (k8s/objects/patroni.py)

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
        return {pod["metadata"]["name"]: pod["metadata"].get("labels", {}).get(ROLE_LABEL)
                for pod in listed["items"] if pod["metadata"].get("deletionTimestamp") is None and any(
                    condition["type"] == "Ready" and condition["status"] == "True"
                    for condition in pod.get("status", {}).get("conditions", []))}

    def leader(self, members=3):
        roles = self.ready_roles()
        leaders = [pod for pod, role in roles.items() if role == PRIMARY]
        replicas = [pod for pod, role in roles.items() if role == REPLICA]
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


def leader_deletions(cluster, count):
    """Under a writer through the client Service, the leader pod deleted ``count`` times, each time once a replica took
    over, the old leader rejoined and a write was acknowledged again. Returns (the leader now, the acknowledged ids,
    each failover's time: the longest stretch without an acknowledged write around it)."""
    leader = cluster.leader()
    cluster.member_psql(leader, "CREATE TABLE ledger (id bigint PRIMARY KEY)")
    service = kubectl("get", "service", "gardenos-postgresql", "-n", cluster.namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    writer = Writer(service, cluster.name, cluster.password)
    writer.start()
    gaps = []
    try:
        wait_for("the first acknowledged write", lambda: writer.acknowledged, timeout=60)
        for _failover in range(count):
            time.sleep(3)
            deleted_at = time.monotonic()
            kubectl("delete", "pod", leader, "-n", cluster.namespace, "--wait=false")
            leader = wait_for("a replica taking over and the old leader back as a replica",
                              functools.partial(cluster.another_leader, leader))
            wait_for("a write acknowledged after the new leader took over",
                     functools.partial(writer.acknowledged_after, time.monotonic()), timeout=60)
            gaps.append(writer.longest_gap(deleted_at, writer.acknowledged[-1][1]))
    finally:
        writer.stop.set()
        writer.join(30)
    return leader, {write_id for write_id, _at in writer.acknowledged}, gaps
