from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import report, verify

from .fakes import FakeCluster, FakeEngine, make_context, run_state


def test_no_directory_writes_nothing():
    assert report.write_files({"ok": True}, None, "x", lambda r, s: "") == []


def test_json_and_markdown_are_written_readable_by_all(tmp_path):
    paths = report.write_files({"ok": True, "level": "count"}, str(tmp_path / "reports"), "shop-shop", lambda r, s: "# %s\n" % s)
    assert [os.path.basename(p) for p in paths] == ["shop-shop.json", "shop-shop.md"]
    assert json.loads(Path(paths[0]).read_text()) == {"ok": True, "level": "count"}
    assert Path(paths[1]).read_text() == "# shop-shop\n"
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o644 for p in paths)
    assert sorted(os.listdir(tmp_path / "reports")) == ["shop-shop.json", "shop-shop.md"]


def test_a_copy_result_names_tables_size_transport_and_verification(tmp_path):
    ctx = make_context(report_dir=str(tmp_path))
    fake = FakeEngine(ctx, FakeCluster(tmp_path).kubectl)
    run = run_state(ctx)
    run.timings["data"] = 2.0
    checked = verify.compare(fake, "checksum", "SNAP-1")
    result = report.result(run, fake, fake.inspect(), checked, {"state": "verified"}, backup={"path": "/b"}, transport="job")
    assert result["changed"] and not result["failed"]
    assert result["msg"].startswith("shop/shop: copied 2 tables (150 B) in ")
    assert result["msg"].endswith("(75 B/s) via job; verification passed")
    assert result["report_files"] == [str(tmp_path / "shop-shop.json"), str(tmp_path / "shop-shop.md")]
    assert result["report"]["backup"] == {"path": "/b"} and result["summary"]["tables"] == 2


def test_a_failed_verification_fails_the_task_listing_mismatches(tmp_path):
    ctx = make_context()
    fake = FakeEngine(ctx, FakeCluster(tmp_path).kubectl, target_rows={"public.a": 1, "public.b": 1})
    result = report.result(run_state(ctx), fake, fake.inspect(), verify.compare(fake, "count"), {}, transport="stream")
    assert result["failed"]
    assert result["msg"].endswith("verification FAILED: table public.a: 2 rows on the source, 1 on the target")
