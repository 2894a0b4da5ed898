# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restoring a PostgreSQL workload's backups: a one-off restore Job and the scheduled drill CronJob.

Both run the backup's pod shape (its labels, which the workload's NetworkPolicy admits; its security
context), with the backup volume mounted read-only, or the chosen backup downloaded from the bucket first.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import backup, backup_scripts, pod
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced

RESTORE_CONTAINER = "restore"
DRILL_INTO = "stateshift_drill"
DEFAULT_INTO = "stateshift_restore"
_STAMP = re.compile(r"^\d{8}T\d{6}Z$")
_NAME = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")
# A drill restores each database in turn with the restore script.
DRILL_SCRIPT = 'failed=0\nfor DATABASE in $DATABASES; do export DATABASE; sh -ec "$RESTORE_SCRIPT" || failed=1; done\nexit $failed\n'


class RestoreRequestError(ValueError):
    """A restore request that cannot be carried out; says which option and what to give."""


def backup_stamp(before):
    """A backup name's UTC stamp (20261202T030000Z) from an ISO 8601 time or such a stamp; '' stays ''."""
    text = str(before or "").strip()
    if not text or _STAMP.match(text):
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RestoreRequestError("before %r is not a time: write it like 2026-12-01T03:00:00Z (UTC) or 20261201T030000Z" % text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def check_request(workload, request, now=None):
    """The request with its defaults, or RestoreRequestError before anything is made.

    request: {database, backup, before, source (pvc|s3), into, replace}. A replace keeps the database as it is under
    ``<database>_before_<now>`` (at most 63 characters); given neither backup nor before, it restores the newest backup
    made before ``now``, never the one the replace itself takes first."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    names = [database["name"] for database in workload["databases"]]
    database = request.get("database") or names[0]
    if database not in names:
        raise RestoreRequestError("database %r is not one of workload %s's databases (%s)"
                                  % (database, workload["name"], ", ".join(names)))
    source = request.get("source") or "pvc"
    if source not in ("pvc", "s3"):
        raise RestoreRequestError("source %r is not pvc or s3" % source)
    if source == "s3" and not workload["backup"].get("s3"):
        raise RestoreRequestError("source s3: workload %s has no backup.s3; restore from the backup volume (source: pvc)"
                                  % workload["name"])
    into = request.get("into") or DEFAULT_INTO
    if not _NAME.match(into) or into in names:
        raise RestoreRequestError("into %r must be a new database name (a-z, 0-9, '_'), not one of the workload's databases; "
                                  "to restore over %s, set replace: true" % (into, database))
    name = request.get("backup") or ""
    if name and not (name.startswith(database + "-") and name.endswith(".dump")):
        raise RestoreRequestError("backup %r is not a backup of %s: give a name like %s-20261202T030000Z.dump" % (name, database, database))
    replace = bool(request.get("replace"))
    before = backup_stamp(request.get("before")) or ("" if name or not replace else stamp)
    keep_as = "%s_before_%s" % (database[:63 - len("_before_") - len(stamp)], stamp.lower()) if replace else ""
    return {"database": database, "backup": name, "before": before, "source": source, "into": into, "replace": replace,
            "keep_as": keep_as}


def restore_container(workload, env, mount_read_only=True):
    return {
        "name": RESTORE_CONTAINER, "image": workload["image"], "imagePullPolicy": "IfNotPresent",
        "securityContext": pod.container_security_context(),
        "env": [
            *backup.client_environment(workload),
            {"name": "BACKUP_DIR", "value": backup.BACKUP_DIR},
            {"name": "ROW_COUNTS_SQL", "value": backup_scripts.ROW_COUNTS_SQL},
            *env,
        ],
        "volumeMounts": [{"name": "backup", "mountPath": backup.BACKUP_DIR, "readOnly": mount_read_only},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }


def _pod(workload, uid, containers, volumes, init_containers=()):
    spec = {"restartPolicy": "Never", "enableServiceLinks": False, "automountServiceAccountToken": False,
            "securityContext": pod.pod_security_context(uid), "containers": containers,
            "volumes": [*volumes, {"name": "tmp", "emptyDir": {}}]}
    if init_containers:
        spec["initContainers"] = list(init_containers)
    return {"metadata": {"labels": dict(workload["backup_labels"])}, "spec": spec}


def restore_job(workload, name, request, uid=999):
    """The Job that restores one backup (check_request's result) into a scratch database, or over the database."""
    env = [{"name": key, "value": value} for key, value in (
        ("DATABASE", request["database"]), ("BACKUP", request["backup"]), ("BEFORE", request["before"]),
        ("INTO", request["into"]), ("MODE", "replace" if request["replace"] else "scratch"), ("KEEP_AS", request["keep_as"]))]
    claim = {"name": "backup", "persistentVolumeClaim": {"claimName": workload["objects"]["backup_claim"], "readOnly": True}}
    if request["source"] == "s3":
        download = backup.upload_container(workload)
        download.update(name="download", command=["sh", "-ec", backup_scripts.DOWNLOAD_SCRIPT])
        download["env"] += [item for item in env if item["name"] in ("DATABASE", "BACKUP", "BEFORE")]
        download["volumeMounts"] = [{"name": "backup", "mountPath": backup.BACKUP_DIR}, {"name": "tmp", "mountPath": "/tmp"}]
        restore = restore_container(workload, env, mount_read_only=False)
        pod = _pod(workload, uid, [dict(restore, command=["sh", "-ec", backup_scripts.RESTORE_SCRIPT])],
                   [{"name": "backup", "emptyDir": {}}], init_containers=[download])
    else:
        restore = restore_container(workload, env)
        pod = _pod(workload, uid, [dict(restore, command=["sh", "-ec", backup_scripts.RESTORE_SCRIPT])], [claim])
    result = namespaced("batch/v1", "Job", name, workload, workload["backup_labels"])
    result["spec"] = {"backoffLimit": 0, "ttlSecondsAfterFinished": 7 * 86400, "template": pod}
    return result


def drill_cronjob(workload, uid=999):
    """The scheduled drill: the newest backup of every database restored into a scratch database, verified, dropped."""
    env = [{"name": "DATABASES", "value": " ".join(database["name"] for database in workload["databases"])},
           {"name": "BACKUP", "value": ""}, {"name": "BEFORE", "value": ""}, {"name": "INTO", "value": DRILL_INTO},
           {"name": "MODE", "value": "drill"}, {"name": "KEEP_AS", "value": ""},
           {"name": "RESTORE_SCRIPT", "value": backup_scripts.RESTORE_SCRIPT}]
    claim = {"name": "backup", "persistentVolumeClaim": {"claimName": workload["objects"]["backup_claim"], "readOnly": True}}
    pod = _pod(workload, uid, [dict(restore_container(workload, env), command=["sh", "-ec", DRILL_SCRIPT])], [claim])
    result = namespaced("batch/v1", "CronJob", workload["objects"]["drill_cronjob"], workload, workload["backup_labels"])
    result["spec"] = {
        "schedule": workload["backup"]["drill"]["schedule"], "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": dict(workload["backup_labels"])}, "spec": {"backoffLimit": 0, "template": pod}},
    }
    return result
