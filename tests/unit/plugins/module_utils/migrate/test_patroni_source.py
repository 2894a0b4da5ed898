from __future__ import annotations

import json

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import patroni_source
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError


class AnsweringMember:
    """A member's side whose python3 prints ``answer`` (a real process), or fails with ``error``."""

    def __init__(self, container, answer=None, error=None):
        self.container, self.answer, self.error = container, answer, error
        self.label = "source container '%s' on legacy-vm" % container
        self.asked = []

    def argv(self, program, args, database):
        self.asked.append((program, list(args), database))
        if self.error:
            return ["sh", "-c", "echo %s >&2; exit 1" % self.error]
        return ["printf", "%s", json.dumps(self.answer)]

    def stdin_prefix(self):
        return b""

    def explain_host_failure(self, rc, stderr):
        return None


def sides(**members):
    made = {name: AnsweringMember(name, *spec) for name, spec in members.items()}
    return made, made.__getitem__


def test_the_member_whose_patroni_leads_is_the_source_whatever_its_place():
    made, side_of = sides(db1=({"role": "replica", "state": "streaming"},), db2=({"role": "primary", "state": "running"},),
                          db3=({"role": "replica", "state": "streaming"},))
    assert patroni_source.leader_container(["db1", "db2", "db3"], side_of) == "db2"
    program, args, database = made["db1"].asked[0]
    assert program == "python3" and "http://127.0.0.1:8008/patroni" in args[1] and database is None


def test_patroni_3_says_master():
    _made, side_of = sides(db1=({"role": "master", "state": "running"},), db2=({"role": "replica", "state": "streaming"},))
    assert patroni_source.leader_container(["db1", "db2"], side_of) == "db1"


def test_no_leader_stops_the_run_saying_what_each_member_answered():
    _made, side_of = sides(db1=({"role": "replica", "state": "streaming"},), db2=(None, "connection-refused"),
                           db3=({"role": "primary", "state": "starting"},))
    with pytest.raises(SideError, match="no member of the Patroni cluster db1, db2, db3 leads") as raised:
        patroni_source.leader_container(["db1", "db2", "db3"], side_of)
    assert "db1: role replica, state streaming" in str(raised.value)
    assert "db2: connection-refused" in str(raised.value)
    assert "db3: role primary, state starting" in str(raised.value)


def test_two_leaders_are_a_split_brain_and_nothing_is_read():
    _made, side_of = sides(db1=({"role": "primary", "state": "running"},), db2=({"role": "primary", "state": "running"},))
    with pytest.raises(SideError, match="members db1, db2 all say they lead"):
        patroni_source.leader_container(["db1", "db2"], side_of)


def test_an_answer_that_is_not_json_is_named():
    _made, side_of = sides(db1=("<html>",))
    with pytest.raises(SideError, match="db1: not Patroni's answer"):
        patroni_source.leader_container(["db1"], side_of)
