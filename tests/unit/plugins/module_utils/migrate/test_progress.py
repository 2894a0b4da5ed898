from __future__ import annotations

import threading

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import progress as migration_progress
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import CopyProgress, human_bytes, human_seconds
from tests.unit.plugins.module_utils.fake_clock import FakeClock

MIB = 1 << 20
TABLES = [
    {"key": "public.invoices", "size_bytes": 512 * MIB, "rows_estimate": 1000},
    {"key": "public.customers", "size_bytes": 256 * MIB, "rows_estimate": 0},  # never analyzed
    {"key": "billing.ledger", "size_bytes": 256 * MIB, "rows_estimate": 400},
]


def progress(clock, tables=None, **kwargs):
    tables = TABLES if tables is None else tables
    return CopyProgress("copy invoicetron", tables, emit=lambda line: None, clock=clock, **kwargs)


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (MIB, "1.0 MiB"), (int(25.6 * MIB), "25.6 MiB"),
     (5 << 30, "5.0 GiB"), (2048 << 30, "2048.0 GiB")],
)
def test_human_bytes(count, text):
    assert human_bytes(count) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.4, "59s"), (59.6, "1m00s"), (61, "1m01s"), (3599, "59m59s"), (3600, "1h00m"), (7322, "2h02m"), (90000, "25h00m")],
)
def test_human_seconds(seconds, text):
    assert human_seconds(seconds) == text


def test_line_before_anything_is_copied():
    clock = FakeClock(1000.0)
    copy = progress(clock)
    clock.now += 3
    assert copy.line() == "copy invoicetron: 0/3 tables, 0 B of 1.0 GiB (0%), 0 B/s, 3s elapsed, ETA -"


def test_line_after_one_table_gives_percent_rate_and_eta():
    clock = FakeClock(1000.0)
    copy = progress(clock)
    copy.table_done("public.customers")
    clock.now += 10
    assert copy.line() == "copy invoicetron: 1/3 tables, 256.0 MiB of 1.0 GiB (25%), 25.6 MiB/s, 10s elapsed, ETA 30s"


def test_a_table_in_flight_counts_by_its_share_of_rows():
    clock = FakeClock(1000.0)
    copy = progress(clock)
    copy.table_done("public.customers")
    copy.update_in_flight({"public.invoices": 500, "billing.ledger": 100})
    assert copy.bytes_done() == (256 + 256 + 64) * MIB
    clock.now += 90
    line = copy.line()
    assert "1/3 tables, 576.0 MiB of 1.0 GiB (56%)" in line
    assert line.endswith("1m30s elapsed, ETA 1m10s")


def test_in_flight_share_is_capped_at_the_whole_table():
    clock = FakeClock(1000.0)
    copy = progress(clock)
    copy.update_in_flight({"public.invoices": 50000})
    assert copy.bytes_done() == 512 * MIB
    clock.now += 1
    assert "(50%)" in copy.line()


def test_in_flight_ignores_unknown_done_and_never_analyzed_tables():
    copy = progress(FakeClock(1000.0))
    copy.table_done("billing.ledger")
    copy.update_in_flight({"public.other": 10, "billing.ledger": 200, "public.customers": 10**6})
    assert copy.in_flight == {"public.customers": 10**6}
    assert copy.bytes_done() == 256 * MIB  # the finished ledger only; customers has no row estimate


def test_a_finished_table_leaves_the_in_flight_set():
    copy = progress(FakeClock(1000.0))
    copy.update_in_flight({"public.invoices": 250})
    assert copy.bytes_done() == 128 * MIB
    copy.table_done("public.invoices")
    assert copy.in_flight == {}
    assert copy.bytes_done() == 512 * MIB


def test_line_when_everything_is_done():
    clock = FakeClock(1000.0)
    copy = progress(clock)
    for table in TABLES:
        copy.table_done(table["key"])
    clock.now += 4000
    assert copy.line() == "copy invoicetron: 3/3 tables, 1.0 GiB of 1.0 GiB (100%), 262.1 KiB/s, 1h06m elapsed, ETA -"


def test_line_with_no_bytes_at_all_is_complete():
    clock = FakeClock(1000.0)
    copy = progress(clock, tables=[{"key": "public.t", "size_bytes": 0, "rows_estimate": 0}])
    assert copy.line() == "copy invoicetron: 0/1 tables, 0 B of 0 B (100%), 0 B/s, 0s elapsed, ETA -"


def test_the_ticker_polls_and_emits_and_survives_a_failing_poll():
    lines, polls = [], []
    enough = threading.Event()

    def poll():
        polls.append(1)
        if len(polls) == 1:
            raise RuntimeError("pg_stat_progress_copy unavailable")
        return {"public.invoices": 1000}

    def emit(line):
        lines.append(line)
        if len(lines) >= 3:
            enough.set()

    with CopyProgress("copy", TABLES, emit=emit, poll=poll, interval=0.01) as copy:
        assert enough.wait(5)
    assert not copy.ticker.thread.is_alive()
    assert len(polls) >= 3
    assert "(50%)" in lines[-1]


def test_progress_sql_reads_copy_from_only():
    assert "pg_stat_progress_copy" in migration_progress.PROGRESS_COPY_SQL
    assert "'COPY FROM'" in migration_progress.PROGRESS_COPY_SQL


def test_the_source_s_answer_is_keyed_like_the_parts_whatever_the_quoting():
    answer = {'"public"."pgbench_accounts"': 3, "public.t": 5, '"My ""S"".x"."T 1"': 7, "not qualified": 1}
    assert migration_progress.by_table_key(answer) == {"public.pgbench_accounts": 3, "public.t": 5, 'My "S".x.T 1': 7}
    assert migration_progress.table_key("public.t WHERE x") is None


def test_source_progress_sql_reads_the_copies_of_parts_in_this_database():
    assert "'COPY TO'" in migration_progress.SOURCE_PROGRESS_COPY_SQL
    assert "current_database()" in migration_progress.SOURCE_PROGRESS_COPY_SQL
