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
  - kubernetes.core.k8s_auth_options
  - stateshift.k3s.k8s_read_only
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

import copy

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.readiness import diagnose, format_findings, pvc_bound
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.wait import wait_for


def evaluate(pvc):
    if pvc is None:
        return {"ready": False, "bound": False, "phase": "Missing", "reason": "the claim does not exist"}
    state = pvc_bound(pvc)
    state["ready"] = state["bound"]
    return state


def main():
    argument_spec = copy.deepcopy(AUTH_ARG_SPEC)
    argument_spec.update(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        timeout=dict(type="int", default=120),
    )
    module = AnsibleK8SModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    k8s = get_api_client(module)
    ready, state, pvc, seconds = wait_for(k8s.client, k8s.resource("PersistentVolumeClaim", "v1"), params["namespace"],
                                          params["name"], evaluate, params["timeout"])
    state.pop("ready", None)
    result = dict(changed=False, bound=ready, state=state, seconds=round(seconds, 3))
    if ready:
        module.exit_json(**result)
    message = "PersistentVolumeClaim %s/%s not bound after %ss (%s)" % (
        params["namespace"], params["name"], params["timeout"], state.get("phase"))
    if pvc:
        warnings = k8s.resource("Event", "v1").get(namespace=params["namespace"], field_selector="type=Warning")
        events = [event.to_dict() for event in warnings.items]
        message += "\n" + format_findings(diagnose([], [pvc], events))
    module.fail_json(msg=message, **result)


if __name__ == "__main__":
    main()
