"""Shared by the migration tests: a target workload deployed by the databases phase, source and target fingerprints."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import uuid

from .conftest import CACHE, REPO, kubectl

SOURCE_CONTAINER = "invoicetron-db"
SOURCE_USER = "invoicetron"
SOURCE_PASSWORD_FILE = CACHE / "lab" / "legacy" / "postgres-password"
FINGERPRINT_SQL = (REPO / "tests" / "lab" / "sampledata" / "fingerprint.sql").read_text()
MIGRATE = REPO / "playbooks" / "migrate.yml"
DATABASES = REPO / "playbooks" / "databases.yml"
PROBE = REPO / "tests" / "integration" / "playbooks" / "pg_migrate_probe.yml"


class Target:
    """A PostgreSQL workload in its own namespace, deployed by the databases playbook, as the migration's target."""

    def __init__(self, playbook, name, database, migration=None, source_database=None, version="15", container=SOURCE_CONTAINER):
        self.playbook, self.name, self.database = playbook, name, database
        self.namespace = "%s-%s" % (name, uuid.uuid4().hex[:6])
        self.password = "Target-%s" % secrets.token_hex(12)
        self.pod = "%s-postgresql-0" % name
        self.workload = {
            "name": name, "namespace": self.namespace, "engine": "postgresql", "version": version,
            "storage": {"size": "1Gi"}, "databases": [database], "auth": {"user": name, "secret": "%s-secrets" % name},
            "source": {"host": "legacy-vm", "container": container, "database": source_database or database,
                       "user": SOURCE_USER},
            "migration": dict(migration or {}),
        }

    def deploy(self):
        kubectl("create", "namespace", self.namespace)
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "%s-secrets" % self.name, "namespace": self.namespace},
                  "stringData": {"postgres-password": self.password}}
        subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(secret), text=True, check=True, capture_output=True)
        self.playbook.run(DATABASES, "-e", json.dumps({"stateshift_workloads": [self.workload]}))

    def remove(self):
        kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)

    def extra(self, migration=None, **more):
        workload = dict(self.workload, migration=dict(self.workload["migration"], **(migration or {})))
        return json.dumps(dict({"stateshift_workloads": [workload]}, **more))

    def migrate(self, *args, migration=None, check=False, **more):
        return self.playbook.run(MIGRATE, "-e", self.extra(migration, **more), *args, check=check)

    def psql(self, sql, database=None, check=True):
        result = subprocess.run(["kubectl", "exec", "-i", "-n", self.namespace, self.pod, "-c", "postgresql", "--",
                                 "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", self.name,
                                 "-d", database or self.database],
                                input=sql, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise AssertionError("psql in %s: %s" % (self.pod, result.stderr))
        return result.stdout.strip()

    def marker(self):
        found = kubectl("get", "configmap", "%s-postgresql-migration" % self.name, "-n", self.namespace, "-o", "json",
                        "--ignore-not-found").stdout
        if not found.strip():
            return {}
        data = json.loads(found).get("data") or {}
        return json.loads(data[self.database]) if self.database in data else {}

    def reset(self):
        """Back to a target that never saw a migration: no marker, an empty database."""
        kubectl("delete", "configmap", "%s-postgresql-migration" % self.name, "-n", self.namespace, "--ignore-not-found")
        self.psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\nCREATE DATABASE %s;" % (self.database, self.database), database="postgres")

    def table_count(self):
        return int(self.psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema');"))


def source_psql(sql, database="invoicetron", container=SOURCE_CONTAINER):
    """psql in the source container with the script on stdin (meta-commands such as \\gexec work)."""
    return subprocess.run(["docker", "exec", "-i", container, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           "-U", SOURCE_USER, "-d", database], input=sql, capture_output=True, text=True, check=True).stdout.strip()


def source_fingerprint(database="invoicetron", container=SOURCE_CONTAINER):
    return source_psql(FINGERPRINT_SQL, database, container)


def source_password():
    return SOURCE_PASSWORD_FILE.read_text().strip()


def legacy_ssh(command):
    key = CACHE / "lab" / "ssh" / "id_ed25519"
    known = CACHE / "lab" / "ssh" / "known_hosts"
    return subprocess.run(["ssh", "-i", str(key), "-p", "2222", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=%s" % known,
                           "-o", "LogLevel=ERROR", "root@127.0.0.1", command], capture_output=True, text=True, check=False)


def probe(playbook, workload, *extra, host="legacy-vm", **args):
    """pg_migrate for one catalog workload (validated first), with the module options in args."""
    probe_args = dict(args, workload=workload["name"])
    return playbook.run(PROBE, "-e", json.dumps({"probe_workloads": [workload], "probe_args": probe_args, "probe_host": host}),
                        *extra, check=False)


BIG_DATABASE = "interrupt_src"
_BIG_DATABASE_SQL = """
CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz NOT NULL, kind text NOT NULL, payload text NOT NULL);
INSERT INTO events (at, kind, payload)
  SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', 'kind-' || (g % 17), repeat(md5(g::text), 3)
  FROM generate_series(1, 2000000) g;
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, balance numeric(12, 2) NOT NULL);
INSERT INTO accounts SELECT g, 'account ' || g, (g % 1000) * 1.25 FROM generate_series(1, 200000) g;
CREATE INDEX events_kind_at_idx ON events (kind, at);
ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind <> '');
ANALYZE;
"""


def ensure_big_database():
    """A source database big enough (about 400 MB) to interrupt mid-copy and to overflow a small backup disk. Made once."""
    exists = source_psql("SELECT count(*) FROM pg_database WHERE datname = '%s';" % BIG_DATABASE)
    if exists == "1" and source_psql("SELECT count(*) FROM pg_tables WHERE tablename = 'accounts';", BIG_DATABASE) == "1":
        return BIG_DATABASE
    source_psql("DROP DATABASE IF EXISTS %s;" % BIG_DATABASE)
    source_psql("CREATE DATABASE %s;" % BIG_DATABASE)
    source_psql(_BIG_DATABASE_SQL, BIG_DATABASE)
    return BIG_DATABASE


def kill_tree(pid):
    """SIGKILL a process and every descendant, whatever its session (Ansible's workers and our pipes start their own)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    doomed, queue = [], [pid]
    while queue:
        current = queue.pop()
        doomed.append(current)
        queue += children.get(current, [])
    for each in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)
