"""The retirement role's Proxmox step (roles/retirement/tasks/vm.yml) run by ansible-playbook, with the real
community.proxmox modules and proxmoxer, against the Proxmox VE API double (tests/doubles/proxmox_api.py): no Proxmox
host can run here, so what the step asks of the API and what it makes of the answers is what is checked."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.doubles import proxmox_api

PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "retirement_vm.yml"
TOKEN = "root@pam!stateshift"
SECRET_ENV = "STATESHIFT_TEST_PROXMOX_SECRET"


class Cluster:
    """The double serving one running VM 101 on node pve1, and a way to run the step against it."""

    def __init__(self, double, port, directory):
        self.double, self.port, self.directory = double, port, directory
        self.secret = double.tokens[TOKEN]

    def run(self, action, *options, secret=None, node="pve1"):
        vm = {"api_host": "127.0.0.1", "api_port": self.port, "api_user": "root@pam", "api_token_id": "stateshift",
              "token_secret_env": SECRET_ENV, "node": node, "vmid": 101, "action": action, "validate_certs": True}
        outcome = self.directory / ("outcome-%s.json" % uuid.uuid4().hex)
        env = dict(os.environ, REQUESTS_CA_BUNDLE=self.double.ca_file, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1",
                   ANSIBLE_NOCOLOR="1", ANSIBLE_PYTHON_INTERPRETER="auto_silent")
        env[SECRET_ENV] = self.secret if secret is None else secret
        argv = ["ansible-playbook", "-i", "localhost,", "-c", "local", str(PLAYBOOK), *options,
                "-e", json.dumps({"retire_vm": vm, "outcome_file": str(outcome)})]
        completed = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=120)
        completed.output = completed.stdout + completed.stderr
        completed.outcome = json.loads(outcome.read_text()) if outcome.exists() else None
        return completed

    def changes(self):
        return [(call["method"], call["path"]) for call in self.double.calls if call["method"] != "GET"]


@pytest.fixture
def cluster(tmp_path):
    double = proxmox_api.ProxmoxDouble(nodes=("pve1", "pve2"), vms={101: {"node": "pve1", "name": "legacy-docker", "status": "running"}},
                                       tokens={TOKEN: str(uuid.uuid4())})
    with proxmox_api.serving(double) as port:
        yield Cluster(double, port, tmp_path)


def test_stop_shuts_a_running_vm_down_once_and_shows_no_secret_even_at_vvv(cluster):
    first = cluster.run("stop", "-vvv")
    assert first.returncode == 0, first.output
    assert first.outcome == {"node": "pve1", "vmid": 101, "action": "stop", "changed": True}
    assert cluster.changes() == [("POST", "/nodes/pve1/qemu/101/status/shutdown")]
    assert cluster.double.calls_to("POST", "/status/shutdown")[0]["params"] == {"forceStop": "1", "timeout": "180"}
    assert cluster.double.vms[101]["status"] == "stopped"
    assert cluster.secret not in first.output

    again = cluster.run("stop")
    assert again.returncode == 0, again.output
    assert again.outcome["changed"] is False
    assert len(cluster.changes()) == 1


def test_delete_shuts_the_vm_down_then_removes_it_with_its_disks_once(cluster):
    first = cluster.run("delete")
    assert first.returncode == 0, first.output
    assert first.outcome == {"node": "pve1", "vmid": 101, "action": "delete", "changed": True}
    assert cluster.changes() == [("POST", "/nodes/pve1/qemu/101/status/shutdown"), ("DELETE", "/nodes/pve1/qemu/101")]
    assert cluster.double.calls_to("DELETE", "/qemu/101")[0]["params"] == {"purge": "1", "destroy-unreferenced-disks": "1"}
    assert cluster.double.vms == {}

    again = cluster.run("delete")
    assert again.returncode == 0, again.output
    assert again.outcome["changed"] is False
    assert len(cluster.changes()) == 2


def test_a_wrong_token_secret_fails_saying_what_to_check_without_showing_either_secret(cluster):
    wrong = str(uuid.uuid4())
    completed = cluster.run("stop", "-vvv", secret=wrong)
    assert completed.returncode != 0
    assert "401 Unauthorized: invalid token value!" in completed.output
    assert "check retire.vm.api_user, retire.vm.api_token_id and the secret in the environment variable %s" % SECRET_ENV \
        in completed.output
    assert wrong not in completed.output and cluster.secret not in completed.output
    assert [call["status"] for call in cluster.double.calls] == [401]
    assert cluster.double.vms[101]["status"] == "running"


def test_an_unset_secret_variable_fails_naming_it_before_any_call(cluster):
    completed = cluster.run("stop", secret="")
    assert completed.returncode != 0
    assert "the environment variable %s is empty or not set" % SECRET_ENV in completed.output
    assert cluster.double.calls == []


def test_check_mode_says_the_vm_would_stop_and_stops_nothing(cluster):
    completed = cluster.run("stop", "--check")
    assert completed.returncode == 0, completed.output
    assert "VM 101 on pve1 is running: it would be shut down" in completed.output
    assert completed.outcome["changed"] is True
    assert cluster.changes() == []
    assert cluster.double.vms[101]["status"] == "running"


def test_a_vm_on_another_node_than_the_catalogs_is_refused(cluster):
    completed = cluster.run("delete", node="pve2")
    assert completed.returncode != 0
    assert "VM 101 is on node pve1, not on pve2 (retire.vm.node): check retire.vm.vmid and retire.vm.node" in completed.output
    assert cluster.changes() == []
