from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import classes

BACKEND = {"name": "nas", "server": "192.168.1.5", "path": "/volume1/k8s-storage"}


def test_defaults_keep_the_data_of_a_deleted_claim():
    backend, (made,) = classes.checked(BACKEND, [{"name": "nfs-databases"}])
    assert backend["nfs_version"] == "4.1"
    assert made == {"name": "nfs-databases", "reclaim_policy": "Retain", "archive_on_delete": True,
                    "path_pattern": "${.PVC.namespace}/${.PVC.name}", "allow_expansion": True, "default": False}


def test_every_problem_is_reported_at_once():
    with pytest.raises(classes.StorageInputError) as refused:
        classes.checked({"name": "NAS", "server": "nas host", "path": "volume1", "nfs_version": "5"},
                        [{"name": "nfs-db", "default": True}, {"name": "nfs-db", "default": True, "reclaim_policy": "Recycle"}])
    assert refused.value.errors == [
        "backend.name = 'NAS': is not a DNS-1123 label; use a short name of a-z, 0-9 and '-', e.g. nas",
        "backend.server = 'nas host': is not host[:port]; give the NFS server's address, e.g. 192.168.1.5",
        "backend.path = 'volume1': is not an absolute path of letters, digits and ._/@+-; give the exported path, "
        "e.g. /volume1/k8s-storage",
        "backend.nfs_version = '5': is not one of 3, 4, 4.1; use 4.1 unless the server lacks it",
        "classes[1].name = 'nfs-db': is used twice; give each StorageClass its own name",
        "classes[1].reclaim_policy = 'Recycle': is not Retain or Delete (Retain keeps a database's volume when its claim goes)",
        "classes: more than one is default: true; a cluster has one default StorageClass",
    ]


def test_no_class_is_a_problem():
    with pytest.raises(classes.StorageInputError, match="classes: is empty"):
        classes.checked(BACKEND, [])
