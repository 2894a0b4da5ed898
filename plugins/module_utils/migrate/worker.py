# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-cluster migration Job: a pod in the target's namespace, built from the target's image, that
connects to the source database directly and to the target over the pod network.

The pod only sleeps; the engine runs each step in it with ``kubectl exec`` so every step reports its
own exit code, and the data goes source -> pod -> target. It writes no file and has no volume, so the kubelet starts it
without waiting for a mount. The source password reaches the pod through
a Secret applied server-side here (``data``, so no last-applied annotation holds it in plain text), owned by the Job
once the Job exists (the garbage collector removes it with the Job) and deleted on every failure path; the target
password comes from the workload's Secret.
"""

from __future__ import annotations

import base64
import contextlib
import json

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.pod_wait import PodNotReady, wait_for_ready_pod
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError, run_process, tail

LABEL = "stateshift.io/migration"


def manifests(objects, image, source_password, target_secret, target_password_key, deadline_seconds, uid=999):
    """The Secret and Job, as one kubectl apply list. Holds the source password: send on stdin only.

    objects: the workload's object names (catalog/names.py): app, migration_job, migration_source_secret."""
    labels = {LABEL: objects["app"], "app.kubernetes.io/managed-by": "stateshift", "app.kubernetes.io/component": "migration"}
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": objects["migration_source_secret"], "labels": labels},
              "data": {"password": base64.b64encode((source_password or "").encode()).decode()}}
    env = [
        {"name": "SRC_PASSWORD", "valueFrom": {"secretKeyRef": {"name": objects["migration_source_secret"], "key": "password"}}},
        {"name": "TGT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": target_secret, "key": target_password_key}}},
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
    ]
    job = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": objects["migration_job"], "labels": labels},
        "spec": {
            "backoffLimit": 0, "activeDeadlineSeconds": int(deadline_seconds), "ttlSecondsAfterFinished": 600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never", "enableServiceLinks": False, "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 5,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "worker", "image": image, "imagePullPolicy": "IfNotPresent",
                        "command": idle_command(deadline_seconds), "env": env,
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
                    }],
                },
            },
        },
    }
    return {"apiVersion": "v1", "kind": "List", "items": [secret, job]}


def idle_command(deadline_seconds):
    """The container's process: sleeps until the deadline, and ends at once when the pod is deleted (a bare ``sleep`` as
    PID 1 ignores the stop signal, so every deletion waited out the grace period, and a re-run's new Job behind it)."""
    return ["bash", "-c", "trap 'exit 0' INT TERM; sleep %d & wait" % int(deadline_seconds)]


def kubectl_run(kubectl, args, stdin=None, timeout=180):
    completed = run_process(kubectl(*args), stdin or b"", timeout=timeout, what="kubectl %s" % " ".join(args[:2]))
    if completed.returncode != 0:
        raise SideError("kubectl %s failed: %s" % (args[0], tail(completed.stderr.decode("utf-8", "replace"))))
    return completed.stdout.decode("utf-8", "replace")


def remove(kubectl, app, wait=True):
    """Delete the Job, its pod and the Secret (also the leftovers of an interrupted run)."""
    kubectl_run(kubectl, ["delete", "job,secret,pod", "-l", "%s=%s" % (LABEL, app), "--ignore-not-found",
                          "--wait=%s" % ("true" if wait else "false"), "--timeout=60s"])


def create(kubectl, objects, manifest):
    """Create the Secret and the Job (one apply, the Secret first) and make the Job own the Secret; the pod then starts
    in the cluster without anyone waiting for it. Anything that fails on the way removes what was created."""
    app = objects["app"]
    remove(kubectl, app)
    secret, job = manifest["items"]
    try:
        applied = json.loads(kubectl_run(kubectl, ["apply", "--server-side", "--force-conflicts", "--field-manager=stateshift-migrate",
                                                   "-o", "json", "-f", "-"], stdin=json.dumps(manifest).encode()))
        owner = {"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"], "uid": applied_uid(applied, job),
                 "blockOwnerDeletion": True}
        kubectl_run(kubectl, ["patch", "secret", secret["metadata"]["name"], "--type=merge", "-p",
                              json.dumps({"metadata": {"ownerReferences": [owner]}})])
    except BaseException:
        remove_quietly(kubectl, app)
        raise


def ready_pod(kubectl, app, timeout=180):
    """The name of the Job's pod once it is Ready; the Job and its Secret are removed if it does not become Ready."""
    try:
        return wait_for_ready_pod(kubectl, "%s=%s" % (LABEL, app), timeout)
    except PodNotReady as exc:
        remove_quietly(kubectl, app)
        raise SideError("the migration Job's pod did not become Ready in %ds: %s" % (timeout, exc)) from None
    except BaseException:
        remove_quietly(kubectl, app)
        raise


def applied_uid(applied, job):
    """The Job's uid in what ``kubectl apply -o json`` printed (a List, or the object alone)."""
    for item in applied.get("items") or [applied]:
        if item.get("kind") == "Job" and item["metadata"]["name"] == job["metadata"]["name"]:
            return item["metadata"]["uid"]
    raise SideError("kubectl apply did not return the Job %s" % job["metadata"]["name"])


def remove_quietly(kubectl, app):
    """remove() on a failure path: the failure being reported matters more than a failed clean-up."""
    with contextlib.suppress(Exception):
        remove(kubectl, app, wait=False)
