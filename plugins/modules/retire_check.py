#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: retire_check
short_description: Check every gate before a PostgreSQL workload's source is retired
version_added: 0.3.0
description:
  - Read-only, in every mode. Runs on the controller (action plugin) for the source's Docker host, like
    M(stateshift.k3s.pg_migrate), and reads the ledger, the StatefulSet, both servers and the restore drill's output.
  - "Checks, and reports, every gate at once; fails when any is refused, naming each reason and what to do:
    the ledger says C(cut_over); C(retire.soak_days) have passed since the cutover finished; the restore drill restored
    the newest backup of every database of the workload, taken after the cutover, with its recorded sha256 matching and
    its row counts as recorded; every replica of the StatefulSet is ready and its primary is not in recovery; no client
    session appears on the source server during C(retire.watch_seconds) (a look every second; who was seen is listed:
    role, address, application, database)."
  - Once the ledger says C(retiring) or C(retired), the gates passed before the retirement started; it passes without
    reading them again (the source may already be stopped).
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
requirements:
  - kubectl and ssh on the controller.
options:
  workload:
    description:
      - The name of a PostgreSQL workload of the validated catalog (the fact C(stateshift_catalog) that
        M(stateshift.k3s.validate_catalog) sets).
    type: str
    required: true
  drill_output:
    description:
      - The output lines of a restore drill run after the cutover (the role runs the workload's drill CronJob and passes
        its output). Omitted (as in check mode), the backup gate is refused as not checked.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    description: Reads only, in every mode.
  diff_mode:
    support: none
    description: Nothing to diff.
"""

EXAMPLES = r"""
- name: Check that invoicetron's source may be retired
  stateshift.k3s.retire_check:
    workload: invoicetron
    drill_output: "{{ postgresql_job_output }}"
"""

RETURN = r"""
msg:
  description: Every gate in one line; on failure, those refused.
  returned: always
  type: str
  sample: "invoicetron is not retired, nothing was stopped: soak period: cut over 2 d 3 h ago, and retire.soak_days is 7: ..."
passed:
  description: Whether every gate passed.
  returned: success
  type: bool
gates:
  description: Each gate checked, with whether it passed and why.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "no clients", "passed": false, "detail": "clients still use the source during the 60 s watch: ..."}]
"""
