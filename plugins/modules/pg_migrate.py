#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_migrate
short_description: Copy a PostgreSQL database from a Docker host (or a DSN) into a workload's StatefulSet, verified
version_added: 0.1.0
description:
  - Runs on the controller (action plugin) for the inventory host that runs the source's Docker engine; it reaches
    that host with the host's own SSH settings and runs C(docker exec -i) there (never C(-t), so dumps stay binary-safe).
  - "Before any write: the source answers and has C(pg_dump), the database exists, the target pod answers, the
    target is not older than the source, the target database is empty (or was left by a run of this module, or
    O(force) is set), and the backup fits on the source host's disk."
  - Takes an exported snapshot on the source; the backup (C(pg_dump -Fc), sha256 recorded), the copy and the
    verification all read that snapshot, so they agree even while the source keeps taking writes. The source is
    never written to.
  - "Copies roles and memberships read as data (pg_roles, pg_authid when readable, pg_auth_members) and generated as SQL
    with quoted names; no SUPERUSER, REPLICATION, BYPASSRLS or CREATEROLE and no membership in
    pg_execute_server_program, pg_read_server_files, pg_write_server_files or pg_signal_backend unless
    C(migration.keep_privileged_roles); roles the target has are left alone. Creates the database afresh (same encoding,
    locale and locale provider, or refused in preflight when the target lacks the locale), restores the schema without indexes, copies
    the tables C(migration.jobs) at a time (each table C(TRUNCATE) + C(COPY FREEZE) in one transaction, committed only when the
    source side ended cleanly), sets the sequences, builds indexes and constraints in parallel, runs ANALYZE.
    Restore-friendly settings are applied with C(ALTER SYSTEM) for the copy and put back afterwards."
  - "Transports: C(job) runs the copy in a Job in the target namespace that connects to the source directly, so the
    data crosses neither the API server nor the controller; C(stream) relays the data through the controller (SSH +
    docker exec to kubectl exec) in 1 MiB chunks. C(auto) streams tables of less than 64 MiB in all (a Job's pod
    takes longer to start than that copy); for more it tries C(job) first: it starts the Job and picks the first
    source address its pod can log in to, otherwise falls back to C(stream)."
  - Prints progress (tables, bytes, rate, ETA) every O(progress_interval) seconds while tables are copied.
  - "Errors that a catalog field can fix name it: C(workload 'x' (stateshift_workloads[i]): field = value: problem; fix)."
  - "Records its state in the ConfigMap C(<workload>-postgresql-migration): C(copying), C(verified), C(verify_failed) or
    C(copied_unverified) (C(migration.verify: none)), with the target's fingerprint (row writes and relation files) once
    the copy finished. A re-run after an interruption (C(copying)) redoes the copy from scratch (the target is then known
    to be this module's); a re-run after a finished copy only re-verifies and reports C(changed=false), and one that
    failed verification is not copied again without O(force)."
  - "Verification compares per-table row counts and order-independent checksums, object counts and sequences, writes
    a JSON and a Markdown report to O(report_dir), and fails the task on any mismatch. With C(migration.verify: none) the
    result and the report say C(not verified), never C(passed)."
  - Large objects (C(pg_largeobject)) are not copied; a source that has some is refused before any write (move them
    into C(bytea) columns first).
  - "Sees all the data or refuses: every session runs with C(row_security = off) and C(extra_float_digits = 3); a source
    role that row security applies to (neither superuser nor BYPASSRLS) is refused in preflight. Unlogged tables are
    recreated unlogged, partitioned tables are copied through their leaf partitions only (no row twice), generated
    columns are computed again (left out of the COPY), extensions' configuration tables are copied, and every
    sequence (owned by a column or not) is set and verified."
  - "Secrets: the source password (C(source.password), or a C(source.dsn)'s own) is read from the variable
    C(stateshift_workloads), never from the C(stateshift_catalog) fact; it never appears on a command line (PGPASSWORD
    in the child's environment, the first stdin line over SSH), in a result or in a message (verifiers and password
    literals are redacted from program output). The Job's Secret is applied server-side, owned by the Job and removed
    on every failure. Temporary files are private (umask 077) and removed on every path."
  - "Network: the Job sends the source password only to C(source.address) or to addresses the Docker host reports for
    the container, never to a guessed host; its connections (and a DSN's) use C(source.sslmode) and
    C(source.require_auth) (libpq 16+)."
  - Every program and Kubernetes call has a deadline (300 seconds for small calls, O(timeout) for the ones that move or
    read all the data) and a message naming what hung; clean-up after a failure never hides the failure.
  - "C(migration.mode: online): preflight also checks C(wal_level=logical) on the source (the fix for a Compose service:
    C(command: [\"postgres\", \"-c\", \"wal_level=logical\"]) and a restart of the container), a free replication slot
    and WAL sender, that every table has a primary key or a replica identity (those without are listed, with the fix
    C(ALTER TABLE .. REPLICA IDENTITY FULL) or a primary key) and that the source user may replicate. After the backup,
    roles, database and the whole schema (indexes included), it creates a publication on the source and a subscription
    on the target - from the migration Job's pod, which reads the source password from its Secret (psql C(\\getenv)), so the
    password is in no argv and no log - waits for the initial sync with progress and marks the marker C(replicating)
    (publication, subscription, slot, LSN). It needs the C(job) transport. A re-run while replicating reports the lag
    and changes nothing. M(stateshift.k3s.pg_final_sync) ends the replication at cutover."
  - PostgreSQL workloads only; M(stateshift.k3s.mongo_migrate) moves MongoDB ones on the same steps.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
requirements:
  - kubectl and ssh on the controller; for a C(source.dsn), the PostgreSQL client programs on the controller.
options:
  workload:
    description:
      - The name of a PostgreSQL workload of the validated catalog (the fact C(stateshift_catalog) that
        M(stateshift.k3s.validate_catalog) sets; run it earlier in the play).
      - "Everything else comes from that workload: C(namespace), C(image), C(auth), C(source.{container,user,password,dsn,address}),
        C(migration.{jobs,verify,transport,backup,backup_dir,keep_privileged_roles}); the target is its StatefulSet's
        primary pod."
    type: str
    required: true
  database:
    description:
      - The database to copy; the target database gets the same name.
      - Defaults to each database of the workload's C(source.databases) in turn (the roles copied once, one result), else
        its C(source.database) (for a DSN source without one, its first C(databases) entry).
    type: str
  force:
    description:
      - For this run only, replace a target database that is not empty and that this module did not write, or copy
        again over one of its copies that failed verification or was not verified.
      - Never replaces a copy the marker says was verified, nor one something wrote to after the copy finished (its
        fingerprint changed); those are refused with what to do (drop the database yourself and delete its marker key).
      - A one-run choice only; the catalog has no C(migration.force) (refused). The migrate playbook passes
        C(-e stateshift_force=true) here.
    type: bool
    default: false
  restore_settings:
    description: Settings applied with ALTER SYSTEM during the copy (reload-only settings); defaults to a tuned set.
    type: dict
  timeout:
    description:
      - Seconds after which the Job's pod ends by itself, and the deadline of each step that moves or reads all the data
        (the backup, each table's copy, the schema restore, the index build, each side of the verification).
    type: int
    default: 86400
  progress_interval:
    description: Seconds between progress lines while the backup is written and tables are copied.
    type: float
    default: 5.0
  report_dir:
    description: Directory on the controller for C(<workload>-<database>.json) and C(.md).
    type: path
attributes:
  check_mode:
    support: full
    description: Runs the read-only preflight and reports what would be copied.
  diff_mode:
    support: full
    description: Shows the target database before (absent, empty or its contents) and after.
notes:
  - The task's host must be the source's Docker host (or C(localhost) for a DSN source).
  - Runs C(DROP DATABASE ... WITH (FORCE)) on the target database before copying into it; that is why a non-empty
    target is refused without O(force).
"""

EXAMPLES = r"""
- name: Validate the workload catalog
  stateshift.k3s.validate_catalog:

- name: Copy invoicetron into its StatefulSet
  stateshift.k3s.pg_migrate:
    workload: invoicetron
    report_dir: /var/lib/stateshift/reports
"""

RETURN = r"""
msg:
  description: What was done and the verification's result (one sentence per database, joined by C(; )).
  returned: always
  type: str
  sample: "invoicetron/invoicetron: copied 9 tables (3.6 MiB) in 7s (2.5 MiB/s) via job; verification passed"
databases:
  description: With C(source.databases), each database's own result (the keys below), by name; the others are then
    not returned at the top level.
  returned: when the workload has C(source.databases) and O(database) is not set
  type: dict
transport:
  description: The transport used, C(job) or C(stream).
  returned: success
  type: str
  sample: job
backup:
  description: Path, host, sha256 and size of the backup taken before the copy.
  returned: success
  type: dict
  sample: {"path": "/var/backups/stateshift/invoicetron/invoicetron-invoicetron-2026-11-22T042747Z.dump",
           "sha256": "57aab033...", "bytes": 502555, "host": "legacy-vm", "format": "custom"}
report:
  description: The verification report (tables with rows and checksums, objects, sequences, mismatches, timings).
  returned: success
  type: dict
report_files:
  description: The JSON and Markdown files written.
  returned: success
  type: list
  elements: str
summary:
  description: Tables and bytes of the source, versions.
  returned: success
  type: dict
mode:
  description: C(online) for a run of C(migration.mode online) (which returns no C(report) - it is verified by
    M(stateshift.k3s.pg_final_sync)).
  returned: success in online mode
  type: str
lag_bytes:
  description: Online mode - how far the subscription's confirmed position is behind the source's current WAL position.
  returned: success in online mode
  type: int
marker:
  description: Online mode - the marker's record (C(replicating), publication, subscription, slot, LSNs).
  returned: success in online mode
  type: dict
phase:
  description: Where a failed run stopped (catalog, preflight, transport, backup, copy, replicate).
  returned: failure
  type: str
"""
