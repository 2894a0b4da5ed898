# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One NFS export of a Linux server, as the file the server reads: a line of exports(5) for the kernel server
(/etc/exports.d/*.exports, applied by exportfs -ra) or an EXPORT block for nfs-ganesha (reloaded with SIGHUP).

An export is {name, path, clients, squash (none, root, all), anonymous_uid, anonymous_gid, nfs_version}; the same
export gives the same text, so a file that already holds it is left alone.
"""

from __future__ import annotations

import ipaddress
import re
import zlib

SERVICES = ("kernel", "ganesha")
CONFIG_DIRS = {"kernel": "/etc/exports.d", "ganesha": "/etc/ganesha/exports.d"}
KERNEL_SQUASH = {"none": "no_root_squash", "root": "root_squash", "all": "all_squash"}
GANESHA_SQUASH = {"none": "No_Root_Squash", "root": "Root_Squash", "all": "All_Squash"}
HEADER = "# Managed by stateshift.k3s (storage backend %s): changes here are replaced by the storage phase.\n"
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+-]*$")
_SAFE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def file_basename(service, name):
    return "stateshift-%s.%s" % (name, "exports" if service == "kernel" else "conf")


def _client_problem(client):
    if not isinstance(client, str):
        return "is not an address or subnet"
    if client == "*":
        return None
    try:
        ipaddress.ip_network(client, strict=False)
    except ValueError:
        return "is not an address or subnet (host names are not taken: the nodes' addresses are checked against these)"
    return None


def problems(export):
    """What makes the export impossible to write safely into a server's configuration, one line each."""
    found = []
    if not isinstance(export.get("name"), str) or not _SAFE_NAME.match(export["name"]):
        found.append("name = %r: is not a short name; use a-z, 0-9 and '-', e.g. homelab-nfs" % export.get("name"))
    if not _SAFE_PATH.match(export.get("path") or "") or ".." in export["path"].split("/"):
        found.append("path = %r: is not a plain absolute path; use letters, digits and . _ - + / only, e.g. /srv/k3s"
                     % export.get("path"))
    for index, client in enumerate(export.get("clients") or []):
        problem = _client_problem(client)
        if problem:
            found.append("clients[%d] = %r: %s; write it like 192.168.1.0/24" % (index, client, problem))
    if not export.get("clients"):
        found.append("clients: is empty; list the nodes' addresses or subnet, e.g. [192.168.1.0/24]")
    if export.get("squash") not in KERNEL_SQUASH:
        found.append("squash = %r: is not one of none, root, all; use none (databases chown their files)" % export.get("squash"))
    return found


def kernel_text(export):
    options = ["rw", "sync", "no_subtree_check", KERNEL_SQUASH[export["squash"]]]
    if export["squash"] != "none":
        options += ["anonuid=%d" % export["anonymous_uid"], "anongid=%d" % export["anonymous_gid"]]
    clients = " ".join("%s(%s)" % (client, ",".join(options)) for client in export["clients"])
    return HEADER % export["name"] + '"%s" %s\n' % (export["path"], clients)


def export_id(name):
    """A stable ganesha Export_Id for a backend name, in 100..60099 (ids 0 and 1 are ganesha's own)."""
    return 100 + zlib.crc32(name.encode()) % 60000


def ganesha_text(export):
    protocols = "3" if str(export.get("nfs_version")) == "3" else "3, 4"
    lines = [
        "EXPORT {",
        "    Export_Id = %d;" % export.get("export_id", export_id(export["name"])),
        '    Path = "%s";' % export["path"],
        '    Pseudo = "%s";' % export["path"],
        "    Protocols = %s;" % protocols,
        "    Transports = TCP;",
        "    SecType = sys;",
        "    Access_Type = None;",
        "    Squash = %s;" % GANESHA_SQUASH[export["squash"]],
        "    Anonymous_Uid = %d;" % export["anonymous_uid"],
        "    Anonymous_Gid = %d;" % export["anonymous_gid"],
        "    FSAL { Name = VFS; }",
    ]
    lines += ['    CLIENT { Clients = %s; Access_Type = RW; }' % client for client in export["clients"]]
    return HEADER % export["name"] + "\n".join([*lines, "}"]) + "\n"


def text(service, export):
    return kernel_text(export) if service == "kernel" else ganesha_text(export)
