"""TEST DOUBLE of a MongoDB replica set's admin commands - not MongoDB.

In-process members (host, up or down, holding data or not, lag behind the primary) sharing one replica set
configuration. ``client(i)`` is member i's connection as plugins/module_utils/mongodb/replset.py takes it:
``command(document) -> dict``; a refused command raises replset.CommandFailed (what the real transport maps
pymongo's OperationFailure to), a down member raises MemberUnreachable. Every command is appended to ``calls``.

Follows the MongoDB 7.0 manual and server source (src/mongo/base/error_codes.yml, repl_set_config_checks.cpp,
check_quorum_for_config_change.cpp, replication_coordinator_impl.cpp):

- ``hello``: isWritablePrimary, secondary, setName, setVersion, hosts, primary, me; an uninitialized or removed member
  answers isWritablePrimary/secondary false, isreplicaset true.
- ``replSetGetStatus``: set, date, myState, term, members[] (_id, name, health, state, stateStr, optimeDate, self); an
  unreachable member is health 0, state 8 "(not reachable/healthy)", optimeDate 1970-01-01. Uninitialized: 94
  NotYetInitialized "no replset config has been received"; a member not in the config: 93 InvalidReplicaSetConfig.
- ``replSetGetConfig``: {config}; uninitialized: 94.
- ``replSetInitiate``: 23 AlreadyInitialized on a member with a config; 93 when _id is not the --replSet name, a host
  or _id repeats, or more than 7 members vote; 103 NewReplicaSetConfigurationIncompatible when version is not 1;
  74 NodeNotFound when the member is not in the config; 110 CannotInitializeNodeWithData when another listed member
  has data; 74 "replSetInitiate quorum check failed because not all proposed set members responded affirmatively"
  naming the members that are down or unknown. The member that ran it becomes PRIMARY, the others SECONDARY.
- ``replSetReconfig``: 10107 NotWritablePrimary off the primary; 103 when version is not greater, the set's _id
  changes, or a host keeps its place under another _id; 93 "Non force replica set reconfig can only add or remove
  at most 1 voting member." (since 4.4); 74 when the primary is not in the new config. ``term`` in the document is
  ignored (the primary sets it). An added member that is up syncs at once; then the primary raises the version
  once more, as the real one does when it drops the member's newlyAdded flag.

Left out: authentication, ``force``, arbiters' and hidden members' particulars beyond votes/priority, elections
other than "first serving electable member when a majority of voters is up", heartbeats (a wiped member stays
NotYetInitialized; a real one gets the configuration from the others and resyncs), the waits of a safe reconfig
(for the current config to commit and a majority to install the new one), write concern, oplog contents.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime

from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.replset import CommandFailed

EPOCH = datetime.datetime(1970, 1, 1)
STATE_CODES = {"STARTUP": 0, "PRIMARY": 1, "SECONDARY": 2, "ARBITER": 7, "(not reachable/healthy)": 8, "REMOVED": 10}
UNREACHABLE = "(not reachable/healthy)"
WRITES = ("replSetInitiate", "replSetReconfig")


class MemberUnreachable(Exception):
    """A down member's connection: refused."""


@dataclasses.dataclass
class Member:
    host: str
    up: bool = True
    has_data: bool = False  # holds the set's configuration and data (False: a fresh or wiped volume)
    lag: float = 0.0  # seconds its last applied operation is behind the primary's


class _Client:
    def __init__(self, double, index):
        self.double, self.index = double, index

    def command(self, document):
        return self.double.command(self.index, document)


class ReplicaSetDouble:
    """Members started with ``mongod --replSet set_name``, none initiated."""

    def __init__(self, hosts, set_name="rs0", now=datetime.datetime(2024, 5, 1, 12, 0, 0)):
        self.members = [Member(host) for host in hosts]
        self.set_name, self.now = set_name, now
        self.config, self.primary, self.term = None, None, 0
        self.calls = []

    # -- what tests use -------------------------------------------------------------------------------------------
    def client(self, index):
        return _Client(self, index)

    def writes(self):
        """[(member index, command)] of the commands that change the set."""
        return [(index, name) for index, name, _document in self.calls if name in WRITES]

    def ids(self):
        """{host: _id} of the live configuration."""
        return {member["host"]: member["_id"] for member in (self.config or {}).get("members", [])}

    def down(self, index):
        self.members[index].up = False
        self._elect()

    def up(self, index):
        self.members[index].up = True
        self._elect()

    def wipe(self, index):
        """The member lost its volume: it answers NotYetInitialized; the others keep the configuration."""
        self.members[index].has_data, self.members[index].lag = False, 0.0
        self._elect()

    def set_lag(self, index, seconds):
        self.members[index].lag = seconds

    # -- the commands -----------------------------------------------------------------------------------------------
    def command(self, index, document):
        name = next(iter(document))
        self.calls.append((index, name, copy.deepcopy(document)))
        member = self.members[index]
        if not member.up:
            raise MemberUnreachable("Error connecting to %s :: caused by :: Connection refused" % member.host)
        handler = {"hello": self._hello, "replSetGetStatus": self._status, "replSetGetConfig": self._get_config,
                   "replSetInitiate": self._initiate, "replSetReconfig": self._reconfig}.get(name)
        if handler is None:
            raise CommandFailed(59, "CommandNotFound", "no such command: '%s'" % name)
        return handler(index, document)

    def _hello(self, index, _document):
        state = self._state(index)
        if state in ("STARTUP", "REMOVED"):
            return {"isWritablePrimary": False, "secondary": False, "isreplicaset": True,
                    "info": "Does not have a valid replica set config", "ok": 1.0}
        answer = {"isWritablePrimary": state == "PRIMARY", "secondary": state == "SECONDARY", "setName": self.config["_id"],
                  "setVersion": self.config["version"], "me": self.members[index].host, "ok": 1.0,
                  "hosts": [m["host"] for m in self.config["members"] if not m.get("arbiterOnly") and m.get("priority", 1) > 0]}
        if self.primary is not None:
            answer["primary"] = self.members[self.primary].host
        return answer

    def _status(self, index, _document):
        self._require_config(index)
        if self._state(index) == "REMOVED":
            raise CommandFailed(93, "InvalidReplicaSetConfig", "Our replica set config is invalid or we are not a member of it")
        rows = []
        for entry in self.config["members"]:
            at = self._index_of(entry["host"])
            state = self._state(at) if at is not None and self.members[at].up else UNREACHABLE
            row = {"_id": entry["_id"], "name": entry["host"], "health": 0.0 if state == UNREACHABLE else 1.0,
                   "state": STATE_CODES[state], "stateStr": state, "optimeDate": self._optime(at) if state != UNREACHABLE else EPOCH}
            if at == index:
                row["self"] = True
            rows.append(row)
        return {"set": self.config["_id"], "date": self.now, "myState": STATE_CODES[self._state(index)], "term": self.term,
                "members": rows, "ok": 1.0}

    def _get_config(self, index, _document):
        self._require_config(index)
        return {"config": copy.deepcopy(self.config), "ok": 1.0}

    def _initiate(self, index, document):
        config = copy.deepcopy(document["replSetInitiate"])
        if self._initialized(index):
            raise CommandFailed(23, "AlreadyInitialized", "already initialized")
        if config.get("_id") != self.set_name:
            raise CommandFailed(93, "InvalidReplicaSetConfig", "Attempting to initiate a replica set with name %s, but command line "
                                "reports %s; rejecting" % (config.get("_id"), self.set_name))
        self._validate(config)
        if config.setdefault("version", 1) != 1:
            raise CommandFailed(103, "NewReplicaSetConfigurationIncompatible", "Configuration used to initiate a replica set must "
                                " have version 1, but found %s" % config["version"])
        hosts = [member["host"] for member in config["members"]]
        me = self.members[index].host
        if me not in hosts:
            raise CommandFailed(74, "NodeNotFound", "No host described in new configuration with {version: 1, term: 0} for replica "
                                "set %s maps to this node" % config["_id"])
        others = [self._index_of(host) for host in hosts if host != me]
        with_data = [self.members[at].host for at in others if at is not None and self.members[at].up and self.members[at].has_data]
        if with_data:
            raise CommandFailed(110, "CannotInitializeNodeWithData", "'%s' has data already, cannot initiate set." % with_data[0])
        failed = [host for host in hosts if host != me and (self._index_of(host) is None or not self.members[self._index_of(host)].up)]
        if failed:
            raise CommandFailed(74, "NodeNotFound", "replSetInitiate quorum check failed because not all proposed set members "
                                "responded affirmatively: " + ", ".join("%s failed with Error connecting to %s :: caused by :: "
                                                                        "Connection refused" % (host, host) for host in failed))
        self.term = 1
        self.config = dict(config, term=self.term)
        for host in hosts:
            self.members[self._index_of(host)].has_data = True
        self.primary = index
        return {"ok": 1.0}

    def _reconfig(self, index, document):
        if document.get("force"):
            raise NotImplementedError("the double does not model a forced reconfiguration")
        self._require_config(index)
        if index != self.primary:
            raise CommandFailed(10107, "NotWritablePrimary", "New config is rejected :: caused by :: replSetReconfig should only be "
                                "run on a writable PRIMARY. Current state %s;" % self._state(index))
        new, old = copy.deepcopy(document["replSetReconfig"]), self.config
        new["term"] = self.term
        self._validate(new)
        if new.get("version", 0) <= old["version"]:
            raise CommandFailed(103, "NewReplicaSetConfigurationIncompatible", "New replica set configuration version and term must "
                                "be greater than old, but {version: %s, term: %d} is not greater than {version: %d, term: %d} for "
                                "replica set %s" % (new.get("version"), self.term, old["version"], old["term"], old["_id"]))
        if new["_id"] != old["_id"]:
            raise CommandFailed(103, "NewReplicaSetConfigurationIncompatible", "New and old configurations differ in replica set name; "
                                "old was %s, and new is %s" % (old["_id"], new["_id"]))
        old_ids = {member["host"]: member["_id"] for member in old["members"]}
        for member in new["members"]:
            if old_ids.get(member["host"], member["_id"]) != member["_id"]:
                raise CommandFailed(103, "NewReplicaSetConfigurationIncompatible", "New and old configurations both have members with "
                                    "host of %s but in the new configuration the _id field is %s and in the old configuration it is "
                                    "%s for replica set %s" % (member["host"], member["_id"], old_ids[member["host"]], new["_id"]))
        if len(_voting_ids(old) ^ _voting_ids(new)) > 1:
            raise CommandFailed(93, "InvalidReplicaSetConfig", "Non force replica set reconfig can only add or remove at most 1 voting "
                                "member.")
        if self.members[index].host not in [member["host"] for member in new["members"]]:
            raise CommandFailed(74, "NodeNotFound", "No host described in new configuration with {version: %s, term: %d} for replica "
                                "set %s maps to this node" % (new["version"], self.term, new["_id"]))
        added = [member["host"] for member in new["members"] if member["host"] not in old_ids]
        self.config = new
        for host in added:
            at = self._index_of(host)
            if at is not None and self.members[at].up:
                self.members[at].has_data, self.members[at].lag = True, 0.0
        if added:
            self.config["version"] += 1  # the primary's own reconfig that drops the newlyAdded flag
        self._elect()
        return {"ok": 1.0}

    # -- the set's state --------------------------------------------------------------------------------------------
    def _index_of(self, host):
        return next((index for index, member in enumerate(self.members) if member.host == host), None)

    def _initialized(self, index):
        return self.config is not None and self.members[index].has_data

    def _require_config(self, index):
        if not self._initialized(index):
            raise CommandFailed(94, "NotYetInitialized", "no replset config has been received")

    def _entry(self, index):
        return next((m for m in (self.config or {}).get("members", []) if m["host"] == self.members[index].host), None)

    def _state(self, index):
        if not self._initialized(index):
            return "STARTUP"
        entry = self._entry(index)
        if entry is None:
            return "REMOVED"
        if entry.get("arbiterOnly"):
            return "ARBITER"
        return "PRIMARY" if index == self.primary else "SECONDARY"

    def _optime(self, index):
        if index is None or not self._initialized(index):
            return EPOCH
        return self.now - datetime.timedelta(seconds=self.members[index].lag)

    def _serving(self, index):
        return index is not None and self.members[index].up and self._initialized(index) and self._entry(index) is not None

    def _elect(self):
        """Keep a serving primary while a majority of voters is up; else the first serving electable member."""
        if self.config is None:
            return
        voters = [self._index_of(m["host"]) for m in self.config["members"] if m.get("votes", 1)]
        if sum(1 for at in voters if self._serving(at)) * 2 <= len(voters):
            self.primary = None
            return
        if self.primary is not None and self._serving(self.primary):
            return
        electable = [self._index_of(m["host"]) for m in self.config["members"]
                     if m.get("priority", 1) > 0 and not m.get("arbiterOnly") and self._serving(self._index_of(m["host"]))]
        self.primary = min(electable, key=lambda at: (self.members[at].lag, at)) if electable else None
        if self.primary is not None:
            self.term += 1

    @staticmethod
    def _validate(config):
        members = config.get("members") or []
        for field in ("_id", "host"):
            values = [member.get(field) for member in members]
            if len(values) != len(set(values)):
                raise CommandFailed(93, "InvalidReplicaSetConfig", "Found two member configurations with same %s field" % field)
        if sum(1 for member in members if member.get("votes", 1)) > 7:
            raise CommandFailed(93, "InvalidReplicaSetConfig", "Replica set configuration contains more than 7 voting members")


def _voting_ids(config):
    return {member["_id"] for member in config["members"] if member.get("votes", 1)}
