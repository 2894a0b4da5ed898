from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import nfs_share

RULE = {"client": "192.168.1.0/24", "privilege": "rw", "squash": "root", "async": False, "insecure": True, "crossmnt": True,
        "security": "sys"}
NFS_OFF = {"enable_nfs": False, "enable_nfs_v4": False, "enabled_minor_ver": 0, "read_size": 131072}


def desired(**changes):
    return dict({"share": "k8s-storage", "volume": "/volume1", "description": "k3s", "nfs_version": "4.1", "rules": [RULE],
                 "node_addresses": ["192.168.1.21"]}, **changes)


def test_a_fresh_nas_gets_nfs_41_the_share_and_the_rule():
    planned = nfs_share.plan({"nfs": NFS_OFF, "share": None, "rules": []}, desired())
    assert planned["nfs"] == {"enable_nfs": True, "enable_nfs_v4": True, "enabled_minor_ver": 1, "read_size": 131072}
    assert planned["create_share"]["vol_path"] == "/volume1" and planned["create_share"]["enable_recycle_bin"] is False
    assert planned["rules"] == [nfs_share.dsm_rule(RULE)]
    assert planned["rules"][0]["security_flavor"] == {"sys": True, "kerberos": False, "kerberos_integrity": False,
                                                      "kerberos_privacy": False}


def test_nfs_is_never_turned_down():
    on = {"enable_nfs": True, "enable_nfs_v4": True, "enabled_minor_ver": 1}
    assert nfs_share.nfs_settings(on, "3") is None


def test_a_nas_that_is_already_so_needs_nothing():
    current = {"nfs": {"enable_nfs": True, "enable_nfs_v4": True, "enabled_minor_ver": 1},
               "share": {"name": "k8s-storage", "vol_path": "/volume1"}, "rules": [dict(nfs_share.dsm_rule(RULE), id="192.168.1.0/24")]}
    planned = nfs_share.plan(current, desired())
    assert planned["nfs"] is None and planned["create_share"] is None and planned["rules"] is None


def test_rules_for_other_clients_are_kept_and_a_changed_rule_replaced():
    other = nfs_share.comparable({"client": "10.9.0.5", "privilege": "ro", "root_squash": "all_guest",
                                  "security_flavor": {"sys": True}})
    current = {"nfs": {"enable_nfs": True, "enable_nfs_v4": True, "enabled_minor_ver": 1},
               "share": {"name": "k8s-storage", "vol_path": "/volume1"},
               "rules": [other, nfs_share.dsm_rule(dict(RULE, squash="all_admin"))]}
    assert nfs_share.plan(current, desired())["rules"] == [other, nfs_share.dsm_rule(RULE)]


@pytest.mark.parametrize("client", ["192.168.1.40", "192.168.0.0/16", "*"])
def test_a_kept_rule_overlapping_an_asked_one_is_refused(client):
    current = {"nfs": NFS_OFF, "share": {"name": "k8s-storage", "vol_path": "/volume1"},
               "rules": [nfs_share.dsm_rule(dict(RULE, client=client, squash="all_admin"))]}
    with pytest.raises(nfs_share.PlanError, match="has a rule for %s, which overlaps the rule asked for 192.168.1.0/24" % client.replace(
            "*", r"\*")):
        nfs_share.plan(current, desired())


def test_a_share_on_another_volume_is_refused():
    current = {"nfs": NFS_OFF, "share": {"name": "k8s-storage", "vol_path": "/volume2"}, "rules": []}
    with pytest.raises(nfs_share.PlanError, match="exists on /volume2, not on /volume1: set volume to /volume2"):
        nfs_share.plan(current, desired())


def test_nodes_outside_every_read_write_rule_are_refused():
    with pytest.raises(nfs_share.PlanError, match=r"covers the node address\(es\) 192.168.2.7, 10.0.0.1"):
        nfs_share.plan({"nfs": NFS_OFF, "share": None, "rules": []},
                       desired(node_addresses=["192.168.1.21", "192.168.2.7", "10.0.0.1"],
                               rules=[RULE, dict(RULE, client="10.0.0.0/8", privilege="ro")]))


def test_rules_dsm_lists_in_another_order_need_nothing():
    second = dict(RULE, client="10.0.0.0/8")
    current = {"nfs": {"enable_nfs": True, "enable_nfs_v4": True, "enabled_minor_ver": 1},
               "share": {"name": "k8s-storage", "vol_path": "/volume1"},
               "rules": [nfs_share.dsm_rule(second), dict(nfs_share.dsm_rule(RULE), id="x", extra="kept as DSM gave it")]}
    assert nfs_share.plan(current, desired(rules=[RULE, second]))["rules"] is None
