"""The plan of a retirement from `docker inspect`'s output, and the archives' check; the containers themselves are stopped
and archived against the lab's real Docker in tests/integration/test_retire_lab.py."""

from __future__ import annotations

import hashlib

from ansible_collections.stateshift.k3s.plugins.module_utils.retire import stack


def container(name, running=True, restart="unless-stopped", mounts=()):
    return {"Name": "/" + name, "State": {"Running": running}, "HostConfig": {"RestartPolicy": {"Name": restart}}, "Mounts": list(mounts)}


DATA = {"Type": "volume", "Name": "shop_shopdata", "Source": "/var/lib/docker/volumes/shop_shopdata/_data",
        "Destination": "/var/lib/postgresql/data"}
UPLOADS = {"Type": "bind", "Source": "/srv/shop/uploads", "Destination": "/app/uploads"}
SOCKET = {"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock"}
TMP = {"Type": "tmpfs", "Destination": "/tmp"}


def test_every_volume_is_archived_once_and_only_what_runs_or_restarts_is_touched():
    inspected = [container("shop-db", mounts=[DATA]), container("shop-app", running=False, restart="no", mounts=[UPLOADS, TMP]),
                 container("shop-worker", restart="always", mounts=[UPLOADS])]
    planned = stack.plan("shop", inspected, "/var/backups/retired")
    assert planned["restart_disabled"] == ["shop-db", "shop-worker"]
    assert planned["stopped"] == ["shop-db", "shop-worker"]
    assert planned["archives"] == [
        {"container": "shop-db", "destination": "/var/lib/postgresql/data", "volume": "shop_shopdata",
         "path": "/var/backups/retired/shop-shop_shopdata.tar"},
        {"container": "shop-app", "destination": "/app/uploads", "volume": "/srv/shop/uploads",
         "path": "/var/backups/retired/shop-shop-app-app_uploads.tar"}]


def test_a_retired_stack_plans_nothing_to_stop_and_a_bound_socket_is_no_volume():
    planned = stack.plan("shop", [container("shop-db", running=False, restart="no", mounts=[SOCKET, UPLOADS])], "/a")
    assert planned["restart_disabled"] == [] and planned["stopped"] == []
    assert [item["path"] for item in planned["archives"]] == ["/a/shop-shop-db-app_uploads.tar"]


def test_an_anonymous_volume_is_named_by_its_container_and_mount_point():
    anonymous = {"Type": "volume", "Name": "6576b4bc" * 8, "Destination": "/var/lib/postgresql/data"}
    planned = stack.plan("shop", [container("shop-app", mounts=[anonymous])], "/a")
    assert planned["archives"][0]["path"] == "/a/shop-shop-app-var_lib_postgresql_data.tar"


def test_an_archive_counts_only_while_it_matches_its_sha256(tmp_path):
    path = tmp_path / "shop-shop_shopdata.tar"
    assert stack.recorded(str(path)) is None
    path.write_bytes(b"tar bytes")
    assert stack.recorded(str(path)) is None, "an archive without its .sha256 is not complete"
    digest = hashlib.sha256(b"tar bytes").hexdigest()
    (tmp_path / "shop-shop_shopdata.tar.sha256").write_text("%s  shop-shop_shopdata.tar\n" % digest)
    assert stack.recorded(str(path)) == (digest, 9)
    made = path.stat().st_mtime
    assert stack.recorded(str(path), since=made - 60) == (digest, 9)
    assert stack.recorded(str(path), since=made + 60) is None, "an archive of an earlier retirement is made again"
    path.write_bytes(b"tar bytez")
    assert stack.recorded(str(path)) is None, "a changed archive is made again"
