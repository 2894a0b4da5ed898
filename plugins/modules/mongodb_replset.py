#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mongodb_replset
short_description: Initiate a MongoDB workload's replica set once, and reconfigure it when its members change
version_added: 0.2.0
description:
  - Reaches every member (pod C(<service_name>-<i>)) through C(kubectl port-forward) with pymongo, as the root user
    (C(auth.user), password from C(auth.secret)), and reads C(replSetGetStatus) and C(replSetGetConfig).
  - When no member holds a configuration, sends C(replSetInitiate) to member 0 with every member of the catalog's
    C(replicas), named C(<pod>.<headless Service>.<namespace>.svc.cluster.local:27017) - only when every member
    answers. A set that any member holds a configuration of is never initiated again (a member that lost its volume
    reports NotYetInitialized; initiating there would start a second set).
  - When the members differ from the catalog's, sends C(replSetReconfig) to the primary, one voting member added or
    removed per reconfiguration (MongoDB 4.4 and later refuse more without force), each with the live version + 1;
    staying members keep their C(_id) and settings.
  - Refused with the fix, before any command - the live set has another name than C(replica_set) (a live set is
    never renamed); a member does not answer at initiation; no primary to reconfigure.
  - Scaling down shrinks the StatefulSet first, so the remaining members must still be a majority of the old set
    (scale down one step, e.g. 5 to 3, per run).
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
    description: Reads the members and says what would be sent; sends nothing.
  diff_mode:
    support: none
    description: Nothing to show.
options:
  connect_timeout:
    description: Seconds to wait for a member to answer.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Initiate or reconfigure the replica set
  stateshift.k3s.mongodb_replset:
    workload: "{{ ansible_facts['stateshift_catalog'] | selectattr('name', 'equalto', 'vinylvault') | first }}"
"""

RETURN = r"""
action:
  description: What was (or in check mode would be) done - none, initiate or reconfigure.
  returned: success
  type: str
changes:
  description: The changes, in words (members added or removed).
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import Cluster, ClusterError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s import workload_module
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import client, replset


def main():
    module = AnsibleModule(argument_spec=workload_module.argument_spec(connect_timeout=dict(type="int", default=10)),
                           supports_check_mode=True)
    if not client.HAS_PYMONGO:
        module.fail_json(msg=missing_required_lib("pymongo"))
    workload, kubectl = workload_module.workload_kubectl(module, "mongodb")
    with kubectl:
        try:
            password = root_password(module, workload, kubectl)
            with client.member_clients(kubectl, client.pods_of(workload), workload["auth"]["user"], password,
                                       module.params["connect_timeout"]) as clients:
                planned = replset.plan(clients, workload)
                result = replset.apply(planned, clients, module.check_mode)
        except (replset.ReplicaSetError, ClusterError) as exc:
            module.fail_json(msg="replica set %s of %s/%s: %s" % (workload["replica_set"], workload["namespace"], workload["name"], exc))
    module.exit_json(**result)


def root_password(module, workload, kubectl):
    secret = workload_module.secret_text(Cluster(kubectl).get("secret", workload["auth"]["secret"]))
    if secret is None or workload["auth"]["password_key"] not in secret:
        module.fail_json(msg="Secret %s/%s has no key %s: run the secrets phase (playbooks/secrets.yml) first" % (
            workload["namespace"], workload["auth"]["secret"], workload["auth"]["password_key"]))
    return secret[workload["auth"]["password_key"]]


if __name__ == "__main__":
    main()
