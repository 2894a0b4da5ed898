from __future__ import annotations

import json
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import verify as pg_verify

OBJECTS = {"schemas": 2, "tables": 3, "views": 1, "materialized_views": 0, "sequences": 2, "indexes": 4, "constraints": 5,
           "triggers": 0, "functions": 1, "types": 1, "extensions": 1}

SIDE_OUTPUT = "\n".join([
    "SET",
    '{"table" : "public.invoices", "rows" : 300, "checksum" : "-1234567890:987654321"}',
    '{"table" : "public.customers", "rows" : 25, "checksum" : "42:-42"}',
    '  {"table" : "billing.\\"Ledger\\"", "rows" : 0, "checksum" : "0"}  ',
    json.dumps(OBJECTS),
    "COMMIT",
])


def side():
    return pg_verify.parse_side(SIDE_OUTPUT)


def test_parse_side_reads_table_lines_and_the_objects_line():
    parsed = side()
    assert parsed["tables"] == {
        "public.invoices": {"rows": 300, "checksum": "-1234567890:987654321"},
        "public.customers": {"rows": 25, "checksum": "42:-42"},
        'billing."Ledger"': {"rows": 0, "checksum": "0"},
    }
    assert parsed["objects"] == OBJECTS


def test_parse_side_of_count_level_output_and_of_nothing():
    parsed = pg_verify.parse_side('{"table" : "public.t", "rows" : 7, "checksum" : null}\n')
    assert parsed == {"tables": {"public.t": {"rows": 7, "checksum": None}}, "objects": {}}
    assert pg_verify.parse_side("") == {"tables": {}, "objects": {}}
    assert pg_verify.parse_side(None) == {"tables": {}, "objects": {}}


def test_identical_sides_are_ok():
    report = pg_verify.compare(side(), side(), [], "checksum")
    assert report["ok"] is True
    assert report["mismatches"] == []
    assert all(row["match"] for row in report["tables"])
    assert [row["table"] for row in report["tables"]] == ['billing."Ledger"', "public.customers", "public.invoices"]
    assert report["totals"] == {"tables": 3, "rows_source": 325, "rows_target": 325}
    assert all(counts["match"] for counts in report["objects"].values())


def test_a_row_count_mismatch_names_the_table_and_both_counts():
    target = side()
    target["tables"]["public.invoices"]["rows"] = 299
    report = pg_verify.compare(side(), target, [], "count")
    assert report["ok"] is False
    assert report["mismatches"] == ["table public.invoices: 300 rows on the source, 299 on the target"]
    assert {row["table"]: row["match"] for row in report["tables"]}["public.invoices"] is False
    assert report["totals"]["rows_target"] == 324


def test_a_checksum_mismatch_fails_only_at_checksum_level():
    target = side()
    target["tables"]["public.customers"]["checksum"] = "43:-42"
    assert pg_verify.compare(side(), target, [], "count")["ok"] is True
    report = pg_verify.compare(side(), target, [], "checksum")
    assert report["ok"] is False
    assert report["mismatches"] == ["table public.customers: same row count (25) but different contents (checksum)"]


@pytest.mark.parametrize(("missing_on", "expected"), [("target", "source"), ("source", "target")])
def test_a_table_on_one_side_only(missing_on, expected):
    sides = {"source": side(), "target": side()}
    del sides[missing_on]["tables"]["public.customers"]
    report = pg_verify.compare(sides["source"], sides["target"], [], "count")
    assert report["ok"] is False
    assert report["mismatches"] == ["table public.customers exists only on the %s" % expected]
    row = {row["table"]: row for row in report["tables"]}["public.customers"]
    assert row["match"] is False
    assert row["%s_rows" % missing_on] is None


def test_an_object_count_mismatch_names_the_kind():
    target = side()
    target["objects"]["indexes"] = 3
    del target["objects"]["extensions"]
    report = pg_verify.compare(side(), target, [], "checksum")
    assert report["ok"] is False
    assert report["mismatches"] == ["extensions: 1 on the source, None on the target", "indexes: 4 on the source, 3 on the target"]
    assert report["objects"]["indexes"] == {"source": 4, "target": 3, "match": False}


def test_a_bad_sequence_names_the_sequence_and_column():
    findings = pg_verify.sequence_findings([
        {"sequence": "public.invoices_id_seq", "column": "public.invoices.id", "last_value": 10, "start_value": 1, "max": "300"},
        {"sequence": "public.customers_id_seq", "column": "public.customers.id", "last_value": 25, "start_value": 1, "max": "25"},
    ])
    report = pg_verify.compare(side(), side(), findings, "checksum")
    assert report["ok"] is False
    assert report["mismatches"] == ["sequence public.invoices_id_seq would next give 11 but public.invoices.id already holds 300"]
    assert report["sequences"] == findings


@pytest.mark.parametrize(
    ("last_value", "start_value", "biggest", "next_value", "ok"),
    [
        (300, 1, "300", 301, True),  # called, at the column's max
        (299, 1, "300", 300, False),  # called, behind the column
        (None, 1, None, 1, True),  # never called, empty table
        (None, 301, "300", 301, True),  # never called, starts above the rows
        (None, 1, "300", 1, False),  # never called, rows inserted with explicit ids
        (5, 1, None, 6, True),  # called, table emptied since
        (5, 1, "", 6, True),  # empty max as text
    ],
)
def test_sequence_findings(last_value, start_value, biggest, next_value, ok):
    row = {"sequence": "s.seq", "column": "s.t.id", "last_value": last_value, "start_value": start_value, "max": biggest}
    [finding] = pg_verify.sequence_findings([row])
    assert finding == {"sequence": "s.seq", "column": "s.t.id", "next_value": next_value,
                       "max_value": int(biggest) if biggest else None, "ok": ok}


def test_markdown_of_a_verified_report():
    report = pg_verify.compare(side(), side(), [], "checksum")
    report.update(database="invoicetron", duration_seconds=12)
    text = pg_verify.markdown(report, "invoicetron migration")
    assert text.startswith("# invoicetron migration\n")
    assert "Result: **verified** (checksum verification)" in text
    assert "MISMATCH" not in text
    assert "## Mismatches" not in text
    assert "- duration seconds: 12" in text
    assert "| public.invoices | 300 | 300 | -1234567890:987654321 | yes |" in text
    assert "| indexes | 4 | 4 |" in text


def test_markdown_of_a_failed_report_lists_mismatches_and_bad_rows():
    target = side()
    target["tables"]["public.invoices"]["rows"] = 299
    findings = pg_verify.sequence_findings([{"sequence": "public.s", "column": "public.t.id", "last_value": 1, "start_value": 1,
                                             "max": "9"}])
    report = pg_verify.compare(side(), target, findings, "count")
    report["backup"] = {"path": "/var/backups/x.dump", "bytes": 10, "sha256": "ab"}
    text = pg_verify.markdown(report, "t")
    assert "Result: **MISMATCH** (count verification)" in text
    assert "- table public.invoices: 300 rows on the source, 299 on the target" in text
    assert "| public.invoices | 300 | 299 | -1234567890:987654321 | **no** |" in text
    assert "| public.customers | 25 | 25 | 42:-42 | yes |" in text
    assert "| public.s | public.t.id | 2 | 9 | **no** |" in text
    assert "- backup: `/var/backups/x.dump` (10 bytes, sha256 `ab`)" in text


def test_side_script_shape():
    script = pg_verify.side_script("count", snapshot="00000003-0000001B-1")
    lines = script.splitlines()
    assert lines[:4] == ["SET row_security = off;", "SET extra_float_digits = 3;", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
                         "SET TRANSACTION SNAPSHOT '00000003-0000001B-1';"]
    assert "SET TimeZone = 'UTC';" in lines
    assert "\\gexec" in lines and "FROM ONLY %s" in script
    assert "hashtextextended" not in script
    assert "pg_depend d" not in script.split("positions")[1], "the owned sequences are the target's only"
    assert lines[-1] == "COMMIT;"
    assert "hashtextextended(t::text, 0)" in pg_verify.side_script("checksum")
    assert "pg_depend d" in pg_verify.side_script("checksum", sequences=True).split("positions")[1]


# --- the checksum SQL against a real server -----------------------------------------------------------

ROWS = [
    "(1, 'plain', '\\x00ff10'::bytea, '2024-03-31 23:59:59.123456+02', 12345.678900, true)",
    "(2, E'multi\\nline with \\\\ backslash and \"quotes\" and ''apostrophe''', '\\x'::bytea, '1999-12-31 00:00:00+00', -0.5, false)",
    "(3, NULL, NULL, NULL, NULL, NULL)",
    "(4, '', '\\x5c6e'::bytea, 'infinity', 'NaN', NULL)",
    "(5, 'ünïcödé ✓', decode(repeat('ab', 5000), 'hex'), '2000-01-01 12:00:00-08', 1e20, true)",
    "(5, 'ünïcödé ✓', decode(repeat('ab', 5000), 'hex'), '2000-01-01 12:00:00-08', 1e20, true)",  # an exact duplicate
]
COLUMNS = "(id int, note text, blob bytea, at timestamptz, amount numeric, flag boolean)"


def run_script(server, script, database):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", server.socket_dir, "-p", str(server.port),
                           "-U", "postgres", "-d", database], input=script, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def checksum_database(local_postgres):
    local_postgres.psql("DROP DATABASE IF EXISTS verify_sample")
    local_postgres.psql("CREATE DATABASE verify_sample")
    local_postgres.psql(
        "SET TimeZone = 'America/New_York';"
        "CREATE TABLE forward %s; CREATE TABLE backward %s; CREATE TABLE tampered %s; CREATE TABLE \"Empty One\" %s;"
        "INSERT INTO forward VALUES %s; INSERT INTO backward VALUES %s; INSERT INTO tampered VALUES %s;"
        % (COLUMNS, COLUMNS, COLUMNS, COLUMNS, ", ".join(ROWS), ", ".join(reversed(ROWS)), ", ".join(ROWS)),
        database="verify_sample")
    # The same rows stored differently: updated in place (new tuple versions, other physical order).
    local_postgres.psql("UPDATE backward SET id = id WHERE id IN (1, 3)", database="verify_sample")
    yield local_postgres
    local_postgres.psql("DROP DATABASE IF EXISTS verify_sample WITH (FORCE)")


def checksums(server, tables=None, prefix=""):
    """The checksum side of the database, narrowed to ``tables`` when given."""
    side = pg_verify.parse_side(run_script(server, prefix + pg_verify.side_script("checksum"), "verify_sample"))
    if tables is not None:
        side["tables"] = {name: side["tables"][name] for name in tables}
    return side


def test_real_side_script_turns_jit_off_for_its_own_session_only(checksum_database):
    server = checksum_database
    setting_then = "SELECT json_build_object('jit_then', current_setting('jit'));\n"
    script = pg_verify.side_script("checksum").replace("COMMIT;\n", setting_then + "COMMIT;\n")
    output = run_script(server, script, "verify_sample")
    assert '{"jit_then" : "off"}' in output.splitlines()
    assert run_script(server, "SHOW jit;", "verify_sample").strip() == "on", "the server's own setting is left alone"
    assert sorted(pg_verify.parse_side(output)["tables"]) == sorted(checksums(server)["tables"])


def test_real_checksum_is_independent_of_row_order_and_sensitive_to_one_byte(checksum_database):
    server = checksum_database
    names = sorted(checksums(server)["tables"])
    assert names == ['public."Empty One"', "public.backward", "public.forward", "public.tampered"]

    result = checksums(server, names)
    tables = result["tables"]
    assert tables["public.forward"]["rows"] == len(ROWS)
    assert tables["public.backward"] == tables["public.forward"]
    assert tables["public.tampered"] == tables["public.forward"]
    assert tables['public."Empty One"'] == {"rows": 0, "checksum": "0"}
    assert result["objects"]["tables"] == 4

    server.psql("UPDATE tampered SET blob = '\\x00ff11'::bytea WHERE id = 1", database="verify_sample")
    after = checksums(server, ["public.forward", "public.tampered"])["tables"]
    assert after["public.tampered"]["rows"] == after["public.forward"]["rows"]
    assert after["public.tampered"]["checksum"] != after["public.forward"]["checksum"]

    source = {"tables": {"public.t": after["public.forward"]}, "objects": {}}
    target = {"tables": {"public.t": after["public.tampered"]}, "objects": {}}
    assert pg_verify.compare(source, target, [], "checksum")["ok"] is False
    assert pg_verify.compare(source, target, [], "count")["ok"] is True


def test_real_checksum_does_not_depend_on_the_session_time_zone(checksum_database):
    before = checksums(checksum_database, ["public.forward"])["tables"]["public.forward"]
    changed = checksums(checksum_database, ["public.forward"], prefix="SET TimeZone = 'Asia/Kolkata';\n")
    assert changed["tables"]["public.forward"] == before


def test_real_checksum_tells_null_from_empty_text(checksum_database):
    server = checksum_database
    server.psql("CREATE TABLE nulls (v text); CREATE TABLE empties (v text);"
                "INSERT INTO nulls VALUES (NULL); INSERT INTO empties VALUES ('')", database="verify_sample")
    try:
        tables = checksums(server, ["public.nulls", "public.empties"])["tables"]
        assert tables["public.nulls"]["checksum"] != tables["public.empties"]["checksum"]
    finally:
        server.psql("DROP TABLE nulls, empties", database="verify_sample")


def test_real_sequence_findings(checksum_database):
    server = checksum_database
    server.psql("CREATE TABLE seq_ok (id serial PRIMARY KEY); CREATE TABLE seq_behind (id serial PRIMARY KEY);"
                "CREATE TABLE seq_empty (id bigserial PRIMARY KEY);"
                "INSERT INTO seq_ok DEFAULT VALUES; INSERT INTO seq_ok DEFAULT VALUES;"
                "INSERT INTO seq_behind (id) VALUES (1), (2), (7)", database="verify_sample")
    try:
        script = pg_verify.side_script("count", sequences=True)
        rows = pg_verify.parse_side(run_script(server, script, "verify_sample"))["sequences"]
        findings = {f["sequence"]: f for f in pg_verify.sequence_findings(rows)}
        assert findings["public.seq_ok_id_seq"] == {"sequence": "public.seq_ok_id_seq", "column": "public.seq_ok.id",
                                                    "next_value": 3, "max_value": 2, "ok": True}
        assert findings["public.seq_behind_id_seq"]["ok"] is False
        assert findings["public.seq_behind_id_seq"]["next_value"] == 1
        assert findings["public.seq_behind_id_seq"]["max_value"] == 7
        assert findings["public.seq_empty_id_seq"]["ok"] is True
        assert findings["public.seq_empty_id_seq"]["max_value"] is None
    finally:
        server.psql("DROP TABLE seq_ok, seq_behind, seq_empty", database="verify_sample")
