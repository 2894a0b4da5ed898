#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mongo_final_sync
short_description: The cutover's final sync of a workload's MongoDB database into its replica set, verified
version_added: 0.2.0
description:
  - Runs on the controller (action plugin) for the old container's Docker host, like M(stateshift.k3s.mongo_migrate),
    once the application's writers are stopped (the cutover phase stops the Compose services of C(source.compose_dir);
    MongoDB has no per-database write block, so any other writer must be stopped by you first).
  - "Compares the old database with the replica set's now: a whole dump read on the controller (nothing restored)
    against what pymongo reads back - per collection the document count and order-independent digest, or the counts
    when C(migration.verify) is C(count), and the number of indexes. Equal: nothing to do (C(changed=false)). The source
    changed since the copy and the target's fingerprint still equals the one the copy recorded in the marker
    (C(dbHash) per collection, or on a server without it the documents' digests: nothing wrote to it): the copy runs
    again - backup, copy, indexes, verification - as M(stateshift.k3s.mongo_migrate)
    does; the one path on which a verified copy is replaced. The target changed as well: refused, naming what to do. A
    copy interrupted here (marker C(copying)) is redone by a re-run."
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
requirements:
  - kubectl, ssh and pymongo on the controller.
options:
  workload:
    description:
      - The name of a MongoDB workload of the validated catalog (the fact C(stateshift_catalog) that
        M(stateshift.k3s.validate_catalog) sets).
    type: str
    required: true
  timeout:
    description: The deadline, in seconds, of each step that moves or reads all the data.
    type: int
    default: 86400
  progress_interval:
    description: Seconds between progress lines of a copy made again.
    type: float
    default: 5.0
  report_dir:
    description: Directory on the controller for the report files of a copy made again.
    type: path
attributes:
  check_mode:
    support: full
    description: Compares and says what would be done; writes nothing.
  diff_mode:
    support: none
    description: The result lists the collections instead.
"""

EXAMPLES = r"""
- name: Final sync, verified
  stateshift.k3s.mongo_final_sync:
    workload: vinylvault
"""

RETURN = r"""
msg:
  description: What was done and the verification's result.
  returned: always
  type: str
verified:
  description: Whether the source and the target matched at the end.
  returned: success
  type: bool
tables:
  description: Per collection - C(name), C(rows) (documents) and C(checksum) (digest) on the target, C(match).
  returned: success
  type: list
  elements: dict
totals:
  description: Collections and documents on each side.
  returned: success
  type: dict
backup:
  description: The backup taken before a copy made again (path, sha256, host, bytes), else the copy's own, or null.
  returned: success
  type: dict
report:
  description: The whole verification report.
  returned: success
  type: dict
phase:
  description: Where a failed run stopped.
  returned: failure
  type: str
"""
