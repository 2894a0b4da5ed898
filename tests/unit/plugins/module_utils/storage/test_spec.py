from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import spec
from ansible_collections.stateshift.k3s.plugins.module_utils.storage.classes import StorageInputError

NAS = {"name": "nas", "kind": "synology", "server": "192.168.1.5", "share": "k8s-storage", "clients": ["192.168.1.0/24"],
       "dsm": {"url": "https://192.168.1.5:5001", "username": "stateshift", "password": "Nas-Secret-7"}}


def test_a_synology_backend_gets_its_export_path_and_loses_its_password():
    checked = spec.validate_storage({"backends": [NAS], "classes": [{"name": "nfs-databases", "backend": "nas"}]})
    (backend,) = checked["backends"]
    found = (backend["path"], backend["volume"], backend["squash"], backend["nfs_version"])
    assert found == ("/volume1/k8s-storage", "/volume1", "root", "4.1")
    assert "password" not in backend["dsm"] and "Nas-Secret-7" not in repr(checked)
    assert NAS["dsm"]["password"] == "Nas-Secret-7", "the caller's catalog was changed"
    assert checked["classes"][0]["reclaim_policy"] == "Retain"


def test_an_existing_export_is_taken_as_it_is():
    checked = spec.validate_storage({"backends": [{"name": "old", "kind": "nfs", "server": "192.168.1.9", "path": "/srv/k3s"}],
                                     "classes": [{"name": "nfs-old", "backend": "old"}]})
    assert checked["backends"][0]["path"] == "/srv/k3s"


def test_every_problem_is_reported_at_once():
    with pytest.raises(StorageInputError) as refused:
        spec.validate_storage({"backends": [dict(NAS, clients=["192.168.1.0/33"], squash="all_squash", dsm={"url": "ftp://nas"}),
                                            {"name": "nas", "kind": "nfs", "server": "192.168.1.9", "path": "/srv/k3s"},
                                            {"name": "box", "kind": "linux_nfs", "server": "192.168.1.9", "path": "/srv/k3s",
                                             "clients": ["192.168.1.0/24;rm"], "service": "knfsd"}],
                               "classes": [{"name": "nfs-db", "backend": "nas"}, {"name": "nfs-db", "backend": "elsewhere"}]})
    errors = refused.value.errors
    assert "backends[0].clients[0] = '192.168.1.0/33': is not an address or subnet; write it like 192.168.1.0/24" in errors
    assert any(error.startswith("backends[0].squash = 'all_squash': is not one of root, admin") for error in errors)
    assert any(error.startswith("backends[0].dsm.password: is required") for error in errors)
    assert any(error.startswith("backends[0].dsm.url = 'ftp://nas': is not DSM's address") for error in errors)
    assert "backends[1].name = 'nas': is used twice; give each backend its own name" in errors
    assert "backends[2].host: is required; name the NFS server's host in the inventory" in errors
    assert any(error.startswith("backends[2].service = 'knfsd': is not one of kernel, ganesha") for error in errors)
    assert any(error.startswith("backends[2].clients[0] = '192.168.1.0/24;rm': is not an address") for error in errors)
    assert "classes[1].name = 'nfs-db': is used twice; give each StorageClass its own name" in errors
    assert "classes[1].backend = 'elsewhere': is not a declared backend; use one of: box, nas" in errors


def test_a_bad_volume_is_named_as_the_volume():
    with pytest.raises(StorageInputError) as refused:
        spec.validate_storage({"backends": [dict(NAS, volume="volume1")], "classes": [{"name": "nfs-databases", "backend": "nas"}]})
    assert refused.value.errors == ["backends[0].volume = 'volume1': is not a DSM volume; write it like /volume1"]


def test_a_linux_server_gets_its_defaults_and_each_backend_the_squash_to_check():
    checked = spec.validate_storage({"backends": [
        {"name": "box", "kind": "linux_nfs", "host": "nfs-vm", "server": "192.168.1.9", "path": "/srv/k3s", "clients": ["192.168.1.0/24"]},
        dict(NAS, squash="guest"),
        {"name": "old", "kind": "nfs", "server": "192.168.1.7", "path": "/export", "squash": "all"}],
        "classes": [{"name": "nfs-box", "backend": "box"}]})
    box, nas, old = checked["backends"]
    assert (box["service"], box["squash"], box["anonymous_uid"], box["expected_squash"]) == ("kernel", "none", 65534, "none")
    assert nas["expected_squash"] == "root"
    assert old["expected_squash"] == "all"


def test_an_existing_export_with_an_unknown_squash_is_refused():
    with pytest.raises(StorageInputError) as refused:
        spec.validate_storage({"backends": [{"name": "old", "kind": "nfs", "server": "192.168.1.9", "path": "/srv",
                                             "squash": "no_root_squash"}],
                               "classes": [{"name": "nfs-old", "backend": "old"}]})
    assert refused.value.errors[0].startswith("backends[0].squash = 'no_root_squash': is not one of none, root, all")
