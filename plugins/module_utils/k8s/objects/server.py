# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL StatefulSet: one server container, its probes, volumes and data claim template."""

from __future__ import annotations

import hashlib
import json

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.pod import (
    claim_template,
    container_security_context,
    pod_security_context,
    secret_variable,
)
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import roles_databases

PGDATA = "/var/lib/postgresql/data/pgdata"
READY = ["sh", "-c", 'pg_isready -q -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"']
MOUNTS = (("data", "/var/lib/postgresql/data"), ("config", "/etc/postgresql/stateshift"), ("init", "/docker-entrypoint-initdb.d"),
          ("run", "/var/run/postgresql"), ("tmp", "/tmp"))


def settings_checksum(settings):
    """A short digest of the settings: a change restarts the pods, which read postgresql.conf at start."""
    return hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]


def environment(workload):
    auth = workload["auth"]
    env = [
        {"name": "POSTGRES_USER", "value": auth["user"]},
        {"name": "POSTGRES_DB", "value": workload["databases"][0]["name"]},
        secret_variable("POSTGRES_PASSWORD", auth["secret"], auth["password_key"]),
        {"name": "PGDATA", "value": PGDATA},
    ]
    variables = roles_databases.password_variables(workload["roles"])
    env += [secret_variable(variables[role["name"]], auth["secret"], role["password_key"])
            for role in workload["roles"] if role.get("password_key")]
    return env


def probe(period, failures):
    return {"exec": {"command": list(READY)}, "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures}


def container(workload):
    result = {
        "name": workload["objects"]["container"], "image": workload["image"], "imagePullPolicy": "IfNotPresent",
        "args": ["postgres"], "ports": [{"name": "postgresql", "containerPort": 5432}], "env": environment(workload),
        "securityContext": container_security_context(),
    }
    if workload["resources"]:
        result["resources"] = workload["resources"]
    result.update(startupProbe=probe(2, 300), readinessProbe=probe(5, 3), livenessProbe=probe(10, 6),
                  volumeMounts=[{"name": name, "mountPath": path} for name, path in MOUNTS])
    return result


def pod_spec(workload, uid):
    objects = workload["objects"]
    security = dict(pod_security_context(uid), fsGroupChangePolicy="OnRootMismatch")
    return {
        "enableServiceLinks": False, "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 60,
        "securityContext": security,
        "containers": [container(workload)],
        "volumes": [{"name": "config", "configMap": {"name": objects["config_map"]}},
                    {"name": "init", "configMap": {"name": objects["init_config_map"]}},
                    {"name": "run", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
    }


def statefulset(workload, uid, claim_size):
    objects = workload["objects"]
    result = namespaced("apps/v1", "StatefulSet", objects["statefulset"], workload)
    result["spec"] = {
        "serviceName": objects["headless_service"], "replicas": workload["replicas"], "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate"}, "selector": {"matchLabels": dict(workload["selector"])},
        "template": {
            "metadata": {"labels": dict(workload["labels"]),
                         "annotations": {"stateshift.io/config-checksum": settings_checksum(workload["settings"])}},
            "spec": pod_spec(workload, uid),
        },
        "volumeClaimTemplates": [claim_template(workload, claim_size)],
    }
    return result
