#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: synology_nfs
short_description: A Synology NAS's NFS service, shared folder and NFS client rules for k3s volumes, through the DSM Web API
version_added: 0.3.0
description:
  - Logs in to DSM (C(SYNO.API.Auth), session C(stateshift), a sid and a SynoToken), reads the NFS settings
    (C(SYNO.Core.FileServ.NFS) C(get)), the shared folders (C(SYNO.Core.Share) C(list)) and the share's NFS rules
    (C(SYNO.Core.FileServ.NFS.SharePrivilege) C(load)), then writes only what differs, and logs out.
  - "NFS service: turned on, with NFSv4 for O(nfs_version) C(4) and NFSv4.1 (C(enabled_minor_ver) 1) for C(4.1); never
    turned off or down. DSM's C(set) takes the whole settings object, so the object read is sent back with those
    fields changed."
  - "Shared folder: created on O(volume) when missing (no recycle bin, not hidden). One that exists on another volume is
    refused, naming the volume it is on."
  - "Rules: C(save) replaces the share's whole rule list, so the list sent keeps every rule for a client O(rules) does not
    name, and the rules of O(rules) replace those for the same clients. A kept rule whose client overlaps one of
    O(rules) (a subnet holding an asked-for address, or C(*)) is refused - which of them applies would depend on DSM's
    order - as is a node of O(node_addresses) that no read-write rule covers."
  - Every check passes before anything is written; a re-run on a NAS that is already so reports C(changed=false) (rules
    compared by client, whatever order DSM lists them in). A DSM refusal after a first write fails with
    C(changed=true) and the writes made; a re-run finishes the job.
  - DSM's error codes are named with their fix (a wrong password, 2-step verification, a blocked address, a missing volume).
author:
  - stateshift maintainers (@stateshift)
options:
  url:
    description: DSM's address, e.g. C(https://192.168.1.5:5001).
    type: str
    required: true
  username:
    description: A DSM account of the administrators group without 2-step verification.
    type: str
    required: true
  password:
    description: Its password (from 1Password through the secrets phase); never logged.
    type: str
    required: true
  validate_certs:
    description: Check DSM's HTTPS certificate (turn off for DSM's self-signed one only on a trusted network).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each DSM call.
    type: int
    default: 30
  volume:
    description: The volume of the shared folder.
    type: str
    default: /volume1
  share:
    description: The shared folder's name; the export is C(<volume>/<share>).
    type: str
    required: true
  description:
    description: Description of a shared folder this module creates.
    type: str
    default: Kubernetes persistent volumes (stateshift.k3s)
  nfs_version:
    description: The highest NFS version to turn on (never turned down).
    type: str
    choices: ["3", "4", "4.1"]
    default: "4.1"
  rules:
    description: The share's NFS client rules this module manages (by client).
    type: list
    elements: dict
    required: true
    suboptions:
      client:
        description: An address, a subnet (C(192.168.1.0/24)), a host name or C(*).
        type: str
        required: true
      privilege:
        description: C(rw) or C(ro).
        type: str
        choices: [rw, ro]
        default: rw
      squash:
        description:
          - C(root) no mapping; C(admin)/C(guest) map root; C(all_admin)/C(all_guest) map every user.
          - Databases change the owner of their files to their own user (999), which only C(root) (no mapping) lets
            them do; with C(all_admin) that C(chown) fails with C(Operation not permitted).
        type: str
        choices: [root, admin, guest, all_admin, all_guest]
        default: root
      async:
        description: Asynchronous writes (faster, may lose acknowledged writes on a power cut; off for databases).
        type: bool
        default: false
      insecure:
        description: Allow connections from non-privileged ports.
        type: bool
        default: true
      crossmnt:
        description: Allow clients to access mounted subfolders.
        type: bool
        default: true
      security:
        description: The security flavor.
        type: str
        choices: [sys, kerberos, kerberos_integrity, kerberos_privacy]
        default: sys
  node_addresses:
    description: Addresses of the k3s nodes that mount the share; each must be covered by a read-write rule.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Reads DSM and reports what would change.
  diff_mode:
    support: full
    description: The NFS settings, shared folder and rule list before and after.
notes:
  - Tested against a double of the DSM Web API (C(tests/doubles/dsm_webapi.py)) written from its documented requests and
    answers; not against a real NAS.
"""

EXAMPLES = r"""
- name: NFS share for k3s volumes on the NAS
  stateshift.k3s.synology_nfs:
    url: https://192.168.1.5:5001
    username: stateshift
    password: "{{ lookup('env', 'DSM_PASSWORD') }}"
    share: k8s-storage
    rules:
      - client: 192.168.1.0/24
    node_addresses: [192.168.1.21, 192.168.1.22]
"""

RETURN = r"""
actions:
  description: What was (or would be) written, in order.
  returned: always
  type: list
  elements: str
  sample: ["create shared folder k8s-storage on /volume1", "turn on NFS (v4.1)", "save 1 NFS rule(s) of k8s-storage"]
export:
  description: The path clients mount.
  returned: success
  type: str
  sample: /volume1/k8s-storage
rules:
  description: The share's rule list after the run.
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import nfs_share, synology
from ansible_collections.stateshift.k3s.plugins.module_utils.storage.dsm import DsmError, Session


def main():
    module = AnsibleModule(argument_spec=synology.ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    problems = synology.option_problems(params)
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False)
    try:
        with Session(params["url"], params["username"], params["password"], params["validate_certs"], params["timeout"]) as dsm:
            outcome = synology.converge(dsm, params, module.check_mode)
    except synology.PartlyDone as exc:
        module.fail_json(msg=str(exc), changed=True, actions=exc.actions)
    except (DsmError, nfs_share.PlanError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(changed=bool(outcome["actions"]), actions=outcome["actions"], export=outcome["export"], rules=outcome["rules"],
                     diff=outcome["diff"] if module._diff else None)


if __name__ == "__main__":
    main()
