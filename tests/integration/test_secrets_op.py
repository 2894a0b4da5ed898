"""The secrets phase up to Kubernetes, against the 1Password doubles (no cluster needed):
errors stop the run before anything is written, and no value reaches output or disk."""

from __future__ import annotations

import json
import time

import pytest

from tests.doubles.harness import FakeOnePassword

from .secrets_helpers import REPO, SECRETS_PLAYBOOK, assert_no_value_leaked, run_playbook

PROBE = REPO / "tests" / "integration" / "playbooks" / "secrets_probe.yml"


@pytest.fixture
def fake(tmp_path):
    vault = FakeOnePassword(tmp_path)
    vault.seed("Kubernetes", "Invoicetron", {"postgres-password": "Known-Postgres-Value-1"})
    return vault


def catalog(**extra_keys):
    keys = {"postgres-password": {"op": "op://Kubernetes/Invoicetron/postgres-password", "role": "invoicetron"},
            "better-auth-secret": {"op": "op://Kubernetes/Invoicetron/better-auth-secret", "generate": "base64_32"}}
    keys.update(extra_keys)
    return [{"name": "invoicetron", "namespace": "invoicetron", "engine": "postgresql", "storage": {"size": "1Gi"},
             "secrets": {"invoicetron-secrets": keys}}]


def test_module_resolves_generates_and_hides_everything_at_vvv(fake, local_postgres):
    local_postgres.psql("DROP ROLE IF EXISTS probe_role; CREATE ROLE probe_role LOGIN")
    start = time.time() - 1
    result = run_playbook(PROBE, fake, {"stateshift_workloads": catalog(), "probe_socket": local_postgres.socket_dir,
                                        "probe_port": local_postgres.port}, "-vvv", json_output=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads(result.stdout[result.stdout.index("{"):])
    generated = fake.value("Kubernetes", "Invoicetron", "better-auth-secret")
    assert generated and len(generated) == 44
    values = fake.values() | {fake.service_account_token}
    assert "Known-Postgres-Value-1" in values
    assert_no_value_leaked(values, {"stdout": result.stdout, "stderr": result.stderr}, start, skip={fake.path})
    tasks = {task["task"]["name"]: task["hosts"]["localhost"] for play in document["plays"] for task in play["tasks"]}
    assert tasks["Show the summary"]["msg"][0]["keys"]["better-auth-secret"]["source"] == "generated"
    assert tasks["Set the role password"]["changed"] is True
    assert fake.read()["argv_leaks"] == []


@pytest.mark.parametrize("keys, expected", [
    ({"broken": {"op": "op://Kubernetes/Invoicetron/no-such-field"}},
     "op://Kubernetes/Invoicetron/no-such-field: item 'Invoicetron' has no field 'no-such-field'"),
    ({"broken": {"op": "op://Kubernetes/No Such Item/x"}},
     "op://Kubernetes/No Such Item/x: item 'No Such Item' is not in vault 'Kubernetes'"),
    ({"broken": {"op": "op://Nope/Invoicetron/x"}}, "op://Nope/Invoicetron/x: \"Nope\" isn't a vault in this account"),
    ({"broken": {"op": "op://Kubernetes/Invoicetron/x", "generate": "hex3"}},
     "workload 'invoicetron' (stateshift_workloads[0]): secrets.invoicetron-secrets.broken.generate = 'hex3': "
     "length 3 for hex is out of range"),
])
def test_bad_references_fail_clearly_before_anything_is_written(fake, keys, expected):
    result = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog(**keys)})
    assert result.returncode != 0
    assert expected in result.stdout, result.stdout[-3000:]
    assert "Known-Postgres-Value-1" not in result.stdout
    assert fake.value("Kubernetes", "Invoicetron", "better-auth-secret") is None  # nothing written back
    assert "Apply the Secrets" not in result.stdout


def test_two_workloads_claiming_a_key_differently(fake):
    other = {"name": "other", "namespace": "invoicetron", "engine": "postgresql", "storage": {"size": "1Gi"},
             "auth": {"secret": "invoicetron-secrets"},
             "secrets": {"invoicetron-secrets": {"postgres-password": {"op": "op://Kubernetes/Other/postgres-password"}}}}
    workloads = [*catalog(), other]
    result = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": workloads})
    assert result.returncode != 0
    assert ("Secret invoicetron/invoicetron-secrets key postgres-password is declared differently by workload "
            "'invoicetron'") in result.stdout
    assert fake.calls() == []  # refused before asking 1Password


@pytest.mark.parametrize("token, expected", [("", "OP_SERVICE_ACCOUNT_TOKEN is not set"),
                                             ("ops_expired", "(401) Unauthorized")])
def test_missing_or_expired_token(fake, token, expected):
    result = run_playbook(SECRETS_PLAYBOOK, fake, {"stateshift_workloads": catalog()}, token=token)
    assert result.returncode != 0
    assert expected in result.stdout
    assert fake.service_account_token == "ops_double_token"
    assert fake.service_account_token not in result.stdout + result.stderr
