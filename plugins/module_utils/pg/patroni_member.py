# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which member container of a Patroni cluster in Docker leads, from each member's ``GET /patroni`` answer.

Asked inside each container with its python3 (Patroni is a Python program), over ``docker exec``. Exactly one must
answer role ``primary`` (Patroni 4; ``master`` before) and state ``running``: a read from a replica could miss what
the leader acknowledged last, so no leader, or more than one, is refused before anything is read.
"""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.pg.patroni_state import API_PORT

LEADER_ROLES = ("primary", "master")
STATUS_ARGS = ["-c", "import sys, urllib.request; sys.stdout.write(urllib.request.build_opener().open("
                     "'http://127.0.0.1:%d/patroni', timeout=5).read().decode())" % API_PORT]


class NoSingleLeader(Exception):
    """No member leads, or more than one says it does."""


def status_from(returncode, stdout, stderr, explain=None):
    """(role, state) from one member's answer, or (None, why) when it gave none; ``explain(rc, stderr)`` may name a
    failure of the host or the container."""
    if returncode != 0:
        return None, (explain(returncode, stderr) if explain else None) or stderr.strip()[-200:] or "no answer"
    try:
        status = json.loads(stdout)
    except ValueError:
        status = None
    if not isinstance(status, dict) or "role" not in status:
        return None, "not Patroni's answer: %s" % stdout.strip()[:200]
    return status["role"], status.get("state")


def leader_of(answers):
    """The member whose answer says it leads, from {member: (role, state)} in the members' order."""
    leaders = [member for member, (role, state) in answers.items() if role in LEADER_ROLES and state == "running"]
    if len(leaders) == 1:
        return leaders[0]
    said = "; ".join("%s: %s" % (member, "role %s, state %s" % answer if answer[0] else answer[1])
                     for member, answer in answers.items())
    if not leaders:
        raise NoSingleLeader("no member of the Patroni cluster %s leads (%s): nothing is read from a replica, which could "
                             "lack what the leader acknowledged last; see 'patronictl list' in a member, and run again "
                             "once one leads" % (", ".join(answers), said))
    raise NoSingleLeader("members %s all say they lead (%s): a split brain; stop all but one and check their data before "
                         "a migration reads any" % (", ".join(leaders), said))
