#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_final_sync
short_description: The cutover's final sync of a workload's PostgreSQL database into its StatefulSet, verified
version_added: 0.2.0
description:
  - Runs on the controller (action plugin) for the source's Docker host, like M(stateshift.k3s.pg_migrate), after
    M(stateshift.k3s.pg_source_access) blocked the source (refused otherwise, before anything changes).
  - "Offline mode (C(migration.mode: offline)): compares the source and the target now (row counts and checksums, or
    counts when C(migration.verify) is C(count); objects; sequences). Equal: nothing to do (C(changed=false)). The
    source changed since the copy and the target's fingerprint still equals the one the copy recorded in the marker
    (nothing wrote to the target): the copy runs again - backup, copy, verification - exactly as
    M(stateshift.k3s.pg_migrate) does. This is the one path on which a verified copy is replaced (C(force) never does).
    The target changed as well: refused, naming what to do. A copy interrupted here (marker C(copying)) is redone by a
    re-run."
  - "Online mode (C(migration.mode: online)): reads the source's current WAL position (C(final_lsn)), waits (progress
    and lag every O(progress_interval) seconds, at most O(wait_timeout) seconds) until the subscription applied it, sets
    the target's sequences to the source's, verifies as offline mode does, then drops the subscription (and with it the
    replication slot on the source) and the publication, and marks the marker C(verified) with C(final_lsn). A re-run
    after that only re-verifies (C(changed=false))."
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
  database:
    description: The database (same name on both sides); defaults to each of the workload's C(source.databases) in turn,
      else its C(source.database).
    type: str
  timeout:
    description: The deadline, in seconds, of each step that moves or reads all the data (as in M(stateshift.k3s.pg_migrate)).
    type: int
    default: 86400
  wait_timeout:
    description: Online mode - seconds to wait for the subscription to apply the final WAL position.
    type: int
    default: 600
  progress_interval:
    description: Seconds between progress lines (copy, catch-up).
    type: float
    default: 5.0
  report_dir:
    description: Directory on the controller for the report files of a copy made again.
    type: path
attributes:
  check_mode:
    support: full
    description: Compares (offline) or reads the lag (online) and says what would be done; writes nothing.
  diff_mode:
    support: none
    description: The result lists the tables instead.
"""

EXAMPLES = r"""
- name: Block writes on the source
  stateshift.k3s.pg_source_access:
    workload: invoicetron
    state: blocked

- name: Final sync, verified
  stateshift.k3s.pg_final_sync:
    workload: invoicetron
  register: synced
"""

RETURN = r"""
msg:
  description: What was done and the verification's result.
  returned: always
  type: str
mode:
  description: The workload's C(migration.mode), C(offline) or C(online).
  returned: success
  type: str
verified:
  description: Whether the source and the target matched at the end.
  returned: success
  type: bool
final_lsn:
  description: Online mode - the source's WAL position the target applied before it was verified.
  returned: success and online mode
  type: str
  sample: 0/3A1B2C8
source_version:
  description: The source server's version.
  returned: success
  type: str
target_version:
  description: The target server's version number.
  returned: success
  type: int
tables:
  description: Per table - C(name), C(rows) and C(checksum) on the target, C(match).
  returned: success
  type: list
  elements: dict
totals:
  description: Tables and rows on each side.
  returned: success
  type: dict
fingerprint:
  description: The target's fingerprint after the sync (row writes and relation files), as the marker records it.
  returned: success
  type: dict
backup:
  description: The backup taken before a copy made again (path, sha256, host, bytes), else the copy's own, or null.
  returned: success
  type: dict
timings:
  description: Online mode - seconds per step (final position, sequences, catch-up, verify, drop replication).
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
