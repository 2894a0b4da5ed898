from __future__ import annotations

import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import sql as pg_copy_sql
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.psql import dbname

INVOICES = {"schema": "public", "name": "invoices", "columns": ["id", "Customer", 'say "hi"', "total"]}


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("invoices", '"invoices"'),
        ("_private1", '"_private1"'),
        ("user", '"user"'),
        ("current_date", '"current_date"'),
        ("Invoices", '"Invoices"'),
        ("INVOICES", '"INVOICES"'),
        ("my table", '"my table"'),
        ("1st", '"1st"'),
        ('say "hi"', '"say ""hi"""'),
        ('"', '""""'),
        ("ünïcode", '"ünïcode"'),
        ("semi;colon", '"semi;colon"'),
    ],
)
def test_quote_ident(name, quoted):
    assert pg_copy_sql.quote_ident(name) == quoted


@pytest.mark.parametrize("name", ["select", "table", "user", "order"])
def test_quote_ident_of_a_keyword_is_the_name_itself_or_its_quoted_form(name):
    assert pg_copy_sql.quote_ident(name) in (name, '"%s"' % name)


def test_quote_literal_doubles_single_quotes():
    assert pg_copy_sql.quote_literal("it's") == "'it''s'"
    assert pg_copy_sql.quote_literal(42) == "'42'"


def test_qualified_and_column_list():
    assert pg_copy_sql.qualified({"schema": "Billing", "name": "ledger"}) == '"Billing"."ledger"'
    assert pg_copy_sql.qualified(INVOICES) == '"public"."invoices"'
    assert pg_copy_sql.column_list(INVOICES) == '"id", "Customer", "say ""hi""", "total"'
    assert pg_copy_sql.column_list({"schema": "s", "name": "t", "columns": None}) == ""


def test_snapshot_statements_for_an_exported_snapshot():
    assert pg_copy_sql.snapshot_statements("00000003-0000001B-1") == [
        "SET row_security = off", "SET extra_float_digits = 3",
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'",
    ]


def test_snapshot_statements_without_a_snapshot():
    assert pg_copy_sql.snapshot_statements(None) == ["SET row_security = off", "SET extra_float_digits = 3",
                                                     "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"]


@pytest.mark.parametrize("bad", ["x'; DROP DATABASE invoicetron; --", "00000003-0000001b-1", "00000003-0000001B", "", "a-b-c"])
def test_snapshot_statements_refuse_anything_but_a_snapshot_id(bad):
    with pytest.raises(ValueError, match="not a snapshot id"):
        pg_copy_sql.snapshot_statements(bad)


def test_copy_out_reads_only_the_table_itself_with_its_columns():
    assert pg_copy_sql.copy_out_sql(INVOICES) == (
        'COPY (SELECT "id", "Customer", "say ""hi""", "total" FROM ONLY "public"."invoices") TO STDOUT')


def test_copy_in_prefix_empties_and_loads_in_one_open_transaction():
    prefix = pg_copy_sql.copy_in_prefix(INVOICES)
    assert isinstance(prefix, bytes)
    assert prefix.decode().splitlines() == [
        "SET row_security = off;",
        "SET extra_float_digits = 3;",
        "BEGIN;",
        'TRUNCATE ONLY "public"."invoices";',
        'COPY "public"."invoices" ("id", "Customer", "say ""hi""", "total") FROM STDIN WITH (FREEZE);',
    ]
    assert b"COMMIT" not in prefix
    assert prefix.endswith(b"\n")


def test_copy_in_prefix_of_a_part_appends_and_of_a_replacement_deletes_with_checks_off():
    part, replace = (pg_copy_sql.copy_in_prefix(INVOICES, load).decode().splitlines()[2:] for load in ("part", "replace"))
    assert part == ["BEGIN;", 'COPY "public"."invoices" ("id", "Customer", "say ""hi""", "total") FROM STDIN;']
    assert replace == ["BEGIN;", "SET LOCAL session_replication_role = replica;", 'DELETE FROM ONLY "public"."invoices";',
                       'COPY "public"."invoices" ("id", "Customer", "say ""hi""", "total") FROM STDIN;']


def test_copy_out_of_a_part_reads_its_range():
    assert pg_copy_sql.copy_out_sql(INVOICES, " WHERE ctid >= '(0,0)'::tid").endswith(
        """FROM ONLY "public"."invoices" WHERE ctid >= '(0,0)'::tid) TO STDOUT""")


def test_copy_in_commit_ends_the_data_then_commits():
    assert pg_copy_sql.copy_in_commit() == b"\\.\nCOMMIT;\n"
    assert pg_copy_sql.copy_in_commit("UPDATE t SET done = true;\n") == b"\\.\nUPDATE t SET done = true;\nCOMMIT;\n"


def test_setval_for_called_and_never_called_sequences():
    sql = pg_copy_sql.setval_sql([
        {"schema": "public", "name": "invoices_id_seq", "last_value": 1234, "start_value": 1},
        {"schema": "Billing", "name": "Ledger_seq", "last_value": None, "start_value": 100},
    ])
    assert sql.splitlines() == [
        "SELECT pg_catalog.setval('\"public\".\"invoices_id_seq\"', 1234, true);",
        "SELECT pg_catalog.setval('\"Billing\".\"Ledger_seq\"', 100, false);",
    ]
    assert pg_copy_sql.setval_sql([]) == ""


def test_tune_sql_sets_every_value_then_reloads():
    sql = pg_copy_sql.tune_sql({"maintenance_work_mem": "256MB", "autovacuum": "off"})
    assert sql.splitlines() == [
        "ALTER SYSTEM SET maintenance_work_mem = '256MB';",
        "ALTER SYSTEM SET autovacuum = 'off';",
        "SELECT pg_reload_conf();",
    ]


def test_tune_sql_accepts_the_default_restore_settings():
    sql = pg_copy_sql.tune_sql(pg_copy_sql.RESTORE_SETTINGS)
    assert sql.count("ALTER SYSTEM SET") == len(pg_copy_sql.RESTORE_SETTINGS)


@pytest.mark.parametrize("bad", ["256MB'; ALTER ROLE x SUPERUSER; --", "4 GB", "it's", ""])
def test_tune_sql_rejects_values_with_quotes_or_spaces(bad):
    with pytest.raises(ValueError, match="invalid value"):
        pg_copy_sql.tune_sql({"max_wal_size": bad})


def test_untune_restores_previous_values_and_resets_the_rest():
    sql = pg_copy_sql.untune_sql(["max_wal_size", "autovacuum", "synchronous_commit"], {"max_wal_size": "2GB", "autovacuum": "on"})
    assert sql.splitlines() == [
        "ALTER SYSTEM SET max_wal_size = '2GB';",
        "ALTER SYSTEM SET autovacuum = 'on';",
        "ALTER SYSTEM RESET synchronous_commit;",
        "SELECT pg_reload_conf();",
    ]


def test_auto_conf_sql_lists_the_names_as_literals():
    sql = pg_copy_sql.auto_conf_sql(["max_wal_size", "autovacuum"])
    assert "name IN ('max_wal_size', 'autovacuum')" in sql
    assert "'{}'::json" in sql


def test_create_database_sql_quotes_names_and_locale():
    facts = {"encoding": "UTF8", "collate": "en_US.UTF-8", "ctype": "it's"}
    assert pg_copy_sql.create_database_sql("Invoice Tron", "app", facts) == (
        "CREATE DATABASE \"Invoice Tron\" OWNER \"app\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'it''s' "
        "LOCALE_PROVIDER libc")
    icu = dict(facts, locale_provider="i", icu_locale="de-DE")
    assert pg_copy_sql.create_database_sql("x", "app", icu).endswith(" LOCALE_PROVIDER icu ICU_LOCALE 'de-DE'")
    assert pg_copy_sql.create_database_sql("x", "app", facts, 140000).endswith("LC_CTYPE 'it''s'")


@pytest.mark.parametrize(("provider", "icu_locale", "collate", "known"), [
    ("i", "de-DE", "C", True), ("i", "xx-not-a-locale", "C", False), ("c", "", "C.UTF-8", True), ("c", "", "C", True),
])
def test_the_target_says_whether_it_has_the_sources_locale(local_postgres, provider, icu_locale, collate, known):
    query = pg_copy_sql.TARGET_SERVER_SQL.format(name="'x'", provider=pg_copy_sql.quote_literal(provider),
                                                 icu_locale=pg_copy_sql.quote_literal(icu_locale),
                                                 collate=pg_copy_sql.quote_literal(collate))
    assert pg_copy_sql.parse_json(local_postgres.psql(query).stdout, "server")["locale_known"] is known


def test_drop_database_sql_quotes_the_name():
    assert pg_copy_sql.drop_database_sql("Invoice Tron") == 'DROP DATABASE IF EXISTS "Invoice Tron" WITH (FORCE)'


def test_parse_json_takes_the_last_line():
    assert pg_copy_sql.parse_json('NOTICE:  something\n{"a": 1}\n[1, 2]\n', "x") == [1, 2]
    assert pg_copy_sql.parse_json('  {"tables": []}  \n', "x") == {"tables": []}


@pytest.mark.parametrize("empty", ["", "  \n", None])
def test_parse_json_refuses_empty_output_naming_what(empty):
    with pytest.raises(ValueError, match="psql returned nothing for the tables"):
        pg_copy_sql.parse_json(empty, "the tables")


# --- against a real server ----------------------------------------------------------------------------

def psql_stdin(server, data, database="postgres", check=True):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", server.socket_dir, "-p", str(server.port),
                           "-U", "postgres", "-d", database], input=data, capture_output=True, check=check)


@pytest.fixture
def copy_tables(local_postgres):
    local_postgres.psql('DROP TABLE IF EXISTS copy_src, "Copy Dst"; '
                        'CREATE TABLE copy_src (id int, "Note" text, blob bytea, gone int); '
                        'ALTER TABLE copy_src DROP COLUMN gone; '
                        'CREATE TABLE "Copy Dst" (id int, "Note" text, blob bytea); '
                        "INSERT INTO copy_src VALUES (1, E'line\\none\\\\back', '\\x00ff'), (2, NULL, NULL), (3, 'tab\there', '')")
    local_postgres.psql("""INSERT INTO "Copy Dst" VALUES (99, 'stale', NULL)""")
    yield local_postgres
    local_postgres.psql('DROP TABLE IF EXISTS copy_src, "Copy Dst"')


def test_copy_statements_round_trip_through_psql(copy_tables):
    server = copy_tables
    source = {"schema": "public", "name": "copy_src", "columns": ["id", "Note", "blob"]}
    target = {"schema": "public", "name": "Copy Dst", "columns": ["id", "Note", "blob"]}
    data = subprocess.run(["psql", "-X", "-h", server.socket_dir, "-p", str(server.port), "-U", "postgres", "-d", "postgres",
                           "-c", pg_copy_sql.copy_out_sql(source)], capture_output=True, check=True).stdout
    psql_stdin(server, pg_copy_sql.copy_in_prefix(target) + data + pg_copy_sql.copy_in_commit())
    query = """SELECT id, coalesce("Note", '<null>'), coalesce(encode(blob, 'hex'), '<null>') FROM %s ORDER BY id"""
    assert server.psql(query % '"Copy Dst"').stdout == server.psql(query % "copy_src").stdout
    assert "stale" not in server.psql(query % '"Copy Dst"').stdout


@pytest.mark.parametrize("cut", [b"1\tpartial\t\\N\n", b"1\tpartial\t\\N\n2\tcut"], ids=["at-a-row-end", "mid-row"])
def test_a_stream_cut_before_the_commit_leaves_the_target_untouched(copy_tables, cut):
    server = copy_tables
    target = {"schema": "public", "name": "Copy Dst", "columns": ["id", "Note", "blob"]}
    psql_stdin(server, pg_copy_sql.copy_in_prefix(target) + cut, check=False)
    assert server.psql('SELECT id, "Note" FROM "Copy Dst"').stdout == "99|stale\n"


def test_setval_gives_the_next_value_the_source_would_give(local_postgres):
    local_postgres.psql("DROP SEQUENCE IF EXISTS used_seq, unused_seq; CREATE SEQUENCE used_seq; CREATE SEQUENCE unused_seq START 50")
    try:
        local_postgres.psql(pg_copy_sql.setval_sql([
            {"schema": "public", "name": "used_seq", "last_value": 41, "start_value": 1},
            {"schema": "public", "name": "unused_seq", "last_value": None, "start_value": 50},
        ]))
        assert local_postgres.psql("SELECT nextval('used_seq'), nextval('unused_seq')").stdout.strip() == "42|50"
    finally:
        local_postgres.psql("DROP SEQUENCE IF EXISTS used_seq, unused_seq")


def test_copy_out_of_columns_named_like_sql_keywords(local_postgres):
    local_postgres.psql('DROP TABLE IF EXISTS keyword_cols; CREATE TABLE keyword_cols (id int, "user" text, "current_date" date);'
                        "INSERT INTO keyword_cols VALUES (1, 'alice', '2001-02-03')")
    try:
        table = {"schema": "public", "name": "keyword_cols", "columns": ["id", "user", "current_date"]}
        assert local_postgres.psql(pg_copy_sql.copy_out_sql(table)).stdout == "1\talice\t2001-02-03\n"
    finally:
        local_postgres.psql("DROP TABLE IF EXISTS keyword_cols")


def test_an_extensions_configuration_table_is_copied_and_its_other_members_are_not(local_postgres):
    local_postgres.psql("DROP DATABASE IF EXISTS extcfg;")
    local_postgres.psql("CREATE DATABASE extcfg;")
    # what pg_extension_config_dump() records, made by hand: contrib has no extension with a configuration table
    local_postgres.psql("CREATE EXTENSION hstore; CREATE TABLE ext_settings (k text); CREATE TABLE ext_internal (k text); "
                        "ALTER EXTENSION hstore ADD TABLE ext_settings; ALTER EXTENSION hstore ADD TABLE ext_internal; "
                        "UPDATE pg_extension SET extconfig = ARRAY['ext_settings'::regclass::oid] WHERE extname = 'hstore';",
                        database="extcfg")
    try:
        names = [t["name"] for t in pg_copy_sql.parse_json(local_postgres.psql(pg_copy_sql.TABLES_SQL, database="extcfg").stdout, "t")]
        assert names == ["ext_settings"]
    finally:
        local_postgres.psql("DROP DATABASE extcfg;")


@pytest.mark.parametrize(("name", "argument"), [
    ("shop", "shop"), ("a=b", "dbname='a=b'"), ("it's=1", "dbname='it\\'s=1'"), ("postgresql://evil", "dbname='postgresql://evil'"),
    ("back\\slash=", "dbname='back\\\\slash='"),
])
def test_a_database_name_that_reads_as_a_connection_string_is_given_as_one(name, argument):
    assert dbname(name) == argument
