# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup of a PostgreSQL workload: a volume and a CronJob that dumps every database into it (and copies it off-site).
The volume and the CronJob's frame serve every engine that is backed up (mongodb.py dumps into them too)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import backup_scripts, pod
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced


def claim(workload, size):
    result = namespaced("v1", "PersistentVolumeClaim", workload["objects"]["backup_claim"], workload, workload["backup_labels"])
    spec = {"accessModes": ["ReadWriteOnce"]}
    if workload["backup"]["storage_class"]:
        spec["storageClassName"] = workload["backup"]["storage_class"]
    spec["resources"] = {"requests": {"storage": size}}
    result["spec"] = spec
    return result


DUMP_CONTAINER, UPLOAD_CONTAINER = "pg-dump", "upload"
BACKUP_DIR = "/backup"


def client_environment(workload):
    """libpq's variables that reach the workload's server as its superuser, through its Service."""
    auth = workload["auth"]
    return [{"name": "PGHOST", "value": workload["objects"]["service"]}, {"name": "PGUSER", "value": auth["user"]},
            pod.secret_variable("PGPASSWORD", auth["secret"], auth["password_key"])]


def dump_container(workload):
    return {
        "name": DUMP_CONTAINER, "image": workload["image"], "imagePullPolicy": "IfNotPresent",
        "securityContext": pod.container_security_context(),
        "env": [
            *client_environment(workload),
            {"name": "DATABASES", "value": " ".join(database["name"] for database in workload["databases"])},
            {"name": "RETENTION_DAYS", "value": str(workload["backup"]["retention_days"])},
            {"name": "BACKUP_DIR", "value": BACKUP_DIR},
            {"name": "ROW_COUNTS_SQL", "value": backup_scripts.ROW_COUNTS_SQL},
        ],
        "command": ["sh", "-ec", backup_scripts.BACKUP_SCRIPT],
        "volumeMounts": [{"name": "backup", "mountPath": BACKUP_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
    }


def upload_container(workload):
    """rclone, configured by its environment alone (remote "offsite"); the keys come from auth.secret."""
    s3, secret = workload["backup"]["s3"], workload["auth"]["secret"]
    return {
        "name": UPLOAD_CONTAINER, "image": s3["image"], "imagePullPolicy": "IfNotPresent",
        "securityContext": pod.container_security_context(),
        "env": [
            {"name": "RCLONE_CONFIG_OFFSITE_TYPE", "value": "s3"},
            {"name": "RCLONE_CONFIG_OFFSITE_PROVIDER", "value": "Other"},
            {"name": "RCLONE_CONFIG_OFFSITE_ENDPOINT", "value": s3["endpoint"]},
            {"name": "RCLONE_CONFIG_OFFSITE_REGION", "value": s3["region"]},
            {"name": "RCLONE_CONFIG_OFFSITE_NO_CHECK_BUCKET", "value": "true"},
            pod.secret_variable("RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID", secret, s3["access_key_key"]),
            pod.secret_variable("RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY", secret, s3["secret_key_key"]),
            {"name": "RCLONE_CONFIG", "value": "/tmp/rclone.conf"},
            {"name": "HOME", "value": "/tmp"},
            {"name": "S3_BUCKET", "value": s3["bucket"]},
            {"name": "S3_PREFIX", "value": s3["prefix"]},
            {"name": "S3_RETENTION_DAYS", "value": str(s3["retention_days"])},
            {"name": "BACKUP_DIR", "value": BACKUP_DIR},
        ],
        "command": ["sh", "-ec", backup_scripts.UPLOAD_SCRIPT],
        "volumeMounts": [{"name": "backup", "mountPath": BACKUP_DIR, "readOnly": True}, {"name": "tmp", "mountPath": "/tmp"}],
    }


def cronjob(workload, uid):
    if not workload["backup"].get("s3"):
        return scheduled_job(workload, uid, [dump_container(workload)])
    # the upload starts only after the dump step succeeded
    return scheduled_job(workload, uid, [upload_container(workload)], first=[dump_container(workload)])


def scheduled_job(workload, uid, containers, first=()):
    """The backup CronJob around ``containers`` (after the init containers ``first``), with the backup volume and a /tmp."""
    labels = workload["backup_labels"]
    result = namespaced("batch/v1", "CronJob", workload["objects"]["backup_cronjob"], workload, labels)
    template = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "restartPolicy": "Never", "enableServiceLinks": False, "automountServiceAccountToken": False,
            "securityContext": pod.pod_security_context(uid),
            "containers": list(containers),
            "volumes": [{"name": "backup", "persistentVolumeClaim": {"claimName": workload["objects"]["backup_claim"]}},
                        {"name": "tmp", "emptyDir": {}}],
        },
    }
    if first:
        template["spec"]["initContainers"] = list(first)
    result["spec"] = {
        "schedule": workload["backup"]["schedule"], "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": dict(labels)}, "spec": {"backoffLimit": 2, "template": template}},
    }
    return result
