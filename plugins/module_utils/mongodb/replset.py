# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring a StatefulSet's replica set to the members the catalog wants: initiate it once, then reconfigure it.

Member i is pod i of the StatefulSet, reached by its stable name behind the headless Service. A set that any member
holds a configuration of is never initiated again: a member that lost its volume answers NotYetInitialized, and
initiating there would start a second set of the same name. Since MongoDB 4.4 a reconfiguration that is not forced
adds or removes at most one voting member, so a change of several members is planned as a sequence of one-member
reconfigurations, each sent to the primary with the live configuration's version + 1.

A ``client`` is one member's connection: ``command(document) -> dict``, raising CommandFailed when MongoDB refuses
the command; anything else it raises means the member did not answer. Nothing here imports pymongo.
"""

from __future__ import annotations

import copy

PORT = 27017
NOT_YET_INITIALIZED = 94
PRIMARY_STATE = 1
SERVING_STATES = ("PRIMARY", "SECONDARY", "ARBITER")
MAX_VOTING_MEMBERS = 7


class CommandFailed(Exception):
    """MongoDB answered a command with ok: 0 (pymongo's OperationFailure, as the transport maps it)."""

    def __init__(self, code, code_name, message):
        super().__init__("%s (%s): %s" % (code_name, code, message))
        self.code, self.code_name, self.message = code, code_name, message


class ReplicaSetError(Exception):
    """The replica set cannot be brought to the wanted members; the message names the problem and the fix."""


class _Silent(Exception):
    """A member did not answer (connection refused, timeout, unknown host...)."""


class Plan:
    """What plan() found: ``action`` (none, initiate, reconfigure); ``steps``, the config documents to send in
    order - one per command - to member ``member``; ``changes`` for people; ``live``, the config read."""

    def __init__(self, action, member=None, steps=(), changes=(), live=None):
        self.action, self.member, self.steps, self.changes, self.live = action, member, list(steps), list(changes), live

    @property
    def config(self):
        """The configuration the set ends with, or None when nothing is sent."""
        return self.steps[-1] if self.steps else None


def member_host(workload, index):
    objects = workload["objects"]
    return "%s-%d.%s.%s.svc.cluster.local:%d" % (objects["statefulset"], index, objects["headless_service"], workload["namespace"], PORT)


def desired_members(workload):
    return [{"_id": index, "host": member_host(workload, index)} for index in range(workload["replicas"])]


def _ask(client, document):
    """The member's answer; raises CommandFailed as MongoDB refused, _Silent when the member did not answer."""
    try:
        return client.command(document)
    except CommandFailed:
        raise
    except Exception as exc:  # whatever the transport raises (refused, timed out, no such host) means: no answer
        raise _Silent(str(exc) or type(exc).__name__) from exc


def _survey(clients, count):
    """replSetGetStatus of members 0..count-1: {index: status document or CommandFailed}, and the silent indexes."""
    answers, silent = {}, []
    for index in range(count):
        if index >= len(clients):
            silent.append(index)
            continue
        try:
            answers[index] = _ask(clients[index], {"replSetGetStatus": 1})
        except CommandFailed as failed:
            answers[index] = failed
        except _Silent:
            silent.append(index)
    return answers, silent


def plan(clients, workload):
    """The Plan that brings the set to ``desired_members(workload)``; ``clients``: one per pod in pod order (when
    scaling down, include the pods about to go: the primary may be one of them)."""
    count = max(len(clients), workload["replicas"])
    answers, silent = _survey(clients, count)
    statuses = {index: answer for index, answer in answers.items() if isinstance(answer, dict)}
    if not statuses:
        return _initiation(workload, answers, silent)
    return _reconfiguration(clients, workload, statuses, silent)


def _initiation(workload, answers, silent):
    name, wanted = workload["replica_set"], desired_members(workload)
    refused = ["%s (%s)" % (member_host(workload, index), answer) for index, answer in sorted(answers.items())
               if answer.code != NOT_YET_INITIALIZED]
    if refused:
        raise ReplicaSetError("replica set %s: no member answers with a configuration, but %s did not answer NotYetInitialized "
                              "either: such a member belonged to a set, so none is initiated; bring the set's members (their pods "
                              "and volumes) back and re-run" % (name, "; ".join(refused)))
    missing = [member_host(workload, index) for index in silent if index < workload["replicas"]]
    if missing:
        raise ReplicaSetError("replica set %s is not initiated and %s did not answer: initiating without them could leave "
                              "them out, or miss a configuration they hold; wait until every pod of StatefulSet %s runs and "
                              "re-run" % (name, ", ".join(missing), workload["objects"]["statefulset"]))
    config = {"_id": name, "members": wanted}
    return Plan("initiate", 0, [config], ["initiate replica set %s on %s with %d member(s): %s"
                                          % (name, wanted[0]["host"], len(wanted), ", ".join(m["host"] for m in wanted))])


def _primary(statuses):
    primaries = [index for index, status in sorted(statuses.items()) if status.get("myState") == PRIMARY_STATE]
    return primaries[0] if len(primaries) == 1 else None


def _reconfiguration(clients, workload, statuses, silent):
    name = workload["replica_set"]
    primary = _primary(statuses)
    source = primary if primary is not None else min(statuses)
    try:
        live = _ask(clients[source], {"replSetGetConfig": 1})["config"]
    except (CommandFailed, _Silent) as exc:
        raise ReplicaSetError("replSetGetConfig on %s failed (%s): re-run once the member answers"
                              % (member_host(workload, source), exc)) from exc
    if live["_id"] != name:
        raise ReplicaSetError("the live set is named %s; renaming a replica set is not supported: set replica_set: %s"
                              % (live["_id"], live["_id"]))
    wanted = [member["host"] for member in desired_members(workload)]
    current = [member["host"] for member in live["members"]]
    if set(current) == set(wanted):
        return Plan("none", live=live)
    primary_host = member_host(workload, primary) if primary is not None else _named_primary(statuses)
    if primary_host is None:
        raise ReplicaSetError("replica set %s has no primary (%s): its members change only through the primary; a majority of "
                              "its members must be up to elect one - start the missing pods and re-run"
                              % (name, _states(statuses, workload)))
    if primary_host not in wanted:
        raise ReplicaSetError("the primary of replica set %s, %s, is a member to remove: step it down (replSetStepDown) so a "
                              "staying member is elected, then re-run" % (name, primary_host))
    if primary is None:
        raise ReplicaSetError("the primary of replica set %s, %s, did not answer: re-run once it answers" % (name, primary_host))
    hosts = {member_host(workload, index): index for index in range(len(clients))}
    unanswered = [host for host in wanted if host not in current and (host not in hosts or hosts[host] in silent)]
    if unanswered:
        raise ReplicaSetError("replica set %s: %s, to be added, did not answer: wait until those pods run and re-run"
                              % (name, ", ".join(unanswered)))
    steps, changes = _one_member_steps(live, [host for host in wanted if host not in current],
                                       [member for member in reversed(live["members"]) if member["host"] not in wanted])
    return Plan("reconfigure", primary, steps, changes, live)


def _named_primary(statuses):
    """The host the answering members see as PRIMARY (one of the pods without a client, say), or None."""
    return next((member["name"] for status in statuses.values() for member in status.get("members") or []
                 if member.get("stateStr") == "PRIMARY"), None)


def _states(statuses, workload):
    """"host STATE, ..." of the members that answered, each as it sees itself."""
    shown = []
    for index, status in sorted(statuses.items()):
        own = [member.get("stateStr") for member in status.get("members") or [] if member.get("self")]
        shown.append("%s %s" % (member_host(workload, index), own[0] if own else "state %s" % status.get("myState")))
    return ", ".join(shown)


def _votes(member):
    return member.get("votes", 1)


def _one_member_steps(live, added_hosts, removed):
    """Config documents that each add or remove one member: additions first (the set keeps its redundancy), unless
    another voting member would pass the limit of 7. New members take _ids above every _id the set has."""
    members = copy.deepcopy(live["members"])
    next_id = max(member["_id"] for member in members) + 1
    version, steps, changes = live["version"], [], []
    added_hosts, removed = list(added_hosts), list(removed)
    while added_hosts or removed:
        if added_hosts and (not removed or sum(1 for member in members if _votes(member)) < MAX_VOTING_MEMBERS):
            member = {"_id": next_id, "host": added_hosts.pop(0)}
            members.append(member)
            next_id += 1
            changes.append("add member %s as _id %d" % (member["host"], member["_id"]))
        else:
            member = removed.pop(0)
            members = [kept for kept in members if kept["_id"] != member["_id"]]
            changes.append("remove member %s (_id %d)" % (member["host"], member["_id"]))
        version += 1
        steps.append(dict(copy.deepcopy(live), version=version, members=copy.deepcopy(members)))
    return steps, changes


def _identity(members):
    return sorted((member["_id"], member["host"]) for member in members)


def apply(plan, clients, check_mode):
    """Send what ``plan`` holds to its member unless ``check_mode``: {changed, action, changes}."""
    result = {"changed": plan.action != "none", "action": plan.action, "changes": list(plan.changes)}
    if plan.action == "none" or check_mode:
        return result
    client = clients[plan.member]
    if plan.action == "initiate":
        _send(client, {"replSetInitiate": plan.steps[0]}, plan, 0)
        return result
    expected = plan.live["members"]
    for number, step in enumerate(plan.steps):
        live = _send(client, {"replSetGetConfig": 1}, plan, number)["config"]
        if _identity(live["members"]) != _identity(expected):
            hosts = ", ".join(member["host"] for member in live["members"])
            raise ReplicaSetError("the members of replica set %s changed while it was reconfigured (now %s): re-run to plan "
                                  "from the live configuration%s" % (live["_id"], hosts, _done(plan, number)))
        # the primary may have raised the version itself since (it does when a new member stops being newlyAdded)
        _send(client, {"replSetReconfig": dict(step, version=live["version"] + 1)}, plan, number)
        expected = step["members"]
    return result


def _send(client, document, plan, number):
    command = next(iter(document))
    try:
        return _ask(client, document)
    except CommandFailed as failed:
        raise ReplicaSetError("%s failed: %s%s; fix that and re-run" % (command, failed, _done(plan, number))) from failed
    except _Silent as silent:
        raise ReplicaSetError("the primary did not answer %s (%s)%s; re-run once it answers"
                              % (command, silent, _done(plan, number))) from silent


def _done(plan, number):
    return " (done before: %s)" % "; ".join(plan.changes[:number]) if number else ""


def lag_seconds(status):
    """{host: seconds} that each SECONDARY's last applied operation is behind the primary's; {} without a primary."""
    members = status.get("members") or []
    primary = next((member for member in members if member.get("stateStr") == "PRIMARY"), None)
    if primary is None:
        return {}
    return {member["name"]: max((primary["optimeDate"] - member["optimeDate"]).total_seconds(), 0.0)
            for member in members if member.get("stateStr") == "SECONDARY" and member.get("health")}


def health(status, max_lag_seconds):
    """Problems of the set as a replSetGetStatus document shows it; [] when it is healthy."""
    members = status.get("members") or []
    problems = []
    if not any(member.get("stateStr") == "PRIMARY" for member in members):
        problems.append("replica set %s has no PRIMARY: nothing can be written until a majority of its %d members is up "
                        "and elects one" % (status.get("set"), len(members)))
    for member in members:
        if not member.get("health"):
            problems.append("member %s is unreachable (health 0, state %s)" % (member.get("name"), member.get("stateStr")))
        elif member.get("stateStr") not in SERVING_STATES:
            problems.append("member %s is %s, not PRIMARY, SECONDARY or ARBITER" % (member.get("name"), member.get("stateStr")))
    for host, lag in sorted(lag_seconds(status).items()):
        if lag > max_lag_seconds:
            problems.append("member %s lags the primary by %gs (more than %gs)" % (host, lag, max_lag_seconds))
    return problems
