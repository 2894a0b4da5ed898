from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import verify

from .fakes import FakeCluster, FakeEngine, make_context


def engine(tmp_path, **options):
    return FakeEngine(make_context(), FakeCluster(tmp_path).kubectl, **options)


def test_none_reads_nothing_and_passes(tmp_path):
    fake = engine(tmp_path)
    assert verify.compare(fake, "none") == verify.not_verified()
    assert verify.begin_source(fake, "none", "SNAP-1") is None
    assert fake.events == []


@pytest.mark.parametrize("level", ["count", "checksum"])
def test_both_halves_at_the_level_asked(tmp_path, level):
    fake = engine(tmp_path)
    report = verify.compare(fake, level, "SNAP-1")
    assert report["ok"] and report["level"] == level
    assert ("verify source", level, "SNAP-1") in fake.events and ("verify target", level) in fake.events


def test_a_source_half_started_early_is_used_not_read_again(tmp_path):
    fake = engine(tmp_path, target_rows={"public.a": 2, "public.b": 0})
    started = verify.begin_source(fake, "checksum", "SNAP-1")
    report = verify.compare(fake, "checksum", "SNAP-1", started)
    assert [e for e in fake.events if e[0] == "verify source"] == [("verify source", "checksum", "SNAP-1")]
    assert not report["ok"]
    assert report["mismatches"] == ["table public.b: 1 rows on the source, 0 on the target"]
