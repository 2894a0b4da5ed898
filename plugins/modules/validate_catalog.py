#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: validate_catalog
short_description: Validate the workload catalog before anything changes
version_added: 0.1.0
description:
  - Checks every workload of the catalog (C(stateshift_workloads)) and the catalog as a whole,
    and reports every problem at once, each naming the workload, the field, the bad value and the fix.
  - Checks names (DNS-1123 labels), engines, storage sizes and resource quantities, unknown
    fields (with a suggestion for typos), the source, migration, backup, clients and network
    settings, that every Secret key referenced is declared, that no two workloads claim the same
    namespace/name or declare one Secret key differently, and that a PostgreSQL workload is not
    given several replicas without a high-availability manager.
  - On success returns the catalog with defaults filled in and sets it as a fact.
  - Runs on the controller; nothing is contacted or changed.
author:
  - stateshift maintainers (@stateshift)
options:
  workloads:
    description: The catalog to check. Defaults to the variable C(stateshift_workloads).
    type: list
    elements: dict
  fact_name:
    description: Name of the fact that receives the validated catalog.
    type: str
    default: stateshift_catalog
attributes:
  check_mode:
    description: Runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is no diff.
    support: none
  action:
    description: Runs on the controller as an action plugin.
    support: full
"""

EXAMPLES = r"""
- name: Validate the workload catalog
  stateshift.k3s.validate_catalog:

- name: Validate a catalog given inline
  stateshift.k3s.validate_catalog:
    workloads:
      - name: invoicetron
        engine: postgresql
        storage: {size: 10Gi}
"""

RETURN = r"""
catalog:
  description: The catalog with defaults filled in (namespace, image, replicas, migration, ...).
  returned: success
  type: list
  elements: dict
errors:
  description: Every problem found, one line each.
  returned: failure
  type: list
  elements: str
  sample:
    - "workload 'invoicetron' (stateshift_workloads[0]): storage.size = '10GB': is not a Kubernetes quantity; write it like 10Gi"
"""
