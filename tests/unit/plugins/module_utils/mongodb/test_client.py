from __future__ import annotations

import pytest
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import client
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.replset import CommandFailed


class Admin:
    def __init__(self, raised):
        self.raised = raised

    def command(self, document):
        raise self.raised


class Mongo:
    def __init__(self, raised):
        self.admin = Admin(raised)


def test_a_refused_command_keeps_its_code_and_name():
    details = {"ok": 0, "codeName": "NotYetInitialized", "errmsg": "no replset config has been received"}
    failure = OperationFailure("no replset config has been received", 94, details)
    with pytest.raises(CommandFailed) as raised:
        client.MemberClient("vault-0", Mongo(failure)).command({"replSetGetStatus": 1})
    assert (raised.value.code, raised.value.code_name) == (94, "NotYetInitialized")


def test_a_member_that_does_not_answer_is_silent_not_failed():
    with pytest.raises(client.MemberSilent, match="vault-1"):
        client.MemberClient("vault-1", Mongo(ServerSelectionTimeoutError("timed out"))).command({"ping": 1})
    with pytest.raises(client.MemberSilent, match="pod vault-2: port-forward failed"):
        client.MemberClient("vault-2", reason="port-forward failed").command({"ping": 1})


def test_the_pods_are_the_statefulsets_members_in_order():
    workload = {"replicas": 3, "objects": {"statefulset": "vault-mongodb"}}
    assert client.pods_of(workload) == ["vault-mongodb-0", "vault-mongodb-1", "vault-mongodb-2"]
