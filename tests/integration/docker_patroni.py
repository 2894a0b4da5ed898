"""A Patroni cluster in Docker, like the gardenos runbook's source: etcd (the lab's cached etcd binary in a Debian
container) and three members of stateshift-lab/patroni:15 on a network of their own, each configured through
PATRONI_CONFIGURATION. Started and removed by the tests that read from it."""

from __future__ import annotations

import glob
import json
import subprocess
import time
import uuid

from .conftest import CACHE

IMAGE = "stateshift-lab/patroni:15"
ETCD_IMAGE = "stateshift-lab/debian:bookworm"


def docker(*args, check=True, stdin=None):
    result = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError("docker %s: %s" % (" ".join(args[:3]), result.stderr.strip()))
    return result


def etcd_binary_dir():
    found = sorted(glob.glob(str(CACHE / "bin" / "etcd-*" / "etcd")))
    assert found, "the lab's etcd binary is not built: run 'tests/lab/lab up'"
    return found[-1].rsplit("/", 1)[0]


class DockerPatroni:
    """Members ``<prefix>-1`` .. ``-3``; ``psql(member, sql)`` as the superuser postgres over the member's socket."""

    def __init__(self, members=3):
        self.prefix = "stateshift-patroni-%s" % uuid.uuid4().hex[:6]
        self.network, self.etcd = self.prefix, "%s-etcd" % self.prefix
        self.members = ["%s-%d" % (self.prefix, number) for number in range(1, members + 1)]
        self.superuser_password = "Docker-%s" % uuid.uuid4().hex[:12]

    def config(self, member):
        return {
            "scope": self.prefix, "name": member,
            "restapi": {"listen": "0.0.0.0:8008", "connect_address": "%s:8008" % member},
            "etcd3": {"hosts": ["%s:2379" % self.etcd]},
            "bootstrap": {"dcs": {"ttl": 20, "loop_wait": 5, "retry_timeout": 5,
                                  "postgresql": {"parameters": {"wal_level": "replica", "hot_standby": "on"}}},
                          "initdb": [{"encoding": "UTF8"}]},
            "postgresql": {
                "listen": "0.0.0.0:5432", "connect_address": "%s:5432" % member, "data_dir": "/tmp/pgdata/data",
                "pgpass": "/tmp/pgpass",
                "pg_hba": ["local all all trust", "host replication replicator all scram-sha-256",
                           "host all all all scram-sha-256"],
                "authentication": {"superuser": {"username": "postgres", "password": self.superuser_password},
                                   "replication": {"username": "replicator", "password": self.superuser_password + "-r"},
                                   "rewind": {"username": "rewinder", "password": self.superuser_password + "-w"}},
            },
        }

    def start(self):
        docker("network", "create", self.network)
        docker("run", "-d", "--name", self.etcd, "--network", self.network, "-v", "%s:/opt/etcd:ro" % etcd_binary_dir(),
               ETCD_IMAGE, "/opt/etcd/etcd", "--name", "e0", "--data-dir", "/tmp/etcd",
               "--listen-client-urls", "http://0.0.0.0:2379", "--advertise-client-urls", "http://%s:2379" % self.etcd,
               "--listen-peer-urls", "http://0.0.0.0:2380", "--initial-advertise-peer-urls", "http://%s:2380" % self.etcd,
               "--initial-cluster", "e0=http://%s:2380" % self.etcd)
        for member in self.members:
            docker("run", "-d", "--name", member, "--hostname", member, "--network", self.network, "--user", "postgres",
                   "-e", "PATRONI_CONFIGURATION=%s" % json.dumps(self.config(member)), IMAGE, "patroni")
        return self

    def remove(self):
        docker("rm", "-f", "-v", *self.members, self.etcd, check=False)
        docker("network", "rm", self.network, check=False)

    def cluster(self):
        """Patroni's /cluster as the first member that answers says it, or None."""
        for member in self.members:
            answer = docker("exec", member, "python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request."
                            "build_opener().open('http://127.0.0.1:8008/cluster', timeout=5).read().decode())", check=False)
            if answer.returncode == 0:
                return json.loads(answer.stdout)
        return None

    def wait_ready(self, timeout=180):
        """(leader, [replicas]) once one member leads and the others stream."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            state = self.cluster()
            members = (state or {}).get("members") or []
            leaders = [m["name"] for m in members if m.get("role") == "leader"]
            streaming = [m["name"] for m in members if m.get("state") == "streaming"]
            if len(leaders) == 1 and len(streaming) == len(self.members) - 1:
                return leaders[0], sorted(streaming)
            time.sleep(2)
        raise AssertionError("the Docker Patroni cluster %s has no leader and streaming replicas within %ds: %s\n%s"
                             % (self.prefix, timeout, self.cluster(), self.containers_state()))

    def containers_state(self):
        """Each container's status and its last log lines: what a cluster that never formed was doing."""
        lines = []
        for name in (self.etcd, *self.members):
            status = docker("inspect", "-f", "{{.State.Status}} exit={{.State.ExitCode}}", name, check=False).stdout.strip()
            logs = docker("logs", "--tail", "5", name, check=False)
            lines.append("%s: %s\n  %s" % (name, status, (logs.stdout + logs.stderr).strip().replace("\n", "\n  ")))
        return "\n".join(lines)

    def psql(self, member, sql, database="postgres"):
        result = docker("exec", "-i", member, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres",
                        "-d", database, stdin=sql)
        return result.stdout.strip()
