"""nfs_server_export run by ansible-playbook on this machine, into a temporary folder standing in for /etc: its
ganesha path with a main configuration that must be given an %include line, a process standing in for ganesha that
records the SIGHUPs it gets (the real ganesha is reloaded in test_nfs_export_lab.py), --check --diff writing nothing,
a re-run changing nothing, a failed reload putting every file back so a re-run tries again, and bad input refused before
anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from .conftest import REPO

HUP_RECORDER = ("import signal, sys, time\n"
                "signal.signal(signal.SIGHUP, lambda *a: open(sys.argv[1], 'a').write('hup\\n'))\n"
                "time.sleep(600)\n")


def play(folder, *extra, **options):
    task = dict({"name": "homelab", "path": str(folder / "srv" / "k3s"), "clients": ["192.168.1.0/24"], "service": "ganesha",
                 "config_dir": str(folder / "exports.d"), "ganesha_config": str(folder / "ganesha.conf"),
                 "ganesha_pid_file": str(folder / "ganesha.pid"), "node_addresses": ["192.168.1.21"]}, **options)
    playbook = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
                 "tasks": [{"name": "Export", "stateshift.k3s.nfs_server_export": task}]}]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    return subprocess.run(["ansible-playbook", "-i", "localhost,", "/dev/stdin", *extra], input=json.dumps(playbook), cwd=REPO,
                          capture_output=True, text=True, env=env, check=False)


def changed(run):
    assert "PLAY RECAP" in run.stdout, run.stdout + run.stderr
    return int(run.stdout.split("PLAY RECAP")[-1].split("changed=")[1].split()[0])


@pytest.fixture
def ganesha(tmp_path):
    """A folder like /etc/ganesha with a main configuration and a running process in the pid file; yields (folder,
    the file that records each SIGHUP)."""
    (tmp_path / "ganesha.conf").write_text("NFS_CORE_PARAM { Protocols = 3, 4; }")  # no newline at the end
    hups = tmp_path / "hups"
    recorder = subprocess.Popen([sys.executable, "-c", HUP_RECORDER, str(hups)])
    time.sleep(0.3)
    (tmp_path / "ganesha.pid").write_text("%d\n" % recorder.pid)
    yield tmp_path, hups
    recorder.kill()


def reloads(hups):
    time.sleep(0.3)
    return len(hups.read_text().split()) if hups.exists() else 0


def test_check_mode_writes_nothing_then_the_export_is_written_once_and_reloaded_once(ganesha):
    folder, hups = ganesha
    checked = play(folder, "--check", "--diff")
    assert changed(checked) == 1 and 'Path = "%s";' % (folder / "srv" / "k3s") in checked.stdout
    assert not (folder / "exports.d").exists() and not (folder / "srv").exists() and reloads(hups) == 0
    assert changed(play(folder)) == 1
    export = (folder / "exports.d" / "stateshift-homelab.conf").read_text()
    assert "CLIENT { Clients = 192.168.1.0/24; Access_Type = RW; }" in export
    assert (folder / "ganesha.conf").read_text() == ('NFS_CORE_PARAM { Protocols = 3, 4; }\n%%include "%s"\n'
                                                     % (folder / "exports.d" / "stateshift-homelab.conf"))
    assert reloads(hups) == 1
    assert changed(play(folder)) == 0 and reloads(hups) == 1
    assert (folder / "ganesha.conf").read_text().count("%include") == 1


def test_a_squashed_export_gives_its_directory_to_the_anonymous_user(ganesha):
    folder, _hups = ganesha
    assert changed(play(folder, squash="root", anonymous_uid=1024, anonymous_gid=100)) == 1
    stat = os.stat(folder / "srv" / "k3s")
    assert (stat.st_uid, stat.st_gid) == (1024, 100)
    assert changed(play(folder, squash="none")) == 1
    assert os.stat(folder / "srv" / "k3s").st_uid == 0


def test_a_failed_reload_puts_the_files_back_and_a_rerun_tries_again(ganesha):
    folder, hups = ganesha
    pid_file = folder / "ganesha.pid"
    pid = pid_file.read_text()
    pid_file.unlink()
    failed = play(folder)
    assert failed.returncode != 0 and "cannot tell nfs-ganesha to re-read its exports" in failed.stdout, failed.stdout[-2000:]
    assert not (folder / "exports.d" / "stateshift-homelab.conf").exists()
    assert (folder / "ganesha.conf").read_text() == "NFS_CORE_PARAM { Protocols = 3, 4; }"
    pid_file.write_text(pid)
    assert changed(play(folder)) == 1 and reloads(hups) == 1


def test_bad_input_is_refused_before_anything_is_written(ganesha):
    folder, hups = ganesha
    refused = play(folder, name="../cron", clients=["nas.lan"], node_addresses=["10.0.0.7"])
    assert refused.returncode != 0
    assert "name = '../cron': is not a short name" in refused.stdout
    assert "clients[0] = 'nas.lan': is not an address or subnet" in refused.stdout
    assert "do not contain the node address(es) 10.0.0.7" in refused.stdout
    assert not (folder / "exports.d").exists() and not (folder / "srv").exists() and reloads(hups) == 0
