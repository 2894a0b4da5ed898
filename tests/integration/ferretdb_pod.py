"""A workload's MongoDB primary played by FerretDB in the lab (no MongoDB server can run here): a pod with the name,
container name, labels and root-user environment the mongodb role gives the StatefulSet's first member, the
workload's Secret and its client Service (built by the collection's own builder). FerretDB has no replica-set
commands; the data path (mongorestore, pymongo) is what it stands in for."""

from __future__ import annotations

import contextlib
import json
import subprocess

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import mongodb
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import workload as objects

from .conftest import KUBECONFIG, kubectl


def container(workload):
    auth = workload["auth"]
    password = {"valueFrom": {"secretKeyRef": {"name": auth["secret"], "key": auth["password_key"]}}}
    return {"name": workload["objects"]["container"], "image": "ferretdb/ferretdb:1.24", "imagePullPolicy": "IfNotPresent",
            "env": [{"name": "FERRETDB_TEST_ENABLE_NEW_AUTH", "value": "true"}, {"name": "FERRETDB_SETUP_DATABASE", "value": "admin"},
                    {"name": "FERRETDB_SETUP_USERNAME", "value": auth["user"]}, {"name": "FERRETDB_SETUP_PASSWORD", **password},
                    {"name": "MONGO_INITDB_ROOT_USERNAME", "value": auth["user"]}, {"name": "MONGO_INITDB_ROOT_PASSWORD", **password}],
            "ports": [{"name": "mongodb", "containerPort": 27017}],
            "readinessProbe": {"tcpSocket": {"port": 27017}, "periodSeconds": 2},
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "state", "mountPath": "/state"}]}


@contextlib.contextmanager
def primary(workload, password):
    """The namespace, the Secret and the pod, until the block ends (then the namespace is deleted)."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": workload["objects"]["primary_pod"], "labels": workload["selector"]},
           "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                    "containers": [container(workload)], "volumes": [{"name": "state", "emptyDir": {}}]}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": workload["auth"]["secret"]},
              "stringData": {workload["auth"]["password_key"]: password}}
    client_service = objects.service(workload, mongodb.PORTS, headless=False)
    kubectl("create", "namespace", workload["namespace"])
    try:
        for obj in (secret, pod, client_service):
            subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-n", workload["namespace"], "-f", "-"], input=json.dumps(obj),
                           text=True, check=True, capture_output=True)
        kubectl("wait", "-n", workload["namespace"], "--for=condition=Ready", "pod/%s" % pod["metadata"]["name"], "--timeout=120s")
        yield
    finally:
        kubectl("delete", "namespace", workload["namespace"], "--wait=false", check=False)
