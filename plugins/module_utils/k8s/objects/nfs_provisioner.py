# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nfs-subdir-external-provisioner for one NFS export, and the StorageClasses it serves, as data.

The provisioner (kubernetes-sigs/nfs-subdir-external-provisioner, deploy/rbac.yaml and deploy/deployment.yaml of its
v4.0.2 release) mounts the export and makes one directory per claim; a StorageClass names it by ``provisioner`` and
says, in ``parameters``, where that directory goes (``pathPattern``) and what happens to it when its claim is deleted
(``archiveOnDelete``: renamed ``archived-...`` and kept, or removed; ``onDelete: retain`` keeps it as it is).
``reclaimPolicy: Retain`` keeps the PersistentVolume itself.
"""

from __future__ import annotations

IMAGE = "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2"
NAMESPACE = "nfs-provisioner"
PATH_PATTERN = "${.PVC.namespace}/${.PVC.name}"
MOUNT_PATH = "/persistentvolumes"
LABEL = "app.kubernetes.io/name"


def names(backend):
    """Every object name of the provisioner of ``backend`` (its catalog name), and the provisioner name classes use."""
    base = "nfs-%s" % backend["name"]
    return {"app": base, "service_account": base, "cluster_role": "%s-runner" % base, "role": "%s-leader-locking" % base,
            "provisioner": "stateshift.k3s/%s" % base}


def _meta(kind, api_version, name, namespace=None, labels=None):
    metadata = {"name": name, "labels": dict(labels or {})}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def provisioner_objects(backend, namespace=NAMESPACE, image=IMAGE):
    """``backend``: {'name', 'server', 'path', 'nfs_version'}; the objects in the order they are applied."""
    named = names(backend)
    labels = {LABEL: "nfs-subdir-external-provisioner", "app.kubernetes.io/instance": named["app"],
              "app.kubernetes.io/managed-by": "stateshift"}
    subject = [{"kind": "ServiceAccount", "name": named["service_account"], "namespace": namespace}]
    cluster_role = _meta("ClusterRole", "rbac.authorization.k8s.io/v1", named["cluster_role"], labels=labels)
    cluster_role["rules"] = [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "watch", "create", "delete"]},
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "list", "watch", "update"]},
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "update", "patch"]}]
    cluster_binding = _meta("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", named["cluster_role"], labels=labels)
    cluster_binding.update(subjects=subject, roleRef={"kind": "ClusterRole", "name": named["cluster_role"],
                                                      "apiGroup": "rbac.authorization.k8s.io"})
    role = _meta("Role", "rbac.authorization.k8s.io/v1", named["role"], namespace, labels)
    role["rules"] = [{"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch", "create", "update", "patch"]},
                     {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                      "verbs": ["get", "list", "watch", "create", "update", "patch"]}]
    binding = _meta("RoleBinding", "rbac.authorization.k8s.io/v1", named["role"], namespace, labels)
    binding.update(subjects=subject, roleRef={"kind": "Role", "name": named["role"], "apiGroup": "rbac.authorization.k8s.io"})
    account = _meta("ServiceAccount", "v1", named["service_account"], namespace, labels)
    return [_meta("Namespace", "v1", namespace, labels=labels), account, cluster_role, cluster_binding, role, binding,
            deployment(backend, named, namespace, labels, image)]


def deployment(backend, named, namespace, labels, image):
    selector = {LABEL: labels[LABEL], "app.kubernetes.io/instance": named["app"]}
    container = {
        "name": "nfs-subdir-external-provisioner", "image": image, "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "PROVISIONER_NAME", "value": named["provisioner"]}, {"name": "NFS_SERVER", "value": backend["server"]},
                {"name": "NFS_PATH", "value": backend["path"]}],
        "volumeMounts": [{"name": "nfs-client-root", "mountPath": MOUNT_PATH}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    }
    result = _meta("Deployment", "apps/v1", named["app"], namespace, labels)
    result["spec"] = {
        "replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": dict(labels)},
                     "spec": {"serviceAccountName": named["service_account"], "containers": [container],
                              "volumes": [{"name": "nfs-client-root", "nfs": {"server": backend["server"], "path": backend["path"]}}]}},
    }
    return result


def storage_class(storage, backend):
    """``storage``: {'name', 'reclaim_policy', 'archive_on_delete', 'path_pattern', 'allow_expansion', 'default'}."""
    result = _meta("StorageClass", "storage.k8s.io/v1", storage["name"], labels={"app.kubernetes.io/managed-by": "stateshift"})
    if storage["default"]:
        result["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    result.update(provisioner=names(backend)["provisioner"], reclaimPolicy=storage["reclaim_policy"],
                  allowVolumeExpansion=storage["allow_expansion"], volumeBindingMode="Immediate",
                  mountOptions=["nfsvers=%s" % backend["nfs_version"], "hard"],
                  parameters={"archiveOnDelete": "true" if storage["archive_on_delete"] else "false",
                              "pathPattern": storage["path_pattern"]})
    return result
