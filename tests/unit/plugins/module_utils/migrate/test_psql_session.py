"""psql sessions kept open for a run's short scripts, against a real local server."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.psql_session import PsqlSession, SessionBusy, Sessions
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import Side, SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sources import LocalDsn
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import psql


@pytest.fixture()
def side(local_postgres):
    return LocalDsn("host=%s port=%d user=postgres dbname=postgres" % (local_postgres.socket_dir, local_postgres.port))


@pytest.fixture()
def session(side):
    opened = PsqlSession(side, psql.FLAGS)
    yield opened
    opened.close()


def backend_pid(session, database="postgres"):
    return session.run(database, "SELECT pg_backend_pid();").strip()


def test_scripts_share_one_server_session_and_return_only_their_own_output(session):
    first = backend_pid(session)
    assert session.run("postgres", "SELECT 1; SELECT 'two'") == "1\ntwo\n"
    assert session.run("postgres", "") == ""
    assert session.run("postgres", "SELECT 3;\n-- a comment last") == "3\n"
    assert backend_pid(session) == first


def test_a_large_output_is_read_whole(session):
    out = session.run("postgres", "SELECT string_agg(g::text, ',') FROM generate_series(1, 200000) g")
    assert out.strip().split(",")[-1] == "200000"
    assert len(out) > 1_000_000


def test_a_failed_statement_raises_like_a_one_shot_psql_and_the_next_script_gets_a_new_session(session):
    first = backend_pid(session)
    with pytest.raises(SideError) as raised:
        session.run("postgres", "SELECT 1; SELECT no_such_column;")
    assert "no_such_column" in str(raised.value) and "rc=3" in str(raised.value)
    assert "stateshift-session" not in str(raised.value)
    assert session.run("postgres", "SELECT 2") == "2\n"
    assert backend_pid(session) != first


def test_settings_do_not_outlive_their_script(session):
    session.run("postgres", "SET TimeZone = 'Pacific/Auckland'; SET extra_float_digits = 1")
    defaults = session.run("postgres", "RESET ALL; SHOW TimeZone; SHOW extra_float_digits")
    assert session.run("postgres", "SHOW TimeZone; SHOW extra_float_digits") == defaults
    assert "Auckland" not in session.run("postgres", "SHOW TimeZone")


def test_a_script_that_leaves_a_transaction_open_is_rolled_back_and_refused(session, local_postgres):
    local_postgres.psql("DROP TABLE IF EXISTS session_probe; CREATE TABLE session_probe (n int)")
    with pytest.raises(SideError, match="left a transaction open"):
        session.run("postgres", "BEGIN; INSERT INTO session_probe VALUES (1);")
    assert local_postgres.psql("SELECT count(*) FROM session_probe").stdout.strip() == "0"
    assert session.run("postgres", "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'") == "0\n"


def test_a_script_past_its_deadline_is_stopped(session):
    with pytest.raises(SideError, match="did not finish within 1 seconds"):
        session.run("postgres", "SELECT pg_sleep(30)", timeout=1)
    assert session.run("postgres", "SELECT 4") == "4\n"


def test_a_session_busy_in_another_thread_is_not_waited_for(side):
    used = []
    sessions = Sessions(lambda s, database, script, timeout: used.append(script) or "one-shot\n", psql.FLAGS)
    try:
        assert sessions.run(side, "postgres", "SELECT 5") == "5\n"
        session = next(iter(sessions._sessions.values()))  # pylint: disable=protected-access
        with session._busy:  # pylint: disable=protected-access
            with pytest.raises(SessionBusy):
                session.run("postgres", "SELECT 6")
            assert sessions.run(side, "postgres", "SELECT 7") == "one-shot\n"
        assert used == ["SELECT 7"]
        assert sessions.run(side, "postgres", "SELECT 8") == "8\n"
    finally:
        sessions.close()


def test_closing_a_database_session_ends_its_server_session(side, local_postgres):
    sessions = Sessions(None, psql.FLAGS)
    pid = sessions.run(side, "postgres", "SELECT pg_backend_pid()").strip()
    sessions.close_database(side, "postgres")
    alive = local_postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = %s" % pid).stdout.strip()
    for _attempt in range(50):
        if alive == "0":
            break
        threading.Event().wait(0.05)
        alive = local_postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = %s" % pid).stdout.strip()
    assert alive == "0"
    sessions.close()


class SocketSide(Side):
    """psql here on the test server's socket, on the database asked for (as the pod and Docker sides are)."""

    label = "test server"

    def __init__(self, server):
        self.server = server

    def argv(self, program, args, database):
        return [program, "-h", self.server.socket_dir, "-p", str(self.server.port), "-U", "postgres", "-d", database, *args]


def test_one_session_moves_between_databases_and_restarts_for_a_name_that_needs_quoting(local_postgres):
    for name in ("session_other", '"session two"'):
        local_postgres.psql("DROP DATABASE IF EXISTS %s" % name)
        local_postgres.psql("CREATE DATABASE %s" % name)
    sessions = Sessions(None, psql.FLAGS)
    side = SocketSide(local_postgres)
    try:
        assert sessions.run(side, "postgres", "SELECT current_database()") == "postgres\n"
        assert sessions.run(side, "session_other", "SELECT current_database()") == "session_other\n"
        session = next(iter(sessions._sessions.values()))  # pylint: disable=protected-access
        process = session._process  # pylint: disable=protected-access
        assert sessions.run(side, "postgres", "SELECT current_database()") == "postgres\n"
        assert session._process is process  # pylint: disable=protected-access
        assert sessions.run(side, "session two", "SELECT current_database()") == "session two\n"
        assert session._process is not process  # pylint: disable=protected-access
        sessions.close_database(side, "postgres")
        assert session._process is not None  # pylint: disable=protected-access
        sessions.close_database(side, "session two")
        assert session._process is None  # pylint: disable=protected-access
    finally:
        sessions.close()
        local_postgres.psql('DROP DATABASE IF EXISTS session_other')
        local_postgres.psql('DROP DATABASE IF EXISTS "session two"')
