"""The rabbitmq role against the lab: Debian's RabbitMQ 3.10 (tests/lab/docker/rabbitmq) as a StatefulSet on the real
node, users and vhosts from the definitions the role writes, checked with a real AMQP client (pika) through
kubectl port-forward; a re-run changes nothing; a changed password reaches the running broker without a restart;
rabbitmq_ready names a user the broker refuses."""

from __future__ import annotations

import json
import secrets
import subprocess
import uuid

import pika
import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.port_forward import forwarded

from .conftest import KUBECONFIG, REPO, kubectl, nothing_changed
from .secrets_helpers import SECRETS_PLAYBOOK, run_playbook

pytestmark = pytest.mark.lab

DATABASES = REPO / "playbooks" / "databases.yml"
POD = "bowmark-rabbitmq-0"


class Broker:
    def __init__(self, playbook):
        self.playbook = playbook
        self.namespace = "bowmark-%s" % uuid.uuid4().hex[:6]
        self.passwords = {"rabbitmq-password": "Admin-%s" % secrets.token_hex(10), "erlang-cookie": secrets.token_hex(20),
                          "app-password": "App-%s" % secrets.token_hex(10), "reporter-password": "Rep-%s" % secrets.token_hex(10)}
        self.workload = {
            "name": "bowmark", "namespace": self.namespace, "engine": "rabbitmq", "storage": {"size": "1Gi"},
            "auth": {"user": "admin"}, "vhosts": ["app", "reports"],
            "users": [{"name": "app", "password_key": "app-password", "vhosts": ["app"]},
                      {"name": "reporter", "password_key": "reporter-password", "vhosts": ["reports"], "tags": ["monitoring"]}],
        }

    def write_secret(self):
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bowmark-secrets", "namespace": self.namespace},
                  "stringData": self.passwords}
        subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(secret), text=True, check=True,
                       capture_output=True)

    def deploy(self, *extra):
        return self.playbook.run(DATABASES, "-e", json.dumps({"stateshift_workloads": [self.workload], "rabbitmq_ready_timeout": 180}),
                                 *extra)

    def ctl(self, *args):
        return kubectl("exec", "-n", self.namespace, POD, "--", "rabbitmqctl", "-q", *args).stdout

    def connect(self, user, password, vhost):
        """Publish one message to a queue of ``vhost`` as ``user`` and read it back, through a port-forward."""
        with forwarded(Kubectl(self.namespace, {"kubeconfig": KUBECONFIG}), POD, 5672) as port:
            parameters = pika.ConnectionParameters("127.0.0.1", port, vhost, pika.PlainCredentials(user, password),
                                                   connection_attempts=1, socket_timeout=10)
            connection = pika.BlockingConnection(parameters)
            try:
                channel = connection.channel()
                channel.queue_declare("probe", durable=True)
                body = uuid.uuid4().hex.encode()
                channel.basic_publish("", "probe", body)
                for _attempt in range(50):
                    _method, _properties, got = channel.basic_get("probe", auto_ack=True)
                    if got is not None:
                        return got == body
                return False
            finally:
                connection.close()

    def refused(self, user, password, vhost):
        try:
            self.connect(user, password, vhost)
        except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.ProbableAccessDeniedError,
                pika.exceptions.ConnectionClosedByBroker, pika.exceptions.AMQPConnectionError):
            return True
        return False

    def start_time(self):
        jsonpath = "jsonpath={.status.startTime} {.status.containerStatuses[0].restartCount}"
        return kubectl("get", "pod", "-n", self.namespace, POD, "-o", jsonpath).stdout


@pytest.fixture(scope="module")
def broker(playbook):
    made = Broker(playbook)
    kubectl("create", "namespace", made.namespace)
    try:
        made.write_secret()
        made.first_run = made.deploy("-vvv")
        yield made
    finally:
        kubectl("delete", "namespace", made.namespace, "--wait=false", check=False)


def test_users_publish_and_consume_in_their_vhosts_only(broker):
    assert broker.connect("app", broker.passwords["app-password"], "app")
    assert broker.connect("reporter", broker.passwords["reporter-password"], "reports")
    assert broker.connect("admin", broker.passwords["rabbitmq-password"], "reports")
    assert broker.refused("app", broker.passwords["app-password"], "reports")
    assert broker.refused("app", "wrong-password", "app")
    users = {row["user"]: row["tags"] for row in json.loads(broker.ctl("list_users", "--formatter", "json"))}
    assert users == {"admin": ["administrator"], "app": [], "reporter": ["monitoring"]}, "no guest user, tags as declared"


def test_no_password_or_cookie_appears_in_the_output_even_at_vvv(broker):
    output = broker.first_run.stdout + broker.first_run.stderr
    assert "rabbitmq_ready" in output
    for value in broker.passwords.values():
        assert value not in output


def test_a_rerun_changes_nothing(broker):
    assert nothing_changed(broker.deploy().stdout)


def test_a_changed_password_reaches_the_running_broker_without_a_restart(broker):
    before = broker.start_time()
    old = broker.passwords["app-password"]
    broker.passwords["app-password"] = "App-%s" % secrets.token_hex(10)
    broker.write_secret()
    checked = broker.deploy("--check", "--diff")
    assert "changed=1" in checked.stdout
    assert '+    "passwords_changed": [\n+        "app"' in checked.stdout, checked.stdout
    assert broker.refused("app", broker.passwords["app-password"], "app"), "check mode changed the broker"
    broker.deploy()
    assert broker.connect("app", broker.passwords["app-password"], "app")
    assert broker.refused("app", old, "app")
    assert broker.start_time() == before


def test_ready_names_the_user_the_broker_refuses_and_a_rerun_fixes_it(broker, playbook):
    broker.passwords["reporter-password"] = "Rep-%s" % secrets.token_hex(10)
    broker.write_secret()
    workload = validate_catalog([broker.workload])[0]
    probe = subprocess.run(["ansible", "localhost", "-m", "stateshift.k3s.rabbitmq_ready", "-a", json.dumps({"workload": workload})],
                           capture_output=True, text=True, cwd=REPO, check=False)
    assert probe.returncode != 0
    assert "refused the login of reporter (vhost reports): 403 ACCESS_REFUSED" in probe.stdout
    assert broker.passwords["reporter-password"] not in probe.stdout + probe.stderr
    broker.deploy()
    assert broker.connect("reporter", broker.passwords["reporter-password"], "reports")


CLIENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bowmark-web"},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bowmark-web"}},
                   "template": {"metadata": {"labels": {"app": "bowmark-web"}}, "spec": {
                       "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                       "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "seccompProfile": {"type": "RuntimeDefault"}},
                       "containers": [{"name": "web", "image": "debian:bookworm", "command": ["sleep", "infinity"],
                                       "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}}}}


def test_the_secrets_phase_changes_the_broker_before_it_restarts_the_clients(broker, fake):
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-n", broker.namespace, "-f", "-"], input=json.dumps(CLIENT),
                   text=True, check=True, capture_output=True)
    broker.passwords["app-password"] = "App-%s" % secrets.token_hex(10)
    fake.seed("Kubernetes", "Bowmark", broker.passwords)
    workload = dict(broker.workload, clients=[{"name": "bowmark-web"}],
                    secrets={"bowmark-secrets": {key: "op://Kubernetes/Bowmark/%s" % key for key in broker.passwords}})
    before = broker.start_time()
    run = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": [workload]}, "-vvv",
                       env_extra={"KUBECONFIG": KUBECONFIG})
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Bring the RabbitMQ definitions and the running broker up to the Secret" in run.stdout
    assert broker.connect("app", broker.passwords["app-password"], "app")
    assert broker.start_time() == before
    restarted = kubectl("get", "deployment", "-n", broker.namespace, "bowmark-web", "-o",
                        "jsonpath={.spec.template.metadata.annotations}").stdout
    assert "stateshift.k3s/restartedAt" in restarted
    for value in broker.passwords.values():
        assert value not in run.stdout + run.stderr
