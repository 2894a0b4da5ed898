# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A table copy in parts, and the record on the target of which parts are in.

A table larger than twice ``part_bytes`` is copied as ranges of its pages (``ctid``), each its own COPY committed on its
own: the parts run in parallel, and an interrupted copy resumes with the parts that are not in. The last part has no
upper bound, so every row the snapshot sees is in exactly one part whatever the table's size when it is read. A smaller
table is one part, emptied and loaded in one transaction (COPY FREEZE), and so is every table of a source older than
PostgreSQL 14.

Which parts are in is recorded in the target database itself, in the schema ``_stateshift_copy``, by the transaction
that loads the part: a part is recorded if and only if its rows are committed. The schema is dropped once every part is
in, before the indexes are built; from then on an interrupted copy starts again from the beginning.
"""

from __future__ import annotations

import collections
import hashlib
import json

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.interface import whole_table
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import psql, sql
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import quote_literal

SCHEMA = "_stateshift_copy"
# Whole tables under BATCH_TABLE_BYTES are copied several to a stream and a transaction: each stream costs a kubectl exec
# and an ssh + docker exec (~0.3 s here), more than such a table's rows take.
BATCH_TABLE_BYTES = 16 * 1024 * 1024
BATCH_BYTES = 64 * 1024 * 1024
BATCH_TABLES = 32  # the source's psql gets each table's COPY as an argument: the remote command line stays short
MAX_PARTS = 64
TID_RANGE_SCAN = 140000  # the first server version that reads a range of ctid without scanning the whole table

RECORD_SQL = """
SELECT CASE WHEN to_regclass('{schema}.parts') IS NULL THEN 'null'::json ELSE (
  SELECT json_build_object('digest', (SELECT digest FROM {schema}.run),
    'parts', coalesce(json_agg(json_build_object('table', table_key, 'part', part, 'first_block', first_block,
                                                 'end_block', end_block, 'done', done) ORDER BY table_key, part), '[]'::json))
  FROM {schema}.parts) END
""".format(schema=SCHEMA)

DROP_SQL = "DROP SCHEMA IF EXISTS %s CASCADE" % SCHEMA


def tables_digest(tables):
    """What must not have changed for a copy to resume: the tables and their columns."""
    shape = sorted((table["key"], table["columns"] or []) for table in tables)
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:32]


def split(tables, part_bytes):
    """The parts of every table: [{'key', 'table', 'part', 'first_block', 'end_block', 'size_bytes', 'rows_estimate'}];
    a whole table has part None."""
    parts = []
    for table in tables:
        count = _part_count(table, part_bytes)
        if count == 1:
            parts.append(whole_table(table))
            continue
        step = -(-table["blocks"] // count)
        bounds = [index * step for index in range(count) if index * step < table["blocks"]]
        for index, first in enumerate(bounds):
            last = index == len(bounds) - 1
            parts.append(_part(table, index, first, None if last else bounds[index + 1], len(bounds)))
    return parts


def _part_count(table, part_bytes):
    if not part_bytes or table.get("blocks", 0) < 2 or table["size_bytes"] < 2 * part_bytes:
        return 1
    return min(MAX_PARTS, -(-table["size_bytes"] // part_bytes), table["blocks"])


def _part(table, index, first, end, count):
    return {"key": "%s#%d" % (table["key"], index), "table": table, "part": index, "first_block": first, "end_block": end,
            "size_bytes": table["size_bytes"] // count, "rows_estimate": table["rows_estimate"] // count}


def from_record(tables, record):
    """The parts a resumed copy copies: the record's parts that are not in, for the tables of ``tables``."""
    by_key = {table["key"]: table for table in tables}
    counts = collections.Counter(row["table"] for row in record["parts"])
    parts = []
    for row in record["parts"]:
        if row["done"]:
            continue
        table = by_key[row["table"]]
        if row["part"] is None:
            parts.append(whole_table(table))
        else:
            parts.append(_part(table, row["part"], row["first_block"], row["end_block"], counts[row["table"]]))
    return parts


# A part's transaction claims its row first and holds it to the end: a copy of the same part still running from an
# interrupted run (its pod outlives a killed controller) makes this one wait, and once that one committed, fail with
# ALREADY_IN instead of loading the rows a second time.
ALREADY_IN = "stateshift: this part is already in"
CLAIM_FUNCTION = """
CREATE FUNCTION {schema}.claim(wanted_table text, wanted_part int) RETURNS void LANGUAGE plpgsql AS $claim$
BEGIN
  PERFORM 1 FROM {schema}.parts WHERE table_key = wanted_table AND part IS NOT DISTINCT FROM wanted_part AND NOT done FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION '{already_in}';
  END IF;
END
$claim$""".format(schema=SCHEMA, already_in=ALREADY_IN)


def create_sql(digest, parts):
    """The record, every part not in yet (one transaction)."""
    rows = ",\n".join("(%s, %s, %s, %s)" % (quote_literal(part["table"]["key"]), _number(part["part"]),
                                            _number(part["first_block"]), _number(part["end_block"])) for part in parts)
    return ("BEGIN;\n%s;\nCREATE SCHEMA %s;\n"
            "CREATE TABLE %s.run (digest text NOT NULL);\nINSERT INTO %s.run VALUES (%s);\n"
            "CREATE TABLE %s.parts (table_key text NOT NULL, part int, first_block bigint, end_block bigint, "
            "done boolean NOT NULL DEFAULT false);\n%s%s;\n"
            "COMMIT;\n" % (DROP_SQL, SCHEMA, SCHEMA, SCHEMA, quote_literal(digest), SCHEMA,
                           ("INSERT INTO %s.parts (table_key, part, first_block, end_block) VALUES\n%s;\n" % (SCHEMA, rows))
                           if rows else "", CLAIM_FUNCTION))


def claim_sql(part):
    """The first statement of the transaction that loads the part."""
    return "SELECT %s.claim(%s, %s)" % (SCHEMA, quote_literal(part["table"]["key"]), _number(part["part"]))


def mark_done_sql(part):
    """Run in the transaction that loads the part, just before its COMMIT."""
    return "UPDATE %s.parts SET done = true WHERE table_key = %s AND part %s;\n" % (
        SCHEMA, quote_literal(part["table"]["key"]), "IS NULL" if part["part"] is None else "= %d" % part["part"])


def where_clause(part):
    """The part's range of pages, for the source's SELECT (empty for a whole table)."""
    if part["part"] is None:
        return ""
    bounds = ["ctid >= '(%d,0)'::tid" % part["first_block"]]
    if part["end_block"] is not None:
        bounds.append("ctid < '(%d,0)'::tid" % part["end_block"])
    return " WHERE " + " AND ".join(bounds)


def batches(parts, jobs):
    """What the copy starts, each a list of parts: a part of a large table, or a whole table of BATCH_TABLE_BYTES or more,
    alone; the smaller whole tables grouped in batches of at most BATCH_TABLES tables and about BATCH_BYTES, the largest
    table first into the lightest batch: at least ``jobs`` batches once they hold BATCH_TABLE_BYTES together (fewer bytes
    go faster in one stream than the start of a second one). The largest units come first."""
    small = [part for part in parts if part["part"] is None and part["size_bytes"] < BATCH_TABLE_BYTES]
    grouped = {id(part) for part in small}
    units = [[part] for part in parts if id(part) not in grouped]
    total = sum(part["size_bytes"] for part in small)
    spread = jobs if total >= BATCH_TABLE_BYTES else 1
    count = max(1, spread, -(-total // BATCH_BYTES), -(-len(small) // BATCH_TABLES))
    bins = [[] for _index in range(count)]
    for part in sorted(small, key=lambda p: p["size_bytes"], reverse=True):
        open_bins = [batch for batch in bins if len(batch) < BATCH_TABLES]
        min(open_bins, key=lambda batch: sum(p["size_bytes"] for p in batch)).append(part)
    units += [batch for batch in bins if batch]
    return sorted(units, key=lambda unit: sum(part["size_bytes"] for part in unit), reverse=True)


def text_literal(text):
    """A literal whose backslashes stay backslashes whatever standard_conforming_strings is."""
    return "E'%s'" % text.replace("\\", "\\\\").replace("'", "''")


def _number(value):
    return "NULL" if value is None else "%d" % int(value)


class CopyInParts:
    """The PostgreSQL engine's table copy (postgresql.py): parts, their record on the target, a table copied again."""

    def plan_parts(self, plan):
        # before 14 a range of ctid is read by scanning the whole table: every part would read all of it
        part_bytes = self.ctx.part_bytes if plan.source["version_num"] >= TID_RANGE_SCAN else 0
        return split(plan.tables, part_bytes)

    def parts_digest(self, tables):
        return tables_digest(tables)

    def record_parts(self, digest, parts):
        self.target_script(create_sql(digest, parts), self.ctx.database)

    def recorded_parts(self):
        return self.target_json(RECORD_SQL, self.ctx.database, what="the interrupted copy's record")

    def resumed_parts(self, plan, record):
        return from_record(plan.tables, record)

    def forget_parts(self):
        self.target_script(DROP_SQL + ";\n", self.ctx.database)

    def copy_table(self, transport, part, snapshot):
        try:
            self._copy(transport, part, snapshot, "whole" if part["part"] is None else "part", claim_sql(part), mark_done_sql(part))
        except SideError as exc:
            if ALREADY_IN not in str(exc):
                raise

    def copy_units(self, parts):
        return batches(parts, self.ctx.jobs)

    def copy_tables_together(self, transport, parts, snapshot):
        """Whole tables in one stream and one transaction: the source's psql writes, between two tables' rows, the end of
        the first's COPY and the statements that start the next one's, so the target's psql reads one script. A batch
        holding a table another run has put in since (ALREADY_IN) is copied again table by table."""
        statements = [*sql.snapshot_statements(snapshot)]
        for index, part in enumerate(parts):
            if index:
                statements.append("SELECT %s" % text_literal("\\.\n%s;" % ";\n".join(_load_statements(part))))
            statements.append(sql.copy_out_sql(part["table"]))
        statements.append("COMMIT")
        try:
            transport.pipe(("psql", _commands(statements), self.ctx.database), ("psql", psql.COPY_IN_FLAGS, self.ctx.database),
                           prefix=sql.copy_in_prefix(parts[0]["table"], "whole", claim_sql(parts[0])),
                           commit=sql.copy_in_commit("".join(mark_done_sql(part) for part in parts)))
        except SideError as exc:
            if ALREADY_IN not in str(exc):
                raise
            for part in parts:
                self.copy_table(transport, part, snapshot)

    def recopy_table(self, transport, table, snapshot):
        self._copy(transport, whole_table(table), snapshot, "replace", "", "")

    def _copy(self, transport, part, snapshot, load, first, before_commit):
        table = part["table"]
        statements = [*sql.snapshot_statements(snapshot), sql.copy_out_sql(table, where_clause(part)), "COMMIT"]
        transport.pipe(("psql", _commands(statements), self.ctx.database), ("psql", psql.COPY_IN_FLAGS, self.ctx.database),
                       prefix=sql.copy_in_prefix(table, load, first), commit=sql.copy_in_commit(before_commit))


def _load_statements(part):
    return sql.copy_in_statements(part["table"], "whole", claim_sql(part))


def _commands(statements):
    """psql's arguments that run the statements one after another."""
    return psql.FLAGS + [piece for statement in statements for piece in ("-c", statement)]
