from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import marker

from .fakes import FakeCluster, make_context


def test_no_marker_reads_as_empty(tmp_path):
    assert marker.read(FakeCluster(tmp_path).kubectl, make_context()) == {}


def test_a_written_state_reads_back_with_its_fields(tmp_path):
    cluster, ctx = FakeCluster(tmp_path), make_context()
    record = marker.write(cluster.kubectl, ctx, marker.COPYING, transport="job", settings_before={"autovacuum": "on"})
    assert record["state"] == "copying" and record["updated"]
    assert marker.read(cluster.kubectl, ctx) == record
    [apply] = [call for call in cluster.calls() if "apply" in call]
    assert "--server-side" in apply and "--field-manager=stateshift-migrate-shop" in apply


def test_the_marker_is_the_catalog_named_configmap(tmp_path):
    cluster, ctx = FakeCluster(tmp_path), make_context()
    marker.write(cluster.kubectl, ctx, marker.VERIFIED)
    assert cluster.marker()["state"] == "verified"
    assert ctx.objects["migration_marker"] == "shop-postgresql-migration"
