"""Password rotation end to end on the lab's real node: the secrets phase and the databases
phase bring up PostgreSQL with the password from (the double of) 1Password; a rotation changes it
in 1Password, in the Secret and in the running server, and no value reaches the output."""

from __future__ import annotations

import subprocess
import time

from .conftest import kubectl
from .secrets_helpers import SECRETS_PLAYBOOK, assert_no_value_leaked, run_playbook

DATABASES_PLAYBOOK = SECRETS_PLAYBOOK.parent / "databases.yml"
REFERENCE = "op://Kubernetes/Invoicetron/postgres-password"


def catalog(target_namespace):
    return [{"name": "rotor", "namespace": target_namespace, "engine": "postgresql", "version": "15",
             "storage": {"size": "64Mi"}, "auth": {"secret": "rotor-secrets", "user": "rotor"},
             "secrets": {"rotor-secrets": {"postgres-password": {"op": REFERENCE, "generate": "hex32", "rotate": True, "role": "rotor"}}}}]


def can_log_in(target_namespace, password):
    """psql to the pod's own IP (loopback is trusted by postgres images, the pod network needs the
    password), with the password on stdin, never on a command line."""
    pod_ip = kubectl("get", "pod", "rotor-postgresql-0", "-n", target_namespace, "-o", "jsonpath={.status.podIP}").stdout
    result = subprocess.run(
        ["kubectl", "exec", "-i", "-n", target_namespace, "rotor-postgresql-0", "--", "sh", "-c",
         'read -r PGPASSWORD; export PGPASSWORD; psql -X -h %s -U rotor -d rotor -Atc "select current_user"' % pod_ip],
        input=password + "\n", capture_output=True, text=True, check=False)
    return result.returncode == 0 and result.stdout.strip() == "rotor"


def test_rotation_changes_the_password_in_the_running_database(fake, namespace):
    workloads = {"stateshift_workloads": catalog(namespace)}
    first = run_playbook(SECRETS_PLAYBOOK, fake, workloads)
    assert first.returncode == 0, first.stdout
    deployed = run_playbook(DATABASES_PLAYBOOK, fake, workloads)
    assert deployed.returncode == 0, deployed.stdout
    old = fake.value("Kubernetes", "Invoicetron", "postgres-password")
    assert can_log_in(namespace, old)

    start = time.time()
    rotated = run_playbook(SECRETS_PLAYBOOK, fake, dict(workloads, secrets_rotate=["rotor"]), "-vvv")
    assert rotated.returncode == 0, rotated.stdout
    new = fake.value("Kubernetes", "Invoicetron", "postgres-password")
    assert new != old
    assert can_log_in(namespace, new), rotated.stdout[-3000:]
    assert not can_log_in(namespace, old)
    secret = kubectl("get", "secret", "rotor-secrets", "-n", namespace, "-o", "jsonpath={.data.postgres-password}").stdout
    assert secret and secret != "", "the Secret was not updated"
    assert_no_value_leaked({old, new, fake.service_account_token}, {"stdout": rotated.stdout, "stderr": rotated.stderr},
                           start, skip={fake.path})

    again = run_playbook(DATABASES_PLAYBOOK, fake, workloads)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout
