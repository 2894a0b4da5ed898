#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: statefulset_plan
short_description: Plan a StatefulSet change around its immutable fields
version_added: 0.1.0
description:
  - Reads the live StatefulSet, its claims and StorageClasses, and says how the desired storage
    size and identity can be reached without the API server's raw error about immutable fields.
  - A bigger O(size) keeps the volume claim template as it is and returns the claims to expand,
    when the StorageClass allows volume expansion; otherwise, and for a smaller size, another
    storage class, selector, service name or pod management policy, fails with what to do.
  - Also checks, in the same pass, that the Secret the pods read has every key they need, and
    plans the claims made beside the StatefulSet (O(claims), the backup's) the same way - grown when
    their StorageClass allows it, never shrunk - except that a claim not bound yet (it has no volume,
    and its spec is immutable) is returned in RV(recreate) to be deleted and made again at its size.
  - Changes nothing; the caller applies the StatefulSet with RV(claim_size) and expands RV(resize).
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
    description: Its namespace.
    type: str
    required: true
  claim:
    description: Name of the volume claim template holding the data.
    type: str
    default: data
  size:
    description: Desired size of each claim (a Kubernetes quantity).
    type: str
    required: true
  storage_class:
    description: Desired StorageClass (null for the cluster's default).
    type: str
  service_name:
    description: Desired governing (headless) Service name.
    type: str
  selector:
    description: Desired C(spec.selector.matchLabels).
    type: dict
  pod_management_policy:
    description: Desired pod management policy.
    type: str
  secret:
    description: Secret the pods read; fail when it or one of O(secret_keys) is missing. Values are never read into the result.
    type: str
  secret_keys:
    description: Keys that O(secret) must have.
    type: list
    elements: str
    default: []
  claims:
    description: Claims made beside the StatefulSet whose size follows the catalog.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the claim.
        type: str
        required: true
      size:
        description: Desired size (a Kubernetes quantity).
        type: str
        required: true
      field:
        description: The catalog field the size comes from, named in errors.
        type: str
        default: size
"""

EXAMPLES = r"""
- name: Plan the storage of invoicetron's database
  stateshift.k3s.statefulset_plan:
    name: invoicetron-postgresql
    namespace: invoicetron
    size: 20Gi
    storage_class: longhorn
  register: plan
"""

RETURN = r"""
claim_size:
  description: The size to write into the volume claim template (the live one when it exists).
  returned: success
  type: str
  sample: 10Gi
resize:
  description: Claims to expand, each with name, from and to.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "data-invoicetron-postgresql-0", "from": "10Gi", "to": "20Gi"}]
notes:
  description: What the plan does about immutable fields.
  returned: success
  type: list
  elements: str
exists:
  description: Whether the StatefulSet exists.
  returned: always
  type: bool
claim_sizes:
  description:
    - The size to apply for each of O(claims) (the live one of a bound claim, which RV(resize) expands).
    - In check mode a claim of RV(recreate) keeps its live size here, since its delete is only simulated.
  returned: success
  type: dict
  sample: {"invoicetron-postgresql-backup": "10Gi"}
replicas:
  description: The StatefulSet's replicas now (0 when it does not exist).
  returned: success
  type: int
service_account:
  description: The ServiceAccount its pods run as now (empty when none is named, or it does not exist).
  returned: success
  type: str
recreate:
  description: Claims of O(claims) that are not bound yet and must be deleted before they are applied at their new size.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.client import module_cluster
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.quantity import is_quantity
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.statefulset_plan import plan, plan_claims
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.wait import get_or_none


def main():
    argument_spec = connection_arg_spec(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        claim=dict(type="str", default="data"),
        size=dict(type="str", required=True),
        storage_class=dict(type="str"),
        service_name=dict(type="str"),
        selector=dict(type="dict"),
        pod_management_policy=dict(type="str"),
        secret=dict(type="str", no_log=False),
        secret_keys=dict(type="list", elements="str", default=[], no_log=False),
        claims=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True), size=dict(type="str", required=True), field=dict(type="str", default="size"))),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if not is_quantity(params["size"]):
        module.fail_json(msg="size %r is not a Kubernetes quantity; write it like 10Gi" % params["size"])
    k8s = module_cluster(module)
    if params["secret"]:
        check_secret(module, k8s)
    existing = get_or_none(k8s.resource("StatefulSet", "apps/v1"), params["namespace"], params["name"])
    all_claims = [c.to_dict() for c in k8s.resource("PersistentVolumeClaim", "v1").get(namespace=params["namespace"]).items]
    live_claims = {c["metadata"]["name"]: c for c in all_claims}
    claims, classes = [], {}
    if existing is not None or any(claim["name"] in live_claims for claim in params["claims"]):
        classes = {c.metadata.name: c.to_dict() for c in k8s.resource("StorageClass", "storage.k8s.io/v1").get().items}
    if existing is not None:
        prefix = "%s-%s-" % (params["claim"], params["name"])
        claims = [c for c in all_claims if c["metadata"]["name"].startswith(prefix)]
    result = plan(existing, dict(params), claims, classes)
    standalone = plan_claims(params["namespace"], params["claims"], live_claims, classes)
    if module.check_mode:
        # the delete of a claim to recreate is only simulated: the dry-run apply must carry the size it still has
        standalone["sizes"].update((name, live_claims[name]["spec"]["resources"]["requests"]["storage"]) for name in standalone["recreate"])
    errors = result["errors"] + standalone["errors"]
    if errors:
        module.fail_json(msg="; ".join(errors), exists=existing is not None, **result)
    module.exit_json(changed=False, exists=existing is not None, claim_size=result["claim_size"],
                     resize=result["resize"] + standalone["resize"], notes=result["notes"], claim_sizes=standalone["sizes"],
                     recreate=standalone["recreate"], replicas=(existing or {}).get("spec", {}).get("replicas", 0),
                     service_account=(existing or {}).get("spec", {}).get("template", {}).get("spec", {}).get("serviceAccountName", ""))


def check_secret(module, k8s):
    """Fail before any change when the Secret or a key is missing; only key names are looked at."""
    params = module.params
    secret = get_or_none(k8s.resource("Secret", "v1"), params["namespace"], params["secret"])
    if secret is None:
        module.fail_json(msg="Secret %s/%s does not exist; run the secrets phase (stateshift.k3s.secrets) or create it, "
                             "then re-run" % (params["namespace"], params["secret"]))
    missing = sorted(set(params["secret_keys"]) - set(secret.get("data") or {}))
    if missing:
        module.fail_json(msg="Secret %s/%s lacks the key(s) %s; run the secrets phase (stateshift.k3s.secrets) or add them, "
                             "then re-run" % (params["namespace"], params["secret"], ", ".join(missing)))


if __name__ == "__main__":
    main()
