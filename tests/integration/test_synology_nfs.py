"""synology_nfs run by ansible-playbook against the DSM Web API double (tests/doubles/dsm_webapi.py; no NAS can run
here): a fresh NAS is set up and a re-run changes nothing; --check --diff writes nothing; a rule of another client that
overlaps is refused before any write; DSM's refusals (wrong password, 2-step verification, an unknown volume) and an
address nothing answers at are named with their fix; the password never reaches the output, even at -vvv."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from tests.doubles import dsm_webapi

from .conftest import REPO

PASSWORD = "Nas-Admin-1"


def play(url, password=PASSWORD, *extra, **options):
    task = dict({"url": url, "username": "stateshift", "password": password, "share": "k8s-storage",
                 "rules": [{"client": "192.168.1.0/24"}], "node_addresses": ["192.168.1.21", "192.168.1.22"]}, **options)
    playbook = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
                 "tasks": [{"name": "NFS share for k3s", "stateshift.k3s.synology_nfs": task, "register": "nas"},
                           {"name": "Result", "ansible.builtin.debug": {"var": "nas.actions"}}]}]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    return subprocess.run(["ansible-playbook", "-i", "localhost,", "/dev/stdin", *extra], input=json.dumps(playbook), cwd=REPO,
                          capture_output=True, text=True, env=env, check=False)


def changed(run):
    return int(run.stdout.split("PLAY RECAP")[-1].split("changed=")[1].split()[0])


def test_a_fresh_nas_is_set_up_and_a_rerun_changes_nothing():
    nas = dsm_webapi.fresh_nas(password=PASSWORD)
    with dsm_webapi.serving(nas) as (url, double):
        first = play(url, PASSWORD, "-vvv")
        assert first.returncode == 0, first.stdout[-3000:]
        assert changed(first) == 1
        assert PASSWORD not in first.stdout + first.stderr
        assert nas["nfs"]["enable_nfs"] is True and nas["nfs"]["enabled_minor_ver"] == 1
        assert nas["nfs"]["read_size"] == 131072, "the NFS settings DSM holds were not sent back whole"
        assert nas["shares"] == {"k8s-storage": {"vol_path": "/volume1", "desc": "Kubernetes persistent volumes (stateshift.k3s)"}}
        (rule,) = nas["rules"]["k8s-storage"]
        assert (rule["client"], rule["privilege"], rule["root_squash"], rule["async"]) == ("192.168.1.0/24", "rw", "root", False)
        assert not double.sessions, "the DSM session was not logged out"
        double.calls.clear()
        again = play(url)
        assert again.returncode == 0 and changed(again) == 0, again.stdout[-3000:]
        assert {method for _api, method in double.calls} == {"get", "list", "load"}


def test_check_mode_shows_the_change_and_writes_nothing():
    nas = dsm_webapi.fresh_nas(password=PASSWORD)
    with dsm_webapi.serving(nas) as (url, double):
        run = play(url, PASSWORD, "--check", "--diff")
        assert run.returncode == 0 and changed(run) == 1, run.stdout[-3000:]
        assert '"enable_nfs": true' in run.stdout and "192.168.1.0/24" in run.stdout
        assert nas["shares"] == {} and nas["nfs"]["enable_nfs"] is False
        assert {method for _api, method in double.calls} == {"get", "list"}


def test_an_overlapping_rule_of_another_client_is_refused_before_any_write():
    nas = dsm_webapi.fresh_nas(password=PASSWORD)
    nas["shares"]["k8s-storage"] = {"vol_path": "/volume1", "desc": ""}
    nas["rules"]["k8s-storage"] = [{"client": "192.168.1.21", "privilege": "rw", "root_squash": "all_admin", "async": True,
                                    "insecure": False, "crossmnt": False, "security_flavor": {"sys": True}}]
    with dsm_webapi.serving(nas) as (url, double):
        run = play(url)
        assert run.returncode != 0
        assert "has a rule for 192.168.1.21, which overlaps the rule asked for 192.168.1.0/24" in run.stdout, run.stdout[-3000:]
        assert not [call for call in double.calls if call in dsm_webapi.CHANGES]


@pytest.mark.parametrize(("prepare", "options", "expected"), [
    (lambda nas: None, {"password": "Not-The-Password-9"}, "DSM login as stateshift at %s failed (code 400): wrong account or password"),
    (lambda nas: nas.update(two_step=True), {}, "(code 403): the account has 2-step verification: use a dedicated"),
    (lambda nas: nas.update(failures=5), {}, "(code 407): this address is blocked after too many failed logins"),
    (lambda nas: None, {"volume": "/volume3"}, "SYNO.Core.Share create on DSM at %s failed (code 3304): the volume does not exist"),
])
def test_dsm_refusals_are_named_with_their_fix(prepare, options, expected):
    nas = dsm_webapi.fresh_nas(password=PASSWORD)
    prepare(nas)
    with dsm_webapi.serving(nas) as (url, _double):
        password = options.pop("password", PASSWORD)
        run = play(url, password, **options)
        assert run.returncode != 0
        assert (expected % url if "%s" in expected else expected) in run.stdout, run.stdout[-3000:]
        assert nas["shares"] == {} and nas["nfs"]["enable_nfs"] is False


def test_an_address_nothing_answers_at_is_named():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = play("http://127.0.0.1:%d" % port)
    assert run.returncode != 0
    assert "cannot reach DSM at http://127.0.0.1:%d" % port in run.stdout, run.stdout[-3000:]
