# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SQL a migration runs: read-only catalog queries on the source, COPY statements, restore tuning.

Every query that returns more than one value returns one JSON document, so callers parse
psql's output with json.loads and never split text.
"""

from __future__ import annotations

import json
import re

from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import (
    USER_DATA,
    USER_SCHEMAS,
    quote_ident,
    quote_literal,
)

# Plain and unlogged tables and leaf partitions (the rows live there: a partitioned parent is never read, so no row is
# counted twice), extensions' configuration tables; no foreign table. Generated columns are left out (computed again).
TABLES_SQL = """
SELECT coalesce(json_agg(json_build_object(
         'schema', n.nspname, 'name', c.relname, 'report_name', format('%I.%I', n.nspname, c.relname),
         'columns', (SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''),
         'rows_estimate', greatest(c.reltuples, 0)::bigint,
         'size_bytes', pg_table_size(c.oid),
         'blocks', pg_relation_size(c.oid) / current_setting('block_size')::bigint)
       ORDER BY pg_table_size(c.oid) DESC, n.nspname, c.relname), '[]'::json)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND {user_schemas} AND {user_data}
""".format(user_schemas=USER_SCHEMAS, user_data=USER_DATA.format(oid="c.oid"))

SOURCE_FACTS_SQL = """
SELECT json_build_object(
  'version_num', current_setting('server_version_num')::int,
  'version', current_setting('server_version'),
  'encoding', pg_encoding_to_char(d.encoding), 'collate', d.datcollate, 'ctype', d.datctype,
  'owner', pg_get_userbyid(d.datdba),
  'size_bytes', pg_database_size(d.datname),
  'data_bytes', (SELECT coalesce(sum(pg_table_size(c.oid)), 0)::bigint FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND {user_schemas}),
  'large_objects', (SELECT count(*) FROM pg_largeobject_metadata),
  'copy_record_schema', EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '_stateshift_copy'),  -- postgresql_parts.SCHEMA
  'is_superuser', current_setting('is_superuser') = 'on',
  'bypass_rls', (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user),
  'rls_tables', (SELECT coalesce(json_agg(format('%I.%I', n.nspname, c.relname) ORDER BY 1), '[]'::json) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relrowsecurity AND {user_schemas}),
  'locale_provider', coalesce(to_jsonb(d) ->> 'datlocprovider', 'c'),
  'icu_locale', coalesce(to_jsonb(d) ->> 'daticulocale', to_jsonb(d) ->> 'datlocale'))
FROM pg_database d WHERE d.datname = current_database()
""".format(user_schemas=USER_SCHEMAS)

# What changes when anything writes to a database: row writes (pg_stat_user_tables, kept across clean restarts) and
# the relations with their files (TRUNCATE, a rewrite or DDL change them). Read-only statements change neither.
FINGERPRINT = """json_build_object(
  'writes', (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables),
  'relations', (SELECT md5(coalesce(string_agg(c.oid || ':' || c.relfilenode, ',' ORDER BY c.oid), ''))
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'm', 'S', 'v', 'f') AND {user_schemas}))""".format(user_schemas=USER_SCHEMAS)

FINGERPRINT_SQL = "SELECT json_build_object('fingerprint', %s)" % FINGERPRINT

# What makes a target database "not empty": any user object at all; and its fingerprint.
TARGET_CONTENT_SQL = """
SELECT json_build_object('fingerprint', {fingerprint},
  'relations', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {user_schemas}),
  'functions', (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {user_schemas}),
  'schemas', (SELECT count(*) FROM pg_namespace n WHERE {user_schemas} AND n.nspname <> 'public'),
  'extensions', (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'))
""".format(user_schemas=USER_SCHEMAS, fingerprint=FINGERPRINT.replace("{", "{{").replace("}", "}}"))

# The target knows the source's locale: libc ones by pg_collation (initdb fills it from the system's locales), ICU ones
# by the ICU collations the server was built with.
TARGET_SERVER_SQL = """
SELECT json_build_object('version_num', current_setting('server_version_num')::int,
  'database_exists', EXISTS (SELECT 1 FROM pg_database WHERE datname = {name}),
  'locale_known', CASE WHEN {provider} = 'i' THEN EXISTS (SELECT 1 FROM pg_collation c WHERE c.collprovider = 'i'
                         AND lower(replace(coalesce(to_jsonb(c) ->> 'colliculocale', to_jsonb(c) ->> 'colllocale'), '_', '-'))
                             = lower(replace({icu_locale}, '_', '-')))
                       ELSE {collate} IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8') OR EXISTS (SELECT 1 FROM pg_collation c
                         WHERE c.collprovider = 'c' AND lower(replace(c.collcollate, '-', '')) = lower(replace({collate}, '-', '')))
                         -- a C library that lists no locale (musl) accepts any name: nothing to check against
                         OR NOT EXISTS (SELECT 1 FROM pg_collation c WHERE c.collprovider = 'c'
                                        AND c.collcollate NOT IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8', 'ucs_basic')) END)
"""

ROLE_NAMES_SQL = "SELECT coalesce(json_agg(rolname), '[]'::json) FROM pg_roles"

SEQUENCE_VALUES_SQL = """
SELECT coalesce(json_agg(json_build_object('schema', schemaname, 'name', sequencename,
                                           'last_value', last_value, 'start_value', start_value)
                         ORDER BY schemaname, sequencename), '[]'::json)
FROM pg_sequences s
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
"""

# Settings that speed up a bulk load and need only a reload, restored afterwards.
RESTORE_SETTINGS = {
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "synchronous_commit": "off",
    "autovacuum": "off",
}

AUTO_CONF_SQL = """
SELECT coalesce(json_object_agg(name, setting), '{{}}'::json) FROM pg_file_settings
WHERE sourcefile LIKE '%postgresql.auto.conf' AND applied AND name IN ({names})
"""

# Every session that reads or writes rows: all rows or an error (never rows hidden by a policy), floats exact.
SESSION_SETTINGS = ("SET row_security = off", "SET extra_float_digits = 3")

# Text output that is the same on every server, so row text hashes alike on both sides.
DETERMINISTIC_OUTPUT = ("SET DateStyle = 'ISO, YMD'", "SET TimeZone = 'UTC'", "SET IntervalStyle = 'postgres'",
                        "SET extra_float_digits = 3", "SET bytea_output = 'hex'")

_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")
_SETTING_VALUE = re.compile(r"[A-Za-z0-9_.]+")
_SETTING_NAME = re.compile(r"[a-z][a-z0-9_.]*")


def qualified(table):
    return "%s.%s" % (quote_ident(table["schema"]), quote_ident(table["name"]))


def column_list(table):
    return ", ".join(quote_ident(column) for column in table["columns"] or [])


def snapshot_statements(snapshot):
    """psql -c arguments that put a read-only session (SESSION_SETTINGS) on the exported snapshot."""
    if snapshot is None:
        return [*SESSION_SETTINGS, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"]
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError("not a snapshot id: %r" % snapshot)
    return [*SESSION_SETTINGS, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "SET TRANSACTION SNAPSHOT '%s'" % snapshot]


def copy_out_sql(table, where=""):
    """COPY of one table's own rows (ONLY: not its inheritance children, which are copied as tables); ``where``: a part's
    range (migrate/postgresql_parts.py: where_clause)."""
    return "COPY (SELECT %s FROM ONLY %s%s) TO STDOUT" % (column_list(table), qualified(table), where)


def copy_in_prefix(table, load="whole", first=""):
    """What the target's psql reads before the data, by ``load``: ``whole``, the table emptied and loaded in one transaction
    (COPY FREEZE); ``part``, rows appended in their own transaction (a range of a large table); ``replace``, the table's rows
    deleted and loaded again in one transaction, its constraints' and triggers' checks off (it already has them).
    ``first``: a statement the transaction runs before anything else.

    The transaction is committed only by copy_in_commit(), sent after the source finished cleanly, so a
    cut stream rolls back instead of leaving part of a table (or of a part).
    """
    return ("%s;\n" % ";\n".join([*SESSION_SETTINGS, "BEGIN", *copy_in_statements(table, load, first)])).encode()


def copy_in_statements(table, load="whole", first=""):
    """The statements of copy_in_prefix() that load one table (``first``, then emptying it, then its COPY)."""
    target, copy = qualified(table), "COPY %s (%s) FROM STDIN" % (qualified(table), column_list(table))
    statements = {"whole": ["TRUNCATE ONLY %s" % target, copy + " WITH (FREEZE)"],
                  "part": [copy],
                  "replace": ["SET LOCAL session_replication_role = replica", "DELETE FROM ONLY %s" % target, copy]}[load]
    return [*([first] if first else []), *statements]


def copy_in_commit(before_commit=""):
    """The end of the data, ``before_commit`` (statements of the same transaction), COMMIT."""
    return ("\\.\n%sCOMMIT;\n" % before_commit).encode()


def setval_sql(sequences):
    """Statements that give every sequence on the target the source's position."""
    lines = []
    for seq in sequences:
        name = quote_literal("%s.%s" % (quote_ident(seq["schema"]), quote_ident(seq["name"])))
        if seq.get("last_value") is None:
            lines.append("SELECT pg_catalog.setval(%s, %d, false);" % (name, int(seq["start_value"])))
        else:
            lines.append("SELECT pg_catalog.setval(%s, %d, true);" % (name, int(seq["last_value"])))
    return "\n".join(lines)


def auto_conf_sql(settings):
    return AUTO_CONF_SQL.format(names=", ".join(quote_literal(name) for name in settings))


def setting_name(name):
    """A server setting's name, checked: names are written unquoted."""
    if not _SETTING_NAME.fullmatch(str(name)):
        raise ValueError("invalid setting name %r" % (name,))
    return name


def tune_sql(settings):
    statements = []
    for name, value in settings.items():
        if not _SETTING_VALUE.fullmatch(str(value)):
            raise ValueError("invalid value %r for setting %s" % (value, name))
        statements.append("ALTER SYSTEM SET %s = %s;" % (setting_name(name), quote_literal(value)))
    statements.append("SELECT pg_reload_conf();")
    return "\n".join(statements)


def untune_sql(settings, previous):
    """Put back what postgresql.auto.conf held before the migration tuned it."""
    statements = []
    for name in settings:
        if name in previous:
            statements.append("ALTER SYSTEM SET %s = %s;" % (setting_name(name), quote_literal(previous[name])))
        else:
            statements.append("ALTER SYSTEM RESET %s;" % setting_name(name))
    statements.append("SELECT pg_reload_conf();")
    return "\n".join(statements)


def create_database_sql(name, owner, facts, target_version=150000):
    """Like the source's database: encoding, locale and locale provider (libc, ICU or builtin)."""
    statement = ("CREATE DATABASE %s OWNER %s TEMPLATE template0 ENCODING %s LC_COLLATE %s LC_CTYPE %s"
                 % (quote_ident(name), quote_ident(owner), quote_literal(facts["encoding"]),
                    quote_literal(facts["collate"]), quote_literal(facts["ctype"])))
    provider = facts.get("locale_provider") or "c"
    if provider == "i":
        return statement + " LOCALE_PROVIDER icu ICU_LOCALE %s" % quote_literal(facts["icu_locale"])
    if provider == "b":
        return statement + " LOCALE_PROVIDER builtin BUILTIN_LOCALE %s" % quote_literal(facts["icu_locale"])
    return statement + (" LOCALE_PROVIDER libc" if target_version >= 150000 else "")


def drop_database_sql(name):
    return "DROP DATABASE IF EXISTS %s WITH (FORCE)" % quote_ident(name)


def parse_json(stdout, what):
    text = (stdout or "").strip()
    if not text:
        raise ValueError("psql returned nothing for %s" % what)
    return json.loads(text.splitlines()[-1])
