# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NFS spoken from userspace through libnfs (ctypes), as a chosen UID and GID: no kernel NFS client, no mount.

Bound to libnfs's synchronous API as libnfs 4.0 and 5.x declare it (sonames 13 and 14; tested with Debian 12's 4.0).
Every failing call raises NfsCallError with the operation, libnfs's negative errno and its message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import uuid

SONAMES = ("libnfs.so.13", "libnfs.so.14")
VERSIONS = {"3": 3, "4": 4, "4.1": 4}  # libnfs 4/5 speak NFSv4.0: a 4.1 export is reached over 4.0
MISSING = ("libnfs is not installed on this host (%s): install libnfs13 (Debian 12, Ubuntu), libnfs14 (Debian 13) or libnfs "
           "(EPEL on RHEL, Rocky, Alma; openSUSE)")


class LibraryMissing(Exception):
    pass


class NfsCallError(Exception):
    def __init__(self, operation, code, message):
        self.operation, self.code, self.message = operation, code, message
        name = errno.errorcode.get(-code, str(code)) if isinstance(code, int) and code < 0 else str(code)
        super().__init__("%s failed: %s (%s)" % (operation, message or os.strerror(-code if code < 0 else 0), name))

    @property
    def errno(self):
        return -self.code if isinstance(self.code, int) and self.code < 0 else None


class Stat64(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "nfs_dev", "nfs_ino", "nfs_mode", "nfs_nlink", "nfs_uid", "nfs_gid", "nfs_rdev", "nfs_size", "nfs_blksize",
        "nfs_blocks", "nfs_atime", "nfs_mtime", "nfs_ctime", "nfs_atime_nsec", "nfs_mtime_nsec", "nfs_ctime_nsec", "nfs_used")]


class GroupNode(ctypes.Structure):
    pass


GroupNode._fields_ = [("gr_name", ctypes.c_char_p), ("gr_next", ctypes.POINTER(GroupNode))]


class ExportNode(ctypes.Structure):
    pass


ExportNode._fields_ = [("ex_dir", ctypes.c_char_p), ("ex_groups", ctypes.POINTER(GroupNode)), ("ex_next", ctypes.POINTER(ExportNode))]

_SIGNATURES = {
    "nfs_init_context": (ctypes.c_void_p, []),
    "nfs_destroy_context": (None, [ctypes.c_void_p]),
    "nfs_get_error": (ctypes.c_char_p, [ctypes.c_void_p]),
    "nfs_set_uid": (None, [ctypes.c_void_p, ctypes.c_int]),
    "nfs_set_gid": (None, [ctypes.c_void_p, ctypes.c_int]),
    "nfs_set_version": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "nfs_set_timeout": (None, [ctypes.c_void_p, ctypes.c_int]),
    "nfs_set_autoreconnect": (None, [ctypes.c_void_p, ctypes.c_int]),
    "nfs_mount": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]),
    "nfs_umount": (ctypes.c_int, [ctypes.c_void_p]),
    "nfs_mkdir2": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
    "nfs_rmdir": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "nfs_chmod": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
    "nfs4_set_client_name": (None, [ctypes.c_void_p, ctypes.c_char_p]),
    "nfs_create": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]),
    "nfs_write": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p]),
    "nfs_fsync": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
    "nfs_fchown": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]),
    "nfs_fstat64": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(Stat64)]),
    "nfs_close": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
    "nfs_unlink": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "mount_getexports": (ctypes.POINTER(ExportNode), [ctypes.c_char_p]),
    "mount_free_export_list": (None, [ctypes.POINTER(ExportNode)]),
}
_loaded = {}


def library():
    """libnfs with its functions' signatures declared; LibraryMissing names the package to install."""
    if "libnfs" not in _loaded:
        found = ctypes.util.find_library("nfs")
        candidates = [found] if found in SONAMES else []
        for name in candidates + list(SONAMES):
            try:
                loaded = ctypes.CDLL(name)
            except OSError:
                continue
            for function, (restype, argtypes) in _SIGNATURES.items():
                getattr(loaded, function).restype = restype
                getattr(loaded, function).argtypes = argtypes
            _loaded["libnfs"] = loaded
            break
        else:
            raise LibraryMissing(MISSING % ("found %s, which is not one of %s" % (found, ", ".join(SONAMES)) if found else "no libnfs"))
    return _loaded["libnfs"]


def exports(server):
    """{exported path: [client, ...]} from the server's mount daemon (NFSv3's export list, as showmount -e)."""
    lib = library()
    head = lib.mount_getexports(server.encode())
    if not head:
        raise NfsCallError("listing the exports of %s" % server, -errno.EIO, "the mount daemon did not answer")
    listed = {}
    try:
        node = head
        while node:
            clients, group = [], node.contents.ex_groups
            while group:
                clients.append(group.contents.gr_name.decode(errors="replace"))
                group = group.contents.gr_next
            listed[node.contents.ex_dir.decode(errors="replace")] = clients
            node = node.contents.ex_next
    finally:
        lib.mount_free_export_list(head)
    return listed


class NfsSession:
    """One export mounted as (uid, gid); become() switches the credentials sent with the next calls. Paths are relative
    to the export's root, starting with '/'. Each session is its own NFSv4 client (a unique client name)."""

    def __init__(self, server, export, version="4.1", uid=0, gid=0, timeout=10):
        self.lib = library()
        self.context = self.lib.nfs_init_context()
        if not self.context:
            raise NfsCallError("creating an NFS context", -errno.ENOMEM, "out of memory")
        self.become(uid, gid)
        self.lib.nfs4_set_client_name(self.context, ("stateshift-probe-%s" % uuid.uuid4().hex).encode())
        self.lib.nfs_set_timeout(self.context, int(timeout * 1000))
        self.lib.nfs_set_autoreconnect(self.context, 0)
        self.mounted = False
        try:
            self._call("choosing NFS version %s" % version, self.lib.nfs_set_version, VERSIONS[str(version)])
            self._call("mounting %s:%s" % (server, export), self.lib.nfs_mount, server.encode(), export.encode())
        except NfsCallError:
            self.close()
            raise
        self.mounted = True

    def _call(self, operation, function, *args):
        code = function(self.context, *args)
        if code < 0:
            message = self.lib.nfs_get_error(self.context)
            raise NfsCallError(operation, code, message.decode(errors="replace") if message else "")
        return code

    def become(self, uid, gid):
        self.lib.nfs_set_uid(self.context, int(uid))
        self.lib.nfs_set_gid(self.context, int(gid))

    def mkdir(self, path, mode=0o755):
        self._call("creating the directory %s" % path, self.lib.nfs_mkdir2, path.encode(), mode)

    def chmod(self, path, mode):
        self._call("chmod %o %s" % (mode, path), self.lib.nfs_chmod, path.encode(), mode)

    def rmdir(self, path):
        self._call("removing the directory %s" % path, self.lib.nfs_rmdir, path.encode())

    def unlink(self, path):
        self._call("removing %s" % path, self.lib.nfs_unlink, path.encode())

    def create(self, path, mode=0o600):
        handle = ctypes.c_void_p()
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
        self._call("creating %s" % path, self.lib.nfs_create, path.encode(), flags, mode, ctypes.byref(handle))
        return handle

    def write(self, handle, data, path):
        return self._call("writing %s" % path, self.lib.nfs_write, handle, len(data), data)

    def fsync(self, handle, path):
        self._call("fsync of %s" % path, self.lib.nfs_fsync, handle)

    def fchown(self, handle, uid, gid, path):
        self._call("chown %s:%s %s" % (uid, gid, path), self.lib.nfs_fchown, handle, int(uid), int(gid))

    def owner(self, handle, path):
        stat = Stat64()
        self._call("stat of %s" % path, self.lib.nfs_fstat64, handle, ctypes.byref(stat))
        return int(stat.nfs_uid), int(stat.nfs_gid)

    def close_file(self, handle, path):
        self._call("closing %s" % path, self.lib.nfs_close, handle)

    def close(self):
        if self.context:
            if self.mounted:
                self.lib.nfs_umount(self.context)
            self.lib.nfs_destroy_context(self.context)
            self.context = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
