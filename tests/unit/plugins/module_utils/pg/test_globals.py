from __future__ import annotations

import json
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import globals as pg_globals

ADMIN_VERIFIER = ("SCRAM-SHA-256$4096:3U0+3yQ280Odx/rqOwO1gQ==$"
                  "HgGdCTZXN6WdYCc8CEJW7TsPDoa70vDHb5NFyCGf/Cc=:wGgLFrxLWb/JmlxWRX79kvHpSDq+HyrqaJ262Bt1XbI=")
APP_VERIFIER = ("SCRAM-SHA-256$4096:XuaiONmkhPV5wdTr9spDMw==$"
                "y/3XDEWeSbOY7dy4JIrSDsmN0x88WcPBzEBQjNf1hqQ=:TWap/AJa3zWXxQpw/gQCinJ9mvHpCbvlGARPWQUDuVE=")
MIXED_VERIFIER = ("SCRAM-SHA-256$4096:p9BnFxefxxeQJtNgYliAFA==$"
                  "JFloz/RpMtKsxavoRv58leoAh3eGG2wn4Dvf6v1Jq+8=:RSXbpqhyj2GRCGq5lMN+SUJHTjuY980Sf8IrIkfJup4=")
POSTGRES_VERIFIER = "SCRAM-SHA-256$4096:cG9zdGdyZXM=$cGdzdG9yZWQ=:cGdzZXJ2ZXI="
ALL_VERIFIERS = (ADMIN_VERIFIER, APP_VERIFIER, MIXED_VERIFIER, POSTGRES_VERIFIER)

# pg_dumpall --globals-only --no-tablespaces of a PostgreSQL 15 server (as printed by pg_dumpall 15.20),
# plus the per-database role settings that older servers also put in the globals.
DUMP = """--
-- PostgreSQL database cluster dump
--

\\restrict VOaaIctVh2m4NlGP5kai8hl7SwE2cbe5A9MFDH3H29kVJ0nOooc8qdOkOuJafBC

SET default_transaction_read_only = off;

SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Roles
--

CREATE ROLE "Mixed Case";
ALTER ROLE "Mixed Case" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN REPLICATION NOBYPASSRLS PASSWORD '{mixed}';
CREATE ROLE admin;
ALTER ROLE admin WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD '{admin}';
CREATE ROLE app;
ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD '{app}';
CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD '{postgres}';
CREATE ROLE reader;
ALTER ROLE reader WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;

--
-- User Configurations
--

--
-- User Config "app"
--

ALTER ROLE app SET search_path TO 'invoices', 'public';
ALTER ROLE postgres SET statement_timeout TO '0';
ALTER ROLE app IN DATABASE invoicetron SET work_mem TO '64MB';
ALTER ROLE "Mixed Case" IN DATABASE "Reporting DB" SET statement_timeout TO '5min';
ALTER ROLE postgres IN DATABASE invoicetron SET work_mem TO '1GB';


--
-- Role memberships
--

GRANT reader TO app GRANTED BY admin;




\\unrestrict VOaaIctVh2m4NlGP5kai8hl7SwE2cbe5A9MFDH3H29kVJ0nOooc8qdOkOuJafBC

--
-- PostgreSQL database cluster dump complete
--

""".format(mixed=MIXED_VERIFIER, admin=ADMIN_VERIFIER, app=APP_VERIFIER, postgres=POSTGRES_VERIFIER)


def role_lines(sql, quoted_name):
    return [line for line in sql.splitlines() if line.startswith(("CREATE ROLE %s" % quoted_name, "ALTER ROLE %s " % quoted_name))]


def test_existing_roles_are_neither_created_nor_altered():
    roles_sql, per_database, summary = pg_globals.filter_globals(DUMP, ["postgres"])
    assert role_lines(roles_sql, "postgres") == []
    assert POSTGRES_VERIFIER not in roles_sql
    assert "postgres" not in "".join(per_database.values())
    assert summary["kept_existing"] == ["postgres"]
    assert "postgres" not in summary["created"]


def test_existing_role_with_a_quoted_name_is_recognised_unquoted():
    roles_sql, per_database, summary = pg_globals.filter_globals(DUMP, ["postgres", "Mixed Case"])
    assert role_lines(roles_sql, '"Mixed Case"') == []
    assert "Reporting DB" not in per_database
    assert summary["kept_existing"] == ["Mixed Case", "postgres"]


def test_new_roles_are_created_with_their_password_but_without_privileged_attributes():
    roles_sql, _ignored_value, summary = pg_globals.filter_globals(DUMP, ["postgres"])
    assert role_lines(roles_sql, "admin") == [
        "CREATE ROLE admin;",
        "ALTER ROLE admin WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD '%s';" % ADMIN_VERIFIER,
    ]
    assert role_lines(roles_sql, '"Mixed Case"') == [
        'CREATE ROLE "Mixed Case";',
        "ALTER ROLE \"Mixed Case\" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS "
        "PASSWORD '%s';" % MIXED_VERIFIER,
    ]
    assert summary["created"] == ["Mixed Case", "admin", "app", "reader"]
    assert summary["privileges_dropped"] == ["Mixed Case", "admin"]


def test_unprivileged_roles_pass_through_unchanged():
    roles_sql, _ignored_1, _ignored_2 = pg_globals.filter_globals(DUMP, ["postgres"])
    assert ("ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD '%s';"
            % APP_VERIFIER) in roles_sql.splitlines()
    assert "ALTER ROLE reader WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;" in roles_sql.splitlines()
    assert "ALTER ROLE app SET search_path TO 'invoices', 'public';" in roles_sql.splitlines()
    assert "GRANT reader TO app GRANTED BY admin;" in roles_sql.splitlines()


def test_keep_privileged_keeps_superuser_replication_and_bypassrls():
    roles_sql, _ignored_value, summary = pg_globals.filter_globals(DUMP, ["postgres"], keep_privileged=True)
    assert ("ALTER ROLE admin WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD '%s';"
            % ADMIN_VERIFIER) in roles_sql.splitlines()
    assert summary["privileges_dropped"] == []


def test_privileged_words_inside_the_password_are_not_rewritten():
    verifier = "md5SUPERUSER REPLICATION BYPASSRLS"
    dump = "CREATE ROLE odd;\nALTER ROLE odd WITH SUPERUSER LOGIN PASSWORD '%s';\n" % verifier
    roles_sql, _ignored_1, _ignored_2 = pg_globals.filter_globals(dump, [])
    assert roles_sql.splitlines()[1] == "ALTER ROLE odd WITH NOSUPERUSER LOGIN PASSWORD '%s';" % verifier


def test_per_database_settings_are_split_out_by_unquoted_database_name():
    roles_sql, per_database, _ignored_value = pg_globals.filter_globals(DUMP, ["postgres"])
    assert per_database == {
        "invoicetron": "ALTER ROLE app IN DATABASE invoicetron SET work_mem TO '64MB';\n",
        "Reporting DB": "ALTER ROLE \"Mixed Case\" IN DATABASE \"Reporting DB\" SET statement_timeout TO '5min';\n",
    }
    assert "IN DATABASE" not in roles_sql


def test_meta_commands_and_set_lines_are_dropped_comments_kept():
    roles_sql, _ignored_1, _ignored_2 = pg_globals.filter_globals(DUMP, ["postgres"])
    lines = roles_sql.splitlines()
    assert not any(line.startswith("\\") for line in lines)
    assert "restrict" not in roles_sql
    assert not any(line.startswith("SET ") for line in lines)
    assert "-- Role memberships" in lines
    assert roles_sql.endswith("\n")


def test_summary_never_contains_a_password():
    for keep in (False, True):
        _ignored_1, _ignored_2, summary = pg_globals.filter_globals(DUMP, ["postgres"], keep_privileged=keep)
        text = repr(summary)
        assert "SCRAM" not in text
        assert not any(verifier in text for verifier in ALL_VERIFIERS)


def test_an_empty_dump_gives_empty_results():
    roles_sql, per_database, summary = pg_globals.filter_globals("", ["postgres"])
    assert roles_sql.strip() == ""
    assert per_database == {}
    assert summary == {"created": [], "kept_existing": [], "privileges_dropped": []}


@pytest.mark.parametrize(("quoted", "plain"), [("app", "app"), ('"Mixed Case"', "Mixed Case"), ('"say ""hi"""', 'say "hi"')])
def test_unquote(quoted, plain):
    assert pg_globals.unquote(quoted) == plain


# --- replay on a real server -------------------------------------------------------------------------

ROLES = ("globals_admin", "globals_app", "Globals Mixed", "globals_reader")


def psql_script(server, script):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", server.socket_dir, "-p", str(server.port),
                           "-U", "postgres", "-d", "postgres"], input=script, capture_output=True, text=True, check=True)


def drop_test_roles(server):
    server.psql("DROP ROLE IF EXISTS %s" % ", ".join('"%s"' % name for name in ROLES))


def test_filtered_globals_replay_on_postgres_15(local_postgres):
    """A real pg_dumpall, filtered, is accepted by psql; admin comes back unprivileged with the same verifier."""
    server = local_postgres
    drop_test_roles(server)
    server.psql("SET password_encryption = 'scram-sha-256';"
                " CREATE ROLE globals_admin SUPERUSER CREATEROLE LOGIN REPLICATION BYPASSRLS PASSWORD 'adm1n';"
                " CREATE ROLE globals_app LOGIN PASSWORD 'app-pw';"
                ' CREATE ROLE "Globals Mixed" LOGIN REPLICATION PASSWORD \'m1xed\';'
                " CREATE ROLE globals_reader;"
                " ALTER ROLE globals_app SET search_path TO invoices, public;"
                " SET ROLE globals_admin; GRANT globals_reader TO globals_app; RESET ROLE;")
    try:
        before = json.loads(server.psql("SELECT json_object_agg(rolname, rolpassword) FROM pg_authid WHERE rolname LIKE '%lobals%'").stdout)
        dump = subprocess.run(["pg_dumpall", "--globals-only", "--no-tablespaces", "-h", server.socket_dir, "-p", str(server.port),
                               "-U", "postgres"], capture_output=True, text=True, check=True).stdout
        drop_test_roles(server)
        existing = server.psql("SELECT rolname FROM pg_roles").stdout.splitlines()
        roles_sql, _ignored_value, summary = pg_globals.filter_globals(dump, existing)
        assert sorted(summary["created"]) == sorted(ROLES)
        psql_script(server, roles_sql)

        attributes = server.psql("SELECT rolname, rolsuper, rolreplication, rolbypassrls, rolcreaterole, rolcanlogin FROM pg_roles"
                                 " WHERE rolname LIKE '%lobals%' ORDER BY rolname").stdout.splitlines()
        assert attributes == ["Globals Mixed|f|f|f|f|t", "globals_admin|f|f|f|t|t", "globals_app|f|f|f|f|t", "globals_reader|f|f|f|f|f"]
        after = json.loads(server.psql("SELECT json_object_agg(rolname, rolpassword) FROM pg_authid WHERE rolname LIKE '%lobals%'").stdout)
        assert after == before
        assert all(value.startswith("SCRAM-SHA-256$") for value in after.values() if value)
        config = server.psql("SELECT array_to_string(rolconfig, ',') FROM pg_roles WHERE rolname = 'globals_app'").stdout.strip()
        assert config == "search_path=invoices, public"
        member = server.psql("SELECT pg_has_role('globals_app', 'globals_reader', 'MEMBER')").stdout.strip()
        assert member == "t"
    finally:
        drop_test_roles(server)
