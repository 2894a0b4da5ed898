from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import copy_back_marker
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import marker

from .fakes import FakeCluster, make_context


def test_the_copy_back_has_its_own_key_beside_the_forward_record(tmp_path):
    cluster, ctx = FakeCluster(tmp_path), make_context()
    forward = marker.write(cluster.kubectl, ctx, marker.VERIFIED, transport="job")
    assert copy_back_marker.read(cluster.kubectl, ctx) == {}
    record = copy_back_marker.write(cluster.kubectl, ctx, marker.COPYING, started="2026-12-02T03:00:00Z", backup={"sha256": "ab"})
    assert copy_back_marker.read(cluster.kubectl, ctx) == record
    assert record["state"] == "copying" and record["backup"] == {"sha256": "ab"}
    assert cluster.marker() == forward, "the forward copy's record changed"
    assert cluster.marker("shop.copy-back") == record
    [_forward_apply, apply] = [call for call in cluster.calls() if "apply" in call]
    assert "--field-manager=stateshift-copy-back-shop" in apply


def test_a_finished_copy_back_replaces_its_record(tmp_path):
    cluster, ctx = FakeCluster(tmp_path), make_context()
    copy_back_marker.write(cluster.kubectl, ctx, marker.COPYING, started="s")
    copy_back_marker.write(cluster.kubectl, ctx, marker.VERIFIED, started="s", finished="f", verified=True)
    assert copy_back_marker.read(cluster.kubectl, ctx)["state"] == "verified"
