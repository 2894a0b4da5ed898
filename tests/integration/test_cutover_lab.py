"""The cutover and rollback phases end to end on the lab: a Compose project on the legacy host whose application writes
to its PostgreSQL every 0.2 s, a client Deployment, the Service clients use by name, a CiliumNetworkPolicy with the
temporary DMZ rule. Offline: migrate, cutover (application stopped, source blocked, copied again, clients switched,
rule removed, ledger), writes on the StatefulSet, rollback (carried back, all undone), cutover again. Online: a probe
writing every 10 ms through the Service loses no acknowledged write across cutover and rollback."""

from __future__ import annotations

import base64
import json
import subprocess
import time

import pytest

from .conftest import LEGACY_INVENTORY, REPO, nothing_changed
from .cutover_helpers import (
    APP,
    CLIENT,
    CLIENT_PASSWORD,
    CONTAINER,
    OWNER_PASSWORD,
    container_state,
    get,
    ledger,
    online_round,
    reopen_source,
    shop_target,
    source_psql,
    start_project,
    stop_project,
)
from .migration_helpers import kill_tree

pytestmark = pytest.mark.lab

CUTOVER = REPO / "playbooks" / "cutover.yml"
ROLLBACK = REPO / "playbooks" / "rollback.yml"
SECRETS = (OWNER_PASSWORD, CLIENT_PASSWORD)


@pytest.fixture(scope="module")
def source_ip(cluster):
    ip = start_project()
    yield ip
    stop_project()


def phase(target, playbook, *args, check=True):
    result = target.playbook.run(playbook, "-e", target.extra(), *args, check=check)
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr, "a password reached the output"
    return result


def database_url(target):
    return base64.b64decode(get(target, "secret", "web-env")["data"]["DATABASE_URL"]).decode()


def client_can_write():
    return source_psql("INSERT INTO app_writes DEFAULT VALUES RETURNING 1;", user=CLIENT, check=False) == "1"


def test_offline_cutover_rollback_and_cutover_again(playbook, source_ip):
    target = shop_target(playbook, "shopoff", source_ip, "offline")
    try:
        assert target.migrate().returncode == 0
        checked = phase(target, CUTOVER, "--check", "--diff")
        assert "would copy again" in checked.stdout and "pointed at the StatefulSet" in checked.stdout
        assert container_state(APP) == "running" and client_can_write() and ledger(target) is None

        phase(target, CUTOVER, "-vvv")
        assert container_state(APP) == "exited" and container_state(CONTAINER) == "running"
        assert not client_can_write(), "the source must refuse writes after the cutover"
        assert target.psql("SELECT count(*) FROM app_writes;") == source_psql("SELECT count(*) FROM app_writes;")
        record = ledger(target)
        assert record["state"] == "cut_over" and record["cutover"]["final_sync"]["verified"] is True
        assert {t["name"] for t in record["cutover"]["final_sync"]["tables"]} >= {"public.items", "public.app_writes"}
        assert record["cutover"]["stopped_services"] == ["app"]
        assert "@shopoff-postgresql.%s.svc:5432/shop" % target.namespace in database_url(target)
        assert get(target, "service", "shopoff-db")["spec"]["selector"]["app.kubernetes.io/instance"] == "shopoff"
        assert get(target, "endpointslice", "shopoff-db-vm") is None
        assert get(target, "ciliumnetworkpolicy", "dmz")["spec"]["egress"] == [
            {"toEndpoints": [{"matchLabels": {"app.kubernetes.io/name": "postgresql"}}]}]
        assert nothing_changed(phase(target, CUTOVER).stdout)

        target.psql("INSERT INTO items (name, price) VALUES ('written after cutover', 1.5);\nDELETE FROM items WHERE id <= 10;")
        phase(target, ROLLBACK)
        assert source_psql("SELECT count(*) FROM items WHERE name = 'written after cutover';") == "1"
        assert source_psql("SELECT count(*) FROM items WHERE id <= 10;") == "0"
        assert container_state(APP) == "running" and client_can_write()
        assert "@%s:5432/shop" % source_ip in database_url(target)
        assert "selector" not in get(target, "service", "shopoff-db")["spec"]
        assert get(target, "endpointslice", "shopoff-postgresql-source")["endpoints"][0]["addresses"] == [source_ip]
        assert {"toCIDR": ["%s/32" % source_ip], "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}]} in get(
            target, "ciliumnetworkpolicy", "dmz")["spec"]["egress"]
        assert ledger(target)["state"] == "rolled_back"
        assert nothing_changed(phase(target, ROLLBACK).stdout)

        phase(target, CUTOVER)
        assert ledger(target)["state"] == "cut_over" and container_state(APP) == "exited"
        assert target.psql("SELECT count(*) FROM app_writes;") == source_psql("SELECT count(*) FROM app_writes;")
    finally:
        target.remove()
        reopen_source()


def test_online_cutover_rollback_and_cutover_again_lose_no_acknowledged_write(playbook, source_ip):
    figures = online_round(playbook, "shopon", source_ip, again=True)
    print("\nonline cutover under a probe writing every 10 ms: %s" % json.dumps(figures))
    assert figures["acknowledged"] > 100
    assert figures["lost_at_cutover"] == [], "acknowledged writes missing on the StatefulSet after the cutover"
    assert figures["lost_at_rollback"] == [], "acknowledged writes missing on the source after the rollback"
    assert figures["lost_at_cutover_again"] == [], "acknowledged writes missing on the StatefulSet after the second cutover"
    assert figures["sessions"] >= 4, "the probe's session must have moved three times (it wrote through the moving Service)"


def killed_at(target, playbook, task_words, after=1.0):
    """Run a phase and SIGKILL it and every process it started (Ansible's workers run in sessions of their own) ``after``
    seconds into the task whose name holds ``task_words``."""
    argv = ["ansible-playbook", "-i", str(REPO / "inventories" / "lab"), "-i", str(LEGACY_INVENTORY), str(playbook),
            "-e", target.extra()]
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("TASK [") and task_words in line:
            time.sleep(after)
            kill_tree(process.pid)
            break
    process.wait()
    assert any(task_words in line for line in seen), "".join(seen)[-3000:]


# Every task of the cutover_one and rollback_one task files that does something, in order, with how long after its
# start the kill comes (the copy-back's a while into its copy).
CUTOVER_STEPS = (("Record that the cutover started", 0.5), ("Check that the clients can be pointed", 0.5),
                 ("Stop the application services", 0.5), ("Open writes on the StatefulSet", 0.5),
                 ("Stop every write on the source", 0.5), ("Bring the StatefulSet level", 0.5),
                 ("Point the clients at the StatefulSet", 1.0), ("Record that the cutover finished", 0.3))
ROLLBACK_STEPS = (("Record that the rollback started", 0.5), ("Point the clients back at the source", 1.0),
                  ("Stop every write on the StatefulSet", 0.5), ("Copy what was written to the StatefulSet back", 3.0),
                  ("Record the copy-back", 0.3), ("Re-open writes on the source", 0.5),
                  ("Start the application services", 0.5), ("Record that the rollback finished", 0.3))


def test_a_cutover_and_a_rollback_killed_at_each_step_are_finished_by_a_rerun(playbook, source_ip):
    """Each run is killed one step further than the one before (each re-run first redoes, idempotently, what the
    earlier ones did); then a plain run finishes the phase, consistent."""
    target = shop_target(playbook, "shopkill", source_ip, "offline")
    try:
        assert target.migrate().returncode == 0
        for step, after in CUTOVER_STEPS:
            killed_at(target, CUTOVER, step, after)
            assert (ledger(target) or {}).get("state", "none") in ("none", "cutting_over", "cut_over")
        phase(target, CUTOVER)
        assert ledger(target)["state"] == "cut_over" and "shopkill-postgresql" in database_url(target)
        assert container_state(APP) == "exited" and not client_can_write()
        assert target.psql("SELECT count(*) FROM app_writes;") == source_psql("SELECT count(*) FROM app_writes;")

        target.psql("INSERT INTO items (name, price) VALUES ('after cutover', 2);")
        for step, after in ROLLBACK_STEPS:
            killed_at(target, ROLLBACK, step, after)
            assert ledger(target)["state"] in ("cut_over", "rolling_back", "rolled_back")
        phase(target, ROLLBACK)
        assert ledger(target)["state"] == "rolled_back" and client_can_write() and container_state(APP) == "running"
        assert source_psql("SELECT count(*) FROM items WHERE name = 'after cutover';") == "1"
        assert "@%s:5432/shop" % source_ip in database_url(target)
        assert nothing_changed(phase(target, ROLLBACK).stdout)
    finally:
        target.remove()
        reopen_source()
