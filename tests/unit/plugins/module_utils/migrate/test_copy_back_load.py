"""The copy-back's one-transaction load against a real PostgreSQL server: one database plays the StatefulSet's, another
the source's; a copy that ends cleanly makes them equal, one cut anywhere leaves the source exactly as it was."""

from __future__ import annotations

import os
import uuid

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.copy_back_load import Loader
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import Side, SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import copy_back_sql, sql

SCHEMA = r"""
CREATE TABLE parent (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE child (id bigserial PRIMARY KEY, parent_id int NOT NULL REFERENCES parent, note text, data bytea,
                    at timestamptz, span interval, ratio double precision, total int GENERATED ALWAYS AS (id * 2) STORED);
CREATE SEQUENCE numbers START 500;
CREATE FUNCTION mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'trigger fired'; RETURN NEW; END $$;
CREATE TRIGGER child_mark BEFORE INSERT ON child FOR EACH ROW EXECUTE FUNCTION mark();
CREATE MATERIALIZED VIEW child_count AS SELECT count(*) AS n FROM child;
"""
ORIGIN_ROWS = r"""
ALTER TABLE child DISABLE TRIGGER child_mark;
INSERT INTO parent (name) SELECT 'parent ' || g FROM generate_series(1, 50) g;
INSERT INTO child (parent_id, note, data, at, span, ratio)
  SELECT 1 + g % 50, E'line\nbreak\ttab \\ back ''q'' ünï ✓ ' || g, decode(md5(g::text), 'hex') || '\x000a0d5c'::bytea,
         timestamptz '2024-02-29 23:59:59.123456+05:30' + g * interval '1 day', g * interval '1 min 3 sec', g / 3.0
  FROM generate_series(1, 3000) g;
INSERT INTO child (parent_id, note) VALUES (1, NULL);
SELECT setval('numbers', 777);
REFRESH MATERIALIZED VIEW child_count;
"""
INTO_ROWS = ("INSERT INTO parent (name) VALUES ('old'); INSERT INTO child (parent_id, note) VALUES (1, 'old row'); "
             "SELECT nextval('numbers'); REFRESH MATERIALIZED VIEW child_count;")
STATE_SQL = ("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT p::text AS t FROM parent p UNION ALL "
             "SELECT c::text FROM child c UNION ALL SELECT last_value::text FROM numbers UNION ALL SELECT last_value::text "
             "FROM parent_id_seq UNION ALL SELECT last_value::text FROM child_id_seq) s")
TABLES = [{"key": "public.child", "schema": "public", "name": "child",
           "columns": ["id", "parent_id", "note", "data", "at", "span", "ratio"]},
          {"key": "public.parent", "schema": "public", "name": "parent", "columns": ["id", "name"]}]


class LocalSide(Side):
    """psql of the test server on its socket; ``script`` instead runs a shell script (a failing reader)."""

    def __init__(self, server, label, script=None):
        self.server, self.label, self.script = server, label, script

    def argv(self, program, args, database):
        if self.script:
            return ["sh", "-c", self.script]
        return [os.path.join(self.server.bin, program), "-h", self.server.socket_dir, "-p", str(self.server.port), "-U", "postgres",
                "-d", database, *args]

    def explain(self, rc, stderr):
        return None


@pytest.fixture
def databases(local_postgres):
    origin, into = "cb_origin_%s" % uuid.uuid4().hex[:6], "cb_into_%s" % uuid.uuid4().hex[:6]
    for name, rows in ((origin, ORIGIN_ROWS), (into, INTO_ROWS)):
        local_postgres.psql("CREATE DATABASE %s" % name)
        local_postgres.psql(SCHEMA + rows, name)
    yield local_postgres, origin, into
    for name in (origin, into):
        local_postgres.psql("DROP DATABASE %s WITH (FORCE)" % name)


def state(server, database):
    return server.psql(STATE_SQL, database).stdout.strip()


def sequences(server, database):
    return sql.parse_json(server.psql(sql.SEQUENCE_VALUES_SQL, database).stdout, "sequences")


def copy(server, origin, into, reader, fail_after=None):
    """The copy-back's load step, the origin read by ``reader``."""
    with Loader(LocalSide(server, "into"), into, 60) as loader:
        loader.begin(copy_back_sql.load_head(TABLES, "UTF8"))
        counted = []
        for table in TABLES:
            statements = copy_back_sql.read_statements(table, sql.snapshot_statements(None), "UTF8", loader.end_tag)
            counted.append(loader.load(reader, dict(table), statements))
            if fail_after == table["key"]:
                raise RuntimeError("the controller stopped")
        loader.commit(copy_back_sql.load_tail(sequences(server, origin), ['"public"."child_count"']))
    return counted


def reader_on(server, origin):
    """Reads the origin database, whatever database it is asked for (the Loader asks for the source's name)."""
    side = LocalSide(server, "origin")
    side.argv = lambda program, args, database: LocalSide.argv(side, program, args, origin)
    return side


def test_a_clean_copy_makes_the_source_equal_without_firing_triggers(databases):
    server, origin, into = databases
    counted = copy(server, origin, into, reader=reader_on(server, origin))
    assert [rows for rows, _size in counted] == [3001, 50]
    assert state(server, into) == state(server, origin)
    assert server.psql("SELECT count(*) FROM child WHERE note = 'trigger fired'", into).stdout.strip() == "0"
    assert server.psql("SELECT last_value FROM numbers", into).stdout.strip() == "777"
    assert server.psql("SELECT n FROM child_count", into).stdout.strip() == "3001"
    assert server.psql("SELECT total = id * 2 FROM child LIMIT 1", into).stdout.strip() == "t"


def test_a_reader_that_fails_midway_leaves_the_source_as_it_was(databases):
    server, origin, into = databases
    before = state(server, into)
    failing = LocalSide(server, "the StatefulSet's pod",
                        script="printf '1\\t1\\tpartial\\n'; echo 'server closed the connection' >&2; exit 2")
    with pytest.raises(SideError) as raised:
        copy(server, origin, into, reader=failing)
    assert "server closed the connection" in str(raised.value)
    assert state(server, into) == before


def cut_reader(server, origin, keep_lines, trailer=None):
    """A reader that exits 0 after the first ``keep_lines`` of the origin's rows, as a cut ``kubectl exec`` stream does;
    ``trailer(tag)``, if given, is printed after them."""
    side = reader_on(server, origin)
    whole = side.argv

    def argv(program, args, database):
        tag = next(arg for arg in args if "stateshift-copy-end-" in arg).split("'")[1].strip()
        end = "" if trailer is None else "; printf '%%s\\n' '%s'" % trailer(tag)
        return ["sh", "-c", "\"$@\" | head -n %d%s" % (keep_lines, end), "reader", *whole(program, args, database)]
    side.argv = argv
    return side


@pytest.mark.parametrize("trailer", [None, lambda tag: "%s 3001" % tag], ids=["no-trailer", "trailer-of-more-rows"])
def test_a_reader_cut_short_that_exits_0_leaves_the_source_as_it_was(databases, trailer):
    server, origin, into = databases
    before = state(server, into)
    with pytest.raises(SideError) as raised:
        copy(server, origin, into, reader=cut_reader(server, origin, 100, trailer))
    # without a trailer the last line is held back too: it could have been the trailer
    assert ("the rows of public.child arrived incomplete (99 received, the end of the output never came)" if trailer is None
            else "the rows of public.child arrived incomplete (100 received, 3001 at the snapshot)") in str(raised.value)
    assert state(server, into) == before


def test_a_controller_that_stops_after_the_data_leaves_the_source_and_its_sequences_as_they_were(databases):
    server, origin, into = databases
    before = state(server, into)
    with pytest.raises(RuntimeError):
        copy(server, origin, into, reader=reader_on(server, origin), fail_after="public.parent")
    assert state(server, into) == before


def test_sequences_set_in_the_transaction_roll_back_with_it(databases):
    server, _origin, into = databases
    before = state(server, into)
    script = copy_back_sql.load_head([], "UTF8") + copy_back_sql.load_tail(
        [{"schema": "public", "name": "numbers", "last_value": 99999, "start_value": 500}]).replace(b"COMMIT;", b"ROLLBACK;")
    server.psql(script.decode(), into)
    assert state(server, into) == before
