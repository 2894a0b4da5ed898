#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cutover_switch
short_description: Point a workload's clients at its StatefulSet, or back at the source
version_added: 0.2.0
description:
  - "Runs on the controller (action plugin). Reads the validated catalog (the fact C(stateshift_catalog)) and the
    workload's ledger ConfigMap (C(objects.ledger)), which must say C(cutting_over) (O(to=target)) or C(rolling_back)
    (O(to=source)): the role C(stateshift.k3s.cutover) calls it between the final sync and the end of the phase."
  - "O(to=target): every C(clients[].settings) key is pointed at the StatefulSet's Service (only host and port of a URL
    change, so a password in it stays), its previous value first kept in the Secret C(objects.cutover_previous); the
    Service C(cutover.service) selects the StatefulSet's pods (its EndpointSlice to the source is deleted); the peers of
    C(cutover.remove_rules) policies that name the CIDR are removed (the rule lists before and after are recorded in the
    ledger); then every client is restarted and waited for."
  - "O(to=source): the saved values are put back, C(cutover.service) becomes a selector-less Service with one
    EndpointSlice to C(source.address) (the reverse-split pattern: a VM without a DNS name), the removed rules are put
    back only if the policy still holds what the cutover left (else it fails and says how to restore them by hand),
    the clients are restarted, and the saved values' Secret is deleted."
  - Everything is read and checked before anything is written. A re-run after an interruption finishes the job (the
    ledger keeps the restart pending until the clients rolled out); a re-run of a finished switch changes nothing.
  - Values are never returned or printed (a URL may hold a password); Secret bodies travel on kubectl's stdin.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
options:
  workload:
    description: The name of a workload of the validated catalog.
    type: str
    required: true
  to:
    description: Where the clients go.
    type: str
    required: true
    choices: [target, source]
  rollout_timeout:
    description: Seconds to wait for each restarted client to roll out.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    description: Reads and checks everything, returns what would change.
  diff_mode:
    support: partial
    description: The changes are listed in words (no values, which may be secret).
"""

EXAMPLES = r"""
- name: Point the clients at the StatefulSet
  stateshift.k3s.cutover_switch:
    workload: invoicetron
    to: target
"""

RETURN = r"""
changes:
  description: What changed (or would), in words; no value.
  returned: always
  type: list
  elements: str
  sample: ["Secret invoicetron/app-env key DATABASE_URL: pointed at the StatefulSet"]
restarted:
  description: The clients restarted (kind namespace/name).
  returned: always
  type: list
  elements: str
"""
