from __future__ import annotations

import datetime

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import ledger as ledgers
from ansible_collections.stateshift.k3s.plugins.module_utils.retire import gates

CUT_OVER = {"state": ledgers.CUT_OVER, "history": [], "cutover": {"cutover_finished_at": "2026-12-01T10:00:00.000000Z"}}
UTC = datetime.timezone.utc


def drill_line(database, stamp, checked="sha256 matches; row counts of 9 tables match the backup's"):
    return "restore drill passed: %s-%s.dump restored and verified (%s); scratch database dropped" % (database, stamp, checked)


@pytest.mark.parametrize("state", [ledgers.NONE, ledgers.CUTTING_OVER, ledgers.ROLLING_BACK, ledgers.ROLLED_BACK])
def test_a_workload_that_is_not_cut_over_is_refused_with_what_to_run(state):
    gate = gates.state({"state": state, "history": []})
    assert not gate.passed and ("playbook" in gate.detail or "cutover" in gate.detail)


def test_the_soak_period_counts_from_the_cutover_and_says_when_it_ends():
    early = gates.soak(CUT_OVER, 7, datetime.datetime(2026, 12, 3, 12, 30, tzinfo=UTC))
    assert not early.passed
    assert "cut over 2 d 2 h ago, and retire.soak_days is 7: the source may be retired from 2026-12-08 10:00 UTC (in 4 d 21 h)" \
        in early.detail
    assert gates.soak(CUT_OVER, 7, datetime.datetime(2026, 12, 8, 10, 0, tzinfo=UTC)).passed
    assert gates.soak(CUT_OVER, 0, datetime.datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC)).passed


def test_a_backup_of_every_database_after_the_cutover_with_its_sha256_passes():
    lines = ["restoring ...", drill_line("shop", "20261201T100001Z"), drill_line("shop_reports", "20261202T030000Z")]
    gate = gates.backups(lines, ["shop", "shop_reports"], CUT_OVER)
    assert gate.passed and "shop-20261201T100001Z.dump, shop_reports-20261202T030000Z.dump" in gate.detail


@pytest.mark.parametrize(("lines", "expected"), [
    ([drill_line("shop", "20261201T095959Z")], "the newest backup of shop, shop-20261201T095959Z.dump, was taken before the cutover"),
    ([drill_line("shop_reports", "20261202T030000Z")], "the restore drill did not pass for shop"),
    ([drill_line("shop", "20261202T030000Z", "row counts of 9 tables match the backup's")],
     "backup shop-20261202T030000Z.dump has no recorded sha256"),
])
def test_a_backup_that_is_missing_old_or_unsummed_is_refused(lines, expected):
    gate = gates.backups(lines, ["shop"], CUT_OVER)
    assert not gate.passed and expected in gate.detail and "postgresql_backup_now=true" in gate.detail


def test_a_failed_drill_is_refused_with_what_it_said():
    lines = ["Job invoicetron/x failed: no backup of shop matches (backup: latest, before: any time)"]
    gate = gates.backups(lines, ["shop"], CUT_OVER)
    assert not gate.passed
    assert "the restore drill did not pass for shop (the drill said: Job invoicetron/x failed: no backup of shop matches" in gate.detail


def test_without_the_drill_only_check_mode_passes_the_backup_gate():
    assert gates.backups(None, ["shop"], CUT_OVER, check_mode=True).passed
    refused = gates.backups(None, ["shop"], CUT_OVER)
    assert not refused.passed and "no restore drill output" in refused.detail


STATEFULSET = {"metadata": {"name": "shop-postgresql"}, "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}


def test_the_target_must_be_ready_and_writable():
    assert gates.target(STATEFULSET, {"recovery": False}).passed
    assert "missing" in gates.target(None, None).detail
    unready = gates.target(dict(STATEFULSET, status={}), {"recovery": False})
    assert not unready.passed and "0 of 1 replicas ready" in unready.detail
    assert "in recovery" in gates.target(STATEFULSET, {"recovery": True}).detail
    assert "does not answer: connection refused" in gates.target(STATEFULSET, "connection refused").detail


def test_client_sessions_seen_during_the_watch_are_listed_once_each():
    app = {"pid": 11, "user": "shop_app", "address": "10.0.0.7", "application": "psql", "database": "shop"}
    samples = [[], [app, dict(app, pid=12)], [app], [{"pid": 30, "user": "report", "address": "a local socket", "database": "shop"}]]
    gate = gates.client_sessions(samples, 60)
    assert not gate.passed
    assert "report from a local socket on shop (1 session); shop_app from 10.0.0.7 (psql) on shop (2 sessions)" in gate.detail
    assert gates.client_sessions([[], []], 2).passed
    assert "did not answer" in gates.client_sessions("psql: connection refused", 60).detail


def test_the_refusal_names_every_refused_gate_and_that_nothing_stopped():
    text = gates.refusal("shop", [gates.Gate("soak period", False, "wait"), gates.Gate("no clients", True, "none"),
                                  gates.Gate("verified backup", False, "old")])
    assert text == "shop is not retired, nothing was stopped: soak period: wait; verified backup: old"
