"""compose_services over real SSH on the lab's legacy host, whose Compose project (docker-compose v1) runs the
database and an application service: the application stops and starts, the database never does."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.integration.conftest import nothing_changed

pytestmark = pytest.mark.lab

PROJECT = {"project_dir": "/home/app/invoicetron", "database_container": "invoicetron-db"}


def state(container):
    return subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", container], capture_output=True, text=True,
                          check=True).stdout.strip()


def run(playbook, *extra, check=True, **args):
    return playbook.run("tests/integration/playbooks/compose_probe.yml", "-e", json.dumps({"probe_args": dict(PROJECT, **args)}),
                        *extra, check=check)


@pytest.fixture
def app_running(playbook):
    run(playbook, state="started")
    assert state("invoicetron-app") == "running"
    yield
    run(playbook, state="started")


def test_the_application_stops_and_starts_and_the_database_keeps_running(playbook, app_running):
    checked = run(playbook, "--check", "-v", state="stopped")
    assert "stopped app" in checked.stdout and state("invoicetron-app") == "running"
    stopped = run(playbook, state="stopped")
    assert "changed=1" in stopped.stdout
    assert state("invoicetron-app") == "exited" and state("invoicetron-db") == "running"
    assert nothing_changed(run(playbook, state="stopped").stdout)
    started = run(playbook, state="started")
    assert "changed=1" in started.stdout and state("invoicetron-app") == "running"
    assert nothing_changed(run(playbook, state="started").stdout)


@pytest.mark.parametrize("args, expected", [
    ({"services": ["db"]}, "lists db, the service of the database container invoicetron-db"),
    ({"services": ["api"]}, "names api, not services of the project in /home/app/invoicetron (it has: db, app)"),
    ({"project_dir": "/home/app/nowhere"}, "source.compose_dir /home/app/nowhere is not a folder"),
])
def test_bad_input_is_refused_and_nothing_stops(playbook, app_running, args, expected):
    failed = run(playbook, check=False, state="stopped", **args)
    assert failed.returncode != 0 and expected in failed.stdout, failed.stdout[-1500:]
    assert state("invoicetron-app") == "running" and state("invoicetron-db") == "running"
