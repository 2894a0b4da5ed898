"""The copy's progress read on the source (migrate/progress.py SOURCE_PROGRESS_COPY_SQL), against the lab's real
PostgreSQL 15: a part's COPY TO, written as pg/sql.py copy_out_sql writes it and slowed by pg_sleep, is found by the
table its query reads, with the rows it sent so far; a COPY of another shape, and one in another database, are not."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import progress
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import sql

from .migration_helpers import SOURCE_CONTAINER, SOURCE_USER, source_psql

pytestmark = pytest.mark.lab


def copy_in_background(database, statement):
    return subprocess.Popen(["docker", "exec", SOURCE_CONTAINER, "psql", "-X", "-q", "-U", SOURCE_USER, "-d", database, "-c", statement],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def database(legacy_host):
    name = "progress_%s" % uuid.uuid4().hex[:8]
    source_psql("CREATE DATABASE %s" % name)
    source_psql('CREATE SCHEMA "Odd Schema";\n'
                'CREATE TABLE "Odd Schema"."Big ""T""" AS SELECT generate_series(1, 400) AS id;\n'
                'CREATE TABLE plain AS SELECT generate_series(1, 400) AS id;', database=name)
    yield name
    source_psql("DROP DATABASE %s WITH (FORCE)" % name)


def slowed(table, where=""):
    """copy_out_sql's COPY of the table, sending a row every 10 ms."""
    return sql.copy_out_sql(dict(table, columns=["id"]), where).replace('SELECT "id"', 'SELECT "id", pg_sleep(0.01)')


def test_a_part_s_copy_is_found_by_its_table_with_its_rows_so_far(database):
    part = slowed({"schema": "Odd Schema", "name": 'Big "T"'}, " WHERE ctid >= '(0,0)'::tid")
    other_shape = "COPY (SELECT id, pg_sleep(0.01) FROM plain) TO STDOUT"
    elsewhere = slowed({"schema": "public", "name": "invoice_lines"})
    copies = [copy_in_background(database, part), copy_in_background(database, other_shape),
              copy_in_background("invoicetron", elsewhere)]
    try:
        seen = {}
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not seen.get('Odd Schema.Big "T"'):
            answer = source_psql(progress.SOURCE_PROGRESS_COPY_SQL, database=database)
            seen = progress.by_table_key(json.loads(answer))
            time.sleep(0.2)
        assert list(seen) == ['Odd Schema.Big "T"'], seen
        assert 0 < seen['Odd Schema.Big "T"'] < 400
    finally:
        for copy in copies:
            copy.kill()
            copy.wait()
