# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a PostgreSQL database holds: one read-only query, returned as JSON.

Used before a migration to show what will move, and as the base of later verification.
"""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import USER_SCHEMAS

# Exact counts run one count(*) per table inside the same statement (query_to_xml), so the
# whole inventory stays a single round trip and a single snapshot.
_EXACT_ROWS = (
    "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), "
    "false, true, '')))[1]::text::bigint"
)
_ESTIMATED_ROWS = "CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END"

_INVENTORY_SQL = """
SELECT json_build_object(
  'server_version', current_setting('server_version'),
  'server_version_num', current_setting('server_version_num')::int,
  'database', current_database(),
  'encoding', pg_encoding_to_char(d.encoding),
  'size_bytes', pg_database_size(current_database()),
  'databases', (SELECT coalesce(json_agg(json_build_object('name', datname, 'size_bytes', pg_database_size(datname))
                                         ORDER BY datname), '[]'::json)
                FROM pg_database WHERE NOT datistemplate AND datallowconn),
  'tables', (SELECT coalesce(json_agg(json_build_object(
                       'schema', n.nspname, 'name', c.relname,
                       'rows', {rows}, 'rows_exact', {exact},
                       'size_bytes', pg_total_relation_size(c.oid)) ORDER BY n.nspname, c.relname), '[]'::json)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {user_schemas}),
  'sequences', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'S' AND {user_schemas}),
  'views', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('v', 'm') AND {user_schemas}),
  'functions', (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                LEFT JOIN pg_depend dep ON dep.objid = p.oid AND dep.deptype = 'e'
                WHERE dep.objid IS NULL AND {user_schemas}),
  'extensions', (SELECT coalesce(json_agg(extname ORDER BY extname), '[]'::json) FROM pg_extension
                 WHERE extname <> 'plpgsql')
)
FROM pg_database d WHERE d.datname = current_database()
"""


class InventoryError(Exception):
    """The database could not be inventoried; the message names the cause and the fix."""


def inventory_sql(exact_counts=False):
    """The single read-only statement that inventories the connected database."""
    return _INVENTORY_SQL.format(
        rows=_EXACT_ROWS if exact_counts else _ESTIMATED_ROWS,
        exact="true" if exact_counts else "false",
        user_schemas=USER_SCHEMAS,
    )


def parse_inventory(stdout):
    """Parse psql's output of inventory_sql() and add totals."""
    text = (stdout or "").strip()
    if not text:
        raise InventoryError("psql returned no output for the inventory query")
    try:
        data = json.loads(text.splitlines()[-1])
    except ValueError as exc:
        raise InventoryError("psql returned output that is not JSON: %s" % exc) from None
    data["table_count"] = len(data["tables"])
    known = [t["rows"] for t in data["tables"] if t["rows"] is not None]
    data["rows_total"] = sum(known)
    data["tables_never_analyzed"] = sum(1 for t in data["tables"] if t["rows"] is None)
    data["server_major"] = data["server_version_num"] // 10000
    return data
