"""A running single PostgreSQL server (ha: none, deployed and migrated into by the playbooks) turned into a Patroni
cluster of three by the databases playbook (ha: patroni, replicas: 3): its pod restarts as Patroni on the same data
directory and leads, the replication and rewind users are made on it, two replicas copy it, and every member holds the
data migrated before; none of its three passwords is in the run's -vvv output. A re-run changes nothing."""

from __future__ import annotations

import json

import pytest

from .conftest import kubectl, nothing_changed
from .migration_helpers import FINGERPRINT_SQL, source_fingerprint
from .patroni_helpers import IMAGE, Cluster, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.serial]  # alone: its three members slow the parallel stage by minutes


@pytest.fixture(scope="module")
def single(playbook, cluster):
    target = Cluster(playbook)
    target.workload.update(ha="none", replicas=1)
    target.workload.pop("image")
    try:
        yield target
    finally:
        target.remove()


def test_a_single_server_becomes_the_first_member_and_keeps_its_data(single):
    single.deploy(replicas=1)
    migrated = single.migrate()
    assert migrated.returncode == 0, migrated.stdout[-3000:]
    expected = source_fingerprint()
    single.workload.update(ha="patroni", image=IMAGE)
    adopted = single.deploy(3, "-vvv")
    assert not [password for password in single.passwords() if password in adopted.stdout + adopted.stderr], \
        "a password of the cluster is in the -vvv output"
    users = adopted.stdout.split("Create the replication and rewind users", 1)[1].split("TASK [", 1)[0]
    assert "changed: [localhost]" in users, users
    assert wait_for("one leader and two replicas", single.leader, timeout=60) == "gardenos-postgresql-0"
    for pod in single.ready_roles():
        assert single.member_psql(pod, FINGERPRINT_SQL, database="invoicetron") == expected, pod
    config = json.loads(kubectl("exec", "-n", single.namespace, "gardenos-postgresql-0", "-c", "postgresql", "--", "python3", "-c",
                                "import sys, urllib.request; sys.stdout.write(urllib.request.build_opener()"
                                ".open('http://127.0.0.1:8008/config').read().decode())").stdout)
    assert (config.get("synchronous_mode"), config.get("ttl")) == (True, 20), "the cluster runs the catalog's settings"
    again = single.deploy(replicas=3)
    assert nothing_changed(again.stdout), [block[:300] for block in again.stdout.split("TASK [") if "changed:" in block]
