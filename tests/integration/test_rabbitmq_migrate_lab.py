"""Moving a broker, against the lab: the old broker is Debian's RabbitMQ 3.10 in a Docker container of a Compose
project on the legacy host (tests/lab/docker/legacy.sh broker-up), reached over real SSH; the new one the rabbitmq
role's StatefulSet on the real node. The migrate phase copies the old broker's topology; the cutover phase stops the
project's application service and drains the messages with real shovels; a real AMQP client (pika) publishes before
and consumes after, and every message arrives once."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid

import pika
import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.port_forward import forwarded

from .conftest import KUBECONFIG, REPO, kubectl, nothing_changed

pytestmark = pytest.mark.lab

LEGACY = REPO / "tests" / "lab" / "docker" / "legacy.sh"
OLD = "bowmark-broker"
WORKER = "bowmark-worker"
POD = "bowmark-rabbitmq-0"
PLAYBOOKS = REPO / "playbooks"


def old_ctl(*args, stdin=None):
    done = subprocess.run(["docker", "exec", "-i", OLD, "rabbitmqctl", "-q", *args], input=stdin, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, "rabbitmqctl %s (rc=%d): %s%s" % (args[0], done.returncode, done.stderr, done.stdout)
    return done.stdout


def old_address():
    return subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", OLD],
                          capture_output=True, text=True, check=True).stdout.strip()


def depths(ctl, vhost):
    return {row["name"]: row["messages"] for row in json.loads(ctl("list_queues", "-p", vhost, "name", "messages", "--formatter", "json"))}


def depths_become(ctl, vhost, wanted, seconds=20):
    """Whether the depths reach ``wanted`` (a quorum queue's count lags by the statistics interval, 5 s)."""
    for _second in range(seconds):
        if depths(ctl, vhost) == wanted:
            return True
        time.sleep(1)
    return depths(ctl, vhost) == wanted


class Move:
    """One old broker's vhosts (unique names, so a re-run of the file starts clean) and the StatefulSet they move to."""

    def __init__(self, playbook):
        self.playbook = playbook
        suffix = uuid.uuid4().hex[:6]
        self.namespace = "bowmark-%s" % suffix
        self.vhost, self.other = "shop-%s" % suffix, "stray-%s" % suffix
        self.passwords = {"rabbitmq-password": "Admin-%s" % secrets.token_hex(10), "erlang-cookie": secrets.token_hex(20),
                          "app-password": "App-%s" % secrets.token_hex(10)}
        self.old_password = "Old-%s" % secrets.token_hex(10)
        self.workload = {
            "name": "bowmark", "namespace": self.namespace, "engine": "rabbitmq", "storage": {"size": "1Gi"},
            "auth": {"user": "admin"}, "vhosts": [self.vhost],
            "users": [{"name": "app", "password_key": "app-password", "vhosts": [self.vhost]}],
            # a queue only the new broker has, declared in the catalog: in the definitions loaded at boot
            "queues": [{"name": "audit", "vhost": self.vhost, "arguments": {"x-max-length": 1000}}],
            "source": {"host": "legacy-vm", "container": OLD, "compose_dir": "/home/app/bowmark", "compose_services": ["worker"]},
        }
        self.published = {}

    def seed_old_broker(self):
        """The old broker as its owner set it up: a vhost with two queues (one quorum), a topic exchange bound to one, a
        policy, the application's user."""
        definitions = {
            "users": [{"name": "app", "password": self.old_password, "tags": ""}],
            "vhosts": [{"name": self.vhost}],
            "permissions": [{"user": "app", "vhost": self.vhost, "configure": ".*", "write": ".*", "read": ".*"}],
            "queues": [{"name": "orders", "vhost": self.vhost, "durable": True, "auto_delete": False, "arguments": {}},
                       {"name": "mail", "vhost": self.vhost, "durable": True, "auto_delete": False,
                        "arguments": {"x-queue-type": "quorum"}},
                       {"name": "idle", "vhost": self.vhost, "durable": True, "auto_delete": False, "arguments": {}}],
            "exchanges": [{"name": "events", "vhost": self.vhost, "type": "topic", "durable": True, "auto_delete": False,
                           "internal": False, "arguments": {}}],
            "bindings": [{"source": "events", "vhost": self.vhost, "destination": "orders", "destination_type": "queue",
                          "routing_key": "order.*", "arguments": {}}],
            "policies": [{"vhost": self.vhost, "name": "mail-limit", "pattern": "^mail$", "apply-to": "queues",
                          "definition": {"max-length": 100000}, "priority": 0}],
        }
        old_ctl("import_definitions", stdin=json.dumps(definitions))

    def publish_to_old(self, counts):
        parameters = pika.ConnectionParameters(old_address(), 5672, self.vhost, pika.PlainCredentials("app", self.old_password),
                                               connection_attempts=10, retry_delay=1, socket_timeout=10)
        connection = pika.BlockingConnection(parameters)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for queue, count in counts.items():
                for index in range(count):
                    body = ("%s-%d-%s" % (queue, index, uuid.uuid4().hex)).encode()
                    if queue == "orders" and index % 2:
                        channel.basic_publish("events", "order.created", body, pika.BasicProperties(delivery_mode=2))
                    else:
                        channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))
                    self.published.setdefault(queue, []).append(body)
        finally:
            connection.close()

    def consume_from_new(self, queue):
        with forwarded(Kubectl(self.namespace, {"kubeconfig": KUBECONFIG}), POD, 5672) as port:
            parameters = pika.ConnectionParameters("127.0.0.1", port, self.vhost,
                                                   pika.PlainCredentials("app", self.passwords["app-password"]), socket_timeout=10)
            connection = pika.BlockingConnection(parameters)
            got = []
            try:
                channel = connection.channel()
                while True:
                    method, _properties, body = channel.basic_get(queue, auto_ack=True)
                    if method is None:
                        return got
                    got.append(body)
            finally:
                connection.close()

    def new_ctl(self, *args):
        return kubectl("exec", "-n", self.namespace, POD, "--", "rabbitmqctl", "-q", *args).stdout

    def run(self, name, *extra, check=True):
        variables = {"stateshift_workloads": [self.workload], "rabbitmq_ready_timeout": 180, "cutover_drain_timeout": 120}
        return self.playbook.run(PLAYBOOKS / name, "-e", json.dumps(variables), *extra, check=check)


def worker_running():
    return subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", WORKER], capture_output=True, text=True,
                          check=False).stdout.strip() == "true"


@pytest.fixture(scope="module")
def move(playbook):
    subprocess.run([str(LEGACY), "broker-up"], check=True, capture_output=True)
    subprocess.run(["docker", "start", WORKER], check=True, capture_output=True)
    made = Move(playbook)
    made.seed_old_broker()
    kubectl("create", "namespace", made.namespace)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bowmark-secrets", "namespace": made.namespace},
              "stringData": made.passwords}
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(secret), text=True, check=True,
                   capture_output=True)
    try:
        made.run("databases.yml")
        yield made
    finally:
        kubectl("delete", "namespace", made.namespace, "--wait=false", check=False)
        subprocess.run(["docker", "exec", OLD, "rabbitmqctl", "-q", "delete_vhost", made.vhost], capture_output=True, check=False)
        subprocess.run(["docker", "start", WORKER], capture_output=True, check=False)


def test_a_source_container_that_is_not_a_broker_is_named(move):
    workload = dict(move.workload, source=dict(move.workload["source"], container="invoicetron-db"))
    run = move.playbook.run(PLAYBOOKS / "migrate.yml", "-e", json.dumps({"stateshift_workloads": [workload]}), check=False)
    assert run.returncode != 0
    assert "'rabbitmqctl' is not installed in container 'invoicetron-db' on legacy-vm" in run.stdout, run.stdout[-3000:]


def test_an_undeclared_vhost_on_the_old_broker_is_refused_before_any_change(move):
    old_ctl("add_vhost", move.other)
    old_ctl("import_definitions", stdin=json.dumps({"queues": [{"name": "lost", "vhost": move.other, "durable": True,
                                                               "auto_delete": False, "arguments": {}}]}))
    try:
        run = move.run("migrate.yml", check=False)
        assert run.returncode != 0
        assert "vhost %s holds queue lost: add it to vhosts (and to users[].vhosts) or delete it on the old broker" % move.other \
            in run.stdout, run.stdout[-3000:]
        assert depths(move.new_ctl, move.vhost) == {"audit": 0}, "nothing may be imported when the move is refused"
    finally:
        old_ctl("delete_vhost", move.other)


def test_migrate_copies_the_topology_and_a_rerun_changes_nothing(move):
    checked = move.run("migrate.yml", "--check", "--diff")
    assert "+queue %s/orders" % move.vhost in checked.stdout, checked.stdout[-3000:]
    assert depths(move.new_ctl, move.vhost) == {"audit": 0}, "check mode imported"
    move.run("migrate.yml")
    assert set(depths(move.new_ctl, move.vhost)) == {"orders", "mail", "idle", "audit"}
    queue_types = {row["name"]: row["type"] for row in json.loads(move.new_ctl("list_queues", "-p", move.vhost, "name", "type",
                                                                               "--formatter", "json"))}
    assert queue_types["mail"] == "quorum"
    bindings = json.loads(move.new_ctl("list_bindings", "-p", move.vhost, "source_name", "destination_name", "routing_key",
                                       "--formatter", "json"))
    assert {"source_name": "events", "destination_name": "orders", "routing_key": "order.*"} in bindings
    assert "mail-limit" in move.new_ctl("list_policies", "-p", move.vhost)
    again = move.run("migrate.yml")
    assert nothing_changed(again.stdout), again.stdout[-3000:]


def test_cutover_drains_every_message_once_and_a_rerun_changes_nothing(move):
    move.publish_to_old({"orders": 40, "mail": 25})
    assert depths_become(old_ctl, move.vhost, {"orders": 40, "mail": 25, "idle": 0})
    run = move.run("cutover.yml", "-vvv")
    assert "65 messages of %s/mail, %s/orders moved, each queue's depths add up" % (move.vhost, move.vhost) in run.stdout, \
        run.stdout[-4000:]
    assert not worker_running(), "the application service on the old broker's host was not stopped"
    assert depths_become(old_ctl, move.vhost, {"orders": 0, "mail": 0, "idle": 0})
    assert depths_become(move.new_ctl, move.vhost, {"orders": 40, "mail": 25, "idle": 0, "audit": 0})
    for queue in ("orders", "mail"):
        got = move.consume_from_new(queue)
        assert sorted(got) == sorted(move.published[queue]), "%s: lost or repeated messages" % queue
    assert "stateshift-drain" not in old_ctl("list_users"), "the drain user outlived the drain"
    assert "stateshift-drain" not in move.new_ctl("list_parameters", "-p", move.vhost)
    for value in [*move.passwords.values(), move.old_password]:
        assert value not in run.stdout + run.stderr
    ledger = kubectl("get", "configmap", "-n", move.namespace, "bowmark-rabbitmq-ledger", "-o", "json").stdout
    assert '\\"moved\\": 40' in ledger or '"moved": 40' in ledger, ledger
    again = move.run("cutover.yml")
    assert nothing_changed(again.stdout), again.stdout[-3000:]
