from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import nfs_provisioner

BACKEND = {"name": "nas", "server": "192.168.1.5", "path": "/volume1/k8s-storage", "nfs_version": "4.1"}
CLASS = {"name": "nfs-databases", "reclaim_policy": "Retain", "archive_on_delete": True, "path_pattern": nfs_provisioner.PATH_PATTERN,
         "allow_expansion": True, "default": False}


def by_kind(objects):
    return {obj["kind"]: obj for obj in objects}


def test_the_provisioner_mounts_the_export_and_names_itself_as_its_classes_do():
    objects = by_kind(nfs_provisioner.provisioner_objects(BACKEND))
    spec = objects["Deployment"]["spec"]["template"]["spec"]
    env = {item["name"]: item["value"] for item in spec["containers"][0]["env"]}
    assert env == {"PROVISIONER_NAME": "stateshift.k3s/nfs-nas", "NFS_SERVER": "192.168.1.5", "NFS_PATH": "/volume1/k8s-storage"}
    assert spec["volumes"] == [{"name": "nfs-client-root", "nfs": {"server": "192.168.1.5", "path": "/volume1/k8s-storage"}}]
    assert objects["Deployment"]["spec"]["strategy"] == {"type": "Recreate"}
    assert nfs_provisioner.storage_class(CLASS, BACKEND)["provisioner"] == env["PROVISIONER_NAME"]


def test_the_bindings_give_the_provisioners_account_its_roles():
    objects = by_kind(nfs_provisioner.provisioner_objects(BACKEND))
    account = objects["ServiceAccount"]["metadata"]
    for binding, role in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        assert objects[binding]["subjects"] == [{"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}]
        assert objects[binding]["roleRef"]["name"] == objects[role]["metadata"]["name"]
    pv_rule = next(rule for rule in objects["ClusterRole"]["rules"] if rule["resources"] == ["persistentvolumes"])
    assert set(pv_rule["verbs"]) == {"get", "list", "watch", "create", "delete"}


def test_a_class_keeps_the_data_of_a_deleted_claim():
    made = nfs_provisioner.storage_class(CLASS, BACKEND)
    assert made["reclaimPolicy"] == "Retain"
    assert made["parameters"] == {"archiveOnDelete": "true", "pathPattern": "${.PVC.namespace}/${.PVC.name}"}
    assert made["mountOptions"] == ["nfsvers=4.1", "hard"]
    assert "annotations" not in made["metadata"]


def test_the_default_class_is_annotated():
    made = nfs_provisioner.storage_class(dict(CLASS, default=True, archive_on_delete=False), BACKEND)
    assert made["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert made["parameters"]["archiveOnDelete"] == "false"
