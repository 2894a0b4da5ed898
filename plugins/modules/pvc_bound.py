#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pvc_bound
short_description: Wait until a PersistentVolumeClaim is bound, or say why not
version_added: 0.1.0
description:
  - Watches the claim (no fixed-interval polling) until its phase is C(Bound).
  - On timeout fails with the claim's warning events and the fix (a missing StorageClass, a
    provisioner that does not run, or C(WaitForFirstConsumer) with no pod using the claim).
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.k8s_read_only
requirements:
  - kubernetes (Python) >= 24.2.0 on the host that runs the module.
options:
  name:
    description: Name of the claim.
    type: str
    required: true
  namespace:
    description: Namespace of the claim.
    type: str
    required: true
  timeout:
    description: Seconds to wait.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Wait for the data volume of postgresql-0
  stateshift.k3s.pvc_bound:
    name: data-postgresql-0
    namespace: invoicetron
"""

RETURN = r"""
bound:
  description: Whether the claim is bound.
  returned: always
  type: bool
state:
  description: Name, phase, volume and capacity of the claim.
  returned: always
  type: dict
  sample: {"name": "data-postgresql-0", "phase": "Bound", "volume": "pvc-3f1c", "capacity": "10Gi", "bound": true}
seconds:
  description: Seconds waited.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.client import module_cluster
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.diagnosis import claim_diagnosis
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.readiness import format_findings, pvc_bound
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.wait import wait_for


def evaluate(pvc):
    if pvc is None:
        return {"ready": False, "bound": False, "phase": "Missing", "reason": "the claim does not exist"}
    state = pvc_bound(pvc)
    state["ready"] = state["bound"]
    return state


def main():
    argument_spec = connection_arg_spec(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        timeout=dict(type="int", default=120),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    k8s = module_cluster(module)
    ready, state, pvc, seconds = wait_for(k8s.client, k8s.resource("PersistentVolumeClaim", "v1"), params["namespace"],
                                          params["name"], evaluate, params["timeout"])
    state.pop("ready", None)
    result = dict(changed=False, bound=ready, state=state, seconds=round(seconds, 3))
    if ready:
        module.exit_json(**result)
    message = "PersistentVolumeClaim %s/%s not bound after %ss (%s)" % (
        params["namespace"], params["name"], params["timeout"], state.get("phase"))
    if pvc:
        message += "\n" + format_findings(claim_diagnosis(k8s, pvc))
    module.fail_json(msg=message, **result)


if __name__ == "__main__":
    main()
