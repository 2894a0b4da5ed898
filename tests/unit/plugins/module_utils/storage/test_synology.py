from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import synology
from ansible_collections.stateshift.k3s.plugins.module_utils.storage.dsm import DsmError

PARAMS = {"share": "k8s-storage", "volume": "/volume1", "description": "k3s", "nfs_version": "4.1", "node_addresses": [],
          "rules": [{"client": "192.168.1.0/24", "privilege": "rw", "squash": "root", "async": False, "insecure": True,
                     "crossmnt": True, "security": "sys"}]}


class RefusingSave:
    """A DSM session on a fresh NAS that refuses the rules' save."""

    def __init__(self):
        self.writes = []

    def call(self, api, version, method, **params):
        if method == "get":
            return {"enable_nfs": False, "enable_nfs_v4": False, "enabled_minor_ver": 0}
        if method == "list":
            return {"shares": []}
        if method == "save":
            raise DsmError("SYNO.Core.FileServ.NFS.SharePrivilege save on DSM at https://nas failed (code 2301): DSM refused", 2301)
        self.writes.append(method)
        return {}


def test_a_refusal_after_a_write_says_what_was_written():
    dsm = RefusingSave()
    with pytest.raises(synology.PartlyDone) as stopped:
        synology.converge(dsm, PARAMS, check_mode=False)
    assert stopped.value.actions == ["create shared folder k8s-storage on /volume1", "turn on NFS (v4.1)"]
    assert "(code 2301)" in str(stopped.value) and "a re-run finishes the job" in str(stopped.value)
    assert dsm.writes == ["create", "set"]
