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
  - "Checks every workload of the catalog (C(stateshift_workloads)) and the catalog as a whole,
    and reports every problem at once, one line each, in one format:
    workload 'x' (stateshift_workloads[i]): field = value: problem; fix."
  - Every field, its type, default, choices and rule is declared once, in
    C(plugins/module_utils/catalog/schema.py); C(docs/catalog.md) lists them.
  - Checks names (DNS-1123 labels), engines, storage sizes and resource quantities, unknown
    fields at every depth (with a suggestion for typos), the source, migration, backup, clients and
    network settings, the C(secrets), that every Secret key referenced is declared, that no two
    workloads claim the same namespace/name or declare one Secret key differently, and that a
    PostgreSQL workload is not given several replicas without a high-availability manager.
  - "Refuses what is not built yet, naming the field, the value and what to do (C(docs/catalog.md) lists it)."
  - On success returns the catalog with defaults filled in, and with every workload's object names
    (C(objects), e.g. C(objects.statefulset), C(objects.primary_pod)), C(labels), C(backup_labels)
    and C(selector) added, and sets it as a fact. Roles and modules read object names from there.
  - "The fact and the returned C(catalog) hold no secret value: the schema's secret fields (no_log)
    are C(source.password), left out, and C(source.dsn), kept without its password (the C(password=)
    pair, or the password of a C(postgresql://user:password@host) URI and its C(password) parameter).
    A problem with a secret field shows its value as C(<hidden>)."
  - "Code that needs those values reads them from the raw C(stateshift_workloads) with
    C(secret_values_of()) in C(plugins/module_utils/catalog/secret_fields.py), in a no_log task."
  - "Names, keys, labels, images, paths and schedules are checked against their syntax (DNS-1123,
    Kubernetes label and Secret key syntax, PostgreSQL names, image references, cron), so no value can
    change the structure of the object, script or file it lands in; see C(docs/catalog.md)."
  - Runs on the controller; nothing is contacted or changed.
author:
  - stateshift maintainers (@stateshift)
options:
  workloads:
    description: The catalog to check. Defaults to the variable C(stateshift_workloads).
    type: list
    elements: dict
  only:
    description:
      - The names of the workloads this run acts on; the whole catalog is validated, and only these go into the fact.
      - Defaults to the variable C(workloads) (C(-e workloads=invoicetron,shop) or a YAML list), else every workload.
      - A name that is not in the catalog is an error.
    type: list
    elements: str
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
  description:
    - The catalog with defaults filled in (namespace, image, replicas, migration, ...), without secret
      values (no C(source.password); C(source.dsn) without its password).
    - Each workload also has C(objects) (every object name by what the object is), C(labels),
      C(backup_labels) and C(selector).
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
    - "workload 'queue' (stateshift_workloads[1]): engine = 'rabbitmq': is not built yet (only postgresql is);
       use engine: postgresql, or leave this workload out of the catalog until its engine is built"
"""
