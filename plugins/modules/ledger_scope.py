#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ledger_scope
short_description: Leave out of a phase the workloads whose cutover ledger is past it
version_added: 0.3.0
description:
  - Runs on the controller (action plugin), read-only. Reads the ledger ConfigMap of every workload of the validated
    catalog fact and removes from the fact those whose state is one of O(leave_out), saying for each why.
  - The migrate and preflight phases leave out every workload whose cutover began (its source is blocked, or stopped
    once retired, and its StatefulSet took writes the source never saw); the cutover phase leaves out the retired ones.
    So the C(site) playbook runs again with nothing changed.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
options:
  leave_out:
    description: The ledger states whose workloads this phase leaves out.
    type: list
    elements: str
    choices: [cutting_over, cut_over, rolling_back, rolled_back, retiring, retired]
    default: [cutting_over, cut_over, rolling_back, rolled_back, retiring, retired]
  if_unreachable:
    description:
      - C(fail) stops the phase when the ledgers cannot be read; C(keep) keeps every workload, with a warning (the
        preflight phase, which may run before the cluster is reachable).
    type: str
    choices: [fail, keep]
    default: fail
  fact_name:
    description: The fact holding the validated catalog, rewritten without the workloads left out.
    type: str
    default: stateshift_catalog
attributes:
  check_mode:
    support: full
    description: Reads only, in every mode.
  diff_mode:
    support: none
    description: Nothing to diff.
"""

EXAMPLES = r"""
- name: Validate the workload catalog
  stateshift.k3s.validate_catalog:

- name: Leave out the workloads whose cutover began
  stateshift.k3s.ledger_scope:
"""

RETURN = r"""
left_out:
  description: The workloads left out, with their ledger state.
  returned: success
  type: dict
  sample: {"invoicetron": "retired"}
"""
