"""Roles and memberships read as data from a real source server and generated as SQL for a real target server."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import globals as pg_globals
from tests.fixtures.postgres import LocalPostgres

HOSTILE = ['we"ird name', "semi;colon $(touch /tmp/stateshift-pwned)", "new\nline", "superuser", "Admin'; DROP ROLE x; --"]
SOURCE_ROLES = """
CREATE ROLE "we""ird name" LOGIN PASSWORD 'pw one';
CREATE ROLE "semi;colon $(touch /tmp/stateshift-pwned)" LOGIN PASSWORD 'pw two';
CREATE ROLE "new
line" NOLOGIN;
CREATE ROLE superuser LOGIN PASSWORD 'not really';
CREATE ROLE "Admin'; DROP ROLE x; --" SUPERUSER CREATEROLE REPLICATION BYPASSRLS LOGIN CONNECTION LIMIT 3 PASSWORD 'adm';
GRANT pg_read_server_files, pg_signal_backend, pg_execute_server_program, pg_read_all_data TO superuser;
GRANT "we""ird name" TO superuser WITH ADMIN OPTION;
ALTER ROLE superuser SET search_path = '$user', public, 'My Schema';
ALTER ROLE superuser IN DATABASE postgres SET work_mem = '8MB';
"""


def psql(server, script, database="postgres"):
    return subprocess.run([os.path.join(server.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", server.socket_dir,
                           "-p", str(server.port), "-U", "postgres", "-d", database], input=script, capture_output=True, text=True,
                          check=True).stdout


def drop_roles(server):
    psql(server, "".join("DROP ROLE IF EXISTS %s;\n" % pg_globals.quote_ident(name) for name in HOSTILE))


@pytest.fixture(scope="module")
def servers(local_postgres):
    postgres_user = pwd.getpwnam("postgres")
    base = tempfile.mkdtemp(prefix="stateshift-pg-globals-")
    os.chown(base, postgres_user.pw_uid, postgres_user.pw_gid)
    target = LocalPostgres(base, port=5443)
    target.start()
    drop_roles(local_postgres)
    psql(local_postgres, SOURCE_ROLES)
    try:
        yield local_postgres, target
    finally:
        drop_roles(local_postgres)
        target.stop()
        shutil.rmtree(base, ignore_errors=True)


def copy_roles(servers, keep_privileged=False):
    source, target = servers
    drop_roles(target)
    read = pg_globals.parse(psql(source, pg_globals.READ_SCRIPT))
    existing = psql(target, "SELECT rolname FROM pg_roles;").split("\n")
    roles_sql, per_database, summary = pg_globals.generate(read, existing, keep_privileged)
    psql(target, roles_sql)
    psql(target, per_database.get("postgres", ""))
    return summary


def test_hostile_role_names_are_created_with_their_verifiers_and_no_privilege(servers):
    source, target = servers
    summary = copy_roles(servers)
    assert set(HOSTILE) <= set(summary["created"])  # other tests' roles may be on the shared source server too
    assert summary["privileges_dropped"] == ["Admin'; DROP ROLE x; --"]
    assert sorted(summary["memberships_dropped"]) == ["superuser in pg_execute_server_program", "superuser in pg_read_server_files",
                                                      "superuser in pg_signal_backend"]
    assert not os.path.exists("/tmp/stateshift-pwned")
    passwords = "SELECT rolname || '=' || rolpassword FROM pg_authid WHERE rolname <> 'postgres' AND rolpassword IS NOT NULL ORDER BY 1;"
    verifiers = psql(source, passwords)
    assert verifiers.count("SCRAM-SHA-256$") == 4 and psql(target, passwords) == verifiers
    admin = psql(target, "SELECT rolsuper, rolcreaterole, rolreplication, rolbypassrls, rolconnlimit FROM pg_roles "
                         "WHERE rolname = 'Admin''; DROP ROLE x; --';").strip()
    assert admin == "f|f|f|f|3"
    assert psql(target, "SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid "
                        "JOIN pg_roles m ON m.oid = a.member WHERE m.rolname = 'superuser';").strip() == "pg_read_all_data,we\"ird name"
    assert psql(target, "SELECT admin_option FROM pg_auth_members WHERE member = 'superuser'::regrole "
                        "AND roleid = '\"we\"\"ird name\"'::regrole;").strip() == "t"
    settings = psql(target, "SELECT coalesce(d.datname, '-') || ':' || array_to_string(s.setconfig, '|') FROM pg_db_role_setting s "
                            "LEFT JOIN pg_database d ON d.oid = s.setdatabase WHERE s.setrole = 'superuser'::regrole ORDER BY 1;")
    assert settings.split("\n")[:2] == ['-:search_path="$user", public, "My Schema"', "postgres:work_mem=8MB"]


def test_privileges_are_kept_only_when_asked(servers):
    summary = copy_roles(servers, keep_privileged=True)
    assert summary["privileges_dropped"] == [] and summary["memberships_dropped"] == []
    target = servers[1]
    assert psql(target, "SELECT rolsuper AND rolbypassrls FROM pg_roles WHERE rolname = 'Admin''; DROP ROLE x; --';").strip() == "t"
    assert psql(target, "SELECT pg_has_role('superuser', 'pg_execute_server_program', 'MEMBER');").strip() == "t"


def test_roles_the_target_has_are_left_alone(servers):
    source = servers[0]
    read = pg_globals.parse(psql(source, pg_globals.READ_SCRIPT))
    roles_sql, _per_database, summary = pg_globals.generate(read, ["postgres", "superuser"])
    assert "superuser" in summary["kept_existing"] and "postgres" in summary["kept_existing"]
    assert "TO \"superuser\"" not in roles_sql and "ROLE \"superuser\"" not in roles_sql and "\"postgres\"" not in roles_sql


def test_without_pg_authid_roles_get_no_password_and_a_note():
    read = {"roles": [{"name": "app", "superuser": False, "inherit": True, "createrole": False, "createdb": False, "login": True,
                       "replication": False, "bypassrls": False, "connection_limit": -1, "valid_until": None}],
            "memberships": [], "settings": [], "passwords": None}
    roles_sql, _per_database, summary = pg_globals.generate(read, [])
    assert "PASSWORD" not in roles_sql and summary["without_password"] == ["app"]
    assert roles_sql == ('CREATE ROLE "app" WITH NOSUPERUSER NOCREATEROLE NOCREATEDB LOGIN INHERIT NOREPLICATION NOBYPASSRLS '
                         "CONNECTION LIMIT -1;\n")
