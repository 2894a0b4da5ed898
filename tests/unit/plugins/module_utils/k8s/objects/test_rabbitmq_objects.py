"""What the RabbitMQ objects promise: the cookie and passwords only by reference, a restricted-ready pod, both ports closed."""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import rabbitmq
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.network import drain_egress

WORKLOAD = validate_catalog([{"name": "bowmark", "engine": "rabbitmq", "storage": {"size": "1Gi"}, "settings": {"heartbeat": 30},
                              "network": {"allow_from": [{"namespace": "web"}]}}])[0]


def by_kind(objects):
    return {obj["kind"]: obj for obj in objects}


def test_the_objects_and_their_order():
    kinds = [obj["kind"] for obj in rabbitmq.rabbitmq_objects(WORKLOAD)]
    assert kinds == ["Namespace", "ConfigMap", "Service", "Service", "StatefulSet", "PodDisruptionBudget", "NetworkPolicy"]


def test_the_cookie_comes_from_the_secret_and_no_value_is_in_the_command():
    container = by_kind(rabbitmq.rabbitmq_objects(WORKLOAD))["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    cookie = next(env for env in container["env"] if env["name"] == "STATESHIFT_ERLANG_COOKIE")
    assert cookie["valueFrom"]["secretKeyRef"] == {"name": "bowmark-secrets", "key": "erlang-cookie"}
    assert container["command"] == ["sh", "-c", rabbitmq.START]
    assert container["image"] == "rabbitmq:3.10-management"
    probes = (container["startupProbe"], container["readinessProbe"], container["livenessProbe"])
    assert all(probe["timeoutSeconds"] == 10 for probe in probes)
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_configuration_loads_the_definitions_and_the_catalogs_settings_and_restarts_the_pod_when_it_changes():
    config = by_kind(rabbitmq.rabbitmq_objects(WORKLOAD))["ConfigMap"]["data"]
    assert config["rabbitmq.conf"].splitlines() == ["load_definitions = /etc/rabbitmq/definitions/definitions.json",
                                                    "loopback_users = none", "heartbeat = 30"]
    changed = dict(WORKLOAD, settings={"heartbeat": 60})

    def checksum(workload):
        return rabbitmq.statefulset(workload, 999, "1Gi")["spec"]["template"]["metadata"]["annotations"]["stateshift.io/config-checksum"]

    assert checksum(changed) != checksum(WORKLOAD)


def test_both_ports_are_served_and_admitted_only_from_the_listed_peers():
    objects = rabbitmq.rabbitmq_objects(WORKLOAD)
    services = [obj for obj in objects if obj["kind"] == "Service"]
    assert [[p["port"] for p in s["spec"]["ports"]] for s in services] == [[5672, 15672], [5672, 15672]]
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services)
    ingress = by_kind(objects)["NetworkPolicy"]["spec"]["ingress"][0]
    assert [p["port"] for p in ingress["ports"]] == [5672, 15672]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}}} in ingress["from"]


def test_the_definitions_secret_holds_the_document():
    secret = rabbitmq.definitions_secret(WORKLOAD, {"users": []})
    assert secret["metadata"]["name"] == "bowmark-rabbitmq-definitions"
    assert json.loads(secret["stringData"]["definitions.json"]) == {"users": []}


def test_the_drain_opens_only_the_old_brokers_addresses_and_port():
    workload = validate_catalog([{"name": "bowmark", "engine": "rabbitmq", "storage": {"size": "1Gi"}}])[0]
    policy = drain_egress(workload, [("172.18.0.5", 5672), ("fd00::5", 5672), ("mq.lan", 5673)])
    assert policy["metadata"]["name"] == "bowmark-rabbitmq-drain"
    assert policy["spec"]["policyTypes"] == ["Egress"]
    assert policy["spec"]["podSelector"]["matchLabels"] == workload["selector"]
    assert policy["spec"]["egress"] == [
        {"ports": [{"port": 5672, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "172.18.0.5/32"}}]},
        {"ports": [{"port": 5672, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "fd00::5/128"}}]},
        {"ports": [{"port": 5673, "protocol": "TCP"}]},
    ]
