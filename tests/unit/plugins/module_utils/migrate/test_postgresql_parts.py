from __future__ import annotations

import json
import subprocess
import time

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import postgresql_parts
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import sql

MIB = 1 << 20


def table(key, size_mib, blocks=None, rows=1000, columns=("id",)):
    return {"key": key, "size_bytes": int(size_mib * MIB), "blocks": int(size_mib * 128) if blocks is None else blocks,
            "rows_estimate": rows, "columns": list(columns)}


def test_a_small_table_is_one_whole_part_and_a_large_one_ranges_of_pages_ending_open():
    parts = postgresql_parts.split([table("public.big", 256), table("public.small", 100)], 64 * MIB)
    big = [part for part in parts if part["table"]["key"] == "public.big"]
    assert [(part["part"], part["first_block"], part["end_block"]) for part in big] == [
        (0, 0, 8192), (1, 8192, 16384), (2, 16384, 24576), (3, 24576, None)]
    assert [part["key"] for part in big] == ["public.big#0", "public.big#1", "public.big#2", "public.big#3"]
    assert parts[-1]["key"] == "public.small" and parts[-1]["part"] is None
    assert sum(part["rows_estimate"] for part in big) == 1000


@pytest.mark.parametrize(("size_mib", "blocks", "part_mib", "count"), [
    (127, None, 64, 1),       # not twice the part size
    (128, None, 64, 2),
    (100000, None, 64, postgresql_parts.MAX_PARTS),
    (512, 3, 64, 3),          # never more parts than pages
    (512, None, 0, 1),        # 0: every table whole
])
def test_part_counts(size_mib, blocks, part_mib, count):
    assert len(postgresql_parts.split([table("t", size_mib, blocks)], part_mib * MIB)) == count


def test_every_page_is_in_exactly_one_range():
    parts = postgresql_parts.split([table("t", 1000, blocks=12345)], 64 * MIB)
    assert parts[0]["first_block"] == 0
    assert all(a["end_block"] == b["first_block"] for a, b in zip(parts, parts[1:]))
    assert parts[-1]["end_block"] is None


def test_where_clause_of_a_range_and_of_a_whole_table():
    first, last = postgresql_parts.split([table("t", 128)], 64 * MIB)
    assert postgresql_parts.where_clause(first) == " WHERE ctid >= '(0,0)'::tid AND ctid < '(8192,0)'::tid"
    assert postgresql_parts.where_clause(last) == " WHERE ctid >= '(8192,0)'::tid"
    assert postgresql_parts.where_clause(postgresql_parts.split([table("t", 1)], 64 * MIB)[0]) == ""


def test_the_digest_follows_tables_and_columns_not_their_sizes():
    one = postgresql_parts.tables_digest([table("a", 1), table("b", 2)])
    assert one == postgresql_parts.tables_digest([table("b", 900), table("a", 5)])
    assert one != postgresql_parts.tables_digest([table("a", 1), table("b", 2, columns=("id", "note"))])
    assert one != postgresql_parts.tables_digest([table("a", 1)])


def test_a_resumed_copy_keeps_the_recorded_ranges():
    tables = [table("public.big", 256), table("public.small", 1)]
    planned = postgresql_parts.split(tables, 64 * MIB)
    record = {"digest": "d", "parts": [{"table": part["table"]["key"], "part": part["part"], "first_block": part["first_block"],
                                        "end_block": part["end_block"], "done": part["part"] in (0, 2)} for part in planned]}
    # the table grew since: the recorded ranges stay (the last one is open), only those not in are copied
    left = postgresql_parts.from_record([table("public.big", 300), table("public.small", 1)], record)
    assert [(part["key"], part["first_block"], part["end_block"]) for part in left] == [
        ("public.big#1", 8192, 16384), ("public.big#3", 24576, None), ("public.small", None, None)]


def test_the_record_sql_names_each_part():
    planned = postgresql_parts.split([table("public.it's", 128)], 64 * MIB)
    created = postgresql_parts.create_sql("d1", planned)
    assert "('public.it''s', 0, 0, 8192),\n('public.it''s', 1, 8192, NULL)" in created
    assert created.startswith("BEGIN;\nDROP SCHEMA IF EXISTS _stateshift_copy CASCADE;\n") and created.endswith("COMMIT;\n")
    assert postgresql_parts.mark_done_sql(planned[1]) == (
        "UPDATE _stateshift_copy.parts SET done = true WHERE table_key = 'public.it''s' AND part = 1;\n")
    assert postgresql_parts.mark_done_sql(postgresql_parts.split([table("t", 1)], 64 * MIB)[0]).endswith("AND part IS NULL;\n")


# --- the record and the claim, against a real server ---------------------------------------------------------------

def session(server, database):
    """A psql reading its script from a pipe: the test writes statements and the session stays open meanwhile."""
    return subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", server.socket_dir, "-p", str(server.port),
                             "-U", "postgres", "-d", database], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture
def recorded(local_postgres):
    local_postgres.psql("DROP DATABASE IF EXISTS parts_claim;")
    local_postgres.psql("CREATE DATABASE parts_claim;")
    local_postgres.psql("CREATE TABLE items (id int);", database="parts_claim")
    parts = postgresql_parts.split([table("public.items", 128, columns=("id",))], 64 * MIB)
    local_postgres.psql(postgresql_parts.create_sql("d1", parts), database="parts_claim")
    yield local_postgres, parts
    local_postgres.psql("DROP DATABASE IF EXISTS parts_claim WITH (FORCE);")


def load(server, part, rows, commit=True):
    """The statements a part's load runs, its rows inserted instead of copied."""
    return session(server, "parts_claim"), ("BEGIN;\n%s;\nINSERT INTO items SELECT generate_series(1, %d);\n%s%s" % (
        postgresql_parts.claim_sql(part), rows, postgresql_parts.mark_done_sql(part), "COMMIT;\n" if commit else "ROLLBACK;\n"))


@pytest.mark.parametrize("first_commits", [True, False], ids=["first-commits", "first-rolls-back"])
def test_a_second_load_of_a_part_waits_for_the_first_and_loads_only_if_it_did_not_commit(recorded, first_commits):
    server, parts = recorded
    first, first_script = load(server, parts[1], 10, commit=first_commits)
    begin, rest = first_script.split("INSERT", 1)
    first.stdin.write(begin)
    first.stdin.flush()
    time.sleep(0.5)  # the first holds its claim
    second, second_script = load(server, parts[1], 10)
    second.stdin.write(second_script)
    second.stdin.close()
    time.sleep(1.0)
    assert second.poll() is None, "the second load did not wait for the first"
    first.stdin.write("INSERT" + rest)
    first.stdin.close()
    assert first.wait(timeout=30) == 0
    second_rc, second_err = second.wait(timeout=30), second.stderr.read()
    rows = server.psql("SELECT count(*) FROM items;", database="parts_claim").stdout.strip()
    if first_commits:
        assert second_rc != 0 and postgresql_parts.ALREADY_IN in second_err
    else:
        assert second_rc == 0, second_err
    assert rows == "10", "the part's rows are in once"
    record = server.psql(postgresql_parts.RECORD_SQL, database="parts_claim").stdout
    assert [row["done"] for row in json.loads(record)["parts"]] == [False, True]


def test_preflight_looks_for_the_records_schema_by_its_name():
    assert "nspname = '%s'" % postgresql_parts.SCHEMA in sql.SOURCE_FACTS_SQL


def _whole(key, mib):
    return {"key": key, "table": {"key": key}, "part": None, "size_bytes": int(mib * 1024 * 1024), "rows_estimate": 1}


def test_small_whole_tables_are_batched_over_the_jobs_and_large_ones_and_ranges_go_alone():
    big = _whole("public.big", 40)
    ranges = [dict(_whole("public.huge#%d" % index, 128), part=index) for index in range(2)]
    small = [_whole("public.s%d" % index, (index + 1) / 2) for index in range(10)]
    units = postgresql_parts.batches([big, *ranges, *small], jobs=2)
    assert [unit for unit in units if len(unit) == 1 and unit[0] in (big, *ranges)] == [[ranges[0]], [ranges[1]], [big]]
    batched = [unit for unit in units if unit[0] in small]
    assert len(batched) == 2 and sorted(part["key"] for unit in batched for part in unit) == sorted(p["key"] for p in small)
    sizes = [sum(part["size_bytes"] for part in unit) for unit in batched]
    assert max(sizes) - min(sizes) <= small[-1]["size_bytes"], "the batches are balanced"


def test_small_tables_of_few_bytes_together_go_in_one_stream_whatever_the_jobs():
    tiny = [_whole("public.t%d" % index, 1) for index in range(15)]
    assert len(postgresql_parts.batches(tiny, jobs=4)) == 1
    assert len(postgresql_parts.batches([*tiny, _whole("public.t15", 1)], jobs=4)) == 4, "16 MiB together: spread over the jobs"
    assert len(postgresql_parts.batches([_whole("public.big", 40), *tiny], jobs=2)) == 2


def test_batches_stay_under_their_table_count_and_size():
    many = [_whole("public.t%d" % index, 0.01) for index in range(100)]
    assert max(len(unit) for unit in postgresql_parts.batches(many, jobs=1)) <= postgresql_parts.BATCH_TABLES
    heavy = [_whole("public.h%d" % index, 15) for index in range(12)]
    units = postgresql_parts.batches(heavy, jobs=1)
    assert len(units) == 3 and all(sum(part["size_bytes"] for part in unit) <= 64 * 1024 * 1024 for unit in units)
    assert postgresql_parts.batches([], jobs=2) == []


def test_a_literal_between_two_tables_keeps_its_backslashes():
    assert postgresql_parts.text_literal("\\.\nCOPY \"it's\"") == "E'\\\\.\nCOPY \"it''s\"'"
