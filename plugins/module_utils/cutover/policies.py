# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Temporary network rules: the peers of a NetworkPolicy or CiliumNetworkPolicy that name the source's CIDR.

``without_cidr(kind, spec, cidr)`` is the spec with those peers gone. A rule left with no peer at all is removed
with them: an empty ``to``/``from`` (or a Cilium rule with only ports) would admit every address. The cutover
records the rule lists before and after; a rollback puts ``before`` back only while the policy still holds
``after``, so a change someone made since is never overwritten.
"""

from __future__ import annotations

import copy
import ipaddress

# kind -> sections of the spec that hold rules -> (fields of a rule that list peers, fields whose peers name a CIDR)
_K8S_PEERS = {"ingress": "from", "egress": "to"}
_CILIUM_PEERS = {
    "ingress": ("fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet", "fromRequires", "fromGroups", "fromNodes"),
    "egress": ("toEndpoints", "toEntities", "toCIDR", "toCIDRSet", "toServices", "toFQDNs", "toRequires", "toGroups", "toNodes"),
    "ingressDeny": ("fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet", "fromGroups", "fromNodes"),
    "egressDeny": ("toEndpoints", "toEntities", "toCIDR", "toCIDRSet", "toServices", "toGroups", "toNodes"),
}


def same_network(value, cidr):
    try:
        return ipaddress.ip_network(str(value), strict=False) == ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def rule_lists(kind, spec):
    """{section: rules} of the sections this module changes."""
    sections = _K8S_PEERS if kind == "NetworkPolicy" else _CILIUM_PEERS
    return {section: copy.deepcopy(spec[section]) for section in sections if section in (spec or {})}


def without_cidr(kind, spec, cidr):
    """(new spec, number of peers removed)."""
    spec = copy.deepcopy(spec or {})
    removed = 0
    for section, rules in rule_lists(kind, spec).items():
        kept = []
        for rule in rules:
            rule, count = (_k8s_rule(rule, _K8S_PEERS[section], cidr) if kind == "NetworkPolicy"
                           else _cilium_rule(rule, _CILIUM_PEERS[section], cidr))
            removed += count
            if rule is not None:
                kept.append(rule)
        spec[section] = kept
    return spec, removed


def _k8s_rule(rule, peers_field, cidr):
    peers = rule.get(peers_field)
    if not peers:
        return rule, 0
    kept = [peer for peer in peers if not same_network((peer.get("ipBlock") or {}).get("cidr"), cidr)]
    if len(kept) == len(peers):
        return rule, 0
    return (dict(rule, **{peers_field: kept}) if kept else None), len(peers) - len(kept)


def _cilium_rule(rule, peer_fields, cidr):
    rule, removed = dict(rule), 0
    for field in peer_fields:
        if field not in rule or "CIDR" not in field:
            continue
        entries = rule[field] or []
        kept = [entry for entry in entries if not same_network(entry.get("cidr") if isinstance(entry, dict) else entry, cidr)]
        removed += len(entries) - len(kept)
        if kept:
            rule[field] = kept
        else:
            del rule[field]
    if removed and not any(rule.get(field) for field in peer_fields):
        return None, removed
    return rule, removed


def specs_of(policy):
    """A CiliumNetworkPolicy holds ``spec`` or a list ``specs``: (key, list of specs) to edit them alike."""
    if "specs" in policy:
        return "specs", policy["specs"]
    return "spec", [policy.get("spec") or {}]
