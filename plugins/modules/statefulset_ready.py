#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: statefulset_ready
short_description: Wait until a StatefulSet's rollout has really finished, or say why not
version_added: 0.1.0
description:
  - Watches the StatefulSet (no fixed-interval polling) until the controller has observed the
    latest generation and every replica is ready and, above any partition, updated; with no
    partition the current revision must equal the update revision.
  - With the C(OnDelete) strategy only readiness is waited for; pods still on an older revision
    are counted in the returned state as C(outdated_replicas).
  - On timeout returns a diagnosis and fails with it - claims that do not bind and their events,
    pods that cannot be scheduled, images that cannot be pulled, containers that crash with their
    last log lines, containers running but not ready.
  - M(kubernetes.core.k8s) with O(kubernetes.core.k8s#module:wait=true) polls on an interval and says only that it timed out.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.k8s_read_only
requirements:
  - kubernetes (Python) >= 24.2.0 on the host that runs the module.
options:
  name:
    description: Name of the StatefulSet.
    type: str
    required: true
  namespace:
    description: Namespace of the StatefulSet.
    type: str
    required: true
  timeout:
    description: Seconds to wait.
    type: int
    default: 300
  fail_on_timeout:
    description: Fail when not ready in time. When false, return RV(ready=false) and the diagnosis.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Wait for the database to be ready
  stateshift.k3s.statefulset_ready:
    name: postgresql
    namespace: invoicetron
    timeout: 600

- name: Set the cluster once for this collection's and kubernetes.core's Kubernetes modules
  module_defaults:
    group/stateshift.k3s.k8s:
      host: https://k3s.example.com:6443
      api_key: "{{ k3s_token }}"
      ca_cert: /etc/stateshift/k3s-ca.crt
  block:
    - name: Wait for the database to be ready
      stateshift.k3s.statefulset_ready:
        name: invoicetron-postgresql
        namespace: invoicetron
"""

RETURN = r"""
ready:
  description: Whether the rollout finished in time.
  returned: always
  type: bool
seconds:
  description: Seconds waited.
  returned: always
  type: float
state:
  description: Replicas, ready, updated and available counts, strategy, partition, revisions and the reason.
  returned: always
  type: dict
  sample: {"ready": true, "reason": "all 1 replicas ready at revision postgresql-7d9f", "replicas": 1}
diagnosis:
  description: Findings that explain why it is not ready, each with object, problem, details and fix.
  returned: when not ready
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.client import module_cluster
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.diagnosis import statefulset_diagnosis
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.readiness import format_findings, statefulset_rollout
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.wait import wait_for


def evaluate(sts):
    if sts is None:
        return {"ready": False, "reason": "the StatefulSet does not exist"}
    return statefulset_rollout(sts)


def main():
    argument_spec = connection_arg_spec(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        timeout=dict(type="int", default=300),
        fail_on_timeout=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    k8s = module_cluster(module)
    resource = k8s.resource("StatefulSet", "apps/v1")
    ready, state, sts, seconds = wait_for(k8s.client, resource, params["namespace"], params["name"], evaluate, params["timeout"])
    result = dict(changed=False, ready=ready, state=state, seconds=round(seconds, 3))
    if ready:
        module.exit_json(**result)
    result["diagnosis"] = statefulset_diagnosis(k8s, sts) if sts else []
    message = "StatefulSet %s/%s not ready after %ss: %s" % (params["namespace"], params["name"], params["timeout"], state["reason"])
    if result["diagnosis"]:
        message += "\n" + format_findings(result["diagnosis"])
    if params["fail_on_timeout"]:
        module.fail_json(msg=message, **result)
    module.exit_json(msg=message, **result)


if __name__ == "__main__":
    main()
