"""The NFS provisioner's objects and a StorageClass, built as data, applied to the lab's real API server: it accepts
every one (its own validation of RBAC, the Deployment's NFS volume and the class's fields) and keeps what the
collection said. The provisioner's pod itself cannot run here (no NFS client in this kernel, no registry to pull its
image from): its mount and readiness are exercised only on real nodes."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import nfs_provisioner

from .conftest import KUBECONFIG, kubectl

pytestmark = pytest.mark.lab


def apply(objects):
    listed = {"apiVersion": "v1", "kind": "List", "items": objects}
    done = subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "--server-side", "--field-manager=stateshift", "-f", "-"],
                          input=json.dumps(listed), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_api_server_takes_the_provisioner_and_a_class_as_built(cluster):
    suffix = uuid.uuid4().hex[:6]
    backend = {"name": "nas-%s" % suffix, "server": "192.0.2.5", "path": "/volume1/k8s-storage", "nfs_version": "4.1"}
    storage = {"name": "nfs-databases-%s" % suffix, "reclaim_policy": "Retain", "archive_on_delete": True,
               "path_pattern": nfs_provisioner.PATH_PATTERN, "allow_expansion": True, "default": False}
    namespace = "nfs-provisioner-%s" % suffix
    objects = [*nfs_provisioner.provisioner_objects(backend, namespace=namespace), nfs_provisioner.storage_class(storage, backend)]
    names = nfs_provisioner.names(backend)
    try:
        apply(objects)
        stored = json.loads(kubectl("get", "storageclass", storage["name"], "-o", "json").stdout)
        assert (stored["provisioner"], stored["reclaimPolicy"], stored["allowVolumeExpansion"]) == (names["provisioner"], "Retain", True)
        assert stored["parameters"] == {"archiveOnDelete": "true", "pathPattern": "${.PVC.namespace}/${.PVC.name}"}
        deployment = json.loads(kubectl("get", "deployment", "-n", namespace, names["app"], "-o", "json").stdout)
        assert deployment["spec"]["template"]["spec"]["volumes"][0]["nfs"] == {"server": "192.0.2.5", "path": "/volume1/k8s-storage"}
        can = kubectl("auth", "can-i", "create", "persistentvolumes",
                      "--as=system:serviceaccount:%s:%s" % (namespace, names["service_account"])).stdout.strip()
        assert can == "yes"
    finally:
        for kind, name in (("storageclass", storage["name"]), ("clusterrolebinding", names["cluster_role"]),
                           ("clusterrole", names["cluster_role"]), ("namespace", namespace)):
            kubectl("delete", kind, name, "--wait=false", "--ignore-not-found", check=False)
