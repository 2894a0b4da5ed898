# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces of every database pod: its spec, security contexts, a variable read from a Secret, the data claim template."""

from __future__ import annotations


def pod_security_context(uid):
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def container_security_context():
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def secret_variable(name, secret, key):
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def server_container(workload, command, ports, env):
    """The server container of a workload's StatefulSet (probes and mounts are the engine's): its image, ``command``
    run by sh, ``ports`` ({name: port}), ``env`` and the catalog's resources."""
    result = {
        "name": workload["objects"]["container"], "image": workload["image"], "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", command],
        "ports": [{"name": name, "containerPort": port} for name, port in ports.items()],
        "env": env, "securityContext": container_security_context(),
    }
    if workload["resources"]:
        result["resources"] = workload["resources"]
    return result


def claim_template(workload, size):
    spec = {"accessModes": ["ReadWriteOnce"]}
    if workload["storage"]["class"]:
        spec["storageClassName"] = workload["storage"]["class"]
    spec["resources"] = {"requests": {"storage": size}}
    return {"metadata": {"name": "data", "labels": dict(workload["labels"])}, "spec": spec}


def database_pod_spec(uid, containers, volumes):
    """The spec of a database server's pod: no service links or token, the uid's security context, a minute to stop."""
    return {
        "enableServiceLinks": False, "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 60,
        "securityContext": dict(pod_security_context(uid), fsGroupChangePolicy="OnRootMismatch"),
        "containers": containers, "volumes": volumes,
    }
