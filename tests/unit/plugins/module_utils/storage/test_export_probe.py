from __future__ import annotations

import errno
import socket

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import export_probe, libnfs


@pytest.mark.parametrize("backend, expected", [
    ({"kind": "synology", "squash": "root"}, "none"),
    ({"kind": "synology", "squash": "guest"}, "root"),
    ({"kind": "synology", "squash": "all_admin"}, "all"),
    ({"kind": "linux_nfs", "squash": "root"}, "root"),
    ({"kind": "nfs"}, "none"),
])
def test_the_catalog_squash_in_the_probe_words(backend, expected):
    assert export_probe.expected_squash(backend) == expected


@pytest.mark.parametrize("root_file, database_file, other_file, seen", [
    (0, 999, 1000, "none"),
    (65534, 999, 1000, "root"),
    (999, 999, 1000, "root"),     # root squashed to anonuid 999, the database's own uid
    (1024, 1024, 1024, "all"),
    (999, 999, 999, "all"),       # every user squashed to anonuid 999: only the other uid's file tells
])
def test_the_squash_is_read_from_the_owners(root_file, database_file, other_file, seen):
    observed = {"root_file_owner": root_file, "database_file_owner": database_file, "other_user_owner": other_file}
    assert export_probe._squash_seen(observed, 999) == seen


class KernelLikeExport:
    """A test double of an NFS export's ownership rules as Linux's nfsd applies them (squashed users map to anonuid;
    only root may give a file away: chown by anyone else is EPERM), standing in for libnfs.NfsSession."""

    def __init__(self, squash, anonymous_uid=65534, read_only=False, root_may_write=True):
        self.squash, self.anonymous_uid, self.read_only, self.root_may_write = squash, anonymous_uid, read_only, root_may_write
        self.files, self.directories, self.uid = {}, set(), 0

    def _mapped(self):
        if self.squash == "all" or (self.squash == "root" and self.uid == 0):
            return self.anonymous_uid
        return self.uid

    def _refuse(self, code, operation):
        raise libnfs.NfsCallError(operation, -code, "refused by the double")

    def become(self, uid, gid):
        self.uid = uid

    def mkdir(self, path, mode):
        if self.read_only:
            self._refuse(errno.EROFS, "mkdir")
        if self._mapped() != 0 and not self.root_may_write:
            self._refuse(errno.EACCES, "mkdir")
        self.directories.add(path)

    def create(self, path):
        if self.read_only:
            self._refuse(errno.EROFS, "create")
        self.files[path] = self._mapped()
        return path

    def write(self, handle, data, path):
        return len(data)

    def fsync(self, handle, path):
        pass

    def fchown(self, handle, uid, gid, path):
        if self._mapped() != 0 and uid != self.files[handle]:
            self._refuse(errno.EPERM, "chown")
        self.files[handle] = uid

    def owner(self, handle, path):
        return self.files[handle], 0

    def close_file(self, handle, path):
        pass

    def unlink(self, path):
        self.files.pop(path)

    def rmdir(self, path):
        assert not [name for name in self.files if name.startswith(path + "/")]
        self.directories.discard(path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.fixture
def served(monkeypatch):
    """probe() against a KernelLikeExport instead of a server (the lab runs the real thing against nfs-ganesha)."""
    def serve(export):
        monkeypatch.setattr(export_probe, "_reach", lambda server, port, timeout: "192.0.2.10")
        monkeypatch.setattr(export_probe.libnfs, "NfsSession", lambda *args: export)
        return export
    return serve


def test_everyone_squashed_by_a_kernel_server_passes_although_chown_is_refused(served):
    export = served(KernelLikeExport("all", anonymous_uid=1024))
    result = export_probe.probe("nas", "/srv", squash="all", anonymous_uid=1024)
    assert result["observed"]["squash"] == "all" and result["observed"]["database_chown_refused"] is True
    assert result["checks"][-1] == "squash as declared"
    assert export.files == {} and export.directories == set()


def test_root_squashed_to_the_database_uid_is_not_taken_for_no_squash(served):
    served(KernelLikeExport("root", anonymous_uid=999))
    with pytest.raises(export_probe.ProbeFailed) as refused:
        export_probe.probe("nas", "/srv", squash="none")
    assert refused.value.diagnosis.startswith("the server applies root squashed (root's file is owned by 999")
    assert refused.value.checks == ["reachable", "mounted", "root creates directories",
                                    "database user creates, writes, fsyncs and chowns"]


def test_a_read_only_export_stops_at_the_provisioner_directory_and_keeps_the_passed_checks(served):
    served(KernelLikeExport("none", read_only=True))
    with pytest.raises(export_probe.ProbeFailed) as refused:
        export_probe.probe("nas", "/srv")
    assert refused.value.diagnosis.startswith("the export is read-only for this client")
    assert refused.value.checks == ["reachable", "mounted"]


def test_check_mode_writes_nothing(served):
    export = served(KernelLikeExport("none", read_only=True))
    assert export_probe.probe("nas", "/srv", write=False)["checks"] == ["reachable", "mounted"]
    assert export.files == {}


def test_a_port_where_nothing_listens_is_named_with_its_fix():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(export_probe.ProbeFailed) as refused:
        export_probe._reach("127.0.0.1", port, 2)
    assert refused.value.diagnosis == "127.0.0.1 refuses connections on port %d: NFS is not running there" % port
    assert refused.value.fix.startswith("turn NFS on")


def test_the_probe_reports_the_client_address_the_server_sees():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        assert export_probe._reach("127.0.0.1", listener.getsockname()[1], 2) == "127.0.0.1"
