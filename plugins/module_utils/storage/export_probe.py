# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does an NFS export work for a database, seen from this host? And if not, why, and what fixes it.

The steps are what a database pod on this node will need, in order: the server answers (TCP 2049, and 111 for NFSv3);
the export mounts for this client; root (the provisioner) creates a directory for the volume; root chowns a file to the
database user (what postgres and mongo entrypoints do); the database user creates, writes, fsyncs and chowns a file of
its own. The owners the server reports show how it squashes, which is compared with what the catalog says. The probe
directory is removed at the end; in check mode only the first two steps run.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import uuid

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import libnfs

SQUASH = ("none", "root", "all")
SQUASH_WORDS = {"none": "no squash (root stays root)", "root": "root squashed", "all": "every user squashed"}
SYNOLOGY_SQUASH = {"root": "none", "admin": "root", "guest": "root", "all_admin": "all", "all_guest": "all"}
PROBE_BYTES = b"stateshift export probe\n" * 40  # under 1 KiB: libnfs 4.0 cannot encode an NFSv4 WRITE of 4 KiB
ENABLE_NFS = "turn NFS on (Synology: Control Panel > File Services > NFS; Linux: nfs-server or nfs-ganesha running)"


class ProbeFailed(Exception):
    def __init__(self, diagnosis, fix):
        super().__init__("%s; fix: %s" % (diagnosis, fix))
        self.diagnosis, self.fix = diagnosis, fix


def expected_squash(backend):
    """The squash a catalog backend asks for, in the probe's words (none, root, all)."""
    if backend.get("kind") == "synology":
        return SYNOLOGY_SQUASH[backend.get("squash", "root")]
    return backend.get("squash", "none")


def _reach(server, port, timeout):
    try:
        with socket.create_connection((server, port), timeout=timeout) as connection:
            return connection.getsockname()[0]
    except OSError as error:
        raise _unreachable(server, port, timeout, error) from None


def _unreachable(server, port, timeout, error):
    if isinstance(error, socket.timeout):
        return ProbeFailed("no answer from %s port %d within %ss" % (server, port, timeout),
                           "check the server address and that no firewall between this node and the server drops NFS (TCP %d)" % port)
    if isinstance(error, ConnectionRefusedError):
        return ProbeFailed("%s refuses connections on port %d: NFS is not running there" % (server, port), ENABLE_NFS)
    if error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return ProbeFailed("no route from this node to %s (%s)" % (server, error.strerror),
                           "check the server address and this node's network and routes")
    if isinstance(error, socket.gaierror):
        return ProbeFailed("the name %s does not resolve on this node (%s)" % (server, error), "use the server's IP address")
    return ProbeFailed("cannot connect to %s port %d: %s" % (server, port, error), "check the server address and network")


def _mount_refused(server, path, version, client, error):
    visible = ""
    if str(version) == "3":
        try:
            listed = libnfs.exports(server)
            visible = " (exports this client may see: %s)" % (", ".join(sorted(listed)) or "none")
        except libnfs.NfsCallError:
            pass
    return ProbeFailed("%s:%s does not mount for this client %s: the export is missing or not allowed for this client%s [%s]"
                       % (server, path, client, visible, error),
                       "export %s to %s (or its subnet) read/write, or correct the backend's server and path" % (path, client))


def _write_failed(error, who):
    if error.errno == errno.EROFS:
        return ProbeFailed("the export is read-only for this client [%s]" % error,
                           "give this client read/write access (Synology: privilege Read/Write; Linux: rw)")
    if error.errno in (errno.EACCES, errno.EPERM):
        return ProbeFailed("%s may not write in the export [%s]" % (who, error),
                           "map root to root (Synology: Squash 'No mapping'; Linux: no_root_squash), or make the exported "
                           "directory writable by the user root is mapped to")
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return ProbeFailed("the export is full [%s]" % error, "free space or raise the quota on the server")
    return ProbeFailed("%s failed [%s]" % (error.operation, error), "check the server's log")


def _observe(session, directory, uid, gid):
    """(owner of a file root created and chowned to uid, owner of a file uid created, written, fsynced and chowned)."""
    root_file, user_file = directory + "/root-chown", directory + "/database-file"
    session.become(0, 0)
    handle = session.create(root_file)
    try:
        try:
            session.fchown(handle, uid, gid, root_file)
        except libnfs.NfsCallError as error:
            if error.errno not in (errno.EPERM, errno.EACCES):
                raise
        root_chowned = session.owner(handle, root_file)[0]
    finally:
        session.close_file(handle, root_file)
    session.become(uid, gid)
    try:
        handle = session.create(user_file)
    except libnfs.NfsCallError as error:
        raise _write_failed(error, "the database user (uid %d)" % uid) from None
    try:
        session.write(handle, PROBE_BYTES, user_file)
        session.fsync(handle, user_file)
        session.fchown(handle, uid, gid, user_file)
        user_owner = session.owner(handle, user_file)[0]
    except libnfs.NfsCallError as error:
        raise _write_failed(error, "the database user (uid %d)" % uid) from None
    finally:
        session.close_file(handle, user_file)
    return root_chowned, user_owner


def _squash_seen(root_chowned, user_owner, uid):
    if user_owner != uid:
        return "all"
    return "none" if root_chowned == uid else "root"


def _remove(session, directory):
    session.become(0, 0)
    for name in ("/root-chown", "/database-file"):
        with contextlib.suppress(libnfs.NfsCallError):
            session.unlink(directory + name)
    try:
        session.rmdir(directory)
        return None
    except libnfs.NfsCallError as error:
        return "the probe directory %s was left on the export (%s): remove it on the server" % (directory, error)


def probe(server, path, version="4.1", uid=999, gid=999, squash="none", anonymous_uid=None, timeout=10, write=True):
    """{'client_address', 'checks', 'observed', 'warnings'}; ProbeFailed (diagnosis and fix) at the first step that fails."""
    checks, warnings = [], []
    ports = (2049, 111) if str(version) == "3" else (2049,)
    client = None
    for port in ports:
        client = _reach(server, port, timeout)
    checks.append("reachable")
    try:
        session = libnfs.NfsSession(server, path, version, 0, 0, timeout)
    except libnfs.NfsCallError as error:
        raise _mount_refused(server, path, version, client, error) from None
    result = {"client_address": client, "checks": checks, "observed": {}, "warnings": warnings}
    with session:
        checks.append("mounted")
        if not write:
            return result
        directory = "/.stateshift-probe-%s" % uuid.uuid4().hex[:12]
        try:
            session.mkdir(directory, 0o777)
        except libnfs.NfsCallError as error:
            raise _write_failed(error, "root (the provisioner, which makes each volume's directory)") from None
        try:
            root_chowned, user_owner = _observe(session, directory, uid, gid)
        finally:
            left = _remove(session, directory)
            if left:
                warnings.append(left)
    checks += ["root creates directories", "database user creates, writes, fsyncs and chowns"]
    seen = _squash_seen(root_chowned, user_owner, uid)
    result["observed"] = {"squash": seen, "root_chown_owner": root_chowned, "database_file_owner": user_owner}
    if seen != squash:
        raise ProbeFailed("the server applies %s (a file root chowned to %d is owned by %d; uid %d's file by %d), but the "
                          "catalog says %s" % (SQUASH_WORDS[seen], uid, root_chowned, uid, user_owner, SQUASH_WORDS[squash]),
                          "set the export's squash to match (Synology: Squash; Linux: no_root_squash, root_squash or "
                          "all_squash), or correct the backend's squash in the catalog")
    if seen == "all" and anonymous_uid is not None and user_owner != anonymous_uid:
        raise ProbeFailed("every user is squashed to uid %d, but the catalog says %d" % (user_owner, anonymous_uid),
                          "set the export's anonymous uid (Linux: anonuid; ganesha: Anonymous_Uid) or the catalog's")
    checks.append("squash as declared")
    if seen != "none":
        warnings.append("root cannot chown on this export: images whose entrypoint chowns the data directory as root "
                        "(postgres, mongo) fail with 'chown: Operation not permitted'; run them as uid %d with fsGroup, "
                        "or use no squash" % uid)
    return result
