#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mongo_migrate
short_description: Copy a MongoDB database from its old container into a workload's replica set, verified
version_added: 0.2.0
description:
  - Runs on the controller (action plugin) for the inventory host that runs the old container's Docker engine; it reaches
    that host with the host's own SSH settings and runs C(docker exec -i) there (never C(-t)).
  - "Before any write: the container has C(mongodump) (else it is named as not a MongoDB server) and its server answers -
    the archive's prelude is read and the dump stopped, listing the database's collections (none: refused, naming
    C(source.database)) and the server's version; the replica set's primary answers as the root user (C(auth.user)
    with the password of C(auth.secret); asked of the StatefulSet's first pod, whose C(hello) names the primary when
    it is
    not), is not older than the source, holds no time-series collection (refused: not built), and its database is
    empty, or was left by a run
    of this module, or O(force) is set; the container's volumes fit on the host's disk for the backup."
  - "Backup: C(mongodump --archive --gzip) written on the source host under C(migration.backup_dir) as C(.partial) and
    renamed once whole, sha256 recorded."
  - "Copy: the database dropped on the target (it is empty or this module's), then C(mongodump --archive --gzip) in the old
    container streamed through the controller (SSH to C(kubectl exec -i), 1 MiB chunks) into C(mongorestore --drop
    --noIndexRestore --stopOnError) in the primary pod; the controller reads the archive as it passes, so what the
    verification compares with is exactly what was restored. The indexes are then created from the archive's metadata
    (C(createIndexes), one call per collection)."
  - "Verification (C(migration.verify)): C(checksum) compares per collection the document count and an order-independent
    digest of the documents' BSON (the sum of their SHA-256s) read back from the target with pymongo through
    C(kubectl port-forward), and the number of indexes (views hold no documents and are left out); C(count) only the
    counts; C(none) nothing, and says so. Any
    mismatch fails the task; a JSON and a Markdown report go to O(report_dir)."
  - "Records its state in the ConfigMap C(<workload>-mongodb-migration) as M(stateshift.k3s.pg_migrate) does: C(copying),
    C(verified), C(verify_failed) or C(copied_unverified), with the target's fingerprint (C(dbHash) per collection,
    or on a
    server without it the documents' digests). A re-run after an interruption redoes the copy; one after a finished
    copy only re-verifies (a fresh dump
    read on the controller, nothing restored) and reports C(changed=false); O(force) never replaces a verified copy nor
    one written to since."
  - "MongoDB has no exported snapshot: mongodump reads the collections one after the other. Copy while the application
    is stopped, or expect the verification of a re-run to differ where it wrote since; the cutover phase stops the
    application's Compose services."
  - Users of the old server are not copied (a note says so); the replica set's root user is the catalog's.
  - "Secrets: the tools log in with a C(--config) file written by mktemp (mode 0600) from the container's own
    C(MONGO_INITDB_ROOT_USERNAME)/C(_PASSWORD) and removed when the tool exits; the target's password is read from its
    Secret into pymongo, never an argv or a log line."
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
requirements:
  - kubectl and ssh on the controller, and pymongo there; MongoDB's database tools (mongodump, mongorestore) in the old
    container and in the target image (the official mongo image has them).
options:
  workload:
    description:
      - The name of a MongoDB workload of the validated catalog (the fact C(stateshift_catalog); run
        M(stateshift.k3s.validate_catalog) earlier in the play).
      - "Everything else comes from that workload: C(namespace), C(auth), C(source.{host,container,database}),
        C(migration.{jobs,verify,transport,backup,backup_dir}); the target is its StatefulSet's first pod."
    type: str
    required: true
  force:
    description:
      - For this run only, replace a target database that is not empty and that this module did not write, or copy
        again over one of its copies that failed verification or was not verified.
      - Never replaces a verified copy, nor one written to since the copy (its fingerprint changed).
    type: bool
    default: false
  timeout:
    description: Deadline in seconds of each step that moves or reads all the data (the backup, the copy, each side of
      the verification).
    type: int
    default: 86400
  progress_interval:
    description: Seconds between progress lines while the backup is written and the documents are copied.
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
    description: Shows the target database's collections before and what would be copied.
notes:
  - The task's host must be the old container's Docker host.
  - Tested against FerretDB 1.24 (MongoDB's wire protocol) as both the old server and the target, with MongoDB's own
    Go-built mongodump and mongorestore; no MongoDB server can run in the project's lab.
"""

EXAMPLES = r"""
- name: Validate the workload catalog
  stateshift.k3s.validate_catalog:

- name: Copy vinylvault's database into its replica set
  stateshift.k3s.mongo_migrate:
    workload: vinylvault
    report_dir: /var/lib/stateshift/reports
"""

RETURN = r"""
msg:
  description: What was done and the verification's result.
  returned: always
  type: str
  sample: "vinylvault/vault: copied 2 collections (151.4 KiB) in 9s (40.2 KiB/s) via stream; verification passed"
transport:
  description: Always C(stream).
  returned: success
  type: str
backup:
  description: Path, host, sha256 and size of the backup taken before the copy.
  returned: success
  type: dict
report:
  description: The verification report (collections as C(tables) with document counts as C(rows) and digests as
    C(checksum), indexes under C(objects), mismatches, timings, notes).
  returned: success
  type: dict
report_files:
  description: The JSON and Markdown files written.
  returned: success
  type: list
  elements: str
summary:
  description: Collections (C(tables)) and document bytes copied, the source server's version.
  returned: success
  type: dict
phase:
  description: Where a failed run stopped (catalog, preflight, transport, backup, copy).
  returned: failure
  type: str
"""
