"""The copy-back's decisions, with preflight, the load and the verification replaced: check mode, re-runs, failures."""

from __future__ import annotations

import types

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import copy_back, copy_back_marker
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.copy_back_preflight import CopyBackPlan
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError

from .fakes import FakeCluster, make_context

TABLES = [{"key": "public.t", "schema": "public", "name": "t", "columns": ["id"], "size_bytes": 2048, "rows_estimate": 10}]
OK = {"ok": True, "level": "checksum", "mismatches": [], "objects": {}, "sequences": [], "fingerprint": {"writes": 3},
      "tables": [{"table": "public.t", "source_rows": 10, "target_rows": 10, "source_checksum": "7", "target_checksum": "7",
                  "match": True}], "totals": {"tables": 1, "rows_source": 10, "rows_target": 10}}


def engine_for(tmp_path, **options):
    ctx = make_context(**options)
    side = types.SimpleNamespace(label="side", where=lambda: "legacy", pod="shop-postgresql-0")
    return types.SimpleNamespace(ctx=ctx, cluster=FakeCluster(tmp_path).kubectl, source=side, target=side, notes=[], long=60)


@pytest.fixture
def steps(monkeypatch):
    calls = []
    record = {}

    def check(run_state, engine):
        return CopyBackPlan(tables=TABLES, source={"version": "15.2"}, target={"version": "18.1"}, encoding="UTF8",
                            record=dict(record))

    monkeypatch.setattr(copy_back.copy_back_preflight, "check", check)
    monkeypatch.setattr(copy_back.postgresql_snapshot, "ExportedSnapshot", lambda side, database, application_name: _Held())
    monkeypatch.setattr(copy_back, "end_leftover_sessions", lambda run_state, engine: calls.append("end leftovers"))
    monkeypatch.setattr(copy_back, "take_backup", lambda run_state, engine: calls.append("backup") or {"sha256": "ab"})
    monkeypatch.setattr(copy_back, "load", lambda *args: calls.append("load"))
    monkeypatch.setattr(copy_back, "compare", lambda engine, level, snapshot=None: calls.append(("verify", snapshot)) or dict(OK))
    return calls, record


class _Held:
    def __enter__(self):
        return "SNAP"

    def __exit__(self, *exc):
        return False


def test_check_mode_only_says_what_would_happen(tmp_path, steps):
    calls, _record = steps
    engine = engine_for(tmp_path, check_mode=True)
    outcome = copy_back.copy_back(engine)
    assert outcome["changed"] is True and "would back up the source database on legacy" in outcome["msg"]
    assert calls == [] and copy_back_marker.read(engine.cluster, engine.ctx) == {}


def test_a_copy_back_backs_up_loads_verifies_and_records(tmp_path, steps):
    calls, _record = steps
    engine = engine_for(tmp_path)
    outcome = copy_back.copy_back(engine)
    assert calls == ["end leftovers", "backup", "load", ("verify", "SNAP")]
    assert outcome["changed"] and outcome["verified"] and not outcome["failed"]
    assert outcome["tables"] == [{"name": "public.t", "rows": 10, "checksum": "7", "match": True}]
    assert outcome["backup"] == {"sha256": "ab"}
    record = copy_back_marker.read(engine.cluster, engine.ctx)
    assert record["state"] == "verified" and record["verified"] is True and record["fingerprint"] == {"writes": 3}


def test_a_verified_copy_back_is_only_reverified(tmp_path, steps):
    calls, record = steps
    record.update(state="verified", updated="2026-12-02T03:00:00Z", backup={"sha256": "ab"})
    outcome = copy_back.copy_back(engine_for(tmp_path))
    assert calls == [("verify", None)]
    assert outcome["changed"] is False and "already copied back and verified" in outcome["msg"]


def test_force_copies_back_again(tmp_path, steps):
    calls, record = steps
    record.update(state="verified")
    copy_back.copy_back(engine_for(tmp_path, force=True))
    assert calls == ["end leftovers", "backup", "load", ("verify", "SNAP")]


def test_a_failed_load_says_the_source_is_unchanged_and_stays_copying(tmp_path, steps, monkeypatch):
    def cut(*args):
        raise SideError("target pod shop/shop-postgresql-0: psql failed (rc=2): server closed the connection")

    monkeypatch.setattr(copy_back, "load", cut)
    engine = engine_for(tmp_path)
    with pytest.raises(MigrationError) as raised:
        copy_back.copy_back(engine)
    assert "the source database is unchanged (the copy-back's transaction was not committed): re-run" in str(raised.value)
    assert raised.value.phase == "copy"
    assert copy_back_marker.read(engine.cluster, engine.ctx)["state"] == "copying"


def test_a_failed_verification_after_commit_says_so(tmp_path, steps, monkeypatch):
    def cut(*args, **kwargs):
        raise SideError("source container 'shop-db' on legacy: psql failed (rc=2): connection lost")

    monkeypatch.setattr(copy_back, "compare", cut)
    with pytest.raises(MigrationError) as raised:
        copy_back.copy_back(engine_for(tmp_path))
    assert "the copy-back was committed but could not be verified: re-run" in str(raised.value)
    assert raised.value.phase == "verify"
