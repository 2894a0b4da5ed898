"""A real NFS server: Debian's nfs-ganesha 4.3 (VFS FSAL) with rpcbind in the lab container stateshift-lab/nfs-server
(this kernel has neither an NFS server nor a client), reached over real SSH.

nfs_server_export writes the exports there; nfs_export_ready checks them from the controller through libnfs, standing
in for a k3s node: an allowed export, a client the export does not allow, every user squashed to an anonymous uid,
root squashed, a read-only export and an address where nothing serves NFS. Then the storage phase exports a
linux_nfs backend, checks it and applies its provisioner and class; a re-run changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest

from .conftest import CACHE, REPO, Playbook, kubectl, nothing_changed, remove_nfs_storage

pytestmark = pytest.mark.lab

IMAGE = "stateshift-lab/nfs-server:bookworm"
NETWORK = "stateshift-legacy"
KEY = CACHE / "lab" / "ssh" / "id_ed25519"
PLAYBOOKS = REPO / "tests" / "integration" / "playbooks"
NODE_SUBNET = "192.0.2.0/24"  # the lab's real node's InternalIP


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def lab_network():
    """(subnet, gateway) of the lab's Docker network: the controller reaches the NFS server from the gateway address."""
    config = json.loads(docker("network", "inspect", NETWORK, "-f", "{{json .IPAM.Config}}").stdout)[0]
    return config["Subnet"], config["Gateway"]


def address(container):
    return docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container).stdout.strip()


@pytest.fixture(scope="module")
def nfs_server(tmp_path_factory):
    """(container name, its address, a Playbook whose inventory has it as lab_nfs_server)."""
    if not KEY.exists():
        pytest.fail("the lab is not up (%s missing): run 'tests/lab/lab up'" % KEY)
    name = "stateshift-nfs-%s" % uuid.uuid4().hex[:6]
    # ganesha's VFS FSAL needs open_by_handle_at: CAP_DAC_READ_SEARCH and a seccomp profile that allows it, on a volume.
    docker("run", "-d", "--name", name, "--network", NETWORK, "--cap-add", "DAC_READ_SEARCH", "--security-opt",
           "seccomp=unconfined", "-v", "/srv", "-e", "SSH_AUTHORIZED_KEYS=%s" % KEY.with_suffix(".pub").read_text().strip(), IMAGE)
    try:
        ip = address(name)
        deadline = time.time() + 60
        # ganesha answers first; sshd starts after it
        answering = "rpcinfo -t 127.0.0.1 nfs 4 && bash -c '</dev/tcp/127.0.0.1/22'"
        while docker("exec", name, "sh", "-c", answering, check=False).returncode != 0:
            assert time.time() < deadline, docker("exec", name, "tail", "-20", "/var/log/ganesha.log", check=False).stdout
            time.sleep(0.5)
        inventory = tmp_path_factory.mktemp("nfs") / "inventory.yml"
        inventory.write_text(json.dumps({"all": {"hosts": {"lab_nfs_server": {
            "ansible_host": ip, "ansible_user": "root", "ansible_ssh_private_key_file": str(KEY),
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}}}}))
        yield name, ip, Playbook([inventory])
    finally:
        docker("rm", "-f", "-v", name, check=False)


@pytest.fixture(scope="module")
def exports(nfs_server):
    name, _ip, playbook = nfs_server
    subnet, _gateway = lab_network()
    declared = [{"name": "open", "path": "/srv/open", "clients": [subnet]},
                {"name": "elsewhere", "path": "/srv/elsewhere", "clients": ["10.99.0.0/24"]},
                {"name": "everyone", "path": "/srv/everyone", "clients": [subnet], "squash": "all", "anonymous_uid": 1024,
                 "anonymous_gid": 100},
                {"name": "rootless", "path": "/srv/rootless", "clients": [subnet], "squash": "root"}]
    playbook.run(PLAYBOOKS / "nfs_exports.yml", "-e", json.dumps({"nfs_exports": declared}))
    # A read-only export is not something the collection makes: it is written by hand.
    docker("exec", name, "sh", "-c", "mkdir -p /srv/readonly && sed -e 's/Access_Type = RW/Access_Type = RO/' "
           "-e 's/Export_Id = [0-9]*/Export_Id = 7/' -e 's#/srv/open#/srv/readonly#g' /etc/ganesha/exports.d/stateshift-open.conf "
           ">/etc/ganesha/exports.d/readonly.conf && kill -HUP $(cat /var/run/ganesha/ganesha.pid)")
    time.sleep(1)
    return declared


def probe(server, path, check=False, **options):
    variables = dict({"probe_server": server, "probe_path": path}, **{"probe_%s" % key: value for key, value in options.items()})
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1")
    argv = ["ansible-playbook", "-i", "localhost,", str(PLAYBOOKS / "nfs_export_ready_probe.yml"), "-e", json.dumps(variables)]
    if check:
        argv.append("--check")
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=True, cwd=REPO)
    document = json.loads(result.stdout[result.stdout.index("{"):])
    return document["plays"][0]["tasks"][0]["hosts"]["localhost"]


def leftovers(container, path):
    return docker("exec", container, "find", path, "-mindepth", "1").stdout.split()


def test_an_allowed_export_works_for_the_database_user_over_nfs4_and_nfs3(nfs_server, exports):
    container, ip, _playbook = nfs_server
    for version in ("4.1", "3"):
        result = probe(ip, "/srv/open", version=version)
        assert not result.get("failed"), result
        assert result["observed"] == {"squash": "none", "root_file_owner": 0, "root_chown_owner": 999, "database_file_owner": 999,
                                      "other_user_owner": 1000, "database_chown_refused": False}
        assert result["checks"][-1] == "squash as declared" and result["client_address"] == lab_network()[1]
    assert leftovers(container, "/srv/open") == []


def test_check_mode_only_mounts_and_so_passes_on_a_read_only_export(nfs_server, exports):
    _container, ip, _playbook = nfs_server
    result = probe(ip, "/srv/readonly", check=True)
    assert result["checks"] == ["reachable", "mounted"] and not result.get("failed"), result


def test_a_client_the_export_does_not_allow_is_told_its_own_address(nfs_server, exports):
    _container, ip, _playbook = nfs_server
    gateway = lab_network()[1]
    for version in ("4.1", "3"):
        result = probe(ip, "/srv/elsewhere", version=version)
        assert result["failed"]
        assert "does not mount for this client %s: the export is missing or not allowed" % gateway in result["diagnosis"], result
        assert result["fix"].startswith("export /srv/elsewhere to %s" % gateway)
    assert "exports this client may see: /srv/everyone, /srv/open" in probe(ip, "/srv/elsewhere", version="3")["diagnosis"]


def test_every_user_squashed_passes_when_declared_and_is_named_when_not(nfs_server, exports):
    _container, ip, _playbook = nfs_server
    declared = probe(ip, "/srv/everyone", squash="all", anonymous_uid=1024)
    assert not declared.get("failed"), declared
    assert declared["observed"]["database_file_owner"] == 1024
    assert any("chown: Operation not permitted" in warning for warning in declared["warnings_found"])
    wrong_uid = probe(ip, "/srv/everyone", squash="all", anonymous_uid=2000)
    assert "every user is squashed to uid 1024, but the catalog says 2000" in wrong_uid["diagnosis"]
    undeclared = probe(ip, "/srv/everyone")
    assert "the server applies every user squashed" in undeclared["diagnosis"]
    assert "but the catalog says no squash (root stays root)" in undeclared["diagnosis"]


def test_root_squashed_is_named_and_on_a_root_owned_directory_stops_the_provisioner(nfs_server, exports):
    container, ip, _playbook = nfs_server
    assert docker("exec", container, "stat", "-c", "%u", "/srv/rootless").stdout.strip() == "65534"
    assert not probe(ip, "/srv/rootless", squash="root").get("failed")
    undeclared = probe(ip, "/srv/rootless")
    assert undeclared["diagnosis"].startswith("the server applies root squashed (root's file is owned by 65534"), undeclared
    docker("exec", container, "chown", "0:0", "/srv/rootless")
    result = probe(ip, "/srv/rootless", squash="root")
    assert "root (the provisioner, which makes each volume's directory) may not write" in result["diagnosis"], result
    assert "No mapping" in result["fix"] and "no_root_squash" in result["fix"]
    assert result["checks"] == ["reachable", "mounted"]


def test_a_read_only_export_is_named(nfs_server, exports):
    _container, ip, _playbook = nfs_server
    result = probe(ip, "/srv/readonly")
    assert "the export is read-only for this client" in result["diagnosis"], result
    assert "read/write" in result["fix"]


def test_an_address_where_nothing_serves_nfs_is_named(nfs_server):
    result = probe(address("legacy-vm"), "/srv/open")
    assert "refuses connections on port 2049: NFS is not running there" in result["diagnosis"], result


def storage_phase(ip, suffix, clients):
    backend = "box%s" % suffix
    return backend, {"stateshift_storage": {
        "backends": [{"name": backend, "kind": "linux_nfs", "host": "lab_nfs_server", "server": ip, "path": "/srv/k3s-%s" % suffix,
                      "clients": clients, "service": "ganesha"}],
        "classes": [{"name": "nfs-box-%s" % suffix, "backend": backend}]},
        "nfs_storage_wait_timeout": 0, "nfs_storage_probe_hosts": ["localhost"], "nfs_storage_server_become": False,
        "nfs_storage_probe_become": False}


def test_clients_that_leave_out_a_node_are_refused_before_the_server_changes(nfs_server, cluster):
    container, ip, playbook = nfs_server
    suffix = uuid.uuid4().hex[:6]
    backend, variables = storage_phase(ip, suffix, [lab_network()[0]])
    refused = playbook.run(REPO / "playbooks" / "storage.yml", "-e", json.dumps(variables), check=False)
    assert refused.returncode != 0
    assert "do not contain the node address(es) 192.0.2.2; add the nodes' subnet" in refused.stdout, refused.stdout[-3000:]
    assert docker("exec", container, "ls", "/etc/ganesha/exports.d").stdout.split().count("stateshift-%s.conf" % backend) == 0
    assert docker("exec", container, "test", "-e", "/srv/k3s-%s" % suffix, check=False).returncode != 0
    assert kubectl("get", "storageclass", "nfs-box-%s" % suffix, check=False).returncode != 0


def test_the_storage_phase_exports_a_linux_server_checks_it_and_a_rerun_changes_nothing(nfs_server, cluster):
    container, ip, playbook = nfs_server
    suffix = uuid.uuid4().hex[:6]
    backend, variables = storage_phase(ip, suffix, [lab_network()[0], NODE_SUBNET])
    try:
        first = playbook.run(REPO / "playbooks" / "storage.yml", "-e", json.dumps(variables))
        checked = first.stdout.split("Check each export from every node", 1)[1].split("TASK [", 1)[0]
        assert "ok: [localhost" in checked and "skipping" not in checked, checked
        conf = docker("exec", container, "cat", "/etc/ganesha/exports.d/stateshift-%s.conf" % backend).stdout
        assert 'Path = "/srv/k3s-%s";' % suffix in conf and "Squash = No_Root_Squash;" in conf
        stored = json.loads(kubectl("get", "storageclass", "nfs-box-%s" % suffix, "-o", "json").stdout)
        assert stored["provisioner"] == "stateshift.k3s/nfs-%s" % backend
        again = playbook.run(REPO / "playbooks" / "storage.yml", "-e", json.dumps(variables))
        assert nothing_changed(again.stdout), again.stdout[-3000:]
    finally:
        remove_nfs_storage("nfs-box-%s" % suffix, backend)
