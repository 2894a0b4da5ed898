#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nfs_export_ready
short_description: Check from this host that an NFS export works for a database, and say why not
version_added: 0.3.0
description:
  - "Run on every k3s node (the storage phase delegates it to each host of C(stateshift_k3s_nodes)). Speaks NFS from
    userspace through libnfs: no kernel NFS client and no mount are needed, and nothing is mounted on the node."
  - "Steps, in order, each with a diagnosis and its fix when it fails: the server answers (TCP 2049, and 111 for NFSv3:
    no route, refused, silent); the export mounts for this client (missing or not allowed for this client); root - the
    provisioner - creates a directory (read-only, root squashed without write permission); root chowns a file to
    O(uid); O(uid) creates, writes, fsyncs and chowns a file, and O(uid) + 1 creates one; the owners the server reports
    match O(squash) (and O(anonymous_uid))."
  - "Run it as root (the role becomes root): libnfs uses a privileged source port only as root, and servers refuse
    other ports by default."
  - "The probe directory (C(.stateshift-probe-*) in the export's root) is removed at the end. In check mode only the
    first two steps run: nothing is written."
  - "Needs libnfs on the host (C(libnfs13) on Debian 12 and Ubuntu, C(libnfs14) on Debian 13, C(libnfs) from EPEL on RHEL
    family, C(libnfs) on openSUSE); libnfs speaks NFSv4.0, so a 4.1 export is checked over 4.0."
author:
  - stateshift maintainers (@stateshift)
options:
  server:
    description: The NFS server's address, as the nodes reach it.
    type: str
    required: true
  path:
    description: The exported path.
    type: str
    required: true
  nfs_version:
    description: The NFS version the StorageClass mounts with.
    type: str
    choices: ["3", "4", "4.1"]
    default: "4.1"
  uid:
    description: The database's user id (postgres and mongo images use 999).
    type: int
    default: 999
  gid:
    description: The database's group id.
    type: int
    default: 999
  squash:
    description: How the catalog says the export squashes; C(none) is root kept as root (Synology 'No mapping').
    type: str
    choices: [none, root, all]
    default: none
  anonymous_uid:
    description: With O(squash=all), the uid every user must be mapped to.
    type: int
  timeout:
    description: Seconds each step may take.
    type: int
    default: 10
attributes:
  check_mode:
    support: partial
    details: Checks that the server answers and the export mounts; writes nothing (no write, fsync, chown or squash check).
    description: Can run in check mode.
  diff_mode:
    support: none
    description: Nothing changes on the server.
notes:
  - Tested against Debian's nfs-ganesha 4.3 (VFS FSAL) in the lab. A Synology NAS and the kernel NFS server are reached
    the same way (NFS is the protocol), but were not available here.
"""

EXAMPLES = r"""
- name: Check the NAS export from every node
  stateshift.k3s.nfs_export_ready:
    server: 192.168.1.5
    path: /volume1/k8s-storage
    squash: none
  delegate_to: "{{ item }}"
  loop: "{{ groups['stateshift_k3s_nodes'] }}"
"""

RETURN = r"""
client_address:
  description: This host's address as the server sees it (the address the export's client list must allow).
  returned: when the server answered
  type: str
checks:
  description: The steps that passed.
  returned: always
  type: list
  elements: str
observed:
  description: "C(squash) as the server applies it (none, root, all) and the owners it reported: C(root_file_owner),
    C(root_chown_owner) (after root chowned the file to O(uid)), C(database_file_owner), C(other_user_owner) (of a file
    made by O(uid) + 1), C(database_chown_refused)."
  returned: success, not in check mode
  type: dict
warnings_found:
  description: What works but will bite (root squashed; a probe directory that could not be removed).
  returned: always
  type: list
  elements: str
diagnosis:
  description: Why the export does not work for a database.
  returned: failure
  type: str
fix:
  description: What to change.
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import export_probe, libnfs


def main():
    module = AnsibleModule(
        argument_spec=dict(
            server=dict(type="str", required=True),
            path=dict(type="str", required=True),
            nfs_version=dict(type="str", choices=["3", "4", "4.1"], default="4.1"),
            uid=dict(type="int", default=999),
            gid=dict(type="int", default=999),
            squash=dict(type="str", choices=list(export_probe.SQUASH), default="none"),
            anonymous_uid=dict(type="int"),
            timeout=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params["path"].startswith("/"):
        module.fail_json(msg="path = %r: is not an absolute path; give the exported path, e.g. /volume1/k8s-storage" % params["path"],
                         checks=[])
    try:
        result = export_probe.probe(params["server"], params["path"], params["nfs_version"], params["uid"], params["gid"],
                                    params["squash"], params["anonymous_uid"], params["timeout"], write=not module.check_mode)
    except libnfs.LibraryMissing as error:
        module.fail_json(msg=str(error), checks=[])
    except export_probe.ProbeFailed as failure:
        module.fail_json(msg="%s:%s is not ready for a database: %s" % (params["server"], params["path"], failure),
                         diagnosis=failure.diagnosis, fix=failure.fix, checks=failure.checks)
    warnings = result.pop("warnings")
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, warnings_found=warnings, **result)


if __name__ == "__main__":
    main()
