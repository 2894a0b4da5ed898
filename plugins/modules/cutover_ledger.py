#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cutover_ledger
short_description: Read or advance a workload's cutover ledger
version_added: 0.2.0
description:
  - "Runs on the controller (action plugin). The ledger is one ConfigMap per workload (C(objects.ledger), in its
    namespace): C(state) (C(none), C(cutting_over), C(cut_over), C(rolling_back), C(rolled_back), C(retiring), C(retired)), a
    C(history) of events with their times, and what the C(cutover), C(rollback) and C(retire) phases recorded (the final
    sync's LSN, row counts and checksums, versions, the backup and its sha256, the clients switched, the rules removed,
    the containers stopped and the archives of their volumes)."
  - Without O(event), reads it. With one, checks that the event may follow the current state (a rollback of a workload
    that was never cut over is refused, naming the playbook to run) and records it with O(record).
  - Recording the event that was already the last one changes nothing unless O(record) adds something.
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
  event:
    description: The event to record; omitted, the ledger is only read.
    type: str
    choices: [cutover_started, cutover_finished, rollback_started, rollback_finished, retire_started, retire_finished]
  record:
    description: What to keep with the event (merged into the phase's section). Never put a secret here.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Returns the ledger the event would leave, writes nothing.
  diff_mode:
    support: full
    description: The state before and after.
"""

EXAMPLES = r"""
- name: Refuse to cut over a workload that is being rolled back
  stateshift.k3s.cutover_ledger:
    workload: invoicetron
    event: cutover_started
"""

RETURN = r"""
ledger:
  description: The ledger after the event (or as read).
  returned: always
  type: dict
  sample: {"state": "cut_over", "history": [{"event": "cutover_started", "at": "2026-12-02T04:00:00.000000Z"}]}
"""
