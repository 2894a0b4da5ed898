#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_compare
short_description: Compare a source PostgreSQL database with its copy in a workload's StatefulSet
version_added: 0.1.0
description:
  - Read-only on both sides. Runs on the controller (action plugin) for the source's Docker host, like M(stateshift.k3s.pg_migrate).
  - Per table, the row count and an order-independent checksum (the sum of a 64-bit hash of each row's text, with output settings pinned so
    both servers print rows alike); per owned sequence, that its next value is above its column's maximum; the
    counts of schemas, tables, views, materialized views, sequences, indexes, constraints, triggers, functions, types
    and extensions.
  - Fails on any mismatch, naming each one. Writes C(<workload>-<database>-compare.json) and C(.md) to O(report_dir).
  - Compares the source as it is now; if the source took writes since the copy, that shows as a mismatch.
  - Every sequence's position is compared too (the target's may only be ahead); both sides read with
    C(row_security = off) and C(extra_float_digits = 3), so no row is hidden by a policy and floats compare exactly.
  - "The source's password (C(source.password), or a C(source.dsn)'s own) is read from the variable
    C(stateshift_workloads), never from the C(stateshift_catalog) fact, and never returned. Every failure is a result
    with a message (no traceback), with password verifiers and passwords taken out."
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
options:
  workload:
    description:
      - The name of a PostgreSQL workload of the validated catalog (the fact C(stateshift_catalog) that
        M(stateshift.k3s.validate_catalog) sets); its source and target are compared.
      - Compares by row counts when the workload's C(migration.verify) is C(count), else by checksums.
    type: str
    required: true
  database:
    description: The database to compare (same name on both sides); defaults to each of the workload's C(source.databases)
      in turn, else its C(source.database).
    type: str
  report_dir:
    description: Directory on the controller for the report files.
    type: path
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

- name: Prove the copy matches
  stateshift.k3s.pg_compare:
    workload: invoicetron
"""

RETURN = r"""
msg:
  description: The result in one line.
  returned: always
  type: str
  sample: "invoicetron/invoicetron: 9 tables, 31295 rows: source and target match (checksum)"
report:
  description: Tables (rows and checksums per side), objects, sequences, mismatches.
  returned: success
  type: dict
report_files:
  description: The JSON and Markdown files written.
  returned: success
  type: list
  elements: str
"""
