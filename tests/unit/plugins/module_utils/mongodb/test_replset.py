from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import replset
from tests.doubles.mongodb_replset import ReplicaSetDouble


def workload(replicas=3, replica_set="rs0"):
    return {"name": "vinylvault", "namespace": "media", "replicas": replicas, "replica_set": replica_set,
            "objects": {"statefulset": "vinylvault-mongodb", "headless_service": "vinylvault-mongodb-hl"}}


def host(index):
    return replset.member_host(workload(), index)


def pods(count=5):
    return ReplicaSetDouble([host(index) for index in range(count)], set_name="rs0")


def converge(double, replicas, pod_count=None, check_mode=False, replica_set="rs0"):
    clients = [double.client(index) for index in range(pod_count or replicas)]
    return replset.apply(replset.plan(clients, workload(replicas, replica_set)), clients, check_mode)


def status(double, index=0):
    return double.client(index).command({"replSetGetStatus": 1})


def sent(double, command):
    return [document[command] for _index, name, document in double.calls if name == command]


def test_member_hosts_are_the_pods_behind_the_headless_service():
    assert replset.desired_members(workload(2)) == [
        {"_id": 0, "host": "vinylvault-mongodb-0.vinylvault-mongodb-hl.media.svc.cluster.local:27017"},
        {"_id": 1, "host": "vinylvault-mongodb-1.vinylvault-mongodb-hl.media.svc.cluster.local:27017"}]


def test_a_new_set_is_initiated_once_on_pod_0_and_a_rerun_changes_nothing():
    double = pods(3)
    first = converge(double, 3)
    assert first["changed"] and first["action"] == "initiate"
    assert double.writes() == [(0, "replSetInitiate")]
    assert double.ids() == {host(0): 0, host(1): 1, host(2): 2}
    assert double.client(0).command({"hello": 1})["isWritablePrimary"]
    assert converge(double, 3) == {"changed": False, "action": "none", "changes": []}
    assert double.writes() == [(0, "replSetInitiate")]


def test_a_member_that_lost_its_volume_is_never_initiated_again():
    double = pods(3)
    converge(double, 3)
    double.wipe(0)
    with pytest.raises(replset.CommandFailed, match="NotYetInitialized"):
        status(double, 0)
    assert converge(double, 3)["action"] == "none"
    double.down(1)
    double.down(2)
    with pytest.raises(replset.ReplicaSetError, match=r"not initiated and .*-1\..*, .*-2\..* did not answer"):
        converge(double, 3)
    assert double.writes() == [(0, "replSetInitiate")]
    assert double.ids() == {host(0): 0, host(1): 1, host(2): 2}


def test_a_renamed_set_is_refused_and_nothing_is_sent():
    double = pods(3)
    converge(double, 3)
    renamed = "the live set is named rs0; renaming a replica set is not supported: set replica_set: rs0"
    with pytest.raises(replset.ReplicaSetError, match=renamed):
        converge(double, 3, replica_set="music")
    assert double.writes() == [(0, "replSetInitiate")] and double.config["_id"] == "rs0"


def test_scaling_3_to_5_adds_one_member_per_reconfig_on_the_live_version():
    double = pods(5)
    converge(double, 3, pod_count=5)
    result = converge(double, 5)
    assert result["changes"] == ["add member %s as _id 3" % host(3), "add member %s as _id 4" % host(4)]
    assert double.writes() == [(0, "replSetInitiate"), (0, "replSetReconfig"), (0, "replSetReconfig")]
    reconfigs = sent(double, "replSetReconfig")
    assert [len(config["members"]) for config in reconfigs] == [4, 5]
    assert [config["version"] for config in reconfigs] == [2, 4]  # the double raised it to 3 after the first addition
    assert double.ids() == {host(index): index for index in range(5)}
    assert replset.health(status(double), 10) == []
    assert not converge(double, 5)["changed"]


def test_the_double_refuses_two_voting_members_in_one_reconfig():
    double = pods(5)
    converge(double, 3, pod_count=5)
    config = dict(double.config, version=2, members=replset.desired_members(workload(5)))
    with pytest.raises(replset.CommandFailed, match="can only add or remove at most 1 voting member") as refused:
        double.client(0).command({"replSetReconfig": config})
    assert refused.value.code == 93 and double.ids() == {host(index): index for index in range(3)}


def test_scaling_5_to_3_removes_one_member_at_a_time_and_keeps_the_ids_and_settings_of_those_staying():
    double = pods(5)
    members = [{"_id": 5 + index, "host": host(index)} for index in range(5)]
    members[2]["priority"] = 2
    double.client(0).command({"replSetInitiate": {"_id": "rs0", "members": members}})
    result = converge(double, 3, pod_count=5)
    assert result["changes"] == ["remove member %s (_id 9)" % host(4), "remove member %s (_id 8)" % host(3)]
    assert double.writes()[1:] == [(0, "replSetReconfig"), (0, "replSetReconfig")]
    assert double.ids() == {host(0): 5, host(1): 6, host(2): 7}
    assert next(m for m in double.config["members"] if m["_id"] == 7)["priority"] == 2
    with pytest.raises(replset.CommandFailed, match="InvalidReplicaSetConfig"):
        status(double, 4)  # removed: it is not a member any more
    assert converge(double, 3)["action"] == "none"
    back = converge(double, 4)
    assert back["changes"] == ["add member %s as _id 8" % host(3)] and double.ids()[host(3)] == 8


def test_a_primary_among_the_members_to_remove_is_refused():
    double = pods(5)
    converge(double, 5)
    for index in (1, 2, 3):
        double.set_lag(index, 5)
    double.down(0)  # pod 4, the least behind, is elected
    double.up(0)
    with pytest.raises(replset.ReplicaSetError, match=r"vinylvault-mongodb-4\..* is a member to remove: step it down"):
        converge(double, 3, pod_count=5)
    with pytest.raises(replset.ReplicaSetError, match=r"vinylvault-mongodb-4\..* is a member to remove: step it down"):
        converge(double, 3)  # no client for the pods about to go: the others name the primary
    assert double.writes() == [(0, "replSetInitiate")]


def test_a_down_member_at_first_initiation_is_refused_by_name():
    double = pods(3)
    double.down(2)
    with pytest.raises(replset.ReplicaSetError, match=r"not initiated and vinylvault-mongodb-2\..*:27017 did not answer"):
        converge(double, 3)
    assert double.writes() == [] and double.config is None
    with pytest.raises(replset.CommandFailed, match=r"quorum check failed.*vinylvault-mongodb-2") as refused:
        double.client(0).command({"replSetInitiate": {"_id": "rs0", "members": replset.desired_members(workload(3))}})
    assert refused.value.code == 74


class Timeout:
    def command(self, document):
        raise TimeoutError("timed out")


def test_any_transport_error_is_a_member_that_did_not_answer():
    double = pods(3)
    clients = [double.client(0), double.client(1), Timeout()]
    with pytest.raises(replset.ReplicaSetError, match=r"vinylvault-mongodb-2\..* did not answer"):
        replset.plan(clients, workload(3))
    assert double.writes() == []


def test_check_mode_sends_nothing():
    double = pods(5)
    assert converge(double, 3, check_mode=True)["action"] == "initiate"
    assert double.writes() == [] and double.config is None
    converge(double, 3)
    result = converge(double, 5, check_mode=True)
    assert result["changed"] and len(result["changes"]) == 2
    assert double.writes() == [(0, "replSetInitiate")] and len(double.ids()) == 3


def test_without_a_primary_nothing_is_reconfigured():
    double = pods(5)
    converge(double, 3, pod_count=5)
    double.down(1)
    double.down(2)
    with pytest.raises(replset.ReplicaSetError, match="has no primary"):
        converge(double, 5)
    assert double.writes() == [(0, "replSetInitiate")]


def test_health_of_a_healthy_set_and_the_lag_of_its_secondaries():
    double = pods(3)
    converge(double, 3)
    double.set_lag(1, 45)
    assert replset.lag_seconds(status(double)) == {host(1): 45.0, host(2): 0.0}
    assert replset.health(status(double), 60) == []
    assert replset.health(status(double), 30) == ["member %s lags the primary by 45s (more than 30s)" % host(1)]


def test_health_names_a_down_member_and_a_set_without_primary():
    double = pods(3)
    converge(double, 3)
    double.down(2)
    assert replset.health(status(double), 30) == ["member %s is unreachable (health 0, state (not reachable/healthy))" % host(2)]
    double.down(1)
    problems = replset.health(status(double), 30)
    assert problems[0] == "replica set rs0 has no PRIMARY: nothing can be written until a majority of its 3 members is up and elects one"
    assert problems[1:] == ["member %s is unreachable (health 0, state (not reachable/healthy))" % host(index) for index in (1, 2)]
    assert replset.lag_seconds(status(double)) == {}


def test_health_names_a_member_that_is_not_serving():
    double = pods(3)
    converge(double, 3)
    double.wipe(2)
    assert replset.health(status(double), 30) == ["member %s is STARTUP, not PRIMARY, SECONDARY or ARBITER" % host(2)]
