# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup of a PostgreSQL workload: a volume and a CronJob that dumps every database into it."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import scripts, server
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced


def claim(workload, size):
    result = namespaced("v1", "PersistentVolumeClaim", workload["objects"]["backup_claim"], workload, workload["backup_labels"])
    spec = {"accessModes": ["ReadWriteOnce"]}
    if workload["backup"]["storage_class"]:
        spec["storageClassName"] = workload["backup"]["storage_class"]
    spec["resources"] = {"requests": {"storage": size}}
    result["spec"] = spec
    return result


def dump_container(workload):
    auth = workload["auth"]
    return {
        "name": "pg-dump", "image": workload["image"], "imagePullPolicy": "IfNotPresent",
        "securityContext": server.container_security_context(),
        "env": [
            {"name": "PGHOST", "value": workload["objects"]["service"]},
            {"name": "PGUSER", "value": auth["user"]},
            server.secret_variable("PGPASSWORD", auth["secret"], auth["password_key"]),
            {"name": "DATABASES", "value": " ".join(database["name"] for database in workload["databases"])},
            {"name": "RETENTION_DAYS", "value": str(workload["backup"]["retention_days"])},
        ],
        "command": ["sh", "-ec", scripts.BACKUP_SCRIPT],
        "volumeMounts": [{"name": "backup", "mountPath": "/backup"}],
    }


def cronjob(workload, uid):
    labels = workload["backup_labels"]
    result = namespaced("batch/v1", "CronJob", workload["objects"]["backup_cronjob"], workload, labels)
    pod = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "restartPolicy": "Never", "enableServiceLinks": False, "automountServiceAccountToken": False,
            "securityContext": server.pod_security_context(uid),
            "containers": [dump_container(workload)],
            "volumes": [{"name": "backup", "persistentVolumeClaim": {"claimName": workload["objects"]["backup_claim"]}}],
        },
    }
    result["spec"] = {
        "schedule": workload["backup"]["schedule"], "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": dict(labels)}, "spec": {"backoffLimit": 2, "template": pod}},
    }
    return result
