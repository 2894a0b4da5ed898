#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: retire_rules
short_description: Remove the temporary network rules to a retired source that are still present
version_added: 0.3.0
description:
  - Runs on the controller (action plugin). For each entry of the workload's C(cutover.remove_rules), removes the rules
    of the NetworkPolicy or CiliumNetworkPolicy that still name the source's CIDR, as the cutover does (the rest of
    the policy is kept). The cutover removed them once; this removes any that came back since (put back by hand, or by
    a rollback whose next cutover has not switched yet).
  - A policy that no longer exists, or a kind the cluster does not serve, is an error naming the entry to fix.
  - The replace carries the policy's resourceVersion, so a concurrent change fails instead of being lost.
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
attributes:
  check_mode:
    support: full
    description: Says which rules would be removed.
  diff_mode:
    support: full
    description: The rules removed, in words.
"""

EXAMPLES = r"""
- name: Remove the DMZ rule to the retired VM if it came back
  stateshift.k3s.retire_rules:
    workload: invoicetron
"""

RETURN = r"""
removed_rules:
  description: Each policy changed, with its rules before and after (as the ledger records them).
  returned: success
  type: list
  elements: dict
"""
