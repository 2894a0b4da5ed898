from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import ledger

EMPTY = {"state": ledger.NONE, "history": []}


def test_a_cutover_then_a_rollback_then_a_cutover_again():
    started = ledger.advanced(EMPTY, "cutover_started", at="t1")
    assert started["state"] == ledger.CUTTING_OVER and started["cutover"] == {"cutover_started_at": "t1"}
    done = ledger.advanced(started, "cutover_finished", {"final_sync": {"verified": True}}, at="t2")
    assert done["cutover"] == {"cutover_started_at": "t1", "cutover_finished_at": "t2", "final_sync": {"verified": True}}
    back = ledger.advanced(ledger.advanced(done, "rollback_started", at="t3"), "rollback_finished", at="t4")
    assert back["state"] == ledger.ROLLED_BACK and back["cutover"] == done["cutover"]
    again = ledger.advanced(back, "cutover_started", at="t5")
    assert again["cutover"] == {"cutover_started_at": "t5"}
    assert [event["event"] for event in again["history"]] == [
        "cutover_started", "cutover_finished", "rollback_started", "rollback_finished", "cutover_started"]


def test_the_last_event_again_changes_nothing_unless_it_records_more():
    started = ledger.advanced(EMPTY, "cutover_started", at="t1")
    assert ledger.advanced(started, "cutover_started") is started
    more = ledger.advanced(started, "cutover_started", {"clients_restart_pending": True})
    assert more["cutover"]["clients_restart_pending"] is True and len(more["history"]) == 1


@pytest.mark.parametrize("event, state", [("rollback_started", ledger.NONE), ("cutover_finished", ledger.NONE),
                                          ("cutover_started", ledger.CUT_OVER), ("rollback_finished", ledger.CUT_OVER)])
def test_an_event_out_of_order_is_refused_with_what_to_run(event, state):
    with pytest.raises(ledger.LedgerError) as raised:
        ledger.advanced(dict(EMPTY, state=state), event)
    assert "playbook" in str(raised.value)


def test_a_retirement_follows_a_cutover_and_nothing_follows_it():
    done = ledger.advanced(ledger.advanced(EMPTY, "cutover_started", at="t1"), "cutover_finished", at="t2")
    retiring = ledger.advanced(done, "retire_started", {"gates": [{"name": "soak period", "passed": True}]}, at="t3")
    assert retiring["state"] == ledger.RETIRING and retiring["retire"]["retire_started_at"] == "t3"
    assert ledger.advanced(retiring, "retire_started") is retiring, "a re-run of a retirement that started records nothing new"
    retired = ledger.advanced(retiring, "retire_finished", {"containers": ["shop-db"]}, at="t4")
    assert retired["state"] == ledger.RETIRED and retired["retire"]["containers"] == ["shop-db"]
    assert retired["retire"]["gates"] == [{"name": "soak period", "passed": True}] and retired["cutover"] == done["cutover"]
    for event in ("rollback_started", "cutover_started", "retire_started"):
        with pytest.raises(ledger.LedgerError, match="the source was retired"):
            ledger.advanced(retired, event)


@pytest.mark.parametrize("state", [ledger.NONE, ledger.CUTTING_OVER, ledger.ROLLING_BACK, ledger.ROLLED_BACK])
def test_only_a_cut_over_workload_starts_a_retirement(state):
    with pytest.raises(ledger.LedgerError):
        ledger.advanced(dict(EMPTY, state=state), "retire_started")


def test_a_retirement_under_way_is_not_rolled_back():
    with pytest.raises(ledger.LedgerError, match="run the retire playbook again"):
        ledger.advanced(dict(EMPTY, state=ledger.RETIRING), "rollback_started")
