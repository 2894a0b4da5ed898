# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage catalog (``stateshift_storage``): NFS backends and the StorageClasses they serve, checked at once.

    backends:                       # each: name, kind, nfs_version (3, 4, 4.1; default 4.1)
      - {name: nas, kind: synology, server: 192.168.1.5, share: k8s-storage, volume: /volume1,
         clients: [192.168.1.0/24], squash: root,
         dsm: {url: https://192.168.1.5:5001, username: stateshift, password: ..., validate_certs: true}}
      - {name: box, kind: linux_nfs, host: nfs-vm, server: 192.168.1.9, path: /srv/k3s, clients: [192.168.1.0/24],
         squash: none, service: kernel}    # exported by the storage phase on the inventory host nfs-vm (or ganesha)
      - {name: old-nfs, kind: nfs, server: 192.168.1.9, path: /srv/k3s}   # an export that exists already
    classes:                        # each: name, backend; defaults as classes.CLASS_DEFAULTS
      - {name: nfs-databases, backend: nas}

Every problem is reported at once as ``field = value: problem; fix``; the checked storage has defaults filled in,
each backend's export ``path`` (a Synology share's is volume/share), its ``expected_squash`` in nfs_export_ready's
words (none, root, all), and no password (``dsm.password`` left out).
"""

from __future__ import annotations

import copy
import posixpath

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import syntax
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import nfs_provisioner
from ansible_collections.stateshift.k3s.plugins.module_utils.storage import classes, export_probe, linux_exports, nfs_share, synology

KINDS = ("synology", "linux_nfs", "nfs")
DEFAULTS = {"synology": {"volume": "/volume1", "squash": "root", "nfs_version": "4.1"},
            "linux_nfs": {"squash": "none", "anonymous_uid": 65534, "anonymous_gid": 65534, "service": "kernel", "nfs_version": "4.1"},
            "nfs": {"squash": "none", "nfs_version": "4.1"}}


def _problem(errors, field, value, problem, fix):
    errors.append("%s = %r: %s; %s" % (field, value, problem, fix) if value is not None else "%s: %s; %s" % (field, problem, fix))


def _synology(backend, where, errors):
    for field, fix in (("share", "name the shared folder, e.g. k8s-storage"),
                       ("clients", "list the nodes' subnets, e.g. [192.168.1.0/24]")):
        if not backend.get(field):
            _problem(errors, "%s.%s" % (where, field), None, "is required", fix)
    for index, client in enumerate(backend.get("clients") or []):
        if nfs_share.network(client) is None:
            _problem(errors, "%s.clients[%d]" % (where, index), client, "is not an address or subnet", "write it like 192.168.1.0/24")
    if backend.get("squash") not in nfs_share.SQUASH:
        _problem(errors, "%s.squash" % where, backend.get("squash"), "is not one of %s" % ", ".join(nfs_share.SQUASH),
                 "use root (no mapping): databases chown their files to their own user")
    dsm = backend.get("dsm") if isinstance(backend.get("dsm"), dict) else {}
    for field in ("url", "username", "password"):
        if not dsm.get(field):
            _problem(errors, "%s.dsm.%s" % (where, field), None, "is required", "give DSM's address, an administrator account "
                     "without 2-step verification and its password (from 1Password)")
    if dsm.get("url") and syntax.http_url(dsm["url"], None):
        _problem(errors, "%s.dsm.url" % where, dsm["url"], "is not DSM's address", "write it like https://192.168.1.5:5001")
    found = synology.share_problems(backend.get("volume"), backend.get("share")) if backend.get("share") else []
    errors.extend("%s.%s" % (where, problem) for problem in found)
    if not found and backend.get("share"):
        backend["path"] = posixpath.join(backend["volume"], backend["share"])


def _linux_nfs(backend, where, errors):
    if not isinstance(backend.get("host"), str) or not backend["host"]:
        _problem(errors, "%s.host" % where, backend.get("host"), "is required", "name the NFS server's host in the inventory")
    if backend.get("service") not in linux_exports.SERVICES:
        _problem(errors, "%s.service" % where, backend.get("service"), "is not one of %s" % ", ".join(linux_exports.SERVICES),
                 "use kernel (nfs-kernel-server, nfs-utils) or ganesha (nfs-ganesha)")
    for field in ("anonymous_uid", "anonymous_gid"):
        if not isinstance(backend.get(field), int) or isinstance(backend.get(field), bool) or backend[field] < 0:
            _problem(errors, "%s.%s" % (where, field), backend.get(field), "is not a user or group id", "give a number, e.g. 65534")
    # name and path are checked with every backend's; a path that passes that check can still be unfit for exports
    shared = ("name", "path") if syntax.absolute_path(backend.get("path"), None) else ("name",)
    for problem in linux_exports.problems(backend):
        if not problem.startswith(shared):
            errors.append("%s.%s" % (where, problem))


def _backend(raw, index, errors):
    where = "backends[%d]" % index
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in KINDS:
        _problem(errors, "%s.kind" % where, kind, "is not one of %s" % ", ".join(KINDS), "use synology (set up through DSM), "
                 "linux_nfs (exported on an inventory host) or nfs (an export that exists)")
        return None
    backend = dict(DEFAULTS[kind], **raw)
    if kind == "synology":
        _synology(backend, where, errors)
    elif kind == "linux_nfs":
        _linux_nfs(backend, where, errors)
    elif backend.get("squash") not in export_probe.SQUASH:
        _problem(errors, "%s.squash" % where, backend.get("squash"), "is not one of %s" % ", ".join(export_probe.SQUASH),
                 "say how the export squashes (none: root stays root), so that the storage phase can check it")
    derived = ("path",) if kind == "synology" else ()  # a Synology export's path is volume/share, checked above
    errors.extend("%s.%s" % (where, problem) for problem in classes.backend_problems(backend) if not problem.startswith(derived))
    if isinstance(backend.get("name"), str):
        backend["objects"] = nfs_provisioner.names(backend)
    if backend.get("squash") in (nfs_share.SQUASH if kind == "synology" else export_probe.SQUASH):
        backend["expected_squash"] = export_probe.expected_squash(backend)
    return backend


def validate_storage(storage):
    """{'backends', 'classes'} checked, with defaults filled in and no password; or StorageInputError listing every problem."""
    errors = []
    storage = storage if isinstance(storage, dict) else {}
    backends = {}
    for index, raw in enumerate(storage.get("backends") or []):
        backend = _backend(raw, index, errors)
        if backend is None:
            continue
        if backend.get("name") in backends:
            _problem(errors, "backends[%d].name" % index, backend.get("name"), "is used twice", "give each backend its own name")
        backends[backend.get("name")] = backend
    if not storage.get("backends"):
        _problem(errors, "backends", None, "is empty", "declare the NAS or NFS server, e.g. {name: nas, kind: synology, ...}")
    checked_classes = classes.class_problems(storage.get("classes") or [], errors)
    for index, item in enumerate(checked_classes):
        if item.get("backend") not in backends:
            _problem(errors, "classes[%d].backend" % index, item.get("backend"), "is not a declared backend",
                     "use one of: %s" % (", ".join(sorted(map(str, backends))) or "none declared"))
    if errors:
        raise classes.StorageInputError(errors)
    public = copy.deepcopy(backends)
    for backend in public.values():
        backend.get("dsm", {}).pop("password", None)
    return {"backends": list(public.values()), "classes": checked_classes}
