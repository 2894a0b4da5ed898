from __future__ import annotations

import socket

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import export_probe


@pytest.mark.parametrize("backend, expected", [
    ({"kind": "synology", "squash": "root"}, "none"),
    ({"kind": "synology", "squash": "guest"}, "root"),
    ({"kind": "synology", "squash": "all_admin"}, "all"),
    ({"kind": "linux_nfs", "squash": "root"}, "root"),
    ({"kind": "nfs"}, "none"),
])
def test_the_catalog_squash_in_the_probe_words(backend, expected):
    assert export_probe.expected_squash(backend) == expected


@pytest.mark.parametrize("root_chowned, user_owner, seen", [(999, 999, "none"), (65534, 999, "root"), (1024, 1024, "all")])
def test_the_squash_is_read_from_the_owners(root_chowned, user_owner, seen):
    assert export_probe._squash_seen(root_chowned, user_owner, 999) == seen


def test_a_port_where_nothing_listens_is_named_with_its_fix():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(export_probe.ProbeFailed) as refused:
        export_probe._reach("127.0.0.1", port, 2)
    assert refused.value.diagnosis == "127.0.0.1 refuses connections on port %d: NFS is not running there" % port
    assert refused.value.fix.startswith("turn NFS on")


def test_the_probe_reports_the_client_address_the_server_sees():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        assert export_probe._reach("127.0.0.1", listener.getsockname()[1], 2) == "127.0.0.1"
