#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: patroni_ready
short_description: Wait until a Patroni cluster in Kubernetes has one leader and every replica streams, or say why not
version_added: 0.4.0
description:
  - Asks Patroni's REST API (C(GET /cluster), inside a member's pod with C(kubectl exec)) and reads the role labels of
    the pods of O(selector), until one member leads, O(members) are registered, every other member streams on the
    leader's timeline with a lag under O(max_lag_mib), and the leader's pod is labelled C(primary) (what the client
    Service selects). Returns the leader's pod, which the databases and migrate phases then use.
  - On timeout fails with each problem and its likely cause - no leader lock (the Role of the ServiceAccount, or
    PostgreSQL not starting), a replica not streaming (pg_hba or the replication password), a replica on another
    timeline, more than one pod labelled C(primary) (split brain), members missing (the API server not reachable).
  - With O(replayed), also reads the leader's current WAL position and waits until every replica has replayed past it
    (C(pg_last_wal_replay_lsn())), so what the leader held then, data just migrated into it included, is on every member.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
  - stateshift.k3s.patroni_cluster
  - stateshift.k3s.k8s_read_only
options:
  members:
    description: How many members the cluster must have (the catalog's C(replicas)).
    type: int
    required: true
  user:
    description: Superuser that reads the WAL positions over the pods' local socket (O(replayed)).
    type: str
    default: postgres
  account:
    description: ServiceAccount Patroni runs as, named in the diagnosis of a missing leader.
    type: str
    default: patroni
  max_lag_mib:
    description: The most WAL in MiB a replica may be behind the leader and count as ready.
    type: int
    default: 16
  replayed:
    description: Wait until every replica has replayed past the leader's current WAL position.
    type: bool
    default: false
  timeout:
    description: Seconds to wait.
    type: int
    default: 300
"""

EXAMPLES = r"""
- name: Wait for the leader and two streaming replicas
  stateshift.k3s.patroni_ready:
    namespace: gardenos
    selector: {app.kubernetes.io/name: postgresql, app.kubernetes.io/instance: gardenos}
    members: 3
  register: cluster

- name: After the migration, wait until the replicas hold everything the leader has
  stateshift.k3s.patroni_ready:
    namespace: gardenos
    selector: {app.kubernetes.io/name: postgresql, app.kubernetes.io/instance: gardenos}
    members: 3
    user: gardenos
    replayed: true
"""

RETURN = r"""
leader:
  description: The leader's pod.
  returned: success
  type: str
  sample: gardenos-postgresql-1
replicas:
  description: The other members' pods.
  returned: success
  type: list
  elements: str
timeline:
  description: The leader's timeline (it grows by one at each failover).
  returned: success
  type: int
members:
  description: Each member as Patroni reports it, C({name, role, state, timeline, lag}) (lag in bytes).
  returned: always
  type: list
  elements: dict
lsn:
  description: The leader's WAL position every replica replayed past (O(replayed) only).
  returned: when replayed
  type: str
  sample: 0/3000148
problems:
  description: What was still wrong at the last look, each with its likely cause.
  returned: failure
  type: list
  elements: str
attempts:
  description: How many times the cluster was read.
  returned: always
  type: int
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec, connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import PodExecError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import KUBECTL_ARG_SPEC, Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.pod_wait import PodNotReady
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import patroni_state
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.patroni_pods import PATRONI_CLUSTER_ARG_SPEC, PatroniPods, selector_text

PAUSE = 2.0


def wait_ready(module, cluster, deadline):
    params, attempts = module.params, 0
    while True:
        attempts += 1
        pod_roles = cluster.pod_roles()
        members, why = cluster.members(pod_roles)
        found = [why] if members is None else patroni_state.problems(
            members, pod_roles, params["members"], params["max_lag_mib"] * 1024 * 1024, params["account"])
        if not found:
            return attempts, members
        if time.monotonic() + PAUSE > deadline:
            module.fail_json(msg="the Patroni cluster of %s in %s is not ready after %ss: %s"
                             % (selector_text(params["selector"]), params["namespace"], params["timeout"], "; ".join(found)),
                             problems=found, members=members or [], attempts=attempts)
        time.sleep(PAUSE)


def wait_replayed(module, cluster, leader, replicas, deadline):
    lsn, error = cluster.sql(leader, "SELECT pg_current_wal_lsn()")
    if lsn is None:
        module.fail_json(msg="could not read the WAL position of the leader %s: %s" % (leader, error))
    waiting = list(replicas)
    while waiting:
        for pod in list(waiting):
            answer, error = cluster.sql(pod, "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn" % _lsn(module, lsn))
            if answer == "t":
                waiting.remove(pod)
        if waiting and time.monotonic() + PAUSE > deadline:
            module.fail_json(msg="replica(s) %s did not replay past the leader's WAL position %s within %ss%s"
                             % (", ".join(waiting), lsn, module.params["timeout"], ": %s" % error if error else ""),
                             problems=["%s has not replayed %s" % (pod, lsn) for pod in waiting])
        if waiting:
            time.sleep(PAUSE)
    return lsn


def _lsn(module, text):
    high, sep, low = text.partition("/")
    if not sep or not all(part and all(c in "0123456789ABCDEFabcdef" for c in part) for part in (high, low)):
        module.fail_json(msg="the leader's WAL position %r is not an LSN" % text)
    return text


def main():
    module = AnsibleModule(
        argument_spec=connection_arg_spec(
            **PATRONI_CLUSTER_ARG_SPEC,
            members=dict(type="int", required=True),
            user=dict(type="str", default="postgres"),
            account=dict(type="str", default="patroni"),
            max_lag_mib=dict(type="int", default=16),
            replayed=dict(type="bool", default=False),
            timeout=dict(type="int", default=300),
            **KUBECTL_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["members"] < 1:
        module.fail_json(msg="members must be 1 or more, got %d" % params["members"])
    deadline = time.monotonic() + params["timeout"]
    with Kubectl(params["namespace"], connection_options(params), params["kubectl_bin"]) as kubectl:
        cluster = PatroniPods(kubectl, params["selector"], params["container"], params["user"])
        try:
            attempts, members = wait_ready(module, cluster, deadline)
            leader = patroni_state.leader_of(members)
            replicas = sorted(member["name"] for member in members if member["name"] != leader)
            result = dict(changed=False, leader=leader, replicas=replicas, members=members, attempts=attempts,
                          timeline=next(member["timeline"] for member in members if member["name"] == leader))
            if params["replayed"]:
                result["lsn"] = wait_replayed(module, cluster, leader, replicas, deadline)
        except (PodExecError, PodNotReady) as exc:
            module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
