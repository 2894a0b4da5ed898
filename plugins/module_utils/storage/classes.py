# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An NFS export and the StorageClasses it serves, as the nfs_storage_objects filter takes them: every problem found at
once, each naming the field, the value and the fix; defaults filled in (Retain, archiveOnDelete, one directory per
namespace and claim, expansion allowed, not the default class)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import syntax
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.nfs_provisioner import PATH_PATTERN

NFS_VERSIONS = ("3", "4", "4.1")
RECLAIM = ("Retain", "Delete")
CLASS_DEFAULTS = {"reclaim_policy": "Retain", "archive_on_delete": True, "path_pattern": PATH_PATTERN, "allow_expansion": True,
                  "default": False}
BACKEND_CHECKS = {"name": (syntax.dns_label, "use a short name of a-z, 0-9 and '-', e.g. nas"),
                  "server": (syntax.host_port, "give the NFS server's address, e.g. 192.168.1.5"),
                  "path": (syntax.absolute_path, "give the exported path, e.g. /volume1/k8s-storage")}


class StorageInputError(Exception):
    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("the NFS storage has %d problem(s):\n- %s" % (len(self.errors), "\n- ".join(self.errors)))


def backend_problems(backend):
    """The export's problems, each as ``field = value: problem; fix`` (field relative to the backend)."""
    problems = []
    for field, (rule, fix) in BACKEND_CHECKS.items():
        problem = "is required" if field not in backend else rule(backend[field], None)
        if problem:
            problems.append("%s = %r: %s; %s" % (field, backend.get(field), problem, fix))
    if str(backend.get("nfs_version")) not in NFS_VERSIONS:
        problems.append("nfs_version = %r: is not one of %s; use 4.1 unless the server lacks it"
                        % (backend.get("nfs_version"), ", ".join(NFS_VERSIONS)))
    return problems


def class_problems(items, errors):
    """The classes with defaults filled in; their problems appended to ``errors``."""
    filled = [dict(CLASS_DEFAULTS, **item) if isinstance(item, dict) else {} for item in items]
    if not filled:
        errors.append("classes: is empty; give at least one StorageClass, e.g. {name: nfs-databases}")
    seen = set()
    for index, item in enumerate(filled):
        where = "classes[%d]" % index
        name = item.get("name")
        if name is None or syntax.storage_class(name, None):
            errors.append("%s.name = %r: is not a StorageClass name; use a-z, 0-9, '-' and '.'" % (where, name))
        elif name in seen:
            errors.append("%s.name = %r: is used twice; give each StorageClass its own name" % (where, name))
        seen.add(name)
        if item.get("reclaim_policy") not in RECLAIM:
            errors.append("%s.reclaim_policy = %r: is not Retain or Delete (Retain keeps a database's volume when its claim "
                          "goes)" % (where, item.get("reclaim_policy")))
        for flag in ("archive_on_delete", "allow_expansion", "default"):
            if not isinstance(item.get(flag), bool):
                errors.append("%s.%s = %r: is not true or false" % (where, flag, item.get(flag)))
        if not isinstance(item.get("path_pattern"), str) or not item["path_pattern"] or ".." in item["path_pattern"].split("/"):
            errors.append("%s.path_pattern = %r: is not a directory pattern, e.g. %s" % (where, item.get("path_pattern"), PATH_PATTERN))
    if sum(1 for item in filled if item.get("default") is True) > 1:
        errors.append("classes: more than one is default: true; a cluster has one default StorageClass")
    return filled


def checked(backend, classes):
    """(backend, classes) with defaults filled in, or StorageInputError listing every problem."""
    backend = dict({"nfs_version": "4.1"}, **backend) if isinstance(backend, dict) else {}
    errors = ["backend.%s" % problem for problem in backend_problems(backend)]
    filled = class_problems(classes or [], errors)
    if errors:
        raise StorageInputError(errors)
    return dict(backend, nfs_version=str(backend["nfs_version"])), filled
