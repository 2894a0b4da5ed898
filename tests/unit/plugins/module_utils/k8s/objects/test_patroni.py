from __future__ import annotations

import json

import yaml

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import patroni
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.postgresql import postgresql_objects

SINGLE = {"name": "gardenos", "engine": "postgresql", "version": "15", "storage": {"size": "10Gi", "class": "longhorn"},
          "roles": [{"name": "app", "password_key": "app-password"}], "settings": {"max_connections": 50, "jit": False}}
CLUSTER = dict(SINGLE, ha="patroni", replicas=3, image="stateshift-lab/patroni:15")


def workload(entry=None):
    return validate_catalog([entry or CLUSTER])[0]


def by_kind(objects):
    return {(item["kind"], item["metadata"]["name"]): item for item in objects}


def container_env(objects):
    spec = objects[("StatefulSet", "gardenos-postgresql")]["spec"]["template"]["spec"]
    return {item["name"]: item for item in spec["containers"][0]["env"]}


def test_the_client_service_selects_the_leader_and_the_replicas_service_the_replicas():
    made = workload()
    objects = by_kind(postgresql_objects(made))
    assert objects[("Service", "gardenos-postgresql")]["spec"]["selector"] == dict(made["selector"], role="primary")
    assert objects[("Service", "gardenos-postgresql-replicas")]["spec"]["selector"] == dict(made["selector"], role="replica")
    env = container_env(objects)
    assert env["PATRONI_KUBERNETES_LEADER_LABEL_VALUE"]["value"] == "primary"
    assert env["PATRONI_KUBERNETES_USE_ENDPOINTS"]["value"] == "false"
    assert json.loads(env["PATRONI_KUBERNETES_LABELS"]["value"]) == made["selector"]
    template = objects[("StatefulSet", "gardenos-postgresql")]["spec"]["template"]
    assert template["metadata"]["labels"][patroni.SCOPE_LABEL] == env["PATRONI_SCOPE"]["value"] == "gardenos-postgresql-ha"


def test_the_statefulset_keeps_the_single_servers_immutable_fields_and_data_directory():
    single = by_kind(postgresql_objects(workload(SINGLE)))[("StatefulSet", "gardenos-postgresql")]["spec"]
    cluster = by_kind(postgresql_objects(workload()))[("StatefulSet", "gardenos-postgresql")]["spec"]
    for immutable in ("serviceName", "selector", "volumeClaimTemplates", "podManagementPolicy"):
        assert cluster[immutable] == single[immutable]
    single_env = {item["name"]: item.get("value") for item in single["template"]["spec"]["containers"][0]["env"]}
    assert container_env(by_kind(postgresql_objects(workload())))["PATRONI_POSTGRESQL_DATA_DIR"]["value"] == single_env["PGDATA"]
    assert cluster["replicas"] == 3


def test_passwords_come_from_the_secret_and_the_configuration_holds_none():
    objects = by_kind(postgresql_objects(workload()))
    env = container_env(objects)
    for variable, key in (("PATRONI_SUPERUSER_PASSWORD", "postgres-password"), ("PATRONI_REPLICATION_PASSWORD", "replication-password"),
                          ("PATRONI_REWIND_PASSWORD", "rewind-password")):
        assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": "gardenos-secrets", "key": key}
    assert env["PATRONI_SUPERUSER_USERNAME"]["value"] == "gardenos"
    assert any(item.get("valueFrom", {}).get("secretKeyRef", {}).get("key") == "app-password" for item in env.values())
    text = objects[("ConfigMap", "gardenos-postgresql-patroni")]["data"]["patroni.yml"]
    config = yaml.safe_load(text)
    assert "password" not in text.replace("password_encryption", "")
    assert config["bootstrap"]["dcs"]["synchronous_mode"] is True
    timing = config["bootstrap"]["dcs"]
    assert timing["loop_wait"] + 2 * timing["retry_timeout"] <= timing["ttl"]
    assert config["postgresql"]["parameters"] == {"jit": "off", "max_connections": "50"}


def test_a_settings_change_rolls_the_members():
    before = by_kind(postgresql_objects(workload()))[("StatefulSet", "gardenos-postgresql")]
    after = by_kind(postgresql_objects(workload(dict(CLUSTER, settings={"max_connections": 80}))))[("StatefulSet", "gardenos-postgresql")]
    annotation = "stateshift.io/config-checksum"
    assert before["spec"]["template"]["metadata"]["annotations"][annotation] != \
        after["spec"]["template"]["metadata"]["annotations"][annotation]


def test_patroni_may_write_only_its_configmaps_and_pods_and_gets_a_token():
    objects = by_kind(postgresql_objects(workload()))
    role = objects[("Role", "gardenos-postgresql-patroni")]
    writable = {resource for rule in role["rules"] if "patch" in rule["verbs"] for resource in rule["resources"]}
    assert writable == {"configmaps", "pods"}
    pod = objects[("StatefulSet", "gardenos-postgresql")]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "gardenos-postgresql-patroni" and pod["automountServiceAccountToken"] is True
    assert objects[("PodDisruptionBudget", "gardenos-postgresql")]["spec"]["maxUnavailable"] == 1


def test_the_members_reach_each_other_and_exactly_the_api_servers_endpoints():
    made = workload()
    policy = patroni.network_policy(made, [("192.0.2.7", 6443)])["spec"]
    member_rule = {"from": [{"podSelector": {"matchLabels": made["selector"]}}],
                   "ports": [{"port": 5432, "protocol": "TCP"}, {"port": 8008, "protocol": "TCP"}]}
    assert member_rule in policy["ingress"]
    assert {"to": [{"ipBlock": {"cidr": "192.0.2.7/32"}}], "ports": [{"port": 6443, "protocol": "TCP"}]} in policy["egress"]
    unknown = patroni.network_policy(made)["spec"]["egress"]
    assert {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]} in unknown
    open_egress = patroni.network_policy(workload(dict(CLUSTER, network={"restrict_egress": False})))["spec"]
    assert "egress" not in open_egress and member_rule in open_egress["ingress"]


def test_a_single_server_is_built_as_before():
    kinds = [item["kind"] for item in postgresql_objects(workload(SINGLE))]
    assert "ServiceAccount" not in kinds and kinds.count("ConfigMap") == 2
