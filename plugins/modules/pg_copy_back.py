#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_copy_back
short_description: Copy a workload's StatefulSet database back into its source PostgreSQL container, in one transaction, verified
version_added: 0.1.0
description:
  - The reverse of M(stateshift.k3s.pg_migrate) - the StatefulSet's database (the workload's target) is copied back into the
    workload's source database in its Docker container. A rollback runs it to keep the writes made on the StatefulSet after
    cutover; a reverse split (stateful workloads moved off a cluster onto a VM) runs it to move the data out.
  - Runs on the controller (action plugin) for the inventory host that runs the source's Docker engine, like
    M(stateshift.k3s.pg_migrate) (SSH with the host's own settings, C(docker exec -i), never C(-t)); the StatefulSet's
    primary pod is read with C(kubectl exec -i).
  - "Preflight, read-only: both sides answer and hold the database; the source database's schema matches the
    StatefulSet's (the same tables, columns with the same types, and sequences; every difference is listed, with the fix:
    apply the same schema changes to the source database); both use the same encoding; the StatefulSet's database has no
    large objects; the source role may set C(session_replication_role) (a superuser, or on PostgreSQL 15+ a role granted
    C(SET ON PARAMETER session_replication_role)); C(pg_dump) on the source host can dump the source; the backup fits on the
    source host's disk (C(migration.backup_dir))."
  - "Versions: the rows travel as text C(COPY), which any server reads from any other, so a newer StatefulSet copies back into
    an older source (the usual case is an 18 StatefulSet back into a 15 container). Both sessions pin client_encoding,
    DateStyle, TimeZone, IntervalStyle, extra_float_digits and bytea_output, so values are written and read the same way."
  - Always takes a backup of the source database first (C(pg_dump -Fc) on the source host, written as C(.partial) and
    renamed when whole, sha256 recorded), named C(<workload>-<database>-<time>.before-copy-back.dump) under
    C(migration.backup_dir)/<workload>, whatever C(migration.backup) says.
  - "The copy is ONE transaction in one psql session on the source - C(BEGIN READ WRITE) (it works while
    C(stateshift.k3s.pg_source_access) keeps the source blocked with C(default_transaction_read_only), as long as the source
    user is the migration's own), C(session_replication_role = replica) (foreign keys and ordinary triggers do not fire
    while tables load), one C(TRUNCATE) of every table, per table C(COPY ... FROM STDIN) fed by C(COPY ... TO STDOUT) from
    the StatefulSet's pod at one exported snapshot, the source's populated materialized views refreshed, every sequence
    restarted and set to the StatefulSet's position (so its change rolls back too), then C(COMMIT) - written only after
    every table's stream ended cleanly. An interruption at any
    point (the controller, the SSH link, either psql, either server) leaves the source database exactly as it was, and a
    re-run does the whole copy-back again. Tables are locked on the source until C(COMMIT); C(lock_timeout) is 60 s, so an
    application still holding a lock makes the run fail with PostgreSQL's message instead of waiting."
  - The data passes through the controller in 1 MiB chunks, never decoded; progress lines (table, rows, bytes, rate) are
    printed every O(progress_interval) seconds and when each table is done.
  - "Verification as M(stateshift.k3s.pg_migrate) verifies (C(migration.verify): per-table row counts and checksums, object
    counts, sequences): the source database against the snapshot the copy read. Writes a JSON and a Markdown report
    (C(<workload>-<database>-copy-back)) to O(report_dir)."
  - "Records its state under the key C(<database>.copy-back) of the migration marker ConfigMap
    (C(<workload>-postgresql-migration)), beside the forward copy's key - C(copying), C(verified), C(verify_failed) or
    C(copied_unverified), with started, finished, the backup and the source's fingerprint. A re-run after a verified copy-back
    only re-verifies (C(changed=false)) and fails if the two databases differ now; O(force) copies back again."
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
        M(stateshift.k3s.validate_catalog) sets). Its StatefulSet's primary pod is copied from; its C(source) container is
        copied into.
    type: str
    required: true
  database:
    description: The database to copy back (the same name on both sides); defaults to each of the workload's
      C(source.databases) in turn, else its C(source.database).
    type: str
  force:
    description: Copy back again even though the record says an earlier copy-back was verified.
    type: bool
    default: false
  timeout:
    description:
      - The deadline in seconds of each step that moves or reads all the data (the backup, each table, each side of the
        verification).
    type: int
    default: 86400
  progress_interval:
    description: Seconds between progress lines while the backup is written and tables are copied back.
    type: float
    default: 5.0
  report_dir:
    description: Directory on the controller for C(<workload>-<database>-copy-back.json) and C(.md).
    type: path
attributes:
  check_mode:
    support: full
    description: Runs the read-only preflight and says what would be copied back.
  diff_mode:
    support: full
    description: Says what the source database would hold before and after.
notes:
  - The task's host must be the source's Docker host.
  - Writes to the StatefulSet's database during the copy-back are not copied (its rows are read at one snapshot) and make a
    later re-verification fail; block them first (the rollback phase does).
"""

EXAMPLES = r"""
- name: Validate the workload catalog
  stateshift.k3s.validate_catalog:

- name: Carry the writes made since cutover back into the source container
  stateshift.k3s.pg_copy_back:
    workload: invoicetron
    report_dir: /var/lib/stateshift/reports
"""

RETURN = r"""
msg:
  description: What was done and the verification's result.
  returned: always
  type: str
  sample: "invoicetron/invoicetron: copied back 9 tables (31295 rows) into source container 'invoicetron-db' on legacy-vm in 4s;
    verification passed"
verified:
  description: Whether the source database was verified equal to the StatefulSet's.
  returned: success
  type: bool
tables:
  description: Per table, the rows and checksum in the source database after the copy-back, and whether they match.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "public.invoices", "rows": 1200, "checksum": "-4631166351466325372", "match": true}]
totals:
  description: Tables and rows on both sides (C(rows_source) is the StatefulSet's, C(rows_target) the source database's).
  returned: success
  type: dict
backup:
  description: Path, host, sha256, size and format of the backup of the source database taken before the copy-back.
  returned: success
  type: dict
  sample: {"path": "/var/backups/stateshift/invoicetron/invoicetron-invoicetron-2026-12-02T031500Z.before-copy-back.dump",
           "sha256": "57aab033...", "bytes": 502555, "host": "legacy-vm", "format": "custom"}
source_version:
  description: The source server's version.
  returned: success
  type: str
target_version:
  description: The StatefulSet's server version.
  returned: success
  type: str
copy_back:
  description: The record in the migration marker (state, started, finished, backup, verified).
  returned: success
  type: dict
report:
  description: The verification report (tables, objects, sequences, mismatches, timings).
  returned: success
  type: dict
report_files:
  description: The JSON and Markdown files written.
  returned: success
  type: list
  elements: str
phase:
  description: Where a failed run stopped (catalog, preflight, backup, copy, verify); only C(verify) comes after C(COMMIT).
  returned: failure
  type: str
source_changed:
  description: Whether the source database was changed by the failed run (only when the failure came after C(COMMIT)).
  returned: failure
  type: bool
"""
