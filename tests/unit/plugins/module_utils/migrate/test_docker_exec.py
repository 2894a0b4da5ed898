from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import docker_exec


def test_exec_argv_keeps_stdin_and_never_allocates_a_tty():
    argv = docker_exec.exec_argv("invoicetron-db", ["pg_dump", "-Fc", "invoicetron"])
    assert argv == ["docker", "exec", "-i", "invoicetron-db", "pg_dump", "-Fc", "invoicetron"]
    assert not any(flag in argv for flag in ("-t", "-it", "-ti", "--tty"))


def test_secrets_travel_by_variable_name_only():
    argv = docker_exec.exec_argv("db", ["psql"], env_names=["PGPASSWORD"], user="postgres")
    assert argv[:7] == ["docker", "exec", "-i", "-e", "PGPASSWORD", "-u", "postgres"]
    assert not any("=" in part for part in argv)


@pytest.mark.parametrize("bad", ["PG PASSWORD", "1X", "A=b", ""])
def test_invalid_environment_names_are_refused(bad):
    with pytest.raises(ValueError, match="invalid environment variable name"):
        docker_exec.exec_argv("db", ["psql"], env_names=[bad])


def test_empty_container_or_command_is_refused():
    with pytest.raises(ValueError, match="container name is empty"):
        docker_exec.exec_argv("", ["psql"])
    with pytest.raises(ValueError, match="no command"):
        docker_exec.exec_argv("db", [])


@pytest.mark.parametrize(
    ("rc", "stderr", "expected"),
    [
        (1, "Error: No such container: invoicetrn-db\n", "container 'invoicetrn-db' not found on vm1: check source.container"),
        (1, "Error response from daemon: Container 4f2a is not running", "is not running: start it (docker start invoicetrn-db)"),
        (126, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "psql": '
              "executable file not found in $PATH: unknown", "'psql' is not installed in container 'invoicetrn-db'"),
        (1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
         "cannot talk to the Docker daemon on vm1"),
        (127, "/bin/sh: 1: docker: not found", "the docker command was not found on vm1"),
    ],
)
def test_docker_failures_name_the_cause_and_the_fix(rc, stderr, expected):
    assert expected in docker_exec.explain_failure("invoicetrn-db", rc, stderr, host="vm1")


def test_failures_of_the_program_itself_are_left_to_the_caller():
    assert docker_exec.explain_failure("db", 2, 'psql: error: FATAL:  database "x" does not exist') is None
