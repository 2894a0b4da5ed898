"""Passwords with odd bytes: quotes, '$', backslashes, non-ASCII text and long values work end to end
(Secret data, SCRAM verifier over psql's stdin, a login, the pg_conn_url URL); NUL bytes, and newlines
or other control characters in database passwords, are refused naming the key, never the value."""

from __future__ import annotations

import base64
import os
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import password as pg_password
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import derived as derived_values
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import sync as secret_sync
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import value_rules
from tests.doubles.harness import FakeOnePassword
from tests.unit.plugins.module_utils.pg.scram_helpers import make_role, run_psql
from tests.unit.plugins.module_utils.secrets.test_onepassword import sync_cli

MARK = "Odd7Mark"  # in every value, so a message that quotes one is caught
WORKING = {
    "single quote": MARK + "it's",
    "double quote": MARK + 'say "hi"',
    "backslash": MARK + "back\\slash\\",
    "dollar": MARK + "$HOME $(id) ${x} $$ $1",
    "psql syntax": MARK + ":foo :'bar' `id` \\q ;",
    "sql": MARK + "'; DROP ROLE postgres; --",
    "non-ascii": MARK + "pässwörd €ü 日本 😀",
    "url characters": MARK + "a+b/c=d?e#f@g%h&i:j",
    "very long": MARK + "x" * (value_rules.ROLE_PASSWORD_MAX - len(MARK)),
}
REFUSED_FOR_ROLES = {
    "newline": MARK + "line\nbreak",
    "carriage return": MARK + "cr\r",
    "tab": MARK + "tab\there",
    "escape": MARK + "esc\x1b[0m",
    "delete": MARK + "del\x7f",
    "too long": MARK + "x" * value_rules.ROLE_PASSWORD_MAX,
}
NUL = MARK + "nul\x00byte"


@pytest.mark.parametrize("value", WORKING.values(), ids=WORKING.keys())
def test_values_that_work_pass_for_roles_and_other_keys(value):
    assert value_rules.value_problem(value, "app") is None
    assert value_rules.value_problem(value) is None


@pytest.mark.parametrize("value", REFUSED_FOR_ROLES.values(), ids=REFUSED_FOR_ROLES.keys())
def test_control_characters_and_overlong_values_are_refused_for_database_passwords(value):
    problem = value_rules.value_problem(value, "app")
    assert problem and "'app'" in problem and MARK not in problem
    assert value_rules.value_problem(value) is None  # a PEM or a multi-line config is a fine Secret value


def test_nul_is_refused_for_every_key():
    for role in (None, "app"):
        problem = value_rules.value_problem(NUL, role)
        assert "NUL" in problem and MARK not in problem


@pytest.mark.parametrize("value", [*REFUSED_FOR_ROLES.values(), NUL])
def test_sync_refuses_before_writing_anything_and_names_the_key(tmp_path, value):
    fake = FakeOnePassword(tmp_path)
    fake.seed("Kubernetes", "App", {"db-password": value})
    workloads = [{"name": "app", "namespace": "app", "secrets": {"app-secrets": {
        "db-password": {"op": "op://Kubernetes/App/db-password", "role": "app"},
        "other": {"op": "op://Kubernetes/App/other", "generate": "hex32"}}}}]
    with pytest.raises(secret_sync.SecretSyncError) as caught:
        sync_cli(fake, workloads)
    message = str(caught.value)
    assert "Secret app/app-secrets key 'db-password': the value of op://Kubernetes/App/db-password" in message
    assert MARK not in message
    assert fake.value("Kubernetes", "App", "other") is None  # nothing written back


@pytest.mark.parametrize("value", WORKING.values(), ids=WORKING.keys())
def test_sync_carries_working_values_unchanged(tmp_path, value):
    fake = FakeOnePassword(tmp_path)
    fake.seed("Kubernetes", "App", {"db-password": value})
    workloads = [{"name": "app", "namespace": "app", "secrets": {"app-secrets": {
        "db-password": {"op": "op://Kubernetes/App/db-password", "role": "app"}}}}]
    data = sync_cli(fake, workloads)[0]["secrets"][0]["data"]
    assert data["db-password"] == value
    # The role applies data with Jinja's b64encode (UTF-8); the pods get these exact bytes back.
    from ansible.plugins.filter.core import b64encode  # noqa: PLC0415
    assert base64.b64decode(b64encode(value)).decode("utf-8") == value


@pytest.mark.parametrize("value", [*REFUSED_FOR_ROLES.values(), NUL])
def test_pg_role_password_refuses_before_running_psql(value):
    def execute(script):
        raise AssertionError("psql must not run")

    with pytest.raises(ValueError) as caught:
        pg_password.ensure(execute, "app", value)
    assert MARK not in str(caught.value)


def test_pg_conn_url_refuses_nul_without_quoting_it():
    with pytest.raises(ValueError) as caught:
        derived_values.pg_conn_url(NUL, user="app", host="db")
    assert MARK not in str(caught.value)


def login_with_url(server, url):
    """psql with the URL in the environment (never on a command line)."""
    env = dict(os.environ, DATABASE_URL=url)
    proc = subprocess.run(["sh", "-c", 'exec psql -X -A -t -c "select current_user" "$DATABASE_URL"'],
                          capture_output=True, text=True, env=env, check=False)
    return proc.returncode, proc.stdout.strip()


@pytest.mark.parametrize("value", WORKING.values(), ids=WORKING.keys())
def test_working_values_log_in_with_scram_and_through_the_connection_url(scram_server, value):
    make_role(scram_server, "odd_user")

    def execute(script):
        return run_psql(scram_server, script)

    login = {"host": scram_server.socket_dir, "port": scram_server.port}
    assert pg_password.ensure(execute, "odd_user", value, login=login) == {
        "changed": True, "exists": True, "previous_format": "none", "login_verified": True}
    with pytest.raises(ValueError) as caught:
        pg_password.verify_login(execute, "odd_user", value + "x", login)
    assert "could not log in with its new password" in str(caught.value) and MARK not in str(caught.value)
    rc, out, _err = run_psql(scram_server, "SELECT current_user;\n", user="odd_user", password=value)
    assert rc == 0 and out.strip() == "odd_user"
    url = derived_values.pg_conn_url(value, user="odd_user", host="localhost", port=scram_server.port,
                                     database="postgres", params={"host": scram_server.socket_dir})
    assert login_with_url(scram_server, url) == (0, "odd_user")
    wrong = derived_values.pg_conn_url(value + "x", user="odd_user", host="localhost", port=scram_server.port,
                                       database="postgres", params={"host": scram_server.socket_dir})
    assert login_with_url(scram_server, wrong)[0] != 0
