"""bench/readme.py: the README's benchmark blocks are made from the results, and only they change."""

from __future__ import annotations

from bench import readme
from bench.migration import measure


def method(median, copy=None, runs=2, ok=2):
    return {"median_s": median, "copy_median_s": copy, "runs": runs, "ok_runs": ok, "peak_rss_mb_max": 140.0}


RESULT = {
    "date": "2026-12-02", "environment": {"git": "abc123", "cpus": 2, "pg_dump": "pg_dump 15", "pgcopydb": None},
    "datasets": {
        "small @ loopback": {"dataset": "small", "link": "loopback", "size_bytes": 14 * 2**20,
                             "methods": {"runbook": method(1.5), "ours_job": method(6.0, 2.5, ok=1)},
                             "ratios": {"ours_job": {"ours_job_over_runbook": {"ratio": 4.0, "limit": 1.0, "met": False}}}},
        "small @ shaped": {"dataset": "small", "link": "shaped", "size_bytes": 14 * 2**20, "methods": {"runbook": method(9.9)},
                           "ratios": {}},
    },
    "links": {"small": {"runbook": {"shaped_over_loopback": 1.2}}},
    "growth": {},
}


def test_the_migration_table_has_one_column_per_loopback_dataset_and_says_which_runs_failed():
    block = readme.migration_block(RESULT)
    assert "| method | small (14 MiB) |\n|---|---|" in block
    assert "| runbook (plain `pg_dump` > file, `scp`, `kubectl cp`, `psql -f`) | 1.50 s |" in block
    assert "| ours, Job, backup + checksum verification | 6.00 s (copy 2.50 s) (1 of 2 runs failed) |" in block
    assert "9.9" not in block, "a shaped-link figure reached the loopback table"
    prose = " ".join(block.split())
    assert "ours / runbook on small 4.00 (goal ≤ 1.0: not met)" in prose
    assert "took 1.20\N{EN DASH}1.20 of its loopback time" in prose


def test_the_stream_transports_ceiling_is_said_beside_its_data_rate():
    result = dict(RESULT, relay={"one_stream_mib_s": 93.6, "two_streams_mib_s": 100.6})
    result["datasets"] = dict(RESULT["datasets"])
    small = dict(result["datasets"]["small @ loopback"])
    small["methods"] = dict(small["methods"], ours_stream=dict(method(3.0, 1.0), phases_median_s={"data": 0.7}))
    result["datasets"]["small @ loopback"] = small
    prose = " ".join(readme.migration_block(result).split())
    assert "carried 93.6 MiB/s with one stream and 100.6 MiB/s with two; ours, stream, copied small at 20 MiB/s." in prose
    assert "carried" not in " ".join(readme.migration_block(RESULT).split())


def test_only_the_block_between_its_markers_is_replaced():
    text = "before\n<!-- bench:cutover -->\nold figures\n<!-- /bench:cutover -->\nafter\n"
    assert readme.replace_block(text, "cutover", "new") == "before\n<!-- bench:cutover -->\nnew\n<!-- /bench:cutover -->\nafter\n"
    empty = "<!-- bench:cutover -->\n<!-- /bench:cutover -->\n"
    assert readme.replace_block(empty, "cutover", "new") == "<!-- bench:cutover -->\nnew\n<!-- /bench:cutover -->\n"


def test_the_failover_block_gives_the_median_the_maximum_and_the_writes_lost():
    result = {"rounds": 3, "gaps": [2.3, 2.1, 4.0], "acknowledged": 812, "lost": 0}
    prose = " ".join(readme.failover_block(result, "failover-20261203T131500.json").split())
    assert "on 2026-12-03 (the leader pod deleted 3 times" in prose
    assert "unacknowledged for 2.30 s at p50 and 4.00 s at most; 812 writes acknowledged, 0 of them lost." in prose


def test_a_resume_whose_first_run_was_not_interrupted_is_not_counted_nor_met():
    copied = {"rc": 0, "fingerprint_match": True, "wall_s": 0.7, "peak_rss_mb": 130.0, "resumed": False,
              "engine": {"copy_s": 0, "engine_duration_s": 0.6, "timings": {"preflight": 0.4}}}
    info = measure.summarize_method([copied], "ours_resume")
    assert info["median_s"] is None and info["not_resumed_runs"] == 1 and "failures" not in info
    ratios = measure.goal_ratios({"ours_job": {"median_s": 2.0, "copy_median_s": 0.6}, "ours_resume": info})["ratios"]
    assert "ours_resume" not in ratios, "a re-run that resumed nothing must not meet the resume goal"
    small = dict(RESULT["datasets"]["small @ loopback"], methods={"runbook": method(1.5), "ours_resume": info})
    result = dict(RESULT, datasets={"small @ loopback": small})
    assert "| — (not interrupted: the copy was one batch of small tables) |" in readme.migration_block(result)
