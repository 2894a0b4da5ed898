"""Phases run the way AWX runs a job: ansible-runner with a private data directory (project/, inventory/, env/), the
collection found on the collections path (AWX: in the execution environment), results read from the job events."""

from __future__ import annotations

import json
import os
import shutil

import ansible_runner
import pytest

from .conftest import CACHE, KUBECONFIG, REPO

pytestmark = pytest.mark.lab

VALIDATE_TASK = "Validate the workload catalog"
COLLECTIONS = os.environ.get("STATESHIFT_COLLECTIONS") or str(CACHE / "collections")


def private_data_dir(root, extravars, legacy_inventory=None):
    """What AWX writes for a job: the project checkout, the inventory, extra vars, environment and settings."""
    shutil.copytree(REPO / "playbooks", root / "project" / "playbooks")
    shutil.copytree(REPO / "inventories" / "lab", root / "inventory")
    if legacy_inventory is not None:
        shutil.copy(legacy_inventory, root / "inventory" / "legacy.yml")
    env = root / "env"
    env.mkdir()
    (env / "extravars").write_text(json.dumps(extravars))
    (env / "passwords").write_text(json.dumps({}))
    (env / "envvars").write_text(json.dumps({"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS, "KUBECONFIG": KUBECONFIG,
                                             "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}))
    (env / "settings").write_text(json.dumps({"job_timeout": 900}))
    return root


def run_phase(root, phase):
    return ansible_runner.run(private_data_dir=str(root), playbook="playbooks/%s.yml" % phase, ident=phase, quiet=True)


def events_named(runner, name):
    return [event for event in runner.events if event.get("event") == name]


def assert_job_artifacts(runner):
    artifacts = runner.config.artifact_dir
    assert os.path.getsize(os.path.join(artifacts, "stdout")) > 0
    assert os.listdir(os.path.join(artifacts, "job_events"))


def assert_successful(runner, hosts):
    output = runner.stdout.read()[-3000:]
    assert runner.status == "successful", output
    assert runner.rc == 0, output
    (stats,) = events_named(runner, "playbook_on_stats")
    data = stats["event_data"]
    assert data["failures"] == {} and data["dark"] == {}, data
    validated = {event["event_data"]["host"]: event["event_data"]["res"]
                 for event in events_named(runner, "runner_on_ok") if event["event_data"]["task"] == VALIDATE_TASK}
    assert set(hosts) <= set(validated), validated
    assert_job_artifacts(runner)
    return validated


def lab_workload(namespace):
    return {"name": "invoicetron", "namespace": namespace, "engine": "postgresql", "storage": {"size": "1Gi"},
            "source": {"host": "legacy-vm", "container": "invoicetron-db", "user": "invoicetron", "database": "invoicetron"}}


def test_validate_phase_runs_through_ansible_runner_as_in_awx(tmp_path):
    root = private_data_dir(tmp_path, {"workloads": "invoicetron"})
    runner = run_phase(root, "validate")
    validated = assert_successful(runner, ["localhost"])
    assert validated["localhost"]["msg"] == "1 workload(s) valid: invoicetron"


def test_preflight_phase_runs_through_ansible_runner_as_in_awx(tmp_path, legacy_host, cluster):
    # a namespace of its own: the demo's invoicetron namespace may hold a ledger that leaves the workload out
    extravars = {"stateshift_workloads": [lab_workload("preflight-awx-runner")], "workloads": "invoicetron"}
    runner = run_phase(private_data_dir(tmp_path, extravars, legacy_host), "preflight")
    assert_successful(runner, ["legacy-vm"])
    inventoried = [event["event_data"]["res"] for event in events_named(runner, "runner_on_ok")
                   if event["event_data"]["task"] == "Inventory each PostgreSQL source on this host"]
    assert inventoried and inventoried[0]["results"][0]["inventory"]["table_count"] > 0


def test_a_bad_catalog_fails_the_job_with_the_catalog_error(tmp_path):
    workload = {"name": "ledgerbook", "namespace": "ledgerbook", "engine": "oracle", "storage": {"size": "1Gi"}}
    runner = run_phase(private_data_dir(tmp_path, {"stateshift_workloads": [workload]}), "validate")
    assert runner.status == "failed"
    assert runner.rc != 0
    failed = [event["event_data"] for event in events_named(runner, "runner_on_failed")]
    assert [data["task"] for data in failed] == [VALIDATE_TASK]
    message = failed[0]["res"]["msg"]
    assert "workload 'ledgerbook' (stateshift_workloads[0]): engine = 'oracle': is not one of postgresql, rabbitmq, mongodb" in message
    (stats,) = events_named(runner, "playbook_on_stats")
    assert stats["event_data"]["failures"] == {"localhost": 1}
    assert_job_artifacts(runner)
