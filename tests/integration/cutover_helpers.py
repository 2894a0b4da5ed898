"""A Compose project of its own on the lab's legacy host for the cutover tests: a PostgreSQL 15 with wal_level=logical
(online mode needs it) and an application service that writes to it every 0.2 s as a client role, so the cutover must
stop it; plus the cluster-side things a user has: a client Deployment reading DATABASE_URL from a Secret, the Service
clients use by name (pointing at the VM's IP, no selector), and a CiliumNetworkPolicy with the temporary DMZ rule."""

from __future__ import annotations

import json
import secrets
import subprocess
import time

from .conftest import REPO, kubectl
from .migration_helpers import Target, legacy_ssh
from .write_probe import WriteProbe

CUTOVER_PLAYBOOK = REPO / "playbooks" / "cutover.yml"
ROLLBACK_PLAYBOOK = REPO / "playbooks" / "rollback.yml"
PROJECT_DIR = "/home/app/shop"
CONTAINER, APP = "shop-db", "shop-app"
OWNER, CLIENT = "shop", "shop_app"
OWNER_PASSWORD = "Owner-%s" % secrets.token_hex(8)
CLIENT_PASSWORD = "Client-%s" % secrets.token_hex(8)

# A client container the namespace's Pod Security level (restricted) admits.
RESTRICTED_SLEEPER = {"name": "web", "image": "debian:bookworm", "command": ["sleep", "infinity"],
                      "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False,
                                          "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}

COMPOSE = {
    "services": {
        "db": {"image": "postgres:15", "container_name": CONTAINER, "command": ["postgres", "-c", "wal_level=logical"],
               "environment": {"POSTGRES_USER": OWNER, "POSTGRES_DB": "shop", "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}"},
               "volumes": ["shopdata:/var/lib/postgresql/data"]},
        "app": {"image": "postgres:15", "container_name": APP, "depends_on": ["db"],
                "environment": {"PGPASSWORD": "${APP_PASSWORD}"},
                "entrypoint": ["sh", "-c", "while :; do psql -h db -U %s -d shop -qc 'INSERT INTO app_writes DEFAULT VALUES' "
                               ">/dev/null 2>&1; sleep 0.2; done" % CLIENT]},
    },
    "volumes": {"shopdata": {}},
    "networks": {"default": {"name": "stateshift-legacy", "external": True}},
}


def source_psql(sql, database="shop", user=OWNER, check=True):
    result = subprocess.run(["docker", "exec", "-i", "-e", "PGPASSWORD=%s" % CLIENT_PASSWORD, CONTAINER, "psql", "-X", "-q", "-A",
                             "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", user, "-d", database],
                            input=sql, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError("psql in %s as %s: %s" % (CONTAINER, user, result.stderr))
    return result.stdout.strip()


def reopen_source():
    """What a test's cutover left blocked on the shared source, undone (its marker went with its namespace)."""
    source_psql("SET default_transaction_read_only = off;\nALTER DATABASE shop RESET default_transaction_read_only;\n"
                "GRANT CONNECT ON DATABASE shop TO PUBLIC, %s;" % CLIENT)


def container_state(name):
    return subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", name], capture_output=True, text=True,
                          check=False).stdout.strip()


def project_up(project_dir, compose, env, psql, setup_sql, container):
    """A Compose project made anew on the legacy host: its ``db`` service up and answering ``psql``, ``setup_sql`` run,
    then its ``app`` service; returns the database container's IP on the legacy network."""
    script = ("set -e; mkdir -p {d}; cd {d}; docker-compose down -v >/dev/null 2>&1 || true; "
              "cat > docker-compose.yml <<'EOF'\n{compose}\nEOF\numask 077; printf '%s' '{env}' > .env; docker-compose up -d db"
              ).format(d=project_dir, compose=json.dumps(compose, indent=1), env=env)
    done = legacy_ssh(script)
    assert done.returncode == 0, done.stderr
    for _attempt in range(120):
        if psql("SELECT 1;", check=False) == "1":
            break
        time.sleep(1)
    psql(setup_sql)
    done = legacy_ssh("cd %s && docker-compose up -d app" % project_dir)
    assert done.returncode == 0, done.stderr
    return subprocess.run(["docker", "inspect", "-f", '{{ (index .NetworkSettings.Networks "stateshift-legacy").IPAddress }}',
                           container], capture_output=True, text=True, check=True).stdout.strip()


def start_project():
    """The project up, with its schema; returns the database container's IP on the legacy network."""
    return project_up(PROJECT_DIR, COMPOSE, "POSTGRES_PASSWORD=%s\nAPP_PASSWORD=%s\n" % (OWNER_PASSWORD, CLIENT_PASSWORD), source_psql,
                      "CREATE ROLE %s LOGIN PASSWORD '%s';\n"
                      "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, price numeric(10, 2));\n"
                      "INSERT INTO items (name, price) SELECT 'item ' || g, g * 0.25 FROM generate_series(1, 5000) g;\n"
                      "CREATE TABLE app_writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());\n"
                      "CREATE TABLE probe (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), note text);\n"
                      "GRANT CONNECT ON DATABASE shop TO %s;\n"
                      "GRANT ALL ON app_writes, app_writes_id_seq, probe, probe_id_seq TO %s;" % (CLIENT, CLIENT_PASSWORD, CLIENT, CLIENT),
                      CONTAINER)


def stop_project():
    legacy_ssh("cd %s && docker-compose down -v; rm -rf %s" % (PROJECT_DIR, PROJECT_DIR))


def apply(body):
    done = subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(body), text=True, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr


def shop_target(playbook, name, ip, mode):
    """The workload, deployed (databases phase), with the cluster-side objects a user has before the cutover."""
    migration = {"mode": mode, "transport": "job", "backup_dir": "/var/backups/stateshift-tests"}
    target = Target(playbook, name, "shop", migration=migration)
    service = "%s-db" % name
    target.workload.update(
        source={"host": "legacy-vm", "container": CONTAINER, "database": "shop", "user": OWNER, "password": OWNER_PASSWORD,
                "compose_dir": PROJECT_DIR, "address": "%s:5432" % ip},
        clients=[{"name": "web", "settings": [{"name": "web-env", "key": "DATABASE_URL"}]}],
        cutover={"service": service, "remove_rules": [{"kind": "CiliumNetworkPolicy", "namespace": target.namespace,
                                                       "name": "dmz", "cidr": "%s/32" % ip}]})
    target.deploy()
    meta = {"namespace": target.namespace}
    apply({"apiVersion": "v1", "kind": "Secret", "metadata": dict(meta, name="web-env"),
           "stringData": {"DATABASE_URL": "postgresql://%s:%s@%s:5432/shop" % (CLIENT, CLIENT_PASSWORD, ip)}})
    apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": dict(meta, name="web"),
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"terminationGracePeriodSeconds": 0, "containers": [RESTRICTED_SLEEPER]}}}})
    apply({"apiVersion": "v1", "kind": "Service", "metadata": dict(meta, name=service),
           "spec": {"ports": [{"name": "postgresql", "port": 5432, "targetPort": 5432}]}})
    apply({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": dict(meta, name="%s-vm" % service, labels={"kubernetes.io/service-name": service}),
           "addressType": "IPv4", "endpoints": [{"addresses": [ip]}], "ports": [{"name": "postgresql", "port": 5432}]})
    apply({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": dict(meta, name="dmz"),
           "spec": {"endpointSelector": {"matchLabels": {"app": "web"}}, "egress": [
               {"toEndpoints": [{"matchLabels": {"app.kubernetes.io/name": "postgresql"}}]},
               {"toCIDR": ["%s/32" % ip], "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}]}]}})
    return target


def get(target, kind, name):
    found = kubectl("get", kind, name, "-n", target.namespace, "-o", "json", "--ignore-not-found").stdout
    return json.loads(found) if found.strip() else None


def ledger(target):
    """The ledger's data, or None when there is none."""
    found = get(target, "configmap", "%s-postgresql-ledger" % target.name)
    return {key: json.loads(value) for key, value in found["data"].items()} if found else None


def cluster_ip(target, service):
    return get(target, "service", service)["spec"]["clusterIP"]


def online_round(playbook, name, ip, settle=2.0, again=False):
    """Online migration, then cutover and rollback (and, ``again``, a second cutover) while a probe writes every 10 ms
    through the Service clients use. Returns the figures: writes acknowledged, the longest pause in acknowledged writes
    around each phase (the write unavailability), and the acknowledged writes missing on the StatefulSet after each
    cutover and on the source after the rollback (all must be empty)."""
    target = shop_target(playbook, name, ip, "online")
    try:
        migrated = target.migrate()
        assert migrated.returncode == 0, migrated.stdout[-4000:]
        probe = WriteProbe(cluster_ip(target, "%s-db" % name), 5432, CLIENT, CLIENT_PASSWORD, "shop")
        probe.start()
        time.sleep(settle)
        assert probe.acked, "the probe cannot write through the Service before the cutover"
        started = time.time()
        playbook.run(CUTOVER_PLAYBOOK, "-e", target.extra())
        cut_over = time.time()
        time.sleep(settle)
        acked = probe.ids()  # before the target is read: the probe goes on writing meanwhile
        on_target = {int(row) for row in target.psql("SELECT id FROM probe;").split()}
        lost_at_cutover = sorted(acked - on_target)
        rollback_started = time.time()
        playbook.run(ROLLBACK_PLAYBOOK, "-e", target.extra())
        rolled_back = time.time()
        time.sleep(settle)
        acked = probe.ids()
        on_source = {int(row) for row in source_psql("SELECT id FROM probe;").split()}
        figures = {"cutover_seconds": round(cut_over - started, 2),
                   "cutover_unavailable": round(probe.longest_gap(started, cut_over + settle), 2),
                   "rollback_seconds": round(rolled_back - rollback_started, 2),
                   "rollback_unavailable": round(probe.longest_gap(rollback_started, rolled_back + settle), 2),
                   "lost_at_cutover": lost_at_cutover, "lost_at_rollback": sorted(acked - on_source)}
        if again:
            again_started = time.time()
            playbook.run(CUTOVER_PLAYBOOK, "-e", target.extra())
            figures["cutover_again_seconds"] = round(time.time() - again_started, 2)
            time.sleep(settle)
            acked = probe.ids()
            figures["lost_at_cutover_again"] = sorted(acked - {int(row) for row in target.psql("SELECT id FROM probe;").split()})
        probe.finish()
        return dict(figures, acknowledged=len(probe.acked), sessions=probe.sessions)
    finally:
        target.remove()
        reopen_source()
