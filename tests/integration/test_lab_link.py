"""The lab's shaped link (tests/lab/link.sh): switched on and off on a running lab, it caps the legacy host's
bridge near 1 Gbit/s, sends SSH and PostgreSQL through toxiproxy, and leaves nothing behind when switched off.
The link that was on before the test is put back."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import pytest

from .conftest import REPO
from .migration_helpers import legacy_ssh, source_psql

pytestmark = [pytest.mark.lab, pytest.mark.serial]

LINK = REPO / "tests" / "lab" / "link.sh"
RAW_PORT = 9977
MEBIBYTES = 200


def link(*args):
    return subprocess.run([str(LINK), *args], capture_output=True, text=True, check=False, timeout=300)


def mode():
    return link("status").stdout.splitlines()[0].split(": ", 1)[1]


def container_ip(name):
    return subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name],
                          capture_output=True, text=True, check=True).stdout.strip()


def raw_mbit_per_s():
    """Mbit/s of a plain TCP stream from legacy-vm to this machine (no proxy on this port: the bridge's rate only)."""
    server = ("import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
              "s.bind(('0.0.0.0', %d)); s.listen(1); c, _ = s.accept(); b = bytes(1 << 20)\n"
              "for _ in range(%d): c.sendall(b)\nc.close()\n" % (RAW_PORT, MEBIBYTES))
    subprocess.run(["docker", "exec", "-d", "legacy-vm", "python3", "-c", server], check=True)
    address, received = container_ip("legacy-vm"), 0
    for _attempt in range(50):
        try:
            conn = socket.create_connection((address, RAW_PORT), timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise AssertionError("the test's TCP server in legacy-vm did not answer")
    start = time.monotonic()
    with conn:
        while chunk := conn.recv(1 << 20):
            received += len(chunk)
    assert received == MEBIBYTES << 20
    return received * 8 / (time.monotonic() - start) / 1e6


@pytest.fixture(scope="module")
def restore_link(legacy_host):
    before = mode()
    yield before
    assert link(before).returncode == 0


def test_shaped_then_loopback(restore_link):
    shaped = link("shaped")
    assert shaped.returncode == 0, shaped.stderr
    assert link("shaped").returncode == 0, "a second 'shaped' failed: not idempotent"
    status = link("status").stdout
    assert "link: shaped" in status and "rate: 1Gbit out, 1Gbit in" in status, status
    with urllib.request.urlopen("http://127.0.0.1:8474/proxies", timeout=10) as answer:
        proxies = json.load(answer)
    ssh_proxy = proxies["legacy-vm-22"]
    assert ssh_proxy["upstream"] == "%s:22" % container_ip("legacy-vm")
    assert [t["type"] for t in ssh_proxy["toxics"]] == ["latency"]
    assert "invoicetron-db-5432" in proxies
    # SSH (as Ansible reaches the legacy host) and the source PostgreSQL still answer, through the proxy
    assert legacy_ssh("echo through").stdout.strip() == "through"
    assert source_psql("SELECT 1;") == "1"
    rate = raw_mbit_per_s()
    assert rate < 1100, "the shaped link carried %.0f Mbit/s, more than its 1 Gbit/s" % rate

    off = link("loopback")
    assert off.returncode == 0, off.stderr
    assert link("status").stdout.strip() == "link: loopback"
    nat = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True, check=True).stdout
    assert "STATESHIFT-LINK" not in nat
    qdiscs = subprocess.run(["tc", "qdisc", "show"], capture_output=True, text=True, check=True).stdout
    assert "tbf" not in qdiscs and "ss-legacy-ifb" not in subprocess.run(["ip", "link"], capture_output=True, text=True, check=True).stdout
    assert legacy_ssh("echo direct").stdout.strip() == "direct"
    print("raw TCP from legacy-vm: shaped %.0f Mbit/s, loopback %.0f Mbit/s" % (rate, raw_mbit_per_s()))
