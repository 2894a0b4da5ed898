# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does an NFS export work for a database, seen from this host? And if not, why, and what fixes it.

The steps are what a database pod on this node will need, in order: the server answers (TCP 2049, and 111 for NFSv3);
the export mounts for this client; root (the provisioner) creates a directory for the volume; root chowns a file to the
database user (what postgres and mongo entrypoints do); the database user creates, writes, fsyncs and chowns a file of
its own; another uid creates one too. The owners the server reports show how it squashes (root's file not root's:
root squashed; the other uid's file not its own: every user squashed), which is compared with what the catalog says.
The probe directory is removed at the end; in check mode only the first two steps run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
import uuid

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import libnfs

SQUASH = ("none", "root", "all")
SQUASH_WORDS = {"none": "no squash (root stays root)", "root": "root squashed", "all": "every user squashed"}
SYNOLOGY_SQUASH = {"root": "none", "admin": "root", "guest": "root", "all_admin": "all", "all_guest": "all"}
PROBE_BYTES = b"stateshift export probe\n" * 40  # under 1 KiB: libnfs 4.0 cannot encode an NFSv4 WRITE of 4 KiB
ROOT_FILE, DATABASE_FILE, OTHER_USER_FILE = "/root-file", "/database-file", "/other-user-file"
ENABLE_NFS = "turn NFS on (Synology: Control Panel > File Services > NFS; Linux: nfs-server or nfs-ganesha running)"


class ProbeFailed(Exception):
    def __init__(self, diagnosis, fix):
        super().__init__("%s; fix: %s" % (diagnosis, fix))
        self.diagnosis, self.fix, self.checks = diagnosis, fix, []


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


def _visible_exports(server, timeout):
    """The exports the server's mount daemon lists for this client, or None (no answer within the timeout: libnfs 4.0's
    export listing has none of its own, so it runs in a thread that is left behind)."""
    found = {}

    def ask():
        with contextlib.suppress(libnfs.NfsCallError):
            found["exports"] = libnfs.exports(server)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    asking.join(timeout)
    return found.get("exports")


def _mount_refused(server, path, version, client, error, timeout):
    listed = _visible_exports(server, timeout) if str(version) == "3" else None
    visible = " (exports this client may see: %s)" % (", ".join(sorted(listed)) or "none") if listed is not None else ""
    fix = "export %s to %s (or its subnet) read/write, or correct the backend's server and path" % (path, client)
    if os.geteuid() != 0:
        fix += ("; this check ran as uid %d, so it could not use a privileged source port, which servers refuse by default "
                "(Linux: secure; Synology: 'Allow connections from non-privileged ports' off): run it as root (become)"
                % os.geteuid())
    return ProbeFailed("%s:%s does not mount for this client %s: the export is missing or not allowed for this client%s [%s]"
                       % (server, path, client, visible, error), fix)


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


def _close(session, handle, path):
    with contextlib.suppress(libnfs.NfsCallError):
        session.close_file(handle, path)


def _owner_after_chown(session, handle, path, uid, gid):
    """The file's owner after a chown to (uid, gid), and whether the server refused the chown."""
    try:
        session.fchown(handle, uid, gid, path)
        refused = False
    except libnfs.NfsCallError as error:
        if error.errno not in (errno.EPERM, errno.EACCES):
            raise
        refused = True
    return session.owner(handle, path)[0], refused


def _observe(session, directory, uid, gid):
    """The owners the server reports: of a file root made (before and after a chown to uid), of a file uid made, wrote,
    fsynced and chowned to itself, and of a file another uid (uid + 1) made - which tells squashing every user to
    anonymous uid == uid from no squash at all."""
    seen = {}
    root_file = directory + ROOT_FILE
    session.become(0, 0)
    handle = session.create(root_file)
    try:
        seen["root_file_owner"] = session.owner(handle, root_file)[0]
        seen["root_chown_owner"], _refused = _owner_after_chown(session, handle, root_file, uid, gid)
    finally:
        _close(session, handle, root_file)
    for who, name in ((uid, DATABASE_FILE), (uid + 1, OTHER_USER_FILE)):
        path = directory + name
        session.become(who, gid)
        try:
            handle = session.create(path)
        except libnfs.NfsCallError as error:
            raise _write_failed(error, "the database user (uid %d)" % uid if who == uid else "uid %d" % who) from None
        try:
            session.write(handle, PROBE_BYTES, path)
            session.fsync(handle, path)
            owner, refused = _owner_after_chown(session, handle, path, who, gid)
        except libnfs.NfsCallError as error:
            raise _write_failed(error, "the database user (uid %d)" % uid) from None
        finally:
            _close(session, handle, path)
        seen["database_file_owner" if who == uid else "other_user_owner"] = owner
        if who == uid:
            seen["database_chown_refused"] = refused
    return seen


def _squash_seen(seen, uid):
    if seen["database_file_owner"] != uid or seen["other_user_owner"] != uid + 1:
        return "all"
    return "root" if seen["root_file_owner"] != 0 else "none"


def _remove(session, directory):
    session.become(0, 0)
    for name in (ROOT_FILE, DATABASE_FILE, OTHER_USER_FILE):
        with contextlib.suppress(libnfs.NfsCallError):
            session.unlink(directory + name)
    try:
        session.rmdir(directory)
        return None
    except libnfs.NfsCallError as error:
        return "the probe directory %s was left on the export (%s): remove it on the server" % (directory, error)


def probe(server, path, version="4.1", uid=999, gid=999, squash="none", anonymous_uid=None, timeout=10, write=True):
    """{'client_address', 'checks', 'observed', 'warnings'}; ProbeFailed (diagnosis, fix and the checks that passed) at
    the first step that fails."""
    result = {"client_address": None, "checks": [], "observed": {}, "warnings": []}
    try:
        _steps(result, server, path, version, uid, gid, squash, anonymous_uid, timeout, write)
    except ProbeFailed as failure:
        failure.checks = list(result["checks"])
        raise
    except libnfs.NfsCallError as error:
        failure = ProbeFailed("%s [%s]" % (error.operation, error), "check the server's log")
        failure.checks = list(result["checks"])
        raise failure from None
    return result


def _steps(result, server, path, version, uid, gid, squash, anonymous_uid, timeout, write):
    checks, warnings = result["checks"], result["warnings"]
    for port in (2049, 111) if str(version) == "3" else (2049,):
        result["client_address"] = _reach(server, port, timeout)
    checks.append("reachable")
    try:
        session = libnfs.NfsSession(server, path, version, 0, 0, timeout)
    except libnfs.NfsCallError as error:
        raise _mount_refused(server, path, version, result["client_address"], error, timeout) from None
    with session:
        checks.append("mounted")
        if not write:
            return
        directory = "/.stateshift-probe-%s" % uuid.uuid4().hex[:12]
        try:
            session.mkdir(directory, 0o777)
        except libnfs.NfsCallError as error:
            raise _write_failed(error, "root (the provisioner, which makes each volume's directory)") from None
        try:
            seen = _observe(session, directory, uid, gid)
        finally:
            left = _remove(session, directory)
            if left:
                warnings.append(left)
    checks += ["root creates directories", "database user creates, writes, fsyncs and chowns"]
    seen["squash"] = _squash_seen(seen, uid)
    result["observed"] = seen
    if seen["squash"] != squash:
        hint = ""
        if str(version) != "3" and 65534 in (seen["root_file_owner"], seen["database_file_owner"], seen["other_user_owner"]):
            hint = (" (over NFSv4, owner 65534 may also be a user name the server sends and libnfs cannot map: check with "
                    "nfs_version 3, or make the server send numeric owners)")
        raise ProbeFailed("the server applies %s (root's file is owned by %d, uid %d's by %d, uid %d's by %d), but the catalog "
                          "says %s%s" % (SQUASH_WORDS[seen["squash"]], seen["root_file_owner"], uid, seen["database_file_owner"],
                                         uid + 1, seen["other_user_owner"], SQUASH_WORDS[squash], hint),
                          "set the export's squash to match (Synology: Squash; Linux: no_root_squash, root_squash or "
                          "all_squash), or correct the backend's squash in the catalog")
    if seen["squash"] == "all" and anonymous_uid is not None and seen["database_file_owner"] != anonymous_uid:
        raise ProbeFailed("every user is squashed to uid %d, but the catalog says %d" % (seen["database_file_owner"], anonymous_uid),
                          "set the export's anonymous uid (Linux: anonuid; ganesha: Anonymous_Uid) or the catalog's")
    if seen["squash"] != "all" and seen["database_chown_refused"]:
        raise ProbeFailed("the database user (uid %d) may not chown its own file" % uid,
                          "check the export's options and the server's idmapping (owners must be kept as numbers)")
    checks.append("squash as declared")
    if seen["root_chown_owner"] != uid:
        warnings.append("root cannot chown on this export: images whose entrypoint chowns the data directory as root "
                        "(postgres, mongo) fail with 'chown: Operation not permitted'; run them as uid %d with fsGroup, "
                        "or use no squash" % uid)
