from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import run as runbook
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import choose_transport, marker

from .fakes import FakeCluster, FakeEngine, FakeTransport, make_context, run_state


def migrate(tmp_path, ctx=None, cluster=None, **engine_options):
    ctx = ctx or make_context()
    cluster = cluster or FakeCluster(tmp_path)
    engine = FakeEngine(ctx, cluster.kubectl, **engine_options)
    run = run_state(ctx)
    return runbook.migrate(engine, run=run), engine, cluster, run


def test_a_run_follows_the_runbook_and_ends_verified(tmp_path):
    result, engine, cluster, run = migrate(tmp_path)
    assert result["changed"] and not result["failed"] and result["transport"] == "stream"
    events = [e if isinstance(e, str) else e[0] for e in engine.events]
    # the source half of the verification runs in the background from the end of the schema on
    assert events.index("schema") < events.index("verify source") < events.index("snapshot released")
    events.remove("verify source")
    # the counters are set while the indexes are built
    assert sorted(events[events.index("forget parts") + 1:events.index("untune")]) == ["indexes", "sequences"]
    assert [e for e in events if e not in ("sequences", "indexes")] == [
        "inspect", "snapshot", "tune", "globals", "database", "schema", "table", "table", "forget parts", "untune",
        "verify target", "snapshot released"]
    assert ("untune", {"autovacuum": "on"}) in engine.events
    assert cluster.marker()["state"] == "verified" and cluster.marker()["verified"] is True
    assert cluster.marker()["backup"]["sha256"] == result["backup"]["sha256"]
    assert "shop/shop: transport stream (set by migration.transport)" in run.lines
    assert set(run.timings) >= {"preflight", "backup", "transport", "globals", "database", "schema", "data", "verify"}


def test_the_backup_is_taken_before_the_marker_says_copying(tmp_path):
    _result, engine, cluster, _run = migrate(tmp_path)
    calls = cluster.calls()
    assert engine.source.scripts[-1].count("sha256sum") == 1
    assert [call for call in calls if "apply" in call], "the marker was never written"


def test_check_mode_writes_nothing_and_shows_the_plan(tmp_path):
    result, engine, cluster, _run = migrate(tmp_path, ctx=make_context(check_mode=True))
    assert result["msg"] == "shop/shop: would copy 2 tables (150 B) into target pod shop/shop-postgresql-0"
    assert result["diff"] == {"before": "shop: absent\n", "after": "shop: 2 tables, 150 B from the source\n"}
    assert engine.events == ["inspect"]
    assert not [call for call in cluster.calls() if "apply" in call]


def test_a_rerun_after_a_verified_copy_only_verifies(tmp_path):
    cluster = FakeCluster(tmp_path)
    migrate(tmp_path, cluster=cluster)
    result, engine, _cluster, _run = migrate(tmp_path, cluster=cluster, target_content={"relations": 2})
    assert not result["changed"] and not result["failed"]
    assert result["msg"].startswith("shop/shop: already migrated (") and result["msg"].endswith("re-verified: ok")
    assert [e for e in engine.events if e in ("snapshot", "tune", "globals")] == []
    assert result["transport"] == "stream" and result["backup"]["sha256"]


def test_force_never_replaces_a_verified_copy(tmp_path):
    cluster = FakeCluster(tmp_path)
    migrate(tmp_path, cluster=cluster)
    with pytest.raises(MigrationError) as raised:
        migrate(tmp_path, ctx=make_context(force=True), cluster=cluster, target_content={"relations": 2})
    assert raised.value.phase == "preflight"
    assert "holds a verified copy" in str(raised.value) and "force never replaces a verified copy" in str(raised.value)
    assert "drop it yourself (DROP DATABASE) and delete the key 'shop' of ConfigMap shop/shop-postgresql-migration" in str(raised.value)
    assert cluster.marker()["state"] == marker.VERIFIED


def test_force_copies_again_over_a_verified_copy_whose_database_is_gone(tmp_path):
    cluster = FakeCluster(tmp_path)
    migrate(tmp_path, cluster=cluster)
    result, engine, _cluster, _run = migrate(tmp_path, ctx=make_context(force=True), cluster=cluster)
    assert result["changed"] and "globals" in engine.events


def test_a_failed_copy_undoes_the_tuning_and_leaves_the_marker_copying(tmp_path):
    with pytest.raises(MigrationError) as raised:
        migrate(tmp_path, fail_table="public.a")
    cluster = FakeCluster.__new__(FakeCluster)
    cluster.store = tmp_path / "configmaps.json"
    assert raised.value.phase == "copy"
    assert cluster.marker()["state"] == marker.COPYING
    assert cluster.marker()["settings_before"] == {"autovacuum": "on"}


def test_the_job_is_created_before_the_marker_and_its_pod_waited_for_after_the_schema(tmp_path, monkeypatch):
    """A Job's pod takes seconds to start: the target is prepared meanwhile, and only then is the pod waited for."""
    ctx, cluster = make_context(), FakeCluster(tmp_path)
    engine = FakeEngine(ctx, cluster.kubectl)
    write = marker.write

    def begin(run, engine, data_bytes=None):
        engine.events.append("job created")
        return choose_transport.Choice(candidates=(("10.0.0.5", 5432),))

    def settle(run, engine, choice):
        engine.events.append(("pod ready", choice.candidates))
        return FakeTransport(), "the cluster reaches the source at 10.0.0.5:5432"

    def marker_write(cluster, ctx, state, **fields):
        engine.events.append(("marker", state))
        return write(cluster, ctx, state, **fields)

    monkeypatch.setattr(choose_transport, "begin", begin)
    monkeypatch.setattr(choose_transport, "settle", settle)
    monkeypatch.setattr(marker, "write", marker_write)
    run = run_state(ctx)
    result = runbook.migrate(engine, run=run)
    events = [e if isinstance(e, str) else e[0] for e in engine.events]
    assert events.index("job created") < events.index("marker") < events.index("schema") < events.index("pod ready") < events.index("table")
    assert ("pod ready", (("10.0.0.5", 5432),)) in engine.events
    assert result["transport"] == "fake" and cluster.marker()["transport"] == "fake"
    assert "shop/shop: transport fake (the cluster reaches the source at 10.0.0.5:5432)" in run.lines


def test_a_transport_that_cannot_be_had_stops_before_any_row_and_a_rerun_copies(tmp_path, monkeypatch):
    ctx, cluster = make_context(), FakeCluster(tmp_path)
    engine = FakeEngine(ctx, cluster.kubectl)

    def unreachable(run, engine, choice):
        raise MigrationError("migration.transport: the cluster cannot reach the source", "transport")

    monkeypatch.setattr(choose_transport, "settle", unreachable)
    with pytest.raises(MigrationError, match="cannot reach the source") as raised:
        runbook.migrate(engine, run=run_state(ctx))
    assert raised.value.phase == "transport"
    events = [e if isinstance(e, str) else e[0] for e in engine.events]
    assert "table" not in events and "untune" in events
    assert cluster.marker()["state"] == marker.COPYING
    monkeypatch.undo()
    result, _engine, _cluster, _run = migrate(tmp_path, cluster=cluster, target_content={"relations": 1})
    assert result["changed"] and cluster.marker()["state"] == marker.VERIFIED


def test_a_job_that_cannot_be_created_stops_before_the_marker(tmp_path, monkeypatch):
    ctx, cluster = make_context(), FakeCluster(tmp_path)
    engine = FakeEngine(ctx, cluster.kubectl)

    def refused(run, engine, data_bytes=None):
        raise SideError("kubectl apply failed: admission webhook denied the Job")

    monkeypatch.setattr(choose_transport, "begin", refused)
    with pytest.raises(MigrationError, match="admission webhook denied the Job"):
        runbook.migrate(engine, run=run_state(ctx))
    assert cluster.marker() == {}
    assert "schema" not in [e if isinstance(e, str) else e[0] for e in engine.events]


def test_an_interrupted_run_restores_the_settings_it_recorded(tmp_path):
    ctx, cluster = make_context(), FakeCluster(tmp_path)
    marker.write(cluster.kubectl, ctx, marker.COPYING, settings_before={"autovacuum": "off"})
    _result, engine, _cluster, _run = migrate(tmp_path, cluster=cluster, target_content={"relations": 1})
    assert ("untune", {"autovacuum": "off"}) in engine.events


def test_a_failed_verification_leaves_the_marker_verify_failed_with_the_fingerprint(tmp_path):
    result, _engine, cluster, _run = migrate(tmp_path, target_rows={"public.a": 0, "public.b": 1})
    assert result["failed"] and result["changed"]
    assert cluster.marker()["state"] == marker.VERIFY_FAILED and cluster.marker()["mismatches"] == 1
    assert cluster.marker()["fingerprint"] == {"writes": 7}


def test_a_rerun_after_a_failed_verification_reverifies_and_does_not_copy_again(tmp_path):
    cluster = FakeCluster(tmp_path)
    migrate(tmp_path, cluster=cluster, target_rows={"public.a": 0, "public.b": 1})
    result, engine, _cluster, _run = migrate(tmp_path, cluster=cluster, target_content={"relations": 2},
                                             target_rows={"public.a": 0, "public.b": 1})
    assert result["failed"] and not result["changed"]
    assert "already copied but failed verification" in result["msg"] and "-e stateshift_force=true" in result["msg"]
    assert [e for e in engine.events if e in ("snapshot", "globals")] == []
    assert cluster.marker()["state"] == marker.VERIFY_FAILED


def test_a_rerun_that_now_verifies_marks_the_copy_verified(tmp_path):
    cluster = FakeCluster(tmp_path)
    migrate(tmp_path, cluster=cluster, target_rows={"public.a": 0, "public.b": 1})
    result, _engine, _cluster, _run = migrate(tmp_path, cluster=cluster, target_content={"relations": 2})
    assert not result["failed"] and cluster.marker()["state"] == marker.VERIFIED


def test_force_recopies_a_failed_copy_nobody_wrote_to(tmp_path):
    cluster = FakeCluster(tmp_path)
    migrate(tmp_path, cluster=cluster, target_rows={"public.a": 0, "public.b": 1})
    result, engine, _cluster, _run = migrate(tmp_path, ctx=make_context(force=True), cluster=cluster, target_content={"relations": 2})
    assert result["changed"] and not result["failed"] and "globals" in engine.events
    assert cluster.marker()["state"] == marker.VERIFIED


def test_force_refuses_to_drop_a_failed_copy_written_to_since(tmp_path):
    cluster = FakeCluster(tmp_path)
    migrate(tmp_path, cluster=cluster, target_rows={"public.a": 0, "public.b": 1})
    ctx = make_context(force=True)
    engine = FakeEngine(ctx, cluster.kubectl, target_content={"relations": 2})
    engine.writes = 8
    with pytest.raises(MigrationError) as raised:
        runbook.migrate(engine, run=run_state(ctx))
    assert "something wrote to it after the copy finished ({'writes': 7} then, {'writes': 8} now)" in str(raised.value)
    assert "refusing to drop it even with force" in str(raised.value)
    assert "globals" not in engine.events and cluster.marker()["state"] == marker.VERIFY_FAILED


def test_verify_none_skips_both_halves_and_says_not_verified(tmp_path):
    result, engine, cluster, _run = migrate(tmp_path, ctx=make_context({"verify": "none"}))
    assert result["report"]["level"] == "none" and not result["failed"]
    assert not [e for e in engine.events if e[0] in ("verify source", "verify target")]
    assert result["msg"].endswith("verification not verified (migration.verify: none)") and "passed" not in result["msg"]
    assert result["report"]["verified"] is False
    assert cluster.marker()["state"] == marker.COPIED_UNVERIFIED and cluster.marker()["verified"] is False


def test_the_compare_entry_point_reads_both_sides_and_writes_no_marker(tmp_path):
    ctx, cluster = make_context(report_dir=str(tmp_path / "r")), FakeCluster(tmp_path)
    result = runbook.compare(FakeEngine(ctx, cluster.kubectl), "count")
    assert result["msg"] == "shop/shop: 2 tables, 3 rows: source and target match (count)"
    assert result["report_files"][0].endswith("shop-shop-compare.json")
    assert cluster.calls() == []


def test_a_failed_clean_up_never_hides_the_copys_own_error(tmp_path, monkeypatch):
    ctx, cluster = make_context(), FakeCluster(tmp_path)
    engine = FakeEngine(ctx, cluster.kubectl, fail_table="public.a")

    def untune(before):
        raise SideError("target pod: psql failed (rc=2): the pod is gone")

    def remove_temporary():
        raise SideError("target pod: rm failed")

    monkeypatch.setattr(engine, "untune", untune)
    monkeypatch.setattr(engine, "remove_temporary", remove_temporary)
    run = run_state(ctx)
    with pytest.raises(MigrationError, match=r"copying table public\.a failed"):
        runbook.migrate(engine, run=run)
    assert any("the restore settings were not put back" in note for note in run.notes)
    assert any("could not remove the copy's temporary files" in note for note in run.notes)
