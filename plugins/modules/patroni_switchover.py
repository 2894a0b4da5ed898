#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: patroni_switchover
short_description: Make one member of a Patroni cluster in Kubernetes its leader, losing no committed write
version_added: 0.4.0
description:
  - A planned switchover through Patroni's REST API (inside the members' pods, C(kubectl exec)) to O(candidate), for
    example the first pod before the StatefulSet is scaled down (the pods with the highest ordinals go first, and a
    leader among them would hand over to whichever replica is the synchronous one, or to none).
  - With C(synchronous_mode) on, Patroni switches over only to a synchronous standby. When O(candidate) is not one, every
    replica is made synchronous first (C(synchronous_node_count)), so no commit is acknowledged that the candidate
    lacks; the count is put back to 1 afterwards, also when the switchover fails.
  - Nothing changes when O(candidate) already leads. Fails, changing nothing, when O(candidate) is not a streaming
    member or the cluster has no leader.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
  - stateshift.k3s.patroni_cluster
attributes:
  check_mode:
    support: full
    description: Reads the cluster and says whether the leader would change.
  diff_mode:
    support: full
    description: The leader before and after.
options:
  candidate:
    description: The pod that is to lead.
    type: str
    required: true
  timeout:
    description: Seconds to wait for the candidate to become synchronous, and then to lead.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Make the first pod the leader before scaling the cluster down
  stateshift.k3s.patroni_switchover:
    namespace: gardenos
    selector: {app.kubernetes.io/name: postgresql, app.kubernetes.io/instance: gardenos}
    candidate: gardenos-postgresql-0
"""

RETURN = r"""
leader:
  description: The leader's pod now (in check mode, the one that would lead).
  returned: success
  type: str
previous_leader:
  description: The leader's pod before.
  returned: success
  type: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec, connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import PodExecError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import KUBECTL_ARG_SPEC, Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.pod_wait import PodNotReady
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import patroni_state
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.patroni_pods import PATRONI_CLUSTER_ARG_SPEC, PatroniPods

PAUSE = 2.0
SYNCHRONOUS = "sync_standby"


def read(module, pods):
    members, why = pods.members(pods.pod_roles())
    if members is None:
        module.fail_json(msg=why)
    return {member["name"]: member for member in members}


def wait_until(module, pods, what, check, deadline):
    while True:
        members = read(module, pods)
        if check(members):
            return members
        if time.monotonic() + PAUSE > deadline:
            module.fail_json(msg="%s within %ss; the members: %s" % (what, module.params["timeout"], ", ".join(
                "%s %s %s" % (name, member["role"], member["state"]) for name, member in sorted(members.items()))))
        time.sleep(PAUSE)


def switch_over(module, pods, leader, deadline):
    candidate = module.params["candidate"]
    widened = False
    try:
        members = read(module, pods)
        if members[candidate]["role"] != SYNCHRONOUS:
            status, answer = pods.change(leader, "PATCH", "/config", {"synchronous_node_count": len(members) - 1})
            if status != 200:
                module.fail_json(msg="Patroni refused to make every replica synchronous (%s): %s" % (status, answer))
            widened = True
            wait_until(module, pods, "%s did not become a synchronous standby" % candidate,
                       lambda members: members[candidate]["role"] == SYNCHRONOUS, deadline)
        status, answer = pods.change(leader, "POST", "/switchover", {"leader": leader, "candidate": candidate})
        if status != 200:
            module.fail_json(msg="Patroni refused the switchover from %s to %s (%s): %s" % (leader, candidate, status, answer))
        wait_until(module, pods, "%s did not take over" % candidate,
                   lambda members: patroni_state.leader_of(list(members.values())) == candidate, deadline)
    finally:
        if widened:
            now_leading = patroni_state.leader_of(list(read(module, pods).values())) or leader
            pods.change(now_leading, "PATCH", "/config", {"synchronous_node_count": 1})


def main():
    module = AnsibleModule(
        argument_spec=connection_arg_spec(
            **PATRONI_CLUSTER_ARG_SPEC,
            candidate=dict(type="str", required=True),
            timeout=dict(type="int", default=120),
            **KUBECTL_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    params = module.params
    candidate = params["candidate"]
    deadline = time.monotonic() + params["timeout"]
    with Kubectl(params["namespace"], connection_options(params), params["kubectl_bin"]) as kubectl:
        pods = PatroniPods(kubectl, params["selector"], params["container"])
        try:
            members = read(module, pods)
            leader = patroni_state.leader_of(list(members.values()))
            if leader is None:
                module.fail_json(msg="the cluster has no leader to switch over from: run stateshift.k3s.patroni_ready to see why")
            if candidate not in members or (members[candidate]["state"] != "streaming" and leader != candidate):
                module.fail_json(msg="%s is not a streaming member of the cluster (members: %s): a switchover to it could lose "
                                     "writes or leave no leader" % (candidate, ", ".join(sorted(members)) or "none"))
            changed = leader != candidate
            if changed and not module.check_mode:
                switch_over(module, pods, leader, deadline)
        except (PodExecError, PodNotReady) as exc:
            module.fail_json(msg=str(exc))
    module.exit_json(changed=changed, leader=candidate, previous_leader=leader,
                     diff={"before": {"leader": leader}, "after": {"leader": candidate}})


if __name__ == "__main__":
    main()
