from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import copy_back
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import copy_back_sql, sql

TABLES = [{"key": "public.orders", "schema": "public", "name": "orders", "columns": ["id", "note"]},
          {"key": 'sales.order "items"', "schema": "sales", "name": 'order "items"', "columns": ["id", "user"]}]


def schema(tables, sequences=()):
    return {"tables": tables, "sequences": list(sequences)}


def test_equal_schemas_have_no_differences():
    same = schema({"public.t": {"id": "integer", "note": "text"}}, ["public.t_id_seq"])
    assert copy_back_sql.schema_differences(same, json.loads(json.dumps(same))) == []


def test_every_difference_is_named_with_its_side():
    origin = schema({"public.a": {"id": "integer", "name": "text", "total": "integer (generated)"}, "public.new": {"id": "integer"}},
                    ["public.a_id_seq", "public.only_here"])
    into = schema({"public.a": {"id": "bigint", "total": "integer", "legacy": "boolean"}, "public.old": {"id": "integer"}},
                  ["public.a_id_seq", "public.only_there"])
    assert copy_back_sql.schema_differences(origin, into) == [
        "table public.a: column id is integer in the StatefulSet's database but bigint in the source database",
        "table public.a: column legacy (boolean) exists only in the source database",
        "table public.a: column name (text) is missing in the source database",
        "table public.a: column total is integer (generated) in the StatefulSet's database but integer in the source database",
        "table public.new exists in the StatefulSet's database but not in the source database",
        "table public.old exists only in the source database",
        "sequence public.only_here exists only in the StatefulSet's database",
        "sequence public.only_there exists only in the source database",
    ]


def test_the_load_is_one_transaction_that_truncates_every_table_at_once():
    head = copy_back_sql.load_head(TABLES, "UTF8").decode()
    lines = head.splitlines()
    assert lines[0] == "SET client_encoding = 'UTF8';"
    assert lines.index("BEGIN READ WRITE;") < lines.index("SET LOCAL session_replication_role = replica;")
    assert lines[-1] == 'TRUNCATE ONLY "public"."orders", "sales"."order ""items""";'
    assert "SET lock_timeout = '60s';" in lines and "SET DateStyle = 'ISO, YMD';" in lines
    assert head.count("BEGIN") == 1 and "COMMIT" not in head


def test_no_table_no_truncate():
    assert "TRUNCATE" not in copy_back_sql.load_head([], "UTF8").decode()


def test_each_table_is_copied_in_by_its_column_list():
    assert copy_back_sql.copy_in_header(TABLES[1]) == b'COPY "sales"."order ""items""" ("id", "user") FROM STDIN;\n'
    assert copy_back_sql.COPY_END == b"\\.\n"


def test_the_reader_pins_the_output_and_reads_at_the_snapshot():
    statements = copy_back_sql.read_statements(TABLES[0], sql.snapshot_statements("00000003-00000002-1"), "LATIN1", "end-x1")
    assert statements[:2] == ["SET application_name = 'stateshift-copy-back'", "SET client_encoding = 'LATIN1'"]
    assert statements.index("SET TimeZone = 'UTC'") < statements.index("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    assert statements[-4] == "SET TRANSACTION SNAPSHOT '00000003-00000002-1'"
    assert statements[-3:] == ['COPY (SELECT "id", "note" FROM ONLY "public"."orders") TO STDOUT',
                               'SELECT \'end-x1 \' || count(*) FROM ONLY "public"."orders"', "COMMIT"]


def test_sequences_are_restarted_then_set_and_the_script_ends_with_commit():
    tail = copy_back_sql.load_tail([{"schema": "public", "name": "orders_id_seq", "last_value": 42, "start_value": 1},
                                    {"schema": "odd", "name": "it's", "last_value": None, "start_value": 7}]).decode()
    assert tail.splitlines() == [
        'ALTER SEQUENCE "public"."orders_id_seq" RESTART;',
        "SELECT pg_catalog.setval('\"public\".\"orders_id_seq\"', 42, true);",
        'ALTER SEQUENCE "odd"."it\'s" RESTART;',
        "SELECT pg_catalog.setval('\"odd\".\"it''s\"', 7, false);",
        "COMMIT;",
    ]


def test_mismatches_name_the_sides_of_this_direction():
    assert copy_back.reworded("table public.t: 5 rows on the source, 4 on the target") == (
        "table public.t: 5 rows on the StatefulSet's database, 4 on the source database")
    assert copy_back.reworded("table public.t exists only on the target") == "table public.t exists only on the source database"
    assert copy_back.reworded("sequence s: at 5 on the source, 3 on the target") == (
        "sequence s: at 5 on the StatefulSet's database, 3 on the source database")
