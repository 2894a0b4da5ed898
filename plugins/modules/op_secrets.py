#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: op_secrets
short_description: Resolve the catalog's Secrets from 1Password, generate what is missing, write it back
version_added: 0.1.0
description:
  - Validates the C(secrets) of every workload in the catalog, reads every referenced 1Password item
    once (one C(op item get) or one Connect request per item, however many fields are used), and
    fails - naming each reference - when a vault, item or field is missing and the key has no
    generator. Only then generates the missing values (or new values for rotated keys) and writes
    them back to 1Password, one write per item, so the vault stays the source of truth. A re-run
    never regenerates an existing value.
  - Returns the Kubernetes Secrets to apply (with values, so register the result only in tasks
    with C(no_log=true)) and a value-free O(ignore:summary).
  - Retries with exponential backoff when 1Password rate-limits (HTTP 429 or the CLI's
    C((429\) Too Many Requests)).
  - Differs from the M(community.general.onepassword) lookups in that it batches by item, caches
    within the run, retries on rate limiting, writes generated values back, and speaks to a Connect
    server directly without the C(op) CLI.
author:
  - stateshift maintainers (@stateshift)
options:
  workloads:
    description: The workload catalog (C(stateshift_workloads)); only C(name), C(namespace) and C(secrets) are read.
    type: list
    elements: dict
    required: true
  only:
    description: Limit the run to these workload names.
    type: list
    elements: str
  rotate:
    description:
      - What to rotate. C(all) rotates every key marked C(rotate=true); C(<workload>) and
        C(<workload>/<secret>) rotate the marked keys of that workload or Secret;
        C(<workload>/<secret>/<key>) rotates that key even if it is not marked (it needs C(generate)).
    type: list
    elements: str
    default: []
  backend:
    description: C(auto) uses Connect when O(connect_host) and O(connect_token) are set, else the C(op) CLI.
    type: str
    choices: [auto, cli, connect]
    default: auto
  service_account_token:
    description: 1Password service account token for the C(op) CLI. Defaults to E(OP_SERVICE_ACCOUNT_TOKEN).
    type: str
  connect_host:
    description: URL of a 1Password Connect server. Defaults to E(OP_CONNECT_HOST).
    type: str
  connect_token:
    description: Access token of the Connect server. Defaults to E(OP_CONNECT_TOKEN).
    type: str
  op_bin:
    description: The 1Password CLI (2.x).
    type: str
    default: op
  account:
    description: C(--account) for the C(op) CLI (only for a signed-in user account, not a service account).
    type: str
  allow_signed_in_cli:
    description: Allow the C(op) CLI without a service account token (uses an existing C(op signin) session).
    type: bool
    default: false
  retries:
    description: Retries after a rate-limit answer.
    type: int
    default: 5
  backoff:
    description: First retry delay in seconds; doubled on every retry (capped at 30 seconds, or the server's Retry-After).
    type: float
    default: 1.0
  item_category:
    description: Category of the items this module creates for generated values.
    type: str
    default: SECURE_NOTE
notes:
  - In check mode the items are read and missing values generated, but nothing is written back.
  - Run it on the controller (C(delegate_to=localhost) or a play on C(localhost)).
requirements:
  - The 1Password CLI 2.x (C(op)) for the service-account backend; nothing extra for Connect.
  - passlib or libpass for C(passphrase) generators.
attributes:
  check_mode:
    description: Reads and generates, writes nothing back.
    support: full
  diff_mode:
    description: Secret values are never shown, so there is no diff.
    support: none
"""

EXAMPLES = r"""
- name: Resolve the Secrets of every workload (values only in a no_log task)
  stateshift.k3s.op_secrets:
    workloads: "{{ stateshift_workloads }}"
  register: resolved
  no_log: true

- name: Rotate the invoicetron database password
  stateshift.k3s.op_secrets:
    workloads: "{{ stateshift_workloads }}"
    rotate: [invoicetron/invoicetron-secrets/postgres-password]
  register: resolved
  no_log: true

- name: Show what happened, without values
  ansible.builtin.debug:
    var: resolved.summary
"""

RETURN = r"""
secrets:
  description: Secrets to apply, with their values in C(data). Register only under C(no_log=true).
  returned: success
  type: list
  elements: dict
  sample: [{"namespace": "invoicetron", "name": "invoicetron-secrets", "data": {"postgres-password": "<value>"},
            "type": "Opaque", "immutable": false, "labels": {}, "annotations": {}, "workloads": ["invoicetron"]}]
summary:
  description:
    - The same Secrets without values; per key its reference and whether it came from 1Password,
      was generated or rotated.
  returned: success
  type: list
  elements: dict
  sample: [{"namespace": "invoicetron", "name": "invoicetron-secrets", "rotated": [],
            "keys": {"postgres-password": {"op": "op://Kubernetes/Invoicetron/postgres-password", "source": "1password",
                                           "role": "invoicetron"}}}]
written:
  description: 1Password items (vault/item) written back.
  returned: success
  type: list
  elements: str
  sample: ["Kubernetes/Invoicetron"]
generated:
  description: References whose missing value was generated.
  returned: success
  type: list
  elements: str
rotated:
  description: References that got a new value.
  returned: success
  type: list
  elements: str
op_calls:
  description: Calls made to 1Password (op CLI invocations or Connect HTTP requests).
  returned: success
  type: int
  sample: 5
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import onepassword
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import sync as secret_sync


def main():
    module = AnsibleModule(
        argument_spec={
            "workloads": {"type": "list", "elements": "dict", "required": True},
            "only": {"type": "list", "elements": "str"},
            "rotate": {"type": "list", "elements": "str", "default": []},
            "backend": {"type": "str", "choices": ["auto", "cli", "connect"], "default": "auto"},
            "service_account_token": {"type": "str", "no_log": True},
            "connect_host": {"type": "str"},
            "connect_token": {"type": "str", "no_log": True},
            "op_bin": {"type": "str", "default": "op"},
            "account": {"type": "str"},
            "allow_signed_in_cli": {"type": "bool", "default": False},
            "retries": {"type": "int", "default": 5},
            "backoff": {"type": "float", "default": 1.0},
            "item_category": {"type": "str", "default": "SECURE_NOTE"},
        },
        supports_check_mode=True,
    )
    params = dict(module.params)
    for name, variable in (("service_account_token", "OP_SERVICE_ACCOUNT_TOKEN"), ("connect_host", "OP_CONNECT_HOST"),
                           ("connect_token", "OP_CONNECT_TOKEN")):
        if not params[name] and os.environ.get(variable):
            params[name] = os.environ[variable]
            if name != "connect_host":
                module.no_log_values.add(params[name])

    def run(argv, env_update, data):
        return module.run_command(argv, data=data, environ_update=env_update, binary_data=True)

    try:
        backend = onepassword.backend_from(params, run=run)
    except onepassword.OnePasswordError as exc:
        if onepassword.references_1password(params["workloads"]):
            module.fail_json(msg=str(exc))
        backend = onepassword.NoBackend(str(exc))
    client = onepassword.Client(backend, retries=params["retries"], backoff=params["backoff"])
    try:
        result = secret_sync.sync(params["workloads"], client, rotate=params["rotate"], check_mode=module.check_mode,
                                  only=params["only"], item_category=params["item_category"])
    except secret_sync.SecretSyncError as exc:
        module.fail_json(msg="1Password secrets: %d problem(s); no Kubernetes Secret was written:\n%s"
                         % (len(exc.errors), "\n".join(exc.errors)), errors=exc.errors,
                         op_calls=client.calls)
    changed = bool(result["generated"] or result["rotated"])
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
