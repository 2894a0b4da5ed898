from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import copy, indexes, sequences

from .fakes import FakeCluster, FakeEngine, FakeTransport, make_context, run_state


def engine_and_plan(tmp_path, **options):
    ctx = make_context()
    engine = FakeEngine(ctx, FakeCluster(tmp_path).kubectl, **options)
    return run_state(ctx), engine, engine.inspect()


def test_globals_come_before_the_database_which_gets_them(tmp_path):
    run, engine, plan = engine_and_plan(tmp_path)
    copy.globals_and_database(run, engine, plan)
    assert engine.events[1:] == ["globals", ("database", "roles")]
    assert run.roles["created"] == ["shop_ro"]
    assert set(run.timings) == {"globals", "database"}


def test_every_table_is_copied_from_the_snapshot_and_the_last_progress_line_printed(tmp_path):
    run, engine, plan = engine_and_plan(tmp_path)
    line = copy.tables(run, engine, FakeTransport(), engine.plan_parts(plan), "SNAP-1")
    assert sorted(e for e in engine.events if e[0] == "table") == [("table", "public.a", "SNAP-1"), ("table", "public.b", "SNAP-1")]
    assert line.startswith("copy shop/shop: 2/2 tables, 150 B of 150 B (100%)")
    assert run.lines[-1] == line


def test_a_failed_table_cancels_the_transport_and_names_the_table(tmp_path):
    run, engine, plan = engine_and_plan(tmp_path, fail_table="public.b")
    transport = FakeTransport()
    with pytest.raises(MigrationError) as raised:
        copy.tables(run, engine, transport, engine.plan_parts(plan), "SNAP-1")
    assert raised.value.phase == "copy"
    assert str(raised.value) == "shop/shop: copying table public.b failed: target pod: psql failed (rc=2): connection lost"
    assert transport.cancelled >= 1


def test_sequences_read_the_snapshot_and_indexes_come_after(tmp_path):
    run, engine, _plan = engine_and_plan(tmp_path)
    sequences.copy(run, engine, "SNAP-1")
    indexes.build(run, engine)
    assert engine.events[-2:] == [("sequences", "SNAP-1"), "indexes"]
    assert set(run.timings) == {"sequences", "indexes, constraints, analyze"}
