# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PostgreSQL workload with ``ha: patroni``: a Patroni cluster whose store is the Kubernetes API, built as data.

Patroni keeps its leader lock and configuration in ConfigMaps (``<scope>-leader``, ``<scope>-config``, not Endpoints,
deprecated since Kubernetes 1.33) and labels each pod with its role. The client Service (``objects.service``, the name
clients already use) selects the leader (label value ``primary``, set explicitly: Patroni 3 said ``master``);
``objects.replica_service`` selects the replicas. The StatefulSet keeps the single server's immutable fields (name,
selector, serviceName, claim template, pod management) and its data directory. The passwords come from auth.secret
into environment variables; the configuration file holds none.
"""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import backup, network, restore
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import workload as workload_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.pod import (
    container_security_context,
    database_pod_spec,
    secret_variable,
)
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import roles_databases

PORT = 5432
API_PORT = 8008
DATA_MOUNT = "/var/lib/postgresql/data"
DATA_DIR = DATA_MOUNT + "/pgdata"  # the single server's PGDATA: the first member starts from it
ROLE_LABEL = "role"
SCOPE_LABEL = "stateshift.io/ha-scope"  # on the pods: Patroni finds its members by the selector plus this label
PRIMARY, REPLICA = "primary", "replica"
# How fast a lost leader is replaced. ttl: the leader lock's lifetime; loop_wait: how often each member checks;
# retry_timeout: how long a store or PostgreSQL error is retried before the leader demotes itself. Patroni requires
# loop_wait + 2 * retry_timeout <= ttl. Its defaults (30/10/10) replace a crashed leader after up to ~40 s; these
# after up to ~25 s, and a leader that stops cleanly (pod deleted, node drained) releases the lock at once.
TIMING = {"ttl": 20, "loop_wait": 5, "retry_timeout": 5}
USERS = {"replication": "replicator", "rewind": "rewinder"}
MOUNTS = (("data", DATA_MOUNT), ("patroni", "/etc/patroni"), ("run", "/var/run/postgresql"), ("tmp", "/tmp"))


def hba():
    # Who may connect is the NetworkPolicy's to say, as for the single server: every address, by password.
    return ["local all all trust",
            "host replication %s all scram-sha-256" % USERS["replication"],
            "host all all all scram-sha-256"]


def patroni_config(workload):
    """Patroni's configuration as data (written as JSON, which is YAML): what every member starts with."""
    return {
        "bootstrap": {
            # synchronous_mode: a commit waits for one replica, and only that replica may take over, so a failover
            # loses no acknowledged write; with no replica left, writes go on unreplicated (not strict)
            "dcs": dict(TIMING, synchronous_mode=True, maximum_lag_on_failover=1048576, postgresql={
                "use_pg_rewind": True,
                "parameters": {"wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on", "max_wal_senders": 10,
                               "max_replication_slots": 10, "password_encryption": "scram-sha-256"}}),
            # the locale is the image's (LANG), as the single server's initdb has it
            "initdb": [{"encoding": "UTF8"}, "data-checksums"],
        },
        # Patroni's own connections go through the socket, which pg_hba trusts (the pod's processes only)
        "postgresql": {"pg_hba": hba(), "use_unix_socket": True, "use_unix_socket_repl": False,
                       "parameters": {name: _setting(value) for name, value in sorted(workload["settings"].items())}},
    }


def _setting(value):
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def _field(name, path):
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def environment(workload):
    auth, objects = workload["auth"], workload["objects"]
    plain = {
        "PATRONI_SCOPE": objects["patroni_scope"],
        "PATRONI_KUBERNETES_LABELS": json.dumps(workload["selector"], sort_keys=True),
        "PATRONI_KUBERNETES_SCOPE_LABEL": SCOPE_LABEL,
        "PATRONI_KUBERNETES_USE_ENDPOINTS": "false",
        "PATRONI_KUBERNETES_ROLE_LABEL": ROLE_LABEL,
        "PATRONI_KUBERNETES_LEADER_LABEL_VALUE": PRIMARY,
        "PATRONI_KUBERNETES_STANDBY_LEADER_LABEL_VALUE": PRIMARY,
        "PATRONI_KUBERNETES_TMP_ROLE_LABEL": "patroni-role",
        "PATRONI_POSTGRESQL_DATA_DIR": DATA_DIR,
        "PATRONI_POSTGRESQL_PGPASS": "/tmp/pgpass",
        "PATRONI_POSTGRESQL_LISTEN": "0.0.0.0:%d" % PORT,
        "PATRONI_POSTGRESQL_CONNECT_ADDRESS": "$(PATRONI_KUBERNETES_POD_IP):%d" % PORT,
        "PATRONI_RESTAPI_LISTEN": "0.0.0.0:%d" % API_PORT,
        "PATRONI_RESTAPI_CONNECT_ADDRESS": "$(PATRONI_KUBERNETES_POD_IP):%d" % API_PORT,
        "PATRONI_SUPERUSER_USERNAME": auth["user"],
        "PATRONI_REPLICATION_USERNAME": USERS["replication"],
        "PATRONI_REWIND_USERNAME": USERS["rewind"],
    }
    env = [_field("PATRONI_KUBERNETES_POD_IP", "status.podIP"), _field("PATRONI_KUBERNETES_NAMESPACE", "metadata.namespace"),
           _field("PATRONI_NAME", "metadata.name")]
    env += [{"name": name, "value": value} for name, value in plain.items()]
    env += [secret_variable("PATRONI_SUPERUSER_PASSWORD", auth["secret"], auth["password_key"]),
            secret_variable("PATRONI_REPLICATION_PASSWORD", auth["secret"], auth["replication_password_key"]),
            secret_variable("PATRONI_REWIND_PASSWORD", auth["secret"], auth["rewind_password_key"])]
    # what postgres_roles_databases reads when it creates the catalog's roles (the single server's init script does too)
    variables = roles_databases.password_variables(workload["roles"])
    env += [secret_variable(variables[role["name"]], auth["secret"], role["password_key"])
            for role in workload["roles"] if role.get("password_key")]
    return env


def _http_probe(path, period, failures):
    return {"httpGet": {"path": path, "port": API_PORT}, "periodSeconds": period, "timeoutSeconds": 5,
            "failureThreshold": failures}


def container(workload):
    result = {
        "name": workload["objects"]["container"], "image": workload["image"], "imagePullPolicy": "IfNotPresent",
        "command": ["patroni", "/etc/patroni/patroni.yml"], "env": environment(workload),
        "ports": [{"name": "postgresql", "containerPort": PORT}, {"name": "patroni", "containerPort": API_PORT}],
        "securityContext": container_security_context(),
    }
    if workload["resources"]:
        result["resources"] = workload["resources"]
    # /readiness: the leader, or a replica that streams; /liveness: Patroni's loop runs
    result.update(readinessProbe=_http_probe("/readiness", 2, 3), livenessProbe=_http_probe("/liveness", 10, 6),
                  volumeMounts=[{"name": name, "mountPath": path} for name, path in MOUNTS])
    return result


def _anti_affinity(workload):
    # preferred, not required: a cluster of three on fewer nodes still starts (a home lab often has one or two)
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                           "labelSelector": {"matchLabels": dict(workload["selector"])}}}]}}


def statefulset(workload, uid, claim_size):
    objects = workload["objects"]
    volumes = [{"name": "patroni", "configMap": {"name": objects["patroni_config_map"]}},
               {"name": "run", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
    pod_spec = database_pod_spec(uid, [container(workload)], volumes)
    # Patroni talks to the API server as its own account; a leader gets 30 s to hand over before it is killed
    pod_spec.update(serviceAccountName=objects["patroni_account"], automountServiceAccountToken=True,
                    terminationGracePeriodSeconds=30, affinity=_anti_affinity(workload))
    result = workload_objects.statefulset(workload, pod_spec, claim_size, patroni_config(workload))
    result["spec"]["template"]["metadata"]["labels"][SCOPE_LABEL] = objects["patroni_scope"]
    return result


def rbac(workload):
    """What Patroni does with the API: its ConfigMaps (leader lock, configuration), its pods' labels and annotations,
    and reading the Endpoints and Services."""
    objects = workload["objects"]
    account = namespaced("v1", "ServiceAccount", objects["patroni_account"], workload)
    role = namespaced("rbac.authorization.k8s.io/v1", "Role", objects["patroni_account"], workload)
    role["rules"] = [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get", "list", "patch", "update", "watch", "delete"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "patch", "update", "watch"]},
        {"apiGroups": [""], "resources": ["endpoints", "services"], "verbs": ["get", "list"]},
    ]
    binding = namespaced("rbac.authorization.k8s.io/v1", "RoleBinding", objects["patroni_account"], workload)
    binding["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": objects["patroni_account"]}
    binding["subjects"] = [{"kind": "ServiceAccount", "name": objects["patroni_account"], "namespace": workload["namespace"]}]
    return [account, role, binding]


def services(workload):
    """The headless Service naming the members, the client Service (the leader) and the replicas' Service."""
    ports = {"postgresql": PORT}
    result = [workload_objects.service(workload, ports, headless=True)]
    for key, role in (("service", PRIMARY), ("replica_service", REPLICA)):
        service = namespaced("v1", "Service", workload["objects"][key], workload)
        service["spec"] = {"type": "ClusterIP", "selector": dict(workload["selector"], **{ROLE_LABEL: role}),
                           "ports": [{"name": "postgresql", "port": PORT, "targetPort": "postgresql"}]}
        result.append(service)
    return result


def disruption_budget(workload):
    budget = workload_objects.disruption_budget(workload)
    # one member at a time: a drain never takes the leader and its only up-to-date replica together
    budget["spec"]["maxUnavailable"] = 1
    return budget


def network_policy(workload, api_endpoints=None):
    """The single server's policy, and the members reaching each other (streaming, Patroni's API) and the API server.

    ``api_endpoints``: [(ip, port)] of the API server as the ``kubernetes`` Service's EndpointSlice names it (a policy
    sees the address after the Service's translation); unknown, any address on 443 and 6443 (k3s's)."""
    result = network.policy(workload, [PORT])
    members = [{"podSelector": {"matchLabels": dict(workload["selector"])}}]
    member_ports = [{"port": PORT, "protocol": "TCP"}, {"port": API_PORT, "protocol": "TCP"}]
    result["spec"]["ingress"].append({"from": members, "ports": member_ports})
    if "egress" in result["spec"]:
        result["spec"]["egress"].append({"to": members, "ports": member_ports})
        if api_endpoints:
            result["spec"]["egress"] += [{"to": [{"ipBlock": {"cidr": network.host_cidr(ip)}}],
                                          "ports": [{"port": int(port), "protocol": "TCP"}]} for ip, port in api_endpoints]
        else:
            result["spec"]["egress"].append({"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]})
    return result


def config_map(workload):
    result = namespaced("v1", "ConfigMap", workload["objects"]["patroni_config_map"], workload)
    result["data"] = {"patroni.yml": json.dumps(patroni_config(workload), indent=2, sort_keys=True)}
    return result


def patroni_objects(workload, uid, claim_size, backup_claim_size, namespace_labels, api_endpoints=None):
    """The objects of a ``ha: patroni`` workload in the order they are applied (the Secret is the secrets phase's)."""
    return [
        workload_objects.namespace(workload, namespace_labels),
        *rbac(workload),
        config_map(workload),
        *services(workload),
        statefulset(workload, uid, claim_size),
        disruption_budget(workload),
        network_policy(workload, api_endpoints),
        backup.claim(workload, backup_claim_size),
        backup.cronjob(workload, uid),
    ] + ([restore.drill_cronjob(workload, uid)] if workload["backup"].get("drill") else [])
