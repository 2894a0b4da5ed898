from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.policies import rule_lists, without_cidr

CIDR = "10.10.50.10/32"


def test_a_networkpolicy_peer_goes_and_a_rule_left_without_peers_goes_with_it():
    spec = {"egress": [{"to": [{"ipBlock": {"cidr": CIDR}}], "ports": [{"port": 5432}]},
                       {"to": [{"ipBlock": {"cidr": "10.10.50.10/32"}}, {"podSelector": {}}]},
                       {"to": [{"ipBlock": {"cidr": "10.10.50.0/24"}}]}],
            "ingress": [{"from": [{"ipBlock": {"cidr": CIDR}}]}], "podSelector": {}}
    reduced, removed = without_cidr("NetworkPolicy", spec, CIDR)
    assert removed == 3
    assert reduced["egress"] == [{"to": [{"podSelector": {}}]}, {"to": [{"ipBlock": {"cidr": "10.10.50.0/24"}}]}]
    assert reduced["ingress"] == [] and reduced["podSelector"] == {}
    assert spec["egress"][0]["to"], "the input is not changed"


def test_a_rule_without_peers_is_never_created_from_one_that_had_some():
    spec = {"egress": [{"ports": [{"port": 53}]}]}
    assert without_cidr("NetworkPolicy", spec, CIDR) == (spec, 0)


def test_cilium_cidr_lists_bare_ips_and_cidr_sets():
    spec = {"egress": [{"toCIDR": ["10.10.50.10", "192.0.2.1/32"]},
                       {"toCIDRSet": [{"cidr": CIDR, "except": []}], "toPorts": [{"ports": [{"port": "3000"}]}]},
                       {"toEndpoints": [{}], "toCIDR": [CIDR]}],
            "ingress": [{"fromCIDR": [CIDR]}]}
    reduced, removed = without_cidr("CiliumNetworkPolicy", spec, CIDR)
    assert removed == 4
    assert reduced["egress"] == [{"toCIDR": ["192.0.2.1/32"]}, {"toEndpoints": [{}]}]
    assert reduced["ingress"] == []


def test_rule_lists_are_what_a_rollback_compares():
    spec = {"egress": [{"toCIDR": [CIDR]}], "endpointSelector": {}}
    assert rule_lists("CiliumNetworkPolicy", spec) == {"egress": [{"toCIDR": [CIDR]}]}
