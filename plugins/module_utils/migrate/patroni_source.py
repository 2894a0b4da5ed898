# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A source run by Patroni in Docker: which of its member containers leads, asked of each member's Patroni.

Each member is asked ``GET /patroni`` on its REST API (port 8008 inside its container, with the container's python3:
Patroni is a Python program), over the same ``docker exec`` the migration uses. Exactly one must answer role
``primary`` (Patroni 4; ``master`` before) and state ``running``; a read from a replica could miss what the leader
acknowledged last, so no leader, or more than one, stops the run before anything is read.
"""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import QUICK, SideError, run_process

API_PORT = 8008
LEADER_ROLES = ("primary", "master")
STATUS_ARGS = ["-c", "import sys, urllib.request; sys.stdout.write(urllib.request.build_opener().open("
                     "'http://127.0.0.1:%d/patroni', timeout=5).read().decode())" % API_PORT]


def member_status(side):
    """(role, state) of the member behind ``side`` (a DockerOverSsh), or (None, why) when it does not answer."""
    completed = run_process(side.argv("python3", STATUS_ARGS, None), side.stdin_prefix(), timeout=QUICK,
                            what="Patroni's API in %s" % side.label)
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace")
        return None, side.explain_host_failure(completed.returncode, stderr) or stderr.strip()[-200:] or "no answer"
    text = completed.stdout.decode("utf-8", "replace")
    try:
        status = json.loads(text)
    except ValueError:
        status = None
    if not isinstance(status, dict) or "role" not in status:
        return None, "not Patroni's answer: %s" % text.strip()[:200]
    return status["role"], status.get("state")


def leader_container(members, side_of):
    """The member container whose Patroni leads; ``side_of(container)`` makes the side of one member."""
    answers = {member: member_status(side_of(member)) for member in members}
    leaders = [member for member, (role, state) in answers.items() if role in LEADER_ROLES and state == "running"]
    if len(leaders) == 1:
        return leaders[0]
    said = "; ".join("%s: %s" % (member, "role %s, state %s" % answer if answer[0] else answer[1])
                     for member, answer in answers.items())
    if not leaders:
        raise SideError("no member of the Patroni cluster %s leads (%s): nothing is read from a replica, which could lack what "
                        "the leader acknowledged last; see 'patronictl list' in a member, and run again once one leads"
                        % (", ".join(members), said))
    raise SideError("members %s all say they lead (%s): a split brain; stop all but one and check their data before a "
                    "migration reads any" % (", ".join(leaders), said))
