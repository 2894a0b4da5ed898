"""Password rotation end to end on the lab's real node: the secrets phase and the databases
phase bring up PostgreSQL with the password from (the double of) 1Password; a rotation changes it
in 1Password, in the Secret and in the running server, and no value reaches the output. Clients are
restarted only after the database accepted the new password; a rotation that could not reach the
database leaves the clients alone, is recorded on the Secret and is finished by the next plain run."""

from __future__ import annotations

import base64
import json
import subprocess
import time

from .conftest import KUBECONFIG, kubectl, nothing_changed
from .secrets_helpers import SECRETS_PLAYBOOK, assert_no_value_leaked, run_playbook

DATABASES_PLAYBOOK = SECRETS_PLAYBOOK.parent / "databases.yml"
REFERENCE = "op://Kubernetes/Invoicetron/postgres-password"
PENDING = "stateshift.k3s/role-sync-pending"
# Quotes, '$', a backslash and non-ASCII text: set in 1Password by hand, the way an operator rotates.
ODD_PASSWORD = "it's \"odd\" $HOME $(id) back\\slash pässwörd-€"


def catalog(target_namespace, clients=(), keys=None):
    return [{"name": "rotor", "namespace": target_namespace, "engine": "postgresql", "version": "15",
             "storage": {"size": "64Mi"}, "auth": {"secret": "rotor-secrets", "user": "rotor"},
             "clients": [{"kind": "Deployment", "name": name} for name in clients],
             "network": {"allow_from": [{"pod_labels": {"app": "rotor-url-client"}}]},
             "secrets": {"rotor-secrets": dict({"postgres-password": {"op": REFERENCE, "generate": "hex32", "rotate": True,
                                                                      "role": "rotor"}}, **(keys or {}))}}]


# Keys apps read as they are: the catalog derives them from the workload, 1Password never holds them.
CONNECTION_KEYS = {"DATABASE_URL": {"from": "url"}, "PGHOST": {"from": "host"}, "PGSSLMODE": {"value": "disable"}}


def url_client_connects(target_namespace, run):
    """A pod on the lab's real node that reads DATABASE_URL from the Secret, as an app would, and connects with it."""
    name = "rotor-url-client-%d" % run
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    container = {"name": "client", "image": "postgres:15", "securityContext": security,
                 "env": [{"name": key, "valueFrom": {"secretKeyRef": {"name": "rotor-secrets", "key": key}}}
                         for key in CONNECTION_KEYS],
                 # a new pod is admitted by the NetworkPolicy engine a moment after it starts
                 "command": ["sh", "-c", 'for try in $(seq 30); do psql "$DATABASE_URL" -XAtc "select current_user || chr(32) || '
                             'inet_server_port()" && exit 0; sleep 2; done; exit 1']}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": target_namespace},
           "spec": {"backoffLimit": 0, "template": {
               "metadata": {"labels": {"app": "rotor-url-client"}},
               "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False, "containers": [container],
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "seccompProfile": {"type": "RuntimeDefault"}}}}}}
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(job), text=True, check=True,
                   capture_output=True)
    done = kubectl("wait", "--for=condition=Complete", "job/%s" % name, "-n", target_namespace, "--timeout=120s", check=False)
    logs = kubectl("logs", "job/%s" % name, "-n", target_namespace, check=False).stdout
    return done.returncode == 0 and logs.strip().splitlines()[-1:] == ["rotor 5432"]


def secret_key(target_namespace, key):
    document = json.loads(kubectl("get", "secret", "rotor-secrets", "-n", target_namespace, "-o", "json").stdout)
    return base64.b64decode(document["data"][key]).decode("utf-8")


def can_log_in(target_namespace, password):
    """psql to the pod's own IP (loopback is trusted by postgres images, the pod network needs the
    password), with the password on stdin, never on a command line."""
    pod_ip = kubectl("get", "pod", "rotor-postgresql-0", "-n", target_namespace, "-o", "jsonpath={.status.podIP}").stdout
    result = subprocess.run(
        ["kubectl", "exec", "-i", "-n", target_namespace, "rotor-postgresql-0", "--", "sh", "-c",
         'IFS= read -r PGPASSWORD; export PGPASSWORD; psql -X -h %s -U rotor -d rotor -Atc "select current_user"' % pod_ip],
        input=password + "\n", capture_output=True, text=True, check=False)
    return result.returncode == 0 and result.stdout.strip() == "rotor"


def secret(target_namespace):
    document = json.loads(kubectl("get", "secret", "rotor-secrets", "-n", target_namespace, "-o", "json").stdout)
    value = base64.b64decode(document["data"]["postgres-password"]).decode("utf-8")
    return value, document["metadata"].get("annotations", {})


def deploy_client(target_namespace, name="rotor-app"):
    """A Deployment on the kwok nodes that reads the Secret; restricted Pod Security (the catalog's default)."""
    container = {"name": "app", "image": "rotor-app:lab", "envFrom": [{"secretRef": {"name": "rotor-secrets"}}],
                 "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                     "runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}}
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": target_namespace},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [container], "nodeSelector": {"type": "kwok"},
                                               "tolerations": [{"operator": "Exists"}]}}}}
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(manifest), text=True,
                   check=True, capture_output=True)
    kubectl("rollout", "status", "deployment/%s" % name, "-n", target_namespace, "--timeout=120s")


def restarted_at(target_namespace, name="rotor-app"):
    deployment = json.loads(kubectl("get", "deployment", name, "-n", target_namespace, "-o", "json").stdout)
    return (deployment["spec"]["template"]["metadata"].get("annotations") or {}).get("stateshift.k3s/restartedAt")


def scale_database(target_namespace, replicas):
    kubectl("scale", "statefulset", "rotor-postgresql", "-n", target_namespace, "--replicas=%d" % replicas)
    if replicas == 0:
        kubectl("wait", "--for=delete", "pod/rotor-postgresql-0", "-n", target_namespace, "--timeout=180s", check=False)
    else:
        kubectl("rollout", "status", "statefulset/rotor-postgresql", "-n", target_namespace, "--timeout=300s")
        deadline = time.time() + 120
        while time.time() < deadline and not pg_isready(target_namespace):
            time.sleep(2)


def pg_isready(namespace):
    return kubectl("exec", "-n", namespace, "rotor-postgresql-0", "--", "pg_isready", "-q", check=False).returncode == 0


def test_rotation_changes_the_password_in_the_running_database(fake, namespace):
    workloads = {"stateshift_workloads": catalog(namespace, keys=CONNECTION_KEYS)}
    first = run_playbook(SECRETS_PLAYBOOK, fake, workloads)
    assert first.returncode == 0, first.stdout
    deployed = run_playbook(DATABASES_PLAYBOOK, fake, workloads)
    assert deployed.returncode == 0, deployed.stdout
    old = fake.value("Kubernetes", "Invoicetron", "postgres-password")
    assert can_log_in(namespace, old)
    assert secret_key(namespace, "PGHOST") == "rotor-postgresql.%s.svc" % namespace
    assert secret_key(namespace, "PGSSLMODE") == "disable"
    assert url_client_connects(namespace, 1)
    assert all(fake.value("Kubernetes", "Invoicetron", key) is None for key in CONNECTION_KEYS), "written to 1Password"

    start = time.time()
    rotated = run_playbook(SECRETS_PLAYBOOK, fake, dict(workloads, secrets_rotate=["rotor"]), "-vvv")
    assert rotated.returncode == 0, rotated.stdout
    new = fake.value("Kubernetes", "Invoicetron", "postgres-password")
    assert new != old
    assert can_log_in(namespace, new), rotated.stdout[-3000:]
    assert not can_log_in(namespace, old)
    assert secret(namespace) == (new, {"stateshift.k3s/source": "1password"}), "Secret not updated, or a marker left"
    assert new in secret_key(namespace, "DATABASE_URL") and url_client_connects(namespace, 2)
    assert_no_value_leaked({old, new, fake.service_account_token}, {"stdout": rotated.stdout, "stderr": rotated.stderr},
                           start, skip={fake.path})

    again = run_playbook(DATABASES_PLAYBOOK, fake, workloads)
    assert again.returncode == 0 and nothing_changed(again.stdout), again.stdout


def test_clients_restart_only_after_the_database_took_the_new_password(fake, namespace):
    workloads = {"stateshift_workloads": catalog(namespace, clients=["rotor-app", "rotor-worker"])}
    assert run_playbook(SECRETS_PLAYBOOK, fake, workloads).returncode == 0
    deployed = run_playbook(DATABASES_PLAYBOOK, fake, workloads)
    assert deployed.returncode == 0, deployed.stdout
    deploy_client(namespace)
    deploy_client(namespace, "rotor-worker")
    assert restarted_at(namespace) is None

    # An operator sets an odd password in 1Password; a plain run carries it to the Secret, the database, the clients.
    fake.set_value("Kubernetes", "Invoicetron", "postgres-password", ODD_PASSWORD)
    edited = run_playbook(SECRETS_PLAYBOOK, fake, workloads)
    assert edited.returncode == 0, edited.stdout[-3000:]
    assert secret(namespace)[0] == ODD_PASSWORD
    assert can_log_in(namespace, ODD_PASSWORD)
    first_restart = restarted_at(namespace)
    assert first_restart is not None and restarted_at(namespace, "rotor-worker") is not None
    # both were restarted, then waited for: each runs only its restarted pods when the play ends
    for name in ("rotor-app", "rotor-worker"):
        assert kubectl("rollout", "status", "deployment/%s" % name, "-n", namespace, "--timeout=1s", check=False).returncode == 0

    # The database cannot be reached during a rotation: clients untouched, the pending key recorded, the run fails.
    scale_database(namespace, 0)
    time.sleep(1)  # restartedAt has a one-second resolution
    refused = run_playbook(SECRETS_PLAYBOOK, fake, dict(workloads, secrets_rotate=["rotor"]))
    assert refused.returncode != 0
    assert "keep their old password because pod %s/rotor-postgresql-0 is not running" % namespace in refused.stdout
    new = fake.value("Kubernetes", "Invoicetron", "postgres-password")
    value, annotations = secret(namespace)
    assert value == new != ODD_PASSWORD
    assert annotations.get(PENDING) == "postgres-password"
    assert restarted_at(namespace) == first_restart

    scale_database(namespace, 1)
    assert can_log_in(namespace, ODD_PASSWORD) and not can_log_in(namespace, new)

    # The next run with default settings finds the marker, sets the password, logs in, then restarts the clients.
    finished = run_playbook(SECRETS_PLAYBOOK, fake, workloads)
    assert finished.returncode == 0, finished.stdout[-3000:]
    assert can_log_in(namespace, new) and not can_log_in(namespace, ODD_PASSWORD)
    assert PENDING not in secret(namespace)[1]
    assert restarted_at(namespace) not in (None, first_restart)
