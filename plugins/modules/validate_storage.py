#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: validate_storage
short_description: Validate the storage catalog (NFS backends and StorageClasses) before anything changes
version_added: 0.3.0
description:
  - "Checks C(stateshift_storage): C(backends) - C(kind: synology) (C(server), C(share), C(volume), C(clients), C(squash),
    C(nfs_version), C(dsm: {url, username, password, validate_certs})), C(kind: linux_nfs) (exported by the storage
    phase on the inventory host C(host): C(server), C(path), C(clients), C(squash) none/root/all, C(anonymous_uid),
    C(anonymous_gid), C(service) kernel/ganesha, C(nfs_version)) or C(kind: nfs) (an export that exists: C(server),
    C(path), C(squash), C(nfs_version)) - and C(classes) (C(name), C(backend), C(reclaim_policy), C(archive_on_delete),
    C(path_pattern), C(allow_expansion), C(default)). Every problem at once, one line each:
    C(field = value: problem; fix)."
  - "Refuses a backend name or StorageClass name used twice, a class naming no declared backend, two default classes,
    a client that is not an address or subnet, and a path or client that would break a server's exports file."
  - Sets the fact O(fact_name) to the checked storage with defaults filled in, each backend's export C(path) and
    C(expected_squash) (none, root or all, as nfs_export_ready checks it), and no password (C(dsm.password) is left
    out). Runs on the controller; nothing is contacted or changed.
author:
  - stateshift maintainers (@stateshift)
options:
  storage:
    description: The storage catalog; defaults to the variable C(stateshift_storage).
    type: dict
  fact_name:
    description: The fact to set.
    type: str
    default: stateshift_storage_checked
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: Validate the storage catalog
  stateshift.k3s.validate_storage:
"""

RETURN = r"""
storage:
  description: The checked storage catalog (no password).
  returned: success
  type: dict
errors:
  description: Every problem, one line each.
  returned: failure
  type: list
  elements: str
"""
