from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import patroni

CLUSTER = {"name": "gardenos", "namespace": "gardenos", "replicas": 3, "image": "stateshift-lab/patroni:15", "storage_size": "10Gi",
           "storage_class": "longhorn", "secret": "gardenos-passwords", "uid": 999, "pod_network": "10.42.0.0/16",
           "node_selector": {}, "labels": {"app.kubernetes.io/name": "gardenos", "app.kubernetes.io/instance": "gardenos"}}


def by_kind(objects):
    return {(item["kind"], item["metadata"]["name"]): item for item in objects}


def test_the_services_select_the_role_patroni_labels_and_the_members_are_all_pods():
    objects = by_kind(patroni.patroni_objects(CLUSTER))
    assert objects[("Service", "gardenos")]["spec"]["selector"] == dict(CLUSTER["labels"], role="primary")
    assert objects[("Service", "gardenos-replicas")]["spec"]["selector"] == dict(CLUSTER["labels"], role="replica")
    assert objects[("Service", "gardenos-members")]["spec"]["clusterIP"] == "None"
    env = {item["name"]: item for item in objects[("StatefulSet", "gardenos")]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PATRONI_KUBERNETES_LEADER_LABEL_VALUE"]["value"] == "primary"
    assert env["PATRONI_KUBERNETES_USE_ENDPOINTS"]["value"] == "false"
    assert json.loads(env["PATRONI_KUBERNETES_LABELS"]["value"]) == CLUSTER["labels"]


def test_passwords_come_from_the_secret_and_the_configuration_holds_none():
    objects = by_kind(patroni.patroni_objects(CLUSTER))
    env = {item["name"]: item for item in objects[("StatefulSet", "gardenos")]["spec"]["template"]["spec"]["containers"][0]["env"]}
    for user, key in patroni.SECRET_KEYS.items():
        assert env["PATRONI_%s_PASSWORD" % user.upper()]["valueFrom"]["secretKeyRef"] == {"name": "gardenos-passwords", "key": key}
    text = objects[("ConfigMap", "gardenos-patroni")]["data"]["patroni.yml"]
    config = yaml.safe_load(text)
    assert "password" not in text.replace("password_encryption", "")
    assert config["bootstrap"]["dcs"]["synchronous_mode"] is True
    timing = config["bootstrap"]["dcs"]
    assert timing["loop_wait"] + 2 * timing["retry_timeout"] <= timing["ttl"]
    assert "host replication replicator 10.42.0.0/16 scram-sha-256" in config["postgresql"]["pg_hba"]


def test_patroni_may_touch_only_its_configmaps_and_pods():
    role = by_kind(patroni.patroni_objects(CLUSTER))[("Role", "gardenos-patroni")]
    writable = {resource for rule in role["rules"] if "patch" in rule["verbs"] for resource in rule["resources"]}
    assert writable == {"configmaps", "pods"}


def test_a_storage_class_and_node_selector_are_set_only_when_given():
    spec = patroni.statefulset(CLUSTER)["spec"]
    assert spec["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "longhorn"
    assert "nodeSelector" not in spec["template"]["spec"]
    bare = patroni.statefulset(dict(CLUSTER, storage_class=None, node_selector={"disk": "ssd"}))["spec"]
    assert "storageClassName" not in bare["volumeClaimTemplates"][0]["spec"]
    assert bare["template"]["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_labels_without_the_scope_label_are_refused():
    labels = {"app.kubernetes.io/name": "gardenos"}
    with pytest.raises(ValueError, match=r"app\.kubernetes\.io/instance: gardenos"):
        patroni.patroni_objects(dict(CLUSTER, labels=labels))
