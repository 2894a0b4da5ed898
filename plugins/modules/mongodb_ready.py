#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mongodb_ready
short_description: Wait until a MongoDB workload's replica set has a primary and every member is healthy and caught up
version_added: 0.2.0
description:
  - Reads C(replSetGetStatus) from the first member that answers (through C(kubectl port-forward) with pymongo, as the
    root user) until a PRIMARY is elected, every member is up and PRIMARY, SECONDARY or ARBITER, and no SECONDARY
    lags the primary by more than O(max_lag_seconds); then returns each member's state and lag.
  - Fails after O(timeout) naming every problem - no primary, a member unreachable or in another state (with its
    state), a member lagging (by how much).
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
  - stateshift.k3s.catalog_workload
requirements:
  - pymongo on the host that runs the module.
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Nothing to show.
options:
  max_lag_seconds:
    description: Seconds a SECONDARY may lag behind the PRIMARY.
    type: int
    default: 30
  timeout:
    description: Seconds to wait for the set to be healthy.
    type: int
    default: 120
  connect_timeout:
    description: Seconds to wait for a member to answer.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Wait for a primary and healthy members
  stateshift.k3s.mongodb_ready:
    workload: "{{ ansible_facts['stateshift_catalog'] | selectattr('name', 'equalto', 'vinylvault') | first }}"
"""

RETURN = r"""
members:
  description: Each member's host and state (PRIMARY, SECONDARY...).
  returned: success
  type: dict
lag_seconds:
  description: Each SECONDARY's lag behind the PRIMARY, in seconds.
  returned: success
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import Cluster, ClusterError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s import workload_module
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import client, replset

RETRY_PAUSE = 2.0


def main():
    module = AnsibleModule(argument_spec=workload_module.argument_spec(max_lag_seconds=dict(type="int", default=30),
                                                                       timeout=dict(type="int", default=120),
                                                                       connect_timeout=dict(type="int", default=10)),
                           supports_check_mode=True)
    if not client.HAS_PYMONGO:
        module.fail_json(msg=missing_required_lib("pymongo"))
    workload, kubectl = workload_module.workload_kubectl(module, "mongodb")
    params = module.params
    with kubectl:
        try:
            secret = workload_module.secret_text(Cluster(kubectl).get("secret", workload["auth"]["secret"])) or {}
            with client.member_clients(kubectl, client.pods_of(workload), workload["auth"]["user"],
                                       secret.get(workload["auth"]["password_key"], ""), params["connect_timeout"]) as clients:
                status, problems = wait_healthy(clients, params["max_lag_seconds"], params["timeout"])
        except ClusterError as exc:
            module.fail_json(msg=str(exc))
    if problems:
        module.fail_json(msg="replica set %s of %s/%s is not healthy after %ss: %s" % (
            workload["replica_set"], workload["namespace"], workload["name"], params["timeout"], "; ".join(problems)))
    module.exit_json(changed=False, members={member["name"]: member["stateStr"] for member in status["members"]},
                     lag_seconds=replset.lag_seconds(status))


def first_status(clients):
    """replSetGetStatus of the first member that answers, or (None, why none did)."""
    reasons = []
    for member in clients:
        try:
            return member.command({"replSetGetStatus": 1}), None
        except (replset.CommandFailed, client.MemberSilent) as exc:
            reasons.append(str(exc))
    return None, "no member answered replSetGetStatus (%s)" % "; ".join(reasons)


def wait_healthy(clients, max_lag_seconds, timeout):
    deadline = time.monotonic() + timeout
    while True:
        status, why = first_status(clients)
        problems = [why] if status is None else replset.health(status, max_lag_seconds)
        if not problems or time.monotonic() + RETRY_PAUSE > deadline:
            return status, problems
        time.sleep(RETRY_PAUSE)


if __name__ == "__main__":
    main()
