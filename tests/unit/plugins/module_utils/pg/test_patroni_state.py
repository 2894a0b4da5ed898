from __future__ import annotations

import json

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import patroni_state

MIB = 1024 * 1024


def member(name, role="replica", state="streaming", timeline=2, lag=0):
    return {"name": name, "role": role, "state": state, "host": "10.244.0.9", "port": 5432, "timeline": timeline, "lag": lag}


def answer(*members):
    return json.dumps({"members": list(members), "scope": "gardenos-postgresql-ha"})


HEALTHY = answer(member("pg-0", role="leader", state="running", lag=None), member("pg-1", role="sync_standby"), member("pg-2"))
LABELS = {"pg-0": "primary", "pg-1": "replica", "pg-2": "replica"}


def test_a_leader_and_streaming_replicas_have_no_problem():
    members = patroni_state.parse_cluster(HEALTHY)
    assert patroni_state.leader_of(members) == "pg-0"
    assert patroni_state.problems(members, LABELS, 3, 16 * MIB, "acct") == []


def test_no_leader_names_the_role_of_the_service_account():
    members = patroni_state.parse_cluster(answer(member("pg-0", state="running"), member("pg-1")))
    found = patroni_state.problems(members, {"pg-0": None, "pg-1": None}, 2, MIB, "gardenos-postgresql-patroni")
    assert len(found) == 1 and "no member holds the leader lock" in found[0]
    assert "system:serviceaccount:<namespace>:gardenos-postgresql-patroni" in found[0]


@pytest.mark.parametrize(("replica", "expected"), [
    (member("pg-1", state="starting"), "is starting, not streaming from pg-0: the replication user is refused"),
    (member("pg-1", timeline=1), "is on timeline 1, the leader pg-0 on 2"),
    (member("pg-1", lag=40 * MIB), "lags %d bytes" % (40 * MIB)),
    (member("pg-1", lag="unknown"), "lags an unknown amount"),
])
def test_a_replica_not_keeping_up_is_named_with_its_cause(replica, expected):
    members = patroni_state.parse_cluster(answer(member("pg-0", role="leader", state="running", lag=None), replica))
    found = patroni_state.problems(members, {"pg-0": "primary", "pg-1": "replica"}, 2, 16 * MIB, "acct")
    assert len(found) == 1 and expected in found[0]


def test_two_pods_labelled_primary_are_a_split_brain_sign():
    members = patroni_state.parse_cluster(HEALTHY)
    found = patroni_state.problems(members, dict(LABELS, **{"pg-2": "primary"}), 3, 16 * MIB, "acct")
    assert any("pg-0, pg-2 are all labelled primary" in text and "split brain" in text for text in found)


def test_missing_members_and_an_unlabelled_leader_are_reported():
    members = patroni_state.parse_cluster(answer(member("pg-0", role="leader", state="running", lag=None)))
    found = patroni_state.problems(members, {"pg-0": "replica"}, 3, MIB, "acct")
    assert any("2 of the 3 members are not registered" in text for text in found)
    assert any("not labelled primary yet" in text for text in found)


@pytest.mark.parametrize("text", ["<html>", json.dumps({"scope": "x"}), json.dumps([1])])
def test_an_answer_that_is_not_patronis_is_refused(text):
    with pytest.raises(patroni_state.PatroniStateError):
        patroni_state.parse_cluster(text)
