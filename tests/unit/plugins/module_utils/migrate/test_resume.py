"""A re-run after an interrupted copy keeps the parts the first run committed (steps/resume.py), against the fake engine
whose record of parts behaves like the PostgreSQL engine's (a part is in once its copy commits)."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import run as runbook
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import marker

from .fakes import FakeCluster, FakeEngine, FakeSource, make_context, run_state

TABLES = ({"key": "public.a", "size_bytes": 100, "rows_estimate": 2}, {"key": "public.b", "size_bytes": 50, "rows_estimate": 1})


def interrupted(tmp_path):
    """A first run whose copy of public.b fails after public.a committed: (cluster, the target's record)."""
    cluster, ctx = FakeCluster(tmp_path), make_context(migration={"jobs": 1})
    engine = FakeEngine(ctx, cluster.kubectl, fail_table="public.b")
    with pytest.raises(MigrationError):
        runbook.migrate(engine, run=run_state(ctx))
    assert cluster.marker()["state"] == marker.COPYING
    assert [row["done"] for row in engine.record["parts"]] == [True, False]
    return cluster, engine.record


def rerun(tmp_path, cluster, record, ctx=None, tables=TABLES, **engine_options):
    ctx = ctx or make_context()
    engine = FakeEngine(ctx, cluster.kubectl, tables=list(tables), target_content={"relations": 2}, **engine_options)
    engine.record = record
    run = run_state(ctx)
    return runbook.migrate(engine, run=run), engine, run


def copied(engine):
    return [event[1] for event in engine.events if isinstance(event, tuple) and event[0] == "table"]


def test_a_rerun_copies_only_the_parts_that_are_not_in(tmp_path):
    cluster, record = interrupted(tmp_path)
    result, engine, run = rerun(tmp_path, cluster, record)
    assert result["changed"] and not result["failed"]
    assert copied(engine) == ["public.b"]
    assert ("schema read", "SNAP-1") in engine.events and not [e for e in engine.events if e[0] == "database"]
    assert "globals" in engine.events, "roles are created again (only those missing)"
    assert "resumed an interrupted copy: 1 of 2 parts were in, 1 copied" in result["report"]["notes"]
    assert engine.record is None, "the record is dropped once every part is in"
    assert cluster.marker()["state"] == marker.VERIFIED
    assert "shop/shop: resumed an interrupted copy: 1 of 2 parts were in, 1 copied" in run.lines


def test_check_mode_says_it_would_resume(tmp_path):
    cluster, record = interrupted(tmp_path)
    result, engine, _run = rerun(tmp_path, cluster, record, ctx=make_context(check_mode=True))
    assert result["msg"].endswith(", resuming an interrupted copy (1 of 2 parts are in)")
    assert copied(engine) == [] and engine.record == record


@pytest.mark.parametrize(("ctx", "tables", "why"), [
    (make_context(migration={"verify": "count"}), TABLES, "resuming needs migration.verify: checksum (it is count)"),
    (make_context(), [*TABLES, {"key": "public.c", "size_bytes": 1, "rows_estimate": 0}],
     "the source's tables or columns changed since"),
])
def test_no_resume_without_checksums_or_after_the_tables_changed(tmp_path, ctx, tables, why):
    cluster, record = interrupted(tmp_path)
    source_rows = {table["key"]: 1 for table in tables}
    result, engine, run = rerun(tmp_path, cluster, record, ctx=ctx, tables=tables, source_rows=source_rows)
    assert not result["failed"]
    assert sorted(copied(engine)) == sorted(table["key"] for table in tables)
    assert [e for e in engine.events if e[0] == "database"], "the database is made afresh"
    assert "shop/shop: not resuming the interrupted copy, %s: copying every table again" % why in run.lines


def test_force_copies_everything_again(tmp_path):
    cluster, record = interrupted(tmp_path)
    result, engine, _run = rerun(tmp_path, cluster, record, ctx=make_context(force=True))
    assert not result["failed"] and sorted(copied(engine)) == ["public.a", "public.b"]


def test_a_kept_table_the_source_changed_since_is_copied_again_whole(tmp_path):
    cluster, record = interrupted(tmp_path)
    # public.a was kept from the first run's snapshot; the source has one more row of it now
    result, engine, run = rerun(tmp_path, cluster, record, source_rows={"public.a": 3, "public.b": 1},
                                target_rows={"public.a": 2, "public.b": 1})
    assert copied(engine) == ["public.b"]
    assert ("recopy", "public.a", "SNAP-1") in engine.events
    assert not result["failed"] and cluster.marker()["state"] == marker.VERIFIED
    assert any("copying again the 1 tables it had copied parts of" in line for line in run.lines)
    assert [e[0] for e in engine.events if e[0] in ("verify target",)] == ["verify target", "verify target"]
    assert [e for e in engine.events if e[0] == "verify source"] == [("verify source", "checksum", "SNAP-1")], \
        "the source's half is read once, from this run's snapshot"


def test_a_copy_that_was_not_resumed_is_not_copied_twice_on_a_mismatch(tmp_path):
    cluster, ctx = FakeCluster(tmp_path), make_context()
    engine = FakeEngine(ctx, cluster.kubectl, target_rows={"public.a": 1, "public.b": 1})
    result = runbook.migrate(engine, run=run_state(ctx))
    assert result["failed"] and cluster.marker()["state"] == marker.VERIFY_FAILED
    assert not [e for e in engine.events if e[0] == "recopy"]


def test_a_resumed_copy_keeps_the_interrupted_runs_backup_while_it_is_whole(tmp_path):
    cluster, record = interrupted(tmp_path)
    first_backup = cluster.marker()["backup"]
    result, engine, run = rerun(tmp_path, cluster, record)
    assert result["backup"] == first_backup
    assert not [script for script in engine.source.scripts if "sha256sum" in script], "no second dump"
    assert any(line.startswith("shop/shop: keeping the interrupted run's backup %s" % first_backup["path"]) for line in run.lines)


def test_a_resumed_copy_takes_a_new_backup_when_the_earlier_one_is_gone(tmp_path):
    cluster, record = interrupted(tmp_path)
    result, engine, run = rerun(tmp_path, cluster, record, source=FakeSource(backups_present=False))
    assert len([script for script in engine.source.scripts if "sha256sum" in script]) == 1, "a new dump"
    assert result["backup"]["sha256"] and not any("keeping the interrupted run's backup" in line for line in run.lines)
