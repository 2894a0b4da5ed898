# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PostgreSQL cluster run by Patroni with the Kubernetes API as its configuration store, built as data.

Patroni keeps its leader lock and configuration in ConfigMaps (``<scope>-leader``, ``<scope>-config``; not Endpoints,
deprecated since Kubernetes 1.33) and labels each pod with its role, which the Services select: ``<name>`` the
primary (label value ``primary``, set explicitly: Patroni 3 said ``master``), ``<name>-replicas`` the replicas. The
passwords come from a Secret (``superuser-password``, ``replication-password``, ``rewind-password``) into environment
variables; the configuration file holds none.

``cluster``: {name, namespace, labels (with app.kubernetes.io/instance: name), replicas, image, storage_size,
storage_class (or None), secret, uid, pod_network (the CIDR pg_hba lets in), node_selector (or {}), timing (see TIMING)}.
"""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced

PORT = 5432
API_PORT = 8008
DATA_DIR = "/var/lib/postgresql/data"
ROLE_LABEL = "role"
SCOPE_LABEL = "app.kubernetes.io/instance"  # its value on every pod is the cluster's name, Patroni's scope
PRIMARY, REPLICA = "primary", "replica"
# How fast a lost leader is replaced. ttl: the leader lock's lifetime; loop_wait: how often each member checks;
# retry_timeout: how long a store or PostgreSQL error is retried before the leader demotes itself. Patroni requires
# loop_wait + 2 * retry_timeout <= ttl. Its defaults (30/10/10) replace a crashed leader after up to ~40 s; these
# after up to ~25 s, and a leader that stops cleanly (pod deleted, node drained) releases the lock at once.
TIMING = {"ttl": 20, "loop_wait": 5, "retry_timeout": 5}
SECRET_KEYS = {"superuser": "superuser-password", "replication": "replication-password", "rewind": "rewind-password"}
USERS = {"superuser": "postgres", "replication": "replicator", "rewind": "rewinder"}


def names(name):
    """Every object name of the cluster ``name``, made here only."""
    return {"statefulset": name, "primary_service": name, "replica_service": "%s-replicas" % name,
            "members_service": "%s-members" % name, "service_account": "%s-patroni" % name, "role": "%s-patroni" % name,
            "config_map": "%s-patroni" % name, "pdb": name, "leader_config_map": "%s-leader" % name,
            "config_config_map": "%s-config" % name}


def hba(pod_network):
    return ["local all all trust",
            "host replication %s %s scram-sha-256" % (USERS["replication"], pod_network),
            "host all all %s scram-sha-256" % pod_network]


def patroni_config(cluster):
    """Patroni's YAML configuration as data (written as JSON, which is YAML): what every member starts with."""
    timing = dict(TIMING, **cluster.get("timing", {}))
    return {
        "bootstrap": {
            # synchronous_mode: a commit waits for one replica, and only that replica may take over, so a failover
            # loses no acknowledged write; with no replica left, writes go on unreplicated (not strict)
            "dcs": dict(timing, synchronous_mode=True, maximum_lag_on_failover=1048576, postgresql={
                "use_pg_rewind": True,
                "parameters": {"wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on", "max_wal_senders": 10,
                               "max_replication_slots": 10, "password_encryption": "scram-sha-256"}}),
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums"],
        },
        # Patroni's own connections go through the socket, which pg_hba trusts (the pod's processes only)
        "postgresql": {"pg_hba": hba(cluster["pod_network"]), "use_unix_socket": True, "use_unix_socket_repl": False},
    }


def _env(name, value=None, **source):
    return dict({"name": name}, **({"value": value} if value is not None else {"valueFrom": source}))


def _secret(cluster, user):
    return _env("PATRONI_%s_PASSWORD" % user.upper(), secretKeyRef={"name": cluster["secret"], "key": SECRET_KEYS[user]})


def container(cluster):
    selector = dict(cluster["labels"])
    env = [
        _env("PATRONI_KUBERNETES_POD_IP", fieldRef={"fieldPath": "status.podIP"}),
        _env("PATRONI_KUBERNETES_NAMESPACE", fieldRef={"fieldPath": "metadata.namespace"}),
        _env("PATRONI_NAME", fieldRef={"fieldPath": "metadata.name"}),
        _env("PATRONI_SCOPE", cluster["name"]),
        _env("PATRONI_KUBERNETES_LABELS", json.dumps(selector, sort_keys=True)),
        # Patroni finds its members by the labels plus scope_label = scope (default cluster-name, which the pods lack)
        _env("PATRONI_KUBERNETES_SCOPE_LABEL", SCOPE_LABEL),
        _env("PATRONI_KUBERNETES_USE_ENDPOINTS", "false"),
        _env("PATRONI_KUBERNETES_ROLE_LABEL", ROLE_LABEL),
        _env("PATRONI_KUBERNETES_LEADER_LABEL_VALUE", PRIMARY),
        _env("PATRONI_KUBERNETES_STANDBY_LEADER_LABEL_VALUE", PRIMARY),
        _env("PATRONI_KUBERNETES_TMP_ROLE_LABEL", "patroni-role"),
        _env("PATRONI_POSTGRESQL_DATA_DIR", DATA_DIR + "/pgdata"),
        _env("PATRONI_POSTGRESQL_PGPASS", "/tmp/pgpass"),
        _env("PATRONI_POSTGRESQL_LISTEN", "0.0.0.0:%d" % PORT),
        _env("PATRONI_POSTGRESQL_CONNECT_ADDRESS", "$(PATRONI_KUBERNETES_POD_IP):%d" % PORT),
        _env("PATRONI_RESTAPI_LISTEN", "0.0.0.0:%d" % API_PORT),
        _env("PATRONI_RESTAPI_CONNECT_ADDRESS", "$(PATRONI_KUBERNETES_POD_IP):%d" % API_PORT),
    ]
    for user in ("superuser", "replication", "rewind"):
        env += [_env("PATRONI_%s_USERNAME" % user.upper(), USERS[user]), _secret(cluster, user)]
    return {
        "name": "postgres", "image": cluster["image"], "imagePullPolicy": "IfNotPresent",
        "command": ["patroni", "/etc/patroni/patroni.yml"], "env": env,
        "ports": [{"name": "postgresql", "containerPort": PORT}, {"name": "patroni", "containerPort": API_PORT}],
        # /readiness: the leader, or a replica that streams; /liveness: Patroni's loop runs
        "readinessProbe": {"httpGet": {"path": "/readiness", "port": API_PORT}, "periodSeconds": 2, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/liveness", "port": API_PORT}, "periodSeconds": 10, "failureThreshold": 6},
        "volumeMounts": [{"name": "data", "mountPath": DATA_DIR}, {"name": "patroni", "mountPath": "/etc/patroni"}],
        "securityContext": {"runAsUser": cluster["uid"], "runAsGroup": cluster["uid"], "runAsNonRoot": True,
                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }


def _anti_affinity(cluster):
    # preferred, not required: a cluster of three on fewer nodes still starts (a home lab often has one or two)
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                           "labelSelector": {"matchLabels": dict(cluster["labels"])}}}]}}


def statefulset(cluster):
    objects = names(cluster["name"])
    result = namespaced("apps/v1", "StatefulSet", objects["statefulset"], cluster)
    pod_spec = {"serviceAccountName": objects["service_account"], "terminationGracePeriodSeconds": 30,
                "securityContext": {"fsGroup": cluster["uid"], "seccompProfile": {"type": "RuntimeDefault"}},
                "affinity": _anti_affinity(cluster), "containers": [container(cluster)],
                "volumes": [{"name": "patroni", "configMap": {"name": objects["config_map"]}}]}
    if cluster.get("node_selector"):
        pod_spec["nodeSelector"] = dict(cluster["node_selector"])
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": cluster["storage_size"]}}}}
    if cluster.get("storage_class"):
        claim["spec"]["storageClassName"] = cluster["storage_class"]
    result["spec"] = {"serviceName": objects["members_service"], "replicas": cluster["replicas"],
                      "podManagementPolicy": "Parallel", "updateStrategy": {"type": "RollingUpdate"},
                      "selector": {"matchLabels": dict(cluster["labels"])},
                      "template": {"metadata": {"labels": dict(cluster["labels"])}, "spec": pod_spec},
                      "volumeClaimTemplates": [claim]}
    return result


def rbac(cluster):
    """What Patroni does with the API: its ConfigMaps (leader lock, configuration), its pods' labels and annotations,
    and reading the Endpoints and Services it is pointed at."""
    objects = names(cluster["name"])
    account = namespaced("v1", "ServiceAccount", objects["service_account"], cluster)
    role = namespaced("rbac.authorization.k8s.io/v1", "Role", objects["role"], cluster)
    role["rules"] = [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get", "list", "patch", "update", "watch", "delete"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "patch", "update", "watch"]},
        {"apiGroups": [""], "resources": ["endpoints", "services"], "verbs": ["get", "list"]},
    ]
    binding = namespaced("rbac.authorization.k8s.io/v1", "RoleBinding", objects["role"], cluster)
    binding["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": objects["role"]}
    binding["subjects"] = [{"kind": "ServiceAccount", "name": objects["service_account"], "namespace": cluster["namespace"]}]
    return [account, role, binding]


def services(cluster):
    objects = names(cluster["name"])
    members = namespaced("v1", "Service", objects["members_service"], cluster)
    members["spec"] = {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": dict(cluster["labels"]),
                       "ports": [{"name": "postgresql", "port": PORT}, {"name": "patroni", "port": API_PORT}]}
    result = [members]
    for key, role in (("primary_service", PRIMARY), ("replica_service", REPLICA)):
        service = namespaced("v1", "Service", objects[key], cluster)
        service["spec"] = {"type": "ClusterIP", "selector": dict(cluster["labels"], **{ROLE_LABEL: role}),
                           "ports": [{"name": "postgresql", "port": PORT, "targetPort": "postgresql"}]}
        result.append(service)
    return result


def disruption_budget(cluster):
    budget = namespaced("policy/v1", "PodDisruptionBudget", names(cluster["name"])["pdb"], cluster)
    # one member at a time: a drain never takes the leader and its only up-to-date replica together
    budget["spec"] = {"maxUnavailable": 1, "selector": {"matchLabels": dict(cluster["labels"])}}
    return budget


def config_map(cluster):
    result = namespaced("v1", "ConfigMap", names(cluster["name"])["config_map"], cluster)
    result["data"] = {"patroni.yml": json.dumps(patroni_config(cluster), indent=2, sort_keys=True)}
    return result


def patroni_objects(cluster):
    """The cluster's objects in the order they are applied (the Secret is the secrets phase's)."""
    if cluster["labels"].get(SCOPE_LABEL) != cluster["name"]:
        raise ValueError("the labels must hold %s: %s (Patroni finds its members by it)" % (SCOPE_LABEL, cluster["name"]))
    return [*rbac(cluster), config_map(cluster), *services(cluster), statefulset(cluster), disruption_budget(cluster)]
