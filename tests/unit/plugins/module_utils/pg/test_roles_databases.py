"""The catalog's roles and databases: the plan from what the server has, and the script run against a real server."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import roles_databases

PRESENT = {"roles": ["app", "legacy_etl"], "databases": [{"name": "app", "owner": "app"}, {"name": "postgres", "owner": "app"},
                                                         {"name": "old_reports", "owner": "app"}]}


def role(name, login=True, password_variable=None):
    return {"name": name, "login": login, "password_variable": password_variable}


def test_only_what_is_missing_is_created_and_what_the_catalog_does_not_name_is_reported():
    planned = roles_databases.plan([role("reporter", password_variable="V1")], [{"name": "app", "owner": "app"},
                                   {"name": "reports", "owner": "reporter"}], PRESENT, "app")
    assert [r["name"] for r in planned["create_roles"]] == ["reporter"]
    assert planned["create_databases"] == [{"name": "reports", "owner": "reporter"}]
    assert planned["unmanaged_roles"] == ["legacy_etl"]
    assert planned["unmanaged_databases"] == ["old_reports"]


def test_nothing_is_created_when_the_server_has_everything():
    planned = roles_databases.plan([role("legacy_etl")], [{"name": "app", "owner": "app"}, {"name": "old_reports", "owner": "app"}],
                                   PRESENT, "app")
    assert planned == {"create_roles": [], "create_databases": [], "unmanaged_roles": [], "unmanaged_databases": []}


def test_a_database_owned_by_an_unknown_role_is_refused_before_anything_is_created():
    with pytest.raises(ValueError, match="database reports would be owned by role nobody, which the server does not have"):
        roles_databases.plan([], [{"name": "reports", "owner": "nobody"}], PRESENT, "app")


def test_password_variables_are_numbered_among_the_roles_that_have_a_password():
    roles = [{"name": "readers"}, {"name": "reporter", "password_key": "a"}, {"name": "etl", "password_key": "b"}]
    assert roles_databases.password_variables(roles) == {"reporter": "STATESHIFT_ROLE_PASSWORD_1", "etl": "STATESHIFT_ROLE_PASSWORD_2"}


def run_script(server, roles, databases, env):
    argv = [os.path.join(server.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", server.socket_dir, "-p", str(server.port),
            "-U", "postgres", "-d", "postgres"]
    for name, value in roles_databases.script_variables(roles, databases):
        argv += ["-v", "%s=%s" % (name, value)]
    script = "\n".join(roles_databases.create_sql(roles, databases)) + "\n"
    return subprocess.run(argv, input=script, env=dict(os.environ, **env), capture_output=True, text=True, check=False)


def inventory(server):
    return json.loads(server.psql(roles_databases.INVENTORY_SQL).stdout)


def test_added_roles_and_databases_are_created_with_their_passwords_and_a_rerun_creates_nothing(local_postgres):
    password = "day2 it's \"quoted\" $(id) ;"
    roles = [role("day2_reporter", password_variable="STATESHIFT_ROLE_PASSWORD_1"), role("day2_Group", login=False)]
    databases = [{"name": "day2_reports", "owner": "day2_reporter"}]
    try:
        planned = roles_databases.plan(roles, databases, inventory(local_postgres), "postgres")
        assert [r["name"] for r in planned["create_roles"]] == ["day2_reporter", "day2_Group"]
        done = run_script(local_postgres, planned["create_roles"], planned["create_databases"],
                          {"STATESHIFT_ROLE_PASSWORD_1": password})
        assert done.returncode == 0, done.stderr
        assert password not in done.stdout + done.stderr
        verifier = local_postgres.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'day2_reporter'").stdout.strip()
        assert verifier.startswith(("SCRAM-SHA-256$", "md5"))
        found = local_postgres.psql("SELECT rolname || ':' || rolcanlogin FROM pg_roles WHERE rolname LIKE 'day2%' ORDER BY 1")
        assert found.stdout.split() == ["day2_Group:false", "day2_reporter:true"]
        owner = local_postgres.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'day2_reports'").stdout.strip()
        assert owner == "day2_reporter"
        again = roles_databases.plan(roles, databases, inventory(local_postgres), "postgres")
        assert again["create_roles"] == [] and again["create_databases"] == []
    finally:
        local_postgres.psql("DROP DATABASE IF EXISTS day2_reports")
        local_postgres.psql('DROP ROLE IF EXISTS day2_reporter, "day2_Group"')


def test_a_role_whose_password_is_missing_from_the_environment_is_not_given_an_empty_one(local_postgres):
    roles = [role("day2_nopassword", password_variable="STATESHIFT_ROLE_PASSWORD_9")]
    try:
        done = run_script(local_postgres, roles, [], {"STATESHIFT_ROLE_PASSWORD_9": ""})
        assert done.returncode != 0
        assert "no password for role day2_nopassword in the environment variable STATESHIFT_ROLE_PASSWORD_9" in done.stderr
        created = local_postgres.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'day2_nopassword'").stdout.strip()
        assert created == "0", "the role was created without its password: a re-run would leave it so"
    finally:
        local_postgres.psql("DROP ROLE IF EXISTS day2_nopassword")
