"""SCRAM verifiers and ALTER ROLE against a real PostgreSQL (Debian's postgresql-15)."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import password as pg_password
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import derived as derived_values
from tests.unit.plugins.module_utils.pg.scram_helpers import make_role, run_psql


@pytest.mark.parametrize("password", ["hunter2", "a+b/c=d", "pässwörd ünïcode", "sp ace\u00a0nbsp"])
def test_verifier_is_exactly_what_postgres_computes(local_postgres, password):
    literal = pg_password.quote_literal(password)
    local_postgres.psql("DROP ROLE IF EXISTS scram_probe; SET password_encryption = 'scram-sha-256';"
                        " CREATE ROLE scram_probe PASSWORD %s" % literal)
    stored = local_postgres.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_probe'").stdout.strip()
    iterations, salt = stored.split("$")[1].split(":")
    assert derived_values.pg_scram_sha256(password, salt=salt, iterations=int(iterations)) == stored
    assert derived_values.pg_scram_sha256_matches(password, stored)
    assert not derived_values.pg_scram_sha256_matches(password + "x", stored)


def test_ensure_sets_a_password_postgres_accepts_and_is_idempotent(scram_server):
    make_role(scram_server, "invoicetron")

    def execute(script):
        return run_psql(scram_server, script)

    first = pg_password.ensure(execute, "invoicetron", "n3w+pass/word=")
    assert first == {"changed": True, "exists": True, "previous_format": "none", "login_verified": False}
    assert pg_password.ensure(execute, "invoicetron", "n3w+pass/word=")["changed"] is False

    rc, out, _err = run_psql(scram_server, "SELECT current_user;\n", user="invoicetron", password="n3w+pass/word=")
    assert rc == 0 and out.strip() == "invoicetron"
    rc, _out, err = run_psql(scram_server, "SELECT 1;\n", user="invoicetron", password="old")
    assert rc != 0 and "password authentication failed" in err

    # rotation: the old password stops working, the new one works
    assert pg_password.ensure(execute, "invoicetron", "rotated-value")["changed"] is True
    assert run_psql(scram_server, "SELECT 1;\n", user="invoicetron", password="n3w+pass/word=")[0] != 0
    assert run_psql(scram_server, "SELECT 1;\n", user="invoicetron", password="rotated-value")[0] == 0


def test_check_mode_changes_nothing(scram_server):
    make_role(scram_server, "checkmode")

    def execute(script):
        return run_psql(scram_server, script)

    pg_password.ensure(execute, "checkmode", "one")
    assert pg_password.ensure(execute, "checkmode", "two", check_mode=True)["changed"] is True
    assert run_psql(scram_server, "SELECT 1;\n", user="checkmode", password="one")[0] == 0


def test_the_plaintext_never_reaches_the_server(scram_server):
    make_role(scram_server, "hidden")
    scripts = []

    def execute(script):
        scripts.append(script)
        return run_psql(scram_server, script)

    pg_password.ensure(execute, "hidden", "plain-text-secret")
    assert not any("plain-text-secret" in script for script in scripts)
    assert any("SCRAM-SHA-256$4096:" in script for script in scripts)


def test_missing_role_is_a_clear_error(scram_server):
    with pytest.raises(ValueError, match="role 'no_such_role' does not exist"):
        pg_password.ensure(lambda script: run_psql(scram_server, script), "no_such_role", "x")


def test_odd_role_names_are_quoted(scram_server):
    make_role(scram_server, 'we"ird role')
    assert pg_password.ensure(lambda script: run_psql(scram_server, script), 'we"ird role', "pw")["changed"]
