# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prove that a target database holds what the source holds.

Per table: the row count and an order-independent checksum: the sum over rows of a 64-bit hash of
the row's text, so row order and physical layout do not matter (a changed row goes unnoticed with a
chance of 2^-64). The hash is PostgreSQL's own hashtextextended (stable across versions, as hash
partitioning relies on it), 2.5 times as fast here as md5; both servers must be little-endian
(x86-64, arm64). Per owned sequence:
its next value is above the largest value of its column. Per kind of object: the counts of
extensions, functions, views, indexes, constraints and more. Output settings are pinned so row
text is the same on both servers.
"""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.pg_copy_sql import (
    DETERMINISTIC_OUTPUT,
    USER_SCHEMAS,
    quote_literal,
    snapshot_statements,
)

_TABLE_NAMES_SQL = """
SELECT coalesce(json_agg(format('%I.%I', n.nspname, c.relname) ORDER BY n.nspname, c.relname), '[]'::json)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated)) AND {user_schemas}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e');
""".format(user_schemas=USER_SCHEMAS)

_CHECKSUM_SQL = ("SELECT json_build_object('table', {name}, 'rows', count(*), "
                 "'checksum', coalesce(sum(hashtextextended(t::text, 0)), 0)::text) FROM ONLY {table} AS t;")
_COUNT_SQL = "SELECT json_build_object('table', {name}, 'rows', count(*), 'checksum', null) FROM ONLY {table};"

_OBJECTS_SQL = """
SELECT json_build_object(
  'schemas', (SELECT count(*) FROM pg_namespace n WHERE {user_schemas}),
  'tables', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND {user_schemas}),
  'views', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'v' AND {user_schemas}),
  'materialized_views', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.relkind = 'm' AND {user_schemas}),
  'sequences', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND {user_schemas}),
  'indexes', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('i', 'I') AND {user_schemas}),
  'constraints', (SELECT count(*) FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE {user_schemas}),
  'triggers', (SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE NOT g.tgisinternal AND {user_schemas}),
  'functions', (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE {user_schemas} AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')),
  'types', (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE t.typtype IN ('e', 'd', 'c') AND {user_schemas} AND (t.typrelid = 0 OR
                  (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')),
  'extensions', (SELECT count(*) FROM pg_extension));
""".format(user_schemas=USER_SCHEMAS)

_OWNED_SEQUENCES_SQL = """
SELECT coalesce(json_agg(json_build_object(
         'sequence', format('%I.%I', sn.nspname, s.relname),
         'column', format('%I.%I.%I', tn.nspname, t.relname, a.attname),
         'last_value', ps.last_value, 'start_value', ps.start_value,
         'max', (xpath('/row/m/text()', query_to_xml(format('SELECT max(%I) AS m FROM %I.%I', a.attname, tn.nspname, t.relname),
                                                     false, true, '')))[1]::text)
         ORDER BY sn.nspname, s.relname), '[]'::json)
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i');
"""


def table_names_sql():
    return _TABLE_NAMES_SQL


def verification_script(tables, level, snapshot=None):
    """One psql script: pinned output settings, a checksum (or count) line per table, the objects line."""
    lines = ["%s;" % statement for statement in snapshot_statements(snapshot)]
    lines += ["%s;" % statement for statement in DETERMINISTIC_OUTPUT]
    template = _CHECKSUM_SQL if level == "checksum" else _COUNT_SQL
    for table in tables:
        lines.append(template.format(name=quote_literal(table), table=table))
    lines.append(_OBJECTS_SQL.strip())
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def sequences_script():
    return _OWNED_SEQUENCES_SQL


def parse_side(stdout):
    """Parse the output of verification_script into {'tables': {name: {...}}, 'objects': {...}}."""
    tables, objects = {}, None
    for line in (stdout or "").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        data = json.loads(line)
        if "table" in data:
            tables[data["table"]] = {"rows": data["rows"], "checksum": data["checksum"]}
        else:
            objects = data
    return {"tables": tables, "objects": objects or {}}


def sequence_findings(rows):
    """Owned sequences whose next value would collide with an existing row."""
    findings = []
    for row in rows:
        biggest = int(row["max"]) if row.get("max") not in (None, "") else None
        if row.get("last_value") is None:
            next_value, ok = int(row["start_value"]), biggest is None or int(row["start_value"]) > biggest
        else:
            next_value, ok = int(row["last_value"]) + 1, biggest is None or int(row["last_value"]) >= biggest
        findings.append({"sequence": row["sequence"], "column": row["column"], "next_value": next_value,
                         "max_value": biggest, "ok": ok})
    return findings


def compare(source, target, sequences, level):
    """Build the report from both sides' parsed output and the target's sequence findings."""
    mismatches = []
    table_rows = []
    for name in sorted(set(source["tables"]) | set(target["tables"])):
        src, tgt = source["tables"].get(name), target["tables"].get(name)
        row = {"table": name, "source_rows": src and src["rows"], "target_rows": tgt and tgt["rows"],
               "source_checksum": src and src["checksum"], "target_checksum": tgt and tgt["checksum"]}
        if src is None or tgt is None:
            row["match"] = False
            mismatches.append("table %s exists only on the %s" % (name, "target" if src is None else "source"))
        elif src["rows"] != tgt["rows"]:
            row["match"] = False
            mismatches.append("table %s: %s rows on the source, %s on the target" % (name, src["rows"], tgt["rows"]))
        elif level == "checksum" and src["checksum"] != tgt["checksum"]:
            row["match"] = False
            mismatches.append("table %s: same row count (%s) but different contents (checksum)" % (name, src["rows"]))
        else:
            row["match"] = True
        table_rows.append(row)
    objects = {}
    for kind in sorted(set(source["objects"]) | set(target["objects"])):
        src, tgt = source["objects"].get(kind), target["objects"].get(kind)
        objects[kind] = {"source": src, "target": tgt, "match": src == tgt}
        if src != tgt:
            mismatches.append("%s: %s on the source, %s on the target" % (kind, src, tgt))
    for finding in sequences:
        if not finding["ok"]:
            mismatches.append("sequence %s would next give %s but %s already holds %s"
                              % (finding["sequence"], finding["next_value"], finding["column"], finding["max_value"]))
    return {
        "ok": not mismatches, "level": level, "mismatches": mismatches, "tables": table_rows, "objects": objects,
        "sequences": sequences,
        "totals": {"tables": len(table_rows), "rows_source": sum(r["source_rows"] or 0 for r in table_rows),
                   "rows_target": sum(r["target_rows"] or 0 for r in table_rows)},
    }


def markdown(report, title):
    """The report as a Markdown document for humans and tickets."""
    status = "verified" if report["ok"] else "MISMATCH"
    lines = ["# %s" % title, "", "Result: **%s** (%s verification)" % (status, report["level"]), ""]
    for key in ("workload", "database", "transport", "source", "target", "started", "finished", "duration_seconds"):
        if key in report:
            lines.append("- %s: %s" % (key.replace("_", " "), report[key]))
    if report.get("backup"):
        backup = report["backup"]
        lines.append("- backup: `%s` (%s bytes, sha256 `%s`)" % (backup.get("path"), backup.get("bytes"), backup.get("sha256")))
    if report["mismatches"]:
        lines += ["", "## Mismatches", ""] + ["- %s" % m for m in report["mismatches"]]
    lines += ["", "## Tables", "", "| table | source rows | target rows | checksum | match |", "|---|---:|---:|---|---|"]
    for row in report["tables"]:
        cells = (row["table"], row["source_rows"], row["target_rows"], row["target_checksum"] or "-", "yes" if row["match"] else "**no**")
        lines.append("| %s | %s | %s | %s | %s |" % cells)
    lines += ["", "## Objects", "", "| kind | source | target |", "|---|---:|---:|"]
    for kind, counts in report["objects"].items():
        lines.append("| %s | %s | %s |" % (kind, counts["source"], counts["target"]))
    if report["sequences"]:
        lines += ["", "## Sequences", "", "| sequence | column | next value | column max | ok |", "|---|---|---:|---:|---|"]
        for seq in report["sequences"]:
            lines.append("| %s | %s | %s | %s | %s |" % (seq["sequence"], seq["column"], seq["next_value"],
                                                         seq["max_value"], "yes" if seq["ok"] else "**no**"))
    return "\n".join(lines) + "\n"
