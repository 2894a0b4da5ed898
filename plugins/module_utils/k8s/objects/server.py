# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL StatefulSet: one server container, its probes, volumes and data claim template."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import workload as workload_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.pod import (
    container_security_context,
    database_pod_spec,
    secret_variable,
)
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import roles_databases

PGDATA = "/var/lib/postgresql/data/pgdata"
READY = ["sh", "-c", 'pg_isready -q -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"']
MOUNTS = (("data", "/var/lib/postgresql/data"), ("config", "/etc/postgresql/stateshift"), ("init", "/docker-entrypoint-initdb.d"),
          ("run", "/var/run/postgresql"), ("tmp", "/tmp"))


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


def statefulset(workload, uid, claim_size):
    objects = workload["objects"]
    volumes = [{"name": "config", "configMap": {"name": objects["config_map"]}},
               {"name": "init", "configMap": {"name": objects["init_config_map"]}},
               {"name": "run", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
    # postgresql.conf is read at start: a change of the settings restarts the pods
    return workload_objects.statefulset(workload, database_pod_spec(uid, [container(workload)], volumes), claim_size,
                                        workload["settings"])
