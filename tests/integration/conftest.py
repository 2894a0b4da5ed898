"""Fixtures for tests that run against the local lab (`tests/lab/lab up`)."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.doubles.harness import FakeOnePassword

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("STATESHIFT_CACHE", "/var/cache/stateshift-k3s"))
LEGACY_INVENTORY = CACHE / "lab" / "inventory" / "legacy.yml"


class Playbook:
    """Runs ansible-playbook against the lab inventory and keeps the whole output."""

    def __init__(self, inventories):
        self.inventories = inventories

    def run(self, playbook, *extra, check=True, json_output=False):
        argv = ["ansible-playbook"]
        for inventory in self.inventories:
            argv += ["-i", str(inventory)]
        argv += [str(playbook), *extra]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        if json_output:
            env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
        result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env, check=False)
        if check and result.returncode != 0:
            pytest.fail("%s failed (rc=%d):\n%s\n%s" % (" ".join(argv), result.returncode, result.stdout, result.stderr))
        return result


_RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$", re.MULTILINE)


def recap(stdout):
    """{host: {ok, changed, unreachable, failed, skipped, rescued, ignored}} from the PLAY RECAP; fails without one."""
    hosts = {match["host"]: {name: int(count) for name, count in re.findall(r"(\w+)=(\d+)", match["counts"])}
             for match in _RECAP.finditer(stdout.split("PLAY RECAP", 1)[-1])} if "PLAY RECAP" in stdout else {}
    assert hosts, "no PLAY RECAP in the output:\n%s" % stdout[-2000:]
    return hosts


def nothing_changed(stdout):
    """Every host of the run: changed=0, failed=0, unreachable=0 (not just some line of the recap)."""
    return all(counts["changed"] == 0 and counts["failed"] == 0 and counts["unreachable"] == 0
               for counts in recap(stdout).values())


@pytest.fixture(scope="session")
def legacy_host():
    if not LEGACY_INVENTORY.exists():
        pytest.fail("the lab's legacy host is not up (%s missing): run 'tests/lab/lab up'" % LEGACY_INVENTORY)
    return LEGACY_INVENTORY


@pytest.fixture(scope="session")
def playbook(legacy_host):
    return Playbook([REPO / "inventories" / "lab", legacy_host])


def docker_psql(container, user, database, sql):
    """Ask the source database directly, to check what the collection reports."""
    result = subprocess.run(
        ["docker", "exec", "-i", container, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
         "-U", user, "-d", database, "-c", sql],
        capture_output=True, text=True, check=True,
    )
    return result.stdout.strip()


# Shared by the tests that run against the lab cluster.
KUBECONFIG = os.environ.get("KUBECONFIG") or "/var/cache/stateshift-k3s/lab/kubeconfig"


def kubectl(*args, check=True):
    result = subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError("kubectl %s: %s" % (" ".join(args), result.stderr))
    return result


def remove_nfs_storage(class_name, backend):
    """What the storage phase applied for one backend and its class: the class, the provisioner's namespace and RBAC."""
    kubectl("delete", "storageclass", class_name, "--ignore-not-found", check=False)
    kubectl("delete", "namespace", "nfs-provisioner-%s" % backend, "--wait=false", "--ignore-not-found", check=False)
    for kind in ("clusterrolebinding", "clusterrole"):
        kubectl("delete", kind, "nfs-%s-runner" % backend, "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def cluster():
    if not os.path.exists(KUBECONFIG) or kubectl("get", "--raw", "/readyz", check=False).returncode != 0:
        pytest.fail("the lab cluster is not up (%s missing or not ready): run 'tests/lab/lab up'" % KUBECONFIG)
    return KUBECONFIG


@pytest.fixture
def namespace(cluster):
    name = "secrets-%s" % uuid.uuid4().hex[:8]
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def fake(tmp_path):
    vault = FakeOnePassword(tmp_path)
    vault.seed("Kubernetes", "Invoicetron", {"postgres-password": "Known-Postgres-Value-1"})
    return vault
