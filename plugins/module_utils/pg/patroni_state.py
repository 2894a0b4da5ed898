# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Patroni cluster's state says: its leader, and what is wrong with it, each with its likely cause.

Read from two places: Patroni's REST API (``GET /cluster`` on a member, asked inside the pod) and the role labels
Patroni puts on the pods (which the client Service selects). Patroni 4's member roles: leader, sync_standby, replica
(standby_leader in a standby cluster); states: running, streaming, starting, stopped, crashed, ...
"""

from __future__ import annotations

import json

LEADER_ROLES = ("leader", "standby_leader")
API_PORT = 8008
# Asked in the pod with the image's python3 (Patroni's own interpreter is a venv of it): no curl needed.
CLUSTER_ARGV = ["python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.build_opener().open("
                "'http://127.0.0.1:%d/cluster', timeout=5).read().decode())" % API_PORT]
# A change sent to the API: method and path as arguments, the JSON body on stdin; prints the status, then the answer.
_CHANGE_SCRIPT = """
import sys, urllib.error, urllib.request
request = urllib.request.Request('http://127.0.0.1:%d' + sys.argv[2], data=sys.stdin.buffer.read(), method=sys.argv[1],
                                 headers={'Content-Type': 'application/json'})
try:
    answer = urllib.request.build_opener().open(request, timeout=60)
    status, text = answer.status, answer.read()
except urllib.error.HTTPError as exc:
    status, text = exc.code, exc.read()
sys.stdout.write('%%d\\n%%s' %% (status, text.decode()))
""" % API_PORT


def change_argv(method, path):
    """argv that sends the JSON body on stdin to Patroni's API in the pod (PATCH /config, POST /switchover)."""
    return ["python3", "-c", _CHANGE_SCRIPT, method, path]


def change_answer(stdout):
    """(HTTP status, answer text) printed by change_argv's script."""
    status, _newline, text = stdout.partition("\n")
    return (int(status) if status.strip().isdigit() else 0), text.strip()


class PatroniStateError(Exception):
    """The REST API's answer is not Patroni's /cluster."""


def parse_cluster(text):
    """[{name, role, state, timeline, lag}] from ``GET /cluster``; lag in bytes, None when unknown (the leader's)."""
    try:
        answer = json.loads(text)
    except ValueError:
        raise PatroniStateError("not JSON: %s" % text.strip()[:200]) from None
    if not isinstance(answer, dict) or not isinstance(answer.get("members"), list):
        raise PatroniStateError("no members in the answer: %s" % text.strip()[:200])
    members = []
    for member in answer["members"]:
        lag = member.get("lag")
        members.append({"name": member.get("name"), "role": member.get("role"), "state": member.get("state"),
                        "timeline": member.get("timeline"), "lag": lag if isinstance(lag, int) else None})
    return members


def leader_of(members):
    leaders = [member["name"] for member in members if member["role"] in LEADER_ROLES]
    return leaders[0] if len(leaders) == 1 else None


def problems(members, pod_roles, expected, max_lag_bytes, account):
    """What is wrong, each with its likely cause; [] when one leader runs and every other member streams close behind.

    ``pod_roles``: {pod: its role label} of the workload's running pods; ``expected``: the members the catalog asks for;
    ``account``: the ServiceAccount Patroni runs as (named in the diagnosis of a missing leader)."""
    found = []
    leaders = [member for member in members if member["role"] in LEADER_ROLES]
    labelled = sorted(pod for pod, role in pod_roles.items() if role == "primary")
    if len(labelled) > 1:
        found.append("pods %s are all labelled primary, so the client Service sends writes to each of them: a sign of split "
                     "brain; stop all but the leader Patroni names (%s) and read their logs before anything else"
                     % (", ".join(labelled), ", ".join(member["name"] for member in leaders) or "none"))
    if not leaders:
        found.append("no member holds the leader lock: Patroni cannot write its ConfigMaps (check that the Role bound to the "
                     "ServiceAccount %s allows configmaps create/patch and pods patch: kubectl auth can-i patch configmaps "
                     "--as system:serviceaccount:<namespace>:%s) or PostgreSQL does not start (the pods' logs say which)"
                     % (account, account))
    elif len(leaders) > 1:
        found.append("members %s all claim to lead: split brain; read their logs" % ", ".join(m["name"] for m in leaders))
    if len(members) < expected:
        missing = expected - len(members)
        found.append("%d of the %d members %s not registered with Patroni yet (pods not started, or Patroni cannot reach the "
                     "API server: the NetworkPolicy lets the pods reach it on 443 and 6443)"
                     % (missing, expected, "is" if missing == 1 else "are"))
    if len(leaders) == 1:
        leader = leaders[0]
        for member in members:
            if member is leader:
                continue
            if member["state"] != "streaming":
                found.append("replica %s is %s, not streaming from %s: the replication user is refused (pg_hba, or "
                             "auth.replication_password_key differs from the password the cluster was made with) or its base "
                             "backup failed; its log says which" % (member["name"], member["state"], leader["name"]))
            elif member["timeline"] != leader["timeline"]:
                found.append("replica %s is on timeline %s, the leader %s on %s: it has not followed the last failover yet"
                             % (member["name"], member["timeline"], leader["name"], leader["timeline"]))
            elif member["lag"] is None or member["lag"] > max_lag_bytes:
                found.append("replica %s lags %s behind the leader (more than %d bytes)"
                             % (member["name"], "an unknown amount" if member["lag"] is None else "%d bytes" % member["lag"],
                                max_lag_bytes))
        if leader["name"] in pod_roles and pod_roles[leader["name"]] != "primary":
            found.append("the leader %s is not labelled primary yet, so the client Service selects no pod" % leader["name"])
    return found
