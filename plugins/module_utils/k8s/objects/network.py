# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NetworkPolicy of a database workload's pods.

Ingress: only the peers the catalog names (network.allow_from), the workload's backup pods and its
migration Job's pods, on the server's ports. Other pods of the namespace are not admitted: list them
under network.allow_from. Egress (unless network.restrict_egress is false): DNS only, since the
server opens no connections of its own - except in migration.mode online, where its subscription connects to the source.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
MIGRATION_LABEL = "stateshift.io/migration"  # the label of the migration Job's pods (migrate/worker.py)
DNS_PORTS = ({"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"})


def peer(rule):
    """The NetworkPolicy peer of one network.allow_from rule."""
    if "namespace" in rule or "namespace_labels" in rule:
        match = dict(rule.get("namespace_labels") or {})
        if "namespace" in rule:
            match[NAMESPACE_NAME_LABEL] = rule["namespace"]
        result = {"namespaceSelector": {"matchLabels": match}}
        if "pod_labels" in rule:
            result["podSelector"] = {"matchLabels": dict(rule["pod_labels"])}
        return result
    return {"podSelector": {"matchLabels": dict(rule["pod_labels"])}}


def own_peers(workload):
    """The workload's own pods that connect to it: the backup CronJob's and the migration Job's."""
    return [{"podSelector": {"matchLabels": dict(workload["backup_labels"])}},
            {"podSelector": {"matchLabels": {MIGRATION_LABEL: workload["objects"]["app"]}}}]


def policy(workload, ports):
    result = namespaced("networking.k8s.io/v1", "NetworkPolicy", workload["objects"]["network_policy"], workload)
    peers = own_peers(workload) + [peer(rule) for rule in workload["network"]["allow_from"]]
    spec = {
        "podSelector": {"matchLabels": dict(workload["selector"])},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": port, "protocol": "TCP"} for port in ports], "from": peers}],
    }
    if workload["network"]["restrict_egress"]:
        spec["policyTypes"].append("Egress")
        spec["egress"] = [{"ports": [dict(p) for p in DNS_PORTS]}]
        if (workload.get("migration") or {}).get("mode") == "online":
            spec["egress"].append(replication_egress(workload.get("source") or {}))
    result["spec"] = spec
    return result


def replication_egress(source):
    """migration.mode online: the target server's subscription connects to the source (source.address when it is an IP
    with or without a port, else any address on the PostgreSQL port)."""
    host, _sep, port = str(source.get("address") or "").rpartition(":") if ":" in str(source.get("address") or "") \
        else (str(source.get("address") or ""), "", "")
    rule = {"ports": [{"port": int(port or 5432), "protocol": "TCP"}]}
    if host and all(part.isdigit() for part in host.split(".")) and host.count(".") == 3:
        rule["to"] = [{"ipBlock": {"cidr": host + "/32"}}]
    return rule


def host_cidr(address):
    """``10.0.0.1/32`` or ``fd00::1/128``; ValueError when ``address`` is not an IP address."""
    parsed = ipaddress.ip_address(address)
    return "%s/%d" % (parsed, parsed.max_prefixlen)


def drain_egress(workload, addresses):
    """The NetworkPolicy that lets a broker's pods reach the old broker while rabbitmq_drain's shovels run (policies
    add up: this one opens only these addresses and ports); ``addresses``: [(host, port)], a host that is not an IP
    opens its port to any address."""
    result = namespaced("networking.k8s.io/v1", "NetworkPolicy", workload["objects"]["drain_network_policy"], workload)
    rules = []
    for host, port in addresses:
        rule = {"ports": [{"port": int(port), "protocol": "TCP"}]}
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None:
            rule["to"] = [{"ipBlock": {"cidr": "%s/%d" % (address, address.max_prefixlen)}}]
        rules.append(rule)
    result["spec"] = {"podSelector": {"matchLabels": dict(workload["selector"])}, "policyTypes": ["Egress"], "egress": rules}
    return result
