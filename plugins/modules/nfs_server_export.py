#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nfs_server_export
short_description: Export a directory of a Linux NFS server (kernel server or nfs-ganesha) for k3s volumes
version_added: 0.3.0
description:
  - "Runs on the NFS server, as root. Makes the exported directory when it is missing and keeps it owned by root - or,
    when O(squash) is not C(none), by the anonymous user root becomes, so that the squashed provisioner can make the
    volumes' directories in it. Writes the export into
    a file of its own - C(/etc/exports.d/stateshift-<name>.exports) for the kernel server, C(/etc/ganesha/exports.d/
    stateshift-<name>.conf) for nfs-ganesha - and applies it: C(exportfs -ra), or SIGHUP to ganesha (which re-reads its
    exports). A file that already holds the export is left alone and nothing is reloaded. When the reload fails, the
    files are put back as they were, so a re-run tries again."
  - "For ganesha the main configuration must read the folder: a C(%include) line for the file is added to
    O(ganesha_config) unless that file already has a C(%dir) line for the folder."
  - "Every problem with the input is reported at once before anything changes. Other exports and files are never
    touched."
author:
  - stateshift maintainers (@stateshift)
options:
  name:
    description: The storage backend's name; names the file.
    type: str
    required: true
  path:
    description: The directory to export.
    type: str
    required: true
  clients:
    description: Addresses or subnets allowed read/write (the k3s nodes).
    type: list
    elements: str
    required: true
  squash:
    description: C(none) (no_root_squash; databases chown their files), C(root) (root_squash) or C(all) (all_squash).
    type: str
    choices: [none, root, all]
    default: none
  anonymous_uid:
    description: The uid squashed users become.
    type: int
    default: 65534
  anonymous_gid:
    description: The gid squashed users become.
    type: int
    default: 65534
  nfs_version:
    description: The version the nodes mount with; ganesha serves 3 and 4 unless this is 3.
    type: str
    choices: ["3", "4", "4.1"]
    default: "4.1"
  node_addresses:
    description: The k3s nodes' addresses; each must be in one of O(clients), or nothing is written.
    type: list
    elements: str
    default: []
  config_dir:
    description: Where the export's file goes; C(/etc/exports.d) (kernel) or C(/etc/ganesha/exports.d) (ganesha) by default.
    type: path
  service:
    description: The NFS server that runs there.
    type: str
    choices: [kernel, ganesha]
    default: kernel
  ganesha_config:
    description: ganesha's main configuration file.
    type: path
    default: /etc/ganesha/ganesha.conf
  ganesha_pid_file:
    description: ganesha's pid file (the process sent SIGHUP).
    type: path
    default: /var/run/ganesha/ganesha.pid
attributes:
  check_mode:
    support: full
    description: Reports what would change; writes nothing and reloads nothing.
  diff_mode:
    support: full
    description: The export file before and after.
notes:
  - The ganesha path is tested in the lab against Debian's nfs-ganesha 4.3. The kernel path's file is tested by unit
    tests; C(exportfs -ra) needs the kernel NFS server, which the lab's kernel does not have.
"""

EXAMPLES = r"""
- name: Export /srv/k3s to the nodes
  stateshift.k3s.nfs_server_export:
    name: homelab-nfs
    path: /srv/k3s
    clients: [192.168.1.0/24]
"""

RETURN = r"""
file:
  description: The export's file.
  returned: always
  type: str
reloaded:
  description: Whether the server was told to re-read its exports.
  returned: always
  type: bool
"""

import os
import signal

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import linux_exports, nfs_share


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def ganesha_config_change(module, config, folder, file_name):
    """(ganesha's main configuration now, as it must be so that it reads the export's file); None when it already does."""
    current = read(config)
    if not current:
        module.fail_json(msg="ganesha_config = %r: does not exist; is nfs-ganesha installed? (Debian: apt install nfs-ganesha "
                             "nfs-ganesha-vfs)" % config)
    for line in current.splitlines():
        words = line.strip().split()
        if len(words) == 2 and words[0] in ("%dir", "%include") and words[1].strip('"').rstrip("/") in (folder, file_name):
            return None
    return current, current + ("" if current.endswith("\n") else "\n") + '%%include "%s"\n' % file_name


def reload_problem(module, service):
    """None once the server was told to re-read its exports; else what went wrong and its fix."""
    if service == "kernel":
        exportfs = module.get_bin_path("exportfs")
        if not exportfs:
            return ("exportfs is not installed: install nfs-kernel-server (Debian, Ubuntu) or nfs-utils (RHEL family), or "
                    "set service: ganesha if nfs-ganesha serves NFS here")
        rc, _out, err = module.run_command([exportfs, "-ra"])
        if rc != 0:
            return "exportfs -ra failed (%d): %s; is the NFS server running? (systemctl enable --now nfs-server)" % (rc, err.strip())
        return None
    pid_file = module.params["ganesha_pid_file"]
    try:
        with open(pid_file) as handle:
            os.kill(int(handle.read().split()[0]), signal.SIGHUP)
    except (OSError, ValueError, IndexError) as error:
        return ("cannot tell nfs-ganesha to re-read its exports (pid file %s: %s); is it running? (systemctl enable --now "
                "nfs-ganesha)" % (pid_file, error))
    return None


def write(file_name, content):
    staged = file_name + ".stateshift-new"
    with open(staged, "w") as handle:
        handle.write(content)
    os.chmod(staged, 0o644)
    os.replace(staged, file_name)


def restore(file_name, content):
    if content:
        write(file_name, content)
    elif os.path.exists(file_name):
        os.remove(file_name)


def directory_owner(export):
    """Who owns the exported directory: root, or the user squashed root becomes (else the provisioner, squashed, could
    not make the volumes' directories in it)."""
    return (0, 0) if export["squash"] == "none" else (export["anonymous_uid"], export["anonymous_gid"])


def apply(module, export, service, file_name, before, after, config_change):
    """Write what changed and tell the server; on a failed reload put the files back so a re-run tries again."""
    config = module.params["ganesha_config"]
    uid, gid = directory_owner(export)
    os.makedirs(export["path"], mode=0o755, exist_ok=True)
    os.chown(export["path"], uid, gid)
    os.makedirs(os.path.dirname(file_name), mode=0o755, exist_ok=True)
    if before != after:
        write(file_name, after)
    if config_change:
        write(config, config_change[1])
    problem = reload_problem(module, service)
    if problem:
        restore(file_name, before)
        if config_change:
            write(config, config_change[0])
        module.fail_json(msg=problem, file=file_name, reloaded=False)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            path=dict(type="str", required=True),
            clients=dict(type="list", elements="str", required=True),
            squash=dict(type="str", choices=["none", "root", "all"], default="none"),
            anonymous_uid=dict(type="int", default=65534),
            anonymous_gid=dict(type="int", default=65534),
            nfs_version=dict(type="str", choices=["3", "4", "4.1"], default="4.1"),
            node_addresses=dict(type="list", elements="str", default=[]),
            service=dict(type="str", choices=list(linux_exports.SERVICES), default="kernel"),
            config_dir=dict(type="path"),
            ganesha_config=dict(type="path", default="/etc/ganesha/ganesha.conf"),
            ganesha_pid_file=dict(type="path", default="/var/run/ganesha/ganesha.pid"),
        ),
        supports_check_mode=True,
    )
    export = {key: module.params[key] for key in ("name", "path", "clients", "squash", "anonymous_uid", "anonymous_gid",
                                                  "nfs_version")}
    service = module.params["service"]
    found = linux_exports.problems(export)
    outside = [node for node in module.params["node_addresses"]
               if not any(nfs_share.covers(client, node) for client in export["clients"])]
    if outside:
        found.append("clients = %r: do not contain the node address(es) %s; add the nodes' subnet (they could not mount the "
                     "export)" % (export["clients"], ", ".join(outside)))
    if found:
        module.fail_json(msg="the export cannot be written: " + "; ".join(found), errors=found)
    folder = module.params["config_dir"] or linux_exports.CONFIG_DIRS[service]
    file_name = os.path.join(folder, linux_exports.file_basename(service, export["name"]))
    config_change = ganesha_config_change(module, module.params["ganesha_config"], folder, file_name) if service == "ganesha" else None
    before, after = read(file_name), linux_exports.text(service, export)
    stat = os.stat(export["path"]) if os.path.isdir(export["path"]) else None
    directory_right = stat is not None and (stat.st_uid, stat.st_gid) == directory_owner(export)
    changed = before != after or not directory_right or config_change is not None
    result = {"changed": changed, "file": file_name, "reloaded": False,
              "diff": {"before": before, "after": after, "before_header": file_name, "after_header": file_name}}
    if changed and not module.check_mode:
        try:
            apply(module, export, service, file_name, before, after, config_change)
        except OSError as error:
            module.fail_json(msg="cannot write the export on this host: %s; run as root (nfs_storage_server_become: true, or "
                                 "become: true)" % error, file=file_name, reloaded=False)
        result["reloaded"] = True
    module.exit_json(**result)


if __name__ == "__main__":
    main()
