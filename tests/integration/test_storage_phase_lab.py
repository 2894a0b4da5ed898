"""The storage phase (playbooks/storage.yml) against a test double of the DSM Web API (tests/doubles/dsm_webapi.py; no
NAS here) and the lab's real API server: the share, NFS and the rules land on the NAS, the provisioner and the
StorageClass on the cluster (the wait for the provisioner skipped: its pod cannot mount NFS in this kernel); a re-run
changes nothing; the DSM password never reaches the output, even at -vvv; a bad storage catalog is refused before DSM
or the cluster is contacted."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.doubles import dsm_webapi

from .conftest import REPO, kubectl, nothing_changed, remove_nfs_storage

pytestmark = pytest.mark.lab

PASSWORD = "Dsm-%s" % uuid.uuid4().hex[:12]


def storage(url, suffix):
    return {"backends": [{"name": "nas%s" % suffix, "kind": "synology", "server": "192.0.2.5", "share": "k8s-storage",
                          "clients": ["0.0.0.0/0"], "dsm": {"url": url, "username": "stateshift", "password": PASSWORD}}],
            "classes": [{"name": "nfs-databases-%s" % suffix, "backend": "nas%s" % suffix}]}


def run(playbook, catalog, *extra, check=True):
    # no node checks the export: the NAS double's address serves no NFS (the lab inventory checks from the controller)
    variables = {"stateshift_storage": catalog, "nfs_storage_wait_timeout": 0, "nfs_storage_probe_hosts": []}
    return playbook.run(REPO / "playbooks" / "storage.yml", "-e", json.dumps(variables), *extra, check=check)


def test_the_storage_phase_sets_up_the_nas_and_the_classes_and_a_rerun_changes_nothing(playbook, cluster):
    suffix = uuid.uuid4().hex[:6]
    nas = dsm_webapi.fresh_nas(password=PASSWORD)
    with dsm_webapi.serving(nas) as (url, _double):
        catalog = storage(url, suffix)
        try:
            first = run(playbook, catalog, "-vvv")
            assert PASSWORD not in first.stdout + first.stderr
            assert nas["shares"]["k8s-storage"]["vol_path"] == "/volume1"
            assert [rule["client"] for rule in nas["rules"]["k8s-storage"]] == ["0.0.0.0/0"]
            stored = json.loads(kubectl("get", "storageclass", "nfs-databases-%s" % suffix, "-o", "json").stdout)
            assert stored["provisioner"] == "stateshift.k3s/nfs-nas%s" % suffix
            assert stored["reclaimPolicy"] == "Retain"
            deployment = json.loads(kubectl("get", "deployment", "-n", "nfs-provisioner-nas%s" % suffix, "nfs-nas%s" % suffix,
                                            "-o", "json").stdout)
            assert deployment["spec"]["template"]["spec"]["volumes"][0]["nfs"] == {"server": "192.0.2.5", "path": "/volume1/k8s-storage"}
            again = run(playbook, catalog)
            assert nothing_changed(again.stdout), again.stdout[-3000:]
        finally:
            remove_nfs_storage("nfs-databases-%s" % suffix, "nas%s" % suffix)


def test_a_bad_storage_catalog_is_refused_before_anything_is_contacted(playbook):
    nas = dsm_webapi.fresh_nas(password=PASSWORD)
    with dsm_webapi.serving(nas) as (url, double):
        catalog = storage(url, "x")
        catalog["classes"].append(dict(catalog["classes"][0]))
        refused = run(playbook, catalog, check=False)
        assert refused.returncode != 0
        assert "classes[1].name = 'nfs-databases-x': is used twice" in refused.stdout, refused.stdout[-3000:]
        assert double.calls == [] and not double.sessions
