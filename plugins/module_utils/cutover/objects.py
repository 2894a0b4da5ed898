# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The objects the cutover writes, built as data: the clients' Service both ways, the saved settings, a restart."""

from __future__ import annotations

import base64
import ipaddress

# The port clients use, by engine: (name, number).
CLIENT_PORTS = {"postgresql": ("postgresql", 5432), "rabbitmq": ("amqp", 5672), "mongodb": ("mongodb", 27017)}
RESTARTED_AT = "stateshift.k3s/restarted-at"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"


def client_port(workload):
    """(name, number) of the port clients use."""
    return CLIENT_PORTS[workload["engine"]]


def source_ip_port(workload):
    host, _sep, port = workload["source"]["address"].rpartition(":")
    return host.strip("[]"), int(port)


def service(workload, to):
    """The Service named by cutover.service: selecting the StatefulSet's pods (to target), or none (to source)."""
    name, port = client_port(workload)
    spec = {"ports": [{"name": name, "port": port, "protocol": "TCP", "targetPort": port}]}
    if to == "target":
        spec["selector"] = dict(workload["selector"])
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": workload["cutover"]["service"], "namespace": workload["namespace"],
                         "labels": dict(workload["labels"], **{"app.kubernetes.io/component": "clients"})},
            "spec": spec}


def source_endpoint_slice(workload):
    """The one EndpointSlice of the selector-less Service: the source's IP and port."""
    ip, port = source_ip_port(workload)
    family = "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": workload["objects"]["source_endpoints"], "namespace": workload["namespace"],
                         "labels": dict(workload["labels"], **{"kubernetes.io/service-name": workload["cutover"]["service"],
                                                               MANAGED_BY_LABEL: "stateshift.k3s"})},
            "addressType": family,
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
            "ports": [{"name": client_port(workload)[0], "port": port, "protocol": "TCP"}]}


def setting_value(obj, key):
    """The text of ``key`` in a Secret or ConfigMap (None when absent)."""
    if obj.get("kind") == "Secret":
        raw = (obj.get("data") or {}).get(key)
        return base64.b64decode(raw).decode("utf-8") if raw is not None else None
    return (obj.get("data") or {}).get(key)


def setting_patch(kind, key, value):
    """The merge patch that sets one key of a Secret or ConfigMap."""
    if kind == "Secret":
        return {"data": {key: base64.b64encode(value.encode("utf-8")).decode("ascii")}}
    return {"data": {key: value}}


def saved_settings(workload, values):
    """The Secret that keeps the clients' previous values for a rollback."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": workload["objects"]["cutover_previous"], "namespace": workload["namespace"],
                         "labels": dict(workload["labels"], **{"app.kubernetes.io/component": "cutover"})},
            "data": {key: base64.b64encode(value.encode("utf-8")).decode("ascii") for key, value in values.items()}}


def restart(at):
    """The merge patch that makes a client's controller replace its pods (as kubectl rollout restart does)."""
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}
