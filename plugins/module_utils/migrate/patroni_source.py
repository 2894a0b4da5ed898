# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A source run by Patroni in Docker: which of its member containers leads, asked of each member's Patroni over the
same ``docker exec`` the migration uses (pg/patroni_member.py says what the answers mean)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import QUICK, SideError, run_process
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import patroni_member


def member_status(side):
    """(role, state) of the member behind ``side`` (a DockerOverSsh), or (None, why) when it does not answer."""
    completed = run_process(side.argv("python3", patroni_member.STATUS_ARGS, None), side.stdin_prefix(), timeout=QUICK,
                            what="Patroni's API in %s" % side.label)
    return patroni_member.status_from(completed.returncode, completed.stdout.decode("utf-8", "replace"),
                                      completed.stderr.decode("utf-8", "replace"), side.explain_host_failure)


def leader_container(members, side_of):
    """The member container whose Patroni leads; ``side_of(container)`` makes the side of one member."""
    try:
        return patroni_member.leader_of({member: member_status(side_of(member)) for member in members})
    except patroni_member.NoSingleLeader as exc:
        raise SideError(str(exc)) from None
