from __future__ import annotations

import json

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import inventory as pg_inventory
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import psql

SCHEMA = """
CREATE TYPE status AS ENUM ('draft', 'sent', 'paid');
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE invoices (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, status status,
                       doc jsonb, blob bytea);
CREATE SCHEMA billing;
CREATE TABLE billing.ledger (id int PRIMARY KEY);
CREATE SEQUENCE invoice_number_seq;
CREATE VIEW open_invoices AS SELECT * FROM invoices WHERE status <> 'paid';
CREATE FUNCTION invoice_total(int) RETURNS int LANGUAGE sql AS 'SELECT $1';
INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 25) g;
INSERT INTO invoices (customer_id, status, doc, blob)
  SELECT 1 + g % 25, 'sent', jsonb_build_object('n', g), '\\x00ff'::bytea FROM generate_series(1, 300) g;
"""


@pytest.fixture(scope="module")
def sample_database(local_postgres):
    local_postgres.psql("DROP DATABASE IF EXISTS inventory_sample")
    local_postgres.psql("CREATE DATABASE inventory_sample")
    local_postgres.psql(SCHEMA, database="inventory_sample")
    return local_postgres


def run_inventory(server, exact):
    result = server.psql(pg_inventory.inventory_sql(exact_counts=exact), database="inventory_sample")
    return pg_inventory.parse_inventory(result.stdout)


def test_exact_inventory_of_a_real_database(sample_database):
    inventory = run_inventory(sample_database, exact=True)
    tables = {(t["schema"], t["name"]): t for t in inventory["tables"]}
    assert set(tables) == {("public", "customers"), ("public", "invoices"), ("billing", "ledger")}
    assert tables["public", "customers"]["rows"] == 25
    assert tables["public", "invoices"]["rows"] == 300
    assert tables["billing", "ledger"]["rows"] == 0
    assert all(t["rows_exact"] for t in inventory["tables"])
    assert inventory["rows_total"] == 325
    assert inventory["table_count"] == 3
    assert inventory["sequences"] == 3  # two serial columns and one standalone sequence
    assert inventory["views"] == 1
    assert inventory["functions"] == 1
    assert inventory["extensions"] == []
    assert inventory["server_major"] == 15
    assert inventory["database"] == "inventory_sample"
    assert "inventory_sample" in [d["name"] for d in inventory["databases"]]


def test_estimates_are_null_until_analyzed_then_close(sample_database):
    sample_database.psql("SELECT 1", database="inventory_sample")
    before = run_inventory(sample_database, exact=False)
    assert before["tables_never_analyzed"] == 3
    sample_database.psql("ANALYZE", database="inventory_sample")
    after = run_inventory(sample_database, exact=False)
    rows = {t["name"]: t["rows"] for t in after["tables"]}
    assert rows["invoices"] == 300
    assert not any(t["rows_exact"] for t in after["tables"])


def test_parse_rejects_empty_and_non_json_output():
    with pytest.raises(pg_inventory.InventoryError, match="no output"):
        pg_inventory.parse_inventory("  \n")
    with pytest.raises(pg_inventory.InventoryError, match="not JSON"):
        pg_inventory.parse_inventory("ERROR: something")


def test_parse_takes_the_last_line_after_notices():
    payload = {"tables": [{"rows": 2}, {"rows": None}], "server_version_num": 180001}
    parsed = pg_inventory.parse_inventory("NOTICE: hello\n" + json.dumps(payload))
    assert parsed["rows_total"] == 2
    assert parsed["tables_never_analyzed"] == 1
    assert parsed["server_major"] == 18


def test_psql_argv_is_machine_readable_and_stops_on_error():
    argv = psql.argv("app", "db", command="SELECT 1")
    assert argv[:2] == ["psql", "-X"]
    assert "ON_ERROR_STOP=1" in argv
    assert argv[-2:] == ["-c", "SELECT 1"]


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ('psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: '
         'FATAL:  database "invoicetrn" does not exist',
         "database 'invoicetrn' does not exist in the source server: check source.database (the server has: a, b)"),
        ('FATAL:  role "admin" does not exist', "role 'admin' does not exist"),
        ('FATAL:  password authentication failed for user "app"', "password authentication failed for 'app'"),
        ('psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  the database '
         'system is starting up',
         "PostgreSQL is not accepting connections (FATAL: the database system is starting up): check that the server is "
         "running (its log says why) and re-run"),
        ('psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file or '
         'directory\n\tIs the server running locally and accepting connections on that socket?',
         "PostgreSQL is not accepting connections (No such file or directory): check"),
        ("psql: could not connect to server: Connection refused", "PostgreSQL is not accepting connections (Connection refused)"),
    ],
)
def test_psql_errors_are_explained(stderr, expected):
    assert expected in psql.explain_psql_error(stderr, ["a", "b"])


def test_unknown_psql_errors_are_not_guessed():
    assert psql.explain_psql_error("ERROR:  out of memory") is None


def test_list_of_databases_is_parsed(local_postgres):
    result = local_postgres.psql(psql.LIST_DATABASES_SQL)
    assert "postgres" in psql.parse_database_list(result.stdout)
