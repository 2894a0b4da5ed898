"""Kill a migration mid-copy — the controller, the SSH link, the source's dump, the target's restore,
the target pod — then re-run it without force: it ends verified, and the source never changed."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time

import pytest

from .conftest import REPO, kubectl, recap
from .migration_helpers import MIGRATE, Target, ensure_big_database, kill_tree, source_fingerprint, source_psql

# It kills every stateshift SSH master and every COPY on the shared source: nothing else may run meanwhile.
pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def big_source():
    database = ensure_big_database()
    return database, source_fingerprint(database)


@pytest.fixture(scope="module")
def target(playbook, cluster, big_source):
    workload = Target(playbook, "intr", big_source[0], migration={"backup": False, "table_part_mib": 64})
    workload.deploy()
    yield workload
    workload.remove()


class Background:
    """ansible-playbook in its own process group, its output read line by line."""

    def __init__(self, target, transport):
        argv = ["ansible-playbook"]
        for inventory in target.playbook.inventories:
            argv += ["-i", str(inventory)]
        argv += [str(MIGRATE), "-e", target.extra({"transport": transport}, data_migration_progress_interval=1)]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                        start_new_session=True)
        self.lines, self.copying = [], threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)
            if "copy intr/" in line and "tables," in line:
                self.copying.set()

    def wait_copying(self, timeout=180):
        assert self.copying.wait(timeout), "the copy never started:\n" + "".join(self.lines[-40:])
        time.sleep(0.3)

    def finish(self, timeout=300):
        self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return self.process.returncode, "".join(self.lines)


def kill_controller(target, run):
    kill_tree(run.process.pid)


def kill_ssh(target, run):
    subprocess.run(["pkill", "-KILL", "-f", "ControlPath=/tmp/stateshift-ssh-"], check=False)


def kill_dump(target, run):
    deadline = time.time() + 10
    while source_psql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE query LIKE 'COPY (SELECT%TO STDOUT' AND pid <> pg_backend_pid()) killed;", "postgres") == "0":
        assert time.time() < deadline, "no COPY was running on the source to kill"
        time.sleep(0.1)


def kill_restore(target, run):
    deadline = time.time() + 10
    while target.psql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE query LIKE 'COPY %FROM STDIN%' AND pid <> pg_backend_pid()) killed;", database="postgres") == "0":
        assert time.time() < deadline, "no COPY was running on the target to kill"
        time.sleep(0.1)


def kill_target_pod(target, run):
    kubectl("delete", "pod", target.pod, "-n", target.namespace, "--grace-period=0", "--force")


@pytest.mark.parametrize(("kill", "transport"), [
    (kill_controller, "stream"), (kill_ssh, "stream"), (kill_dump, "stream"), (kill_restore, "job"), (kill_target_pod, "job"),
], ids=["controller", "ssh-link", "dump", "restore", "target-pod"])
def test_interrupted_copy_is_finished_by_a_plain_rerun(target, big_source, kill, transport):
    database, fingerprint = big_source
    target.reset()
    run = Background(target, transport)
    run.wait_copying()
    kill(target, run)
    rc, output = run.finish()
    assert rc != 0, "the run was not interrupted:\n" + output[-3000:]
    if kill is not kill_controller:
        # the engine reported the cut itself (a handled failure, not a traceback) on the host that ran it
        assert '"source_changed": false' in output, output[-3000:]
        assert any(counts["failed"] for counts in recap(output).values()), output[-3000:]
    kubectl("wait", "--for=condition=Ready", "pod/%s" % target.pod, "-n", target.namespace, "--timeout=180s")
    assert target.marker()["state"] == "copying"

    rerun = target.migrate()
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert "verification passed" in rerun.stdout
    assert target.marker()["state"] == "verified"
    assert source_fingerprint(database) == fingerprint, "the source changed"
    assert target.psql("SHOW autovacuum;") == "on", "restore tuning was left behind"


def parts_in(target):
    """(parts in, parts) of the target's record of the copy, (0, 0) before it exists."""
    found = target.psql("SELECT count(*) FILTER (WHERE done) || ' ' || count(*) FROM _stateshift_copy.parts;", check=False)
    return tuple(int(n) for n in found.split()) if found else (0, 0)


def test_a_rerun_copies_only_the_parts_that_were_not_in(target, big_source):
    """The large table goes in ranges of pages; the controller is killed once two of them committed; the re-run copies
    the others only, and the whole is verified against the re-run's snapshot."""
    database, fingerprint = big_source
    target.reset()
    run = Background(target, "job")
    deadline = time.time() + 240
    while parts_in(target)[0] < 2:
        assert time.time() < deadline and run.process.poll() is None, "two parts never committed:\n" + "".join(run.lines[-40:])
        time.sleep(0.2)
    kill_controller(target, run)
    run.finish()
    before, total = parts_in(target)
    assert 2 <= before < total, "nothing left to resume (%d of %d parts in)" % (before, total)

    rerun = target.migrate()
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    resumed = re.search(r"resumed an interrupted copy: (\d+) of (\d+) parts were in, (\d+) copied", rerun.stdout)
    assert resumed, rerun.stdout[-4000:]
    kept, planned, copied = (int(n) for n in resumed.groups())
    # the Job's pod outlives the killed controller: a part it was copying may still have committed
    assert before <= kept < planned == total and copied == total - kept
    assert "verification passed" in rerun.stdout and target.marker()["state"] == "verified"
    assert target.psql("SELECT count(*) = count(DISTINCT id) FROM events;") == "t", "a part was copied twice"
    assert target.psql("SELECT to_regnamespace('_stateshift_copy') IS NULL;") == "t"
    assert source_fingerprint(database) == fingerprint, "the source changed"
