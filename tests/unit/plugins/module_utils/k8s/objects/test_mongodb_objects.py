from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import mongodb

VAULT = validate_catalog([{"name": "vinylvault", "engine": "mongodb", "storage": {"size": "5Gi"}, "replicas": 3,
                           "network": {"allow_from": [{"namespace": "web"}]}}])[0]


def by_kind(objects):
    return {obj["kind"]: obj for obj in objects}


def test_the_objects_of_a_replica_set():
    objects = by_kind(mongodb.mongodb_objects(VAULT))
    assert list(objects) == ["Namespace", "Service", "StatefulSet", "PodDisruptionBudget", "NetworkPolicy", "PersistentVolumeClaim",
                             "CronJob"]
    statefulset = objects["StatefulSet"]
    assert statefulset["spec"]["replicas"] == 3 and statefulset["spec"]["serviceName"] == "vinylvault-mongodb-hl"
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["securityContext"]["fsGroup"] == 999
    (container,) = pod["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert env["STATESHIFT_REPLICA_SET"]["value"] == "rs0"
    assert env["STATESHIFT_MONGODB_KEYFILE"]["valueFrom"]["secretKeyRef"] == {"name": "vinylvault-secrets", "key": "mongodb-keyfile"}
    assert env["MONGO_INITDB_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "mongodb-root-password"
    assert "--keyFile /run/stateshift-mongodb/keyfile" in container["command"][2] and "umask 077" in container["command"][2]
    assert container["readinessProbe"]["timeoutSeconds"] == 10
    affinity = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert affinity["labelSelector"]["matchLabels"] == VAULT["selector"]


def test_no_secret_value_or_set_name_is_pasted_into_a_command():
    container = mongodb.container(dict(VAULT, replica_set="weird-name"))
    assert "weird-name" not in container["command"][2]


def test_members_talk_to_each_other_and_a_majority_stays_when_one_is_evicted():
    objects = by_kind(mongodb.mongodb_objects(VAULT))
    policy = objects["NetworkPolicy"]["spec"]
    members = {"podSelector": {"matchLabels": VAULT["selector"]}}
    assert members in policy["ingress"][0]["from"]
    assert {"to": [members], "ports": [{"port": 27017, "protocol": "TCP"}]} in policy["egress"]
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    single = validate_catalog([{"name": "solo", "engine": "mongodb", "storage": {"size": "1Gi"}}])[0]
    assert mongodb.disruption_budget(single)["spec"]["maxUnavailable"] == 0


def test_member_hosts_name_the_pods_through_the_headless_service():
    assert mongodb.member_hosts(VAULT) == ["vinylvault-mongodb-%d.vinylvault-mongodb-hl.vinylvault.svc.cluster.local:27017" % i
                                           for i in range(3)]


@pytest.mark.parametrize("retention", [3, 14])
def test_the_backup_dumps_the_set_with_its_password_from_the_secret(retention):
    workload = validate_catalog([{"name": "vinylvault", "engine": "mongodb", "storage": {"size": "5Gi"}, "replicas": 3,
                                  "backup": {"retention_days": retention}}])[0]
    cronjob = mongodb.backup_cronjob(workload, 999)
    (dump,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item for item in dump["env"]}
    assert env["MONGODB_HOSTS"]["value"].startswith("rs0/vinylvault-mongodb-0.vinylvault-mongodb-hl")
    assert env["RETENTION_DAYS"]["value"] == str(retention)
    assert "valueFrom" in env["MONGODB_PASSWORD"]
    script = dump["command"][2]
    assert "--archive=" in script and "--gzip" in script and "--config=/tmp/mongodump.yaml" in script
    assert "$MONGODB_PASSWORD" not in script.split("mongodump --config")[1], "the password reaches mongodump only through the file"
