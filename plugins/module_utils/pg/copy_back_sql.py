# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SQL of a copy-back (the StatefulSet's database back into the source database): the schema both sides must
share, and the one script the source's psql reads, a single transaction from BEGIN to COMMIT.

The script: session settings; BEGIN READ WRITE (the source may be blocked with default_transaction_read_only);
session_replication_role = replica, so foreign keys and user triggers do not fire while tables load in any order;
one TRUNCATE of every copied table; per table ``COPY ... FROM STDIN`` and the rows read from the StatefulSet; every
sequence restarted (which makes it transactional: its new storage is dropped on rollback) and set with setval; COMMIT.
Until COMMIT nothing is visible, and a session that ends without it rolls back, sequences included.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import USER_DATA, USER_SCHEMAS, quote_ident, quote_literal
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.sql import DETERMINISTIC_OUTPUT, SESSION_SETTINGS, column_list, qualified

# Tables (plain and partitioned) with their columns and types, and the sequences: what both sides must have alike.
SCHEMA_SQL = """
SELECT json_build_object(
  'tables', (SELECT coalesce(json_object_agg(t.name, t.columns), '{{}}'::json) FROM (
      SELECT format('%I.%I', n.nspname, c.relname) AS name,
             coalesce((SELECT json_object_agg(a.attname, format_type(a.atttypid, a.atttypmod)
                                              || CASE WHEN a.attgenerated <> '' THEN ' (generated)' ELSE '' END)
                       FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{{}}'::json) AS columns
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND {user_schemas} AND {user_data}) t),
  'sequences', (SELECT coalesce(json_agg(format('%I.%I', schemaname, sequencename) ORDER BY 1), '[]'::json)
                FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog', 'information_schema')))
""".format(user_schemas=USER_SCHEMAS, user_data=USER_DATA.format(oid="c.oid"))

# Whether the source role may turn foreign keys and triggers off for its session (superuser, or granted on 15+).
REPLICATION_ROLE_SQL = {
    True: "SELECT json_build_object('allowed', current_setting('is_superuser') = 'on' "
          "OR has_parameter_privilege('session_replication_role', 'SET'))",
    False: "SELECT json_build_object('allowed', current_setting('is_superuser') = 'on')",
}

# The source's populated materialized views, refreshed from the copied rows before COMMIT (in creation order, so one
# built on another comes after it).
MATERIALIZED_VIEWS_SQL = """
SELECT coalesce(json_agg(format('%I.%I', n.nspname, c.relname) ORDER BY c.oid), '[]'::json)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm' AND c.relispopulated AND {user_schemas}
""".format(user_schemas=USER_SCHEMAS)

LOCK_TIMEOUT = "60s"

FROM, INTO = "the StatefulSet's database", "the source database"


def schema_differences(origin, into):
    """What differs between the StatefulSet's schema (``origin``) and the source's (``into``), both from SCHEMA_SQL,
    as sentences; [] when the copy-back can load every table as it is."""
    found = []
    for name in sorted(set(origin["tables"]) | set(into["tables"])):
        mine, theirs = origin["tables"].get(name), into["tables"].get(name)
        if theirs is None:
            found.append("table %s exists in %s but not in %s" % (name, FROM, INTO))
        elif mine is None:
            found.append("table %s exists only in %s" % (name, INTO))
        else:
            found += _column_differences(name, mine, theirs)
    for name in sorted(set(origin["sequences"]) ^ set(into["sequences"])):
        found.append("sequence %s exists only in %s" % (name, FROM if name in origin["sequences"] else INTO))
    return found


def _column_differences(table, origin, into):
    found = []
    for column in sorted(set(origin) | set(into)):
        mine, theirs = origin.get(column), into.get(column)
        if theirs is None:
            found.append("table %s: column %s (%s) is missing in %s" % (table, column, mine, INTO))
        elif mine is None:
            found.append("table %s: column %s (%s) exists only in %s" % (table, column, theirs, INTO))
        elif mine != theirs:
            found.append("table %s: column %s is %s in %s but %s in %s" % (table, column, mine, FROM, theirs, INTO))
    return found


def session_settings(encoding):
    """Both sessions: the same encoding and the same text for dates, times, intervals, floats and bytea."""
    return ["SET client_encoding = %s" % quote_literal(encoding), *SESSION_SETTINGS, *DETERMINISTIC_OUTPUT]


# The StatefulSet's sessions of a copy-back: a controller killed midway leaves them running in the pod (a reader blocked on
# its output, which nobody reads any more), so the next copy-back ends them first.
APPLICATION_NAME = "stateshift-copy-back"
END_LEFTOVER_SESSIONS_SQL = ("SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity "
                             "WHERE application_name = %s AND datname = current_database() AND pid <> pg_catalog.pg_backend_pid()"
                             % quote_literal(APPLICATION_NAME))


def read_statements(table, snapshot_statements, encoding, end_tag):
    """psql -c arguments for the StatefulSet's side of one table: its rows at the snapshot, as text COPY, then the
    trailer line '<end_tag> <rows at the snapshot>' (psql's ROW_COUNT is not set by a COPY)."""
    rows = "COPY (SELECT %s FROM ONLY %s) TO STDOUT" % (column_list(table), qualified(table))
    trailer = "SELECT %s || count(*) FROM ONLY %s" % (quote_literal(end_tag + " "), qualified(table))
    return ["SET application_name = %s" % quote_literal(APPLICATION_NAME), "SET client_encoding = %s" % quote_literal(encoding),
            *DETERMINISTIC_OUTPUT, *snapshot_statements, rows, trailer, "COMMIT"]


def load_head(tables, encoding):
    """The start of the source's script, up to the first table's rows."""
    lines = ["%s;" % statement for statement in session_settings(encoding)]
    lines += ["SET lock_timeout = %s;" % quote_literal(LOCK_TIMEOUT), "BEGIN READ WRITE;", "SET LOCAL session_replication_role = replica;"]
    if tables:
        lines.append("TRUNCATE ONLY %s;" % ", ".join(qualified(table) for table in tables))
    return ("\n".join(lines) + "\n").encode()


def copy_in_header(table):
    return ("COPY %s (%s) FROM STDIN;\n" % (qualified(table), column_list(table))).encode()


COPY_END = b"\\.\n"


def load_tail(sequences, materialized_views=()):
    """The end of the source's script: its materialized views refreshed, every sequence at the StatefulSet's position
    (transactionally), then COMMIT. ``materialized_views``: names already quoted (MATERIALIZED_VIEWS_SQL)."""
    lines = ["REFRESH MATERIALIZED VIEW %s;" % name for name in materialized_views]
    for seq in sequences:
        name = "%s.%s" % (quote_ident(seq["schema"]), quote_ident(seq["name"]))
        lines.append("ALTER SEQUENCE %s RESTART;" % name)
        if seq.get("last_value") is None:
            lines.append("SELECT pg_catalog.setval(%s, %d, false);" % (quote_literal(name), int(seq["start_value"])))
        else:
            lines.append("SELECT pg_catalog.setval(%s, %d, true);" % (quote_literal(name), int(seq["last_value"])))
    lines.append("COMMIT;")
    return ("\n".join(lines) + "\n").encode()
