from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import sides
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import PodSide, SideError, WorkerSide
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sources import DockerOverSsh, LocalDsn, SshTarget, redact_dsn

PASSWORD = "s3cr3t pa$$ 'word'"
SSH_BASE = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15", "-o", "LogLevel=ERROR"]


def legacy_host(**kwargs):
    options = {"host": "10.0.0.5", "port": 2222, "user": "deploy", "name": "legacy-vm"}
    options.update(kwargs)
    return SshTarget(**options)


# --- SshTarget ------------------------------------------------------------------------------------------

def test_ssh_argv_with_every_option():
    target = legacy_host(private_key_file="/keys/id_ed25519", extra_args="-o StrictHostKeyChecking=no -o 'ProxyJump=jump host'",
                         control_dir="/tmp/cm")
    assert target.argv() == [
        *SSH_BASE, "-o", "ControlMaster=auto", "-o", "ControlPersist=60", "-o", "ControlPath=/tmp/cm/%C",
        "-p", "2222", "-i", "/keys/id_ed25519", "-o", "StrictHostKeyChecking=no", "-o", "ProxyJump=jump host",
        "deploy@10.0.0.5",
    ]


def test_ssh_argv_minimal_has_no_port_key_user_or_control_path():
    argv = SshTarget("legacy.example").argv()
    assert argv == [*SSH_BASE, "legacy.example"]
    assert not any(part.startswith("ControlPath") for part in argv)


def test_ssh_key_path_expands_home():
    argv = legacy_host(private_key_file="~/.ssh/id_rsa").argv()
    assert argv[argv.index("-i") + 1] == os.path.expanduser("~/.ssh/id_rsa")
    assert "~" not in argv[argv.index("-i") + 1]


def test_ssh_where_names_host_and_port():
    assert legacy_host().where() == "legacy-vm (10.0.0.5:2222)"
    assert SshTarget("10.0.0.5").where() == "10.0.0.5 (10.0.0.5)"


# --- DockerOverSsh --------------------------------------------------------------------------------------

def remote_words(argv):
    """The words the remote shell runs, after the ssh options and '--'."""
    assert argv[argv.index("--") - 1] == "deploy@10.0.0.5"
    command = argv[argv.index("--") + 1]
    assert argv.index("--") == len(argv) - 2
    return command, shlex.split(command)


def test_docker_over_ssh_without_password():
    side = DockerOverSsh(legacy_host(), "invoicetron-db", "app")
    command, words = remote_words(side.argv("pg_dump", ["-Fc"], "invoicetron"))
    assert words == ["exec", "docker", "exec", "-i", "invoicetron-db", "pg_dump", "-U", "app", "-d", "invoicetron", "-Fc"]
    assert "PGPASSWORD" not in command
    assert side.stdin_prefix() == b""
    assert side.label == "source container 'invoicetron-db' on legacy-vm"


def test_docker_over_ssh_password_goes_to_stdin_never_argv():
    side = DockerOverSsh(legacy_host(), "invoicetron-db", "app", password=PASSWORD)
    argv = side.argv("psql", ["-X", "-c", "SELECT 1"], "invoicetron")
    assert not any(PASSWORD in part or "s3cr3t" in part for part in argv)
    command, words = remote_words(argv)
    assert command.startswith("IFS= read -r PGPASSWORD && export PGPASSWORD && exec docker exec -i -e PGPASSWORD invoicetron-db ")
    assert words[words.index("docker"):] == ["docker", "exec", "-i", "-e", "PGPASSWORD", "invoicetron-db", "psql", "-U", "app",
                                             "-d", "invoicetron", "-X", "-c", "SELECT 1"]
    assert side.stdin_prefix() == (PASSWORD + "\n").encode()
    assert side.stdin_prefix().count(b"\n") == 1


@pytest.mark.parametrize("password", [None, PASSWORD])
def test_docker_over_ssh_never_allocates_a_tty(password):
    side = DockerOverSsh(legacy_host(), "db", "app", password=password)
    argv = side.argv("pg_dump", ["-Fc"], "invoicetron")
    _ignored_value, words = remote_words(argv)
    docker = words[words.index("docker"):words.index("db")]
    assert docker[:3] == ["docker", "exec", "-i"]
    assert not any(flag in argv + words for flag in ("-t", "-it", "-ti", "--tty"))


def test_docker_over_ssh_password_is_read_by_the_remote_shell(tmp_path):
    """Run the remote command with a local shell and a fake docker: the password reaches docker's environment, the rest its stdin."""
    fake_docker = tmp_path / "docker"
    fake_docker.write_text('#!/bin/sh\nprintf "pw=%s\\nargs=%s\\n" "$PGPASSWORD" "$*"\nexec cat\n')
    fake_docker.chmod(0o755)
    side = DockerOverSsh(None, "db", "app", password=PASSWORD, docker_bin=str(fake_docker))
    argv = side.argv("psql", ["-X"], "invoicetron")
    assert argv[:2] == ["sh", "-c"]
    out = subprocess.run(argv, input=side.stdin_prefix() + b"COPY DATA\n", capture_output=True, check=True).stdout
    assert out.decode() == "pw=%s\nargs=exec -i -e PGPASSWORD db psql -U app -d invoicetron -X\nCOPY DATA\n" % PASSWORD


def test_pg_dumpall_names_its_database_with_l():
    side = DockerOverSsh(legacy_host(), "db", "postgres")
    _ignored_value, words = remote_words(side.argv("pg_dumpall", ["--globals-only", "--no-tablespaces"], "invoicetron"))
    assert words[words.index("pg_dumpall"):] == ["pg_dumpall", "-U", "postgres", "-l", "invoicetron", "--globals-only",
                                                 "--no-tablespaces"]


def test_no_database_gives_the_bare_program():
    side = DockerOverSsh(legacy_host(), "db", "postgres")
    _ignored_value, words = remote_words(side.argv("pg_dump", ["--version"], None))
    assert words[words.index("db") + 1:] == ["pg_dump", "--version"]
    assert "-U" not in words


def test_docker_on_the_controller_runs_through_sh():
    side = DockerOverSsh(None, "db", "app")
    assert side.argv("psql", [], "x") == ["sh", "-c", "exec docker exec -i db psql -U app -d x"]
    assert side.label == "source container 'db' on the controller"


def test_host_script_and_program_words():
    side = DockerOverSsh(legacy_host(), "db", "app", password=PASSWORD)
    argv = side.host_script("df -k /var/lib/docker")
    assert argv[-1] == "IFS= read -r PGPASSWORD && export PGPASSWORD\ndf -k /var/lib/docker"
    assert shlex.split(side.program_words("psql", ["-c", "SELECT 1"], "d")) == [
        "docker", "exec", "-i", "-e", "PGPASSWORD", "db", "psql", "-U", "app", "-d", "d", "-c", "SELECT 1"]
    assert DockerOverSsh(legacy_host(), "db", "app").host_script("true")[-1] == "true"


def test_ssh_unreachable_names_the_host_and_what_to_check():
    side = DockerOverSsh(legacy_host(), "db", "app")
    message = side.explain(255, "Warning: foo\nssh: connect to host 10.0.0.5 port 2222: Connection refused\n")
    assert "cannot reach the source host legacy-vm (10.0.0.5:2222) over SSH" in message
    assert "ssh: connect to host 10.0.0.5 port 2222: Connection refused" in message
    assert "Warning: foo" not in message
    assert "ansible_host" in message and "ansible_port" in message
    assert "no message" in side.explain(255, "")


def test_docker_failures_are_explained_with_the_host():
    side = DockerOverSsh(legacy_host(), "invoicetrn-db", "app")
    message = side.explain(1, "Error: No such container: invoicetrn-db\n")
    assert "container 'invoicetrn-db' not found on legacy-vm (10.0.0.5:2222)" in message


def test_rc_255_on_the_controller_is_not_an_ssh_problem():
    side = DockerOverSsh(None, "db", "app")
    message = side.explain(255, "Error: No such container: db")
    assert "SSH" not in message
    assert "not found on the controller" in message


# --- LocalDsn ---------------------------------------------------------------------------------------------

def test_local_dsn_keeps_the_password_in_the_environment_only():
    side = LocalDsn("host=db.internal port=5432 user=app dbname=invoicetron", password=PASSWORD)
    argv = side.argv("pg_dump", ["-Fc"], "invoicetron")
    assert argv == ["pg_dump", "-d", "host=db.internal port=5432 user=app dbname=invoicetron", "-Fc"]
    assert not any("s3cr3t" in part for part in argv)
    assert side.env()["PGPASSWORD"] == PASSWORD
    assert side.env()["PATH"] == os.environ["PATH"]
    assert side.stdin_prefix() == b""
    assert side.argv("pg_dump", ["--version"], None) == ["pg_dump", "--version"]


def test_local_dsn_without_password_adds_no_pgpassword():
    environ = LocalDsn("postgresql://app@db/invoicetron").env()
    assert environ.get("PGPASSWORD") == os.environ.get("PGPASSWORD")


def test_local_dsn_label_is_redacted():
    side = LocalDsn("postgresql://app:hunter2@db:5432/invoicetron")
    assert "hunter2" not in side.label
    assert side.label == "source postgresql://app:***@db:5432/invoicetron"


def test_local_dsn_missing_client():
    assert "install postgresql-client" in LocalDsn("host=x").explain(127, "sh: 1: pg_dump: not found")


@pytest.mark.parametrize(
    ("dsn", "redacted"),
    [
        ("host=db user=app password=hunter2 dbname=x", "host=db user=app password=*** dbname=x"),
        ("password=hunter2", "password=***"),
        ("postgresql://app:hunter2@db:5432/x?sslmode=require", "postgresql://app:***@db:5432/x?sslmode=require"),
        ("postgres://app:p%40ss@db/x", "postgres://app:***@db/x"),
        ("postgresql://app@db/x", "postgresql://app@db/x"),
        ("host=db user=app", "host=db user=app"),
    ],
)
def test_redact_dsn(dsn, redacted):
    assert redact_dsn(dsn) == redacted


@pytest.mark.parametrize("dsn", ["host=db password = hunter2 user=app", "host=db password='hunter2 and more' user=app"])
def test_redact_dsn_hides_every_libpq_spelling_of_the_password(dsn):
    assert "hunter2" not in redact_dsn(dsn)
    assert "more" not in redact_dsn(dsn)


# --- PodSide, WorkerSide, Kubectl ----------------------------------------------------------------------------

def kubectl():
    return Kubectl("invoicetron", {"kubeconfig": "/etc/k3s.yaml", "context": "lab"})


def test_kubectl_base_arguments():
    assert kubectl()("get", "pods") == ["kubectl", "--kubeconfig", "/etc/k3s.yaml", "--context", "lab", "-n", "invoicetron", "get", "pods"]
    assert Kubectl("ns")("get") == ["kubectl", "-n", "ns", "get"]


def test_pod_side_uses_exec_i_and_the_container():
    side = PodSide(kubectl(), "invoicetron-db-0", "postgres", "app")
    argv = side.argv("psql", ["-X"], "invoicetron")
    assert argv == kubectl()("exec", "-i", "invoicetron-db-0", "-c", "postgres", "--", "psql", "-U", "app", "-d", "invoicetron", "-X")
    assert "-t" not in argv
    assert "does not exist" in side.explain(1, 'Error from server (NotFound): pods "invoicetron-db-0" not found')


def test_worker_shell_references_the_password_variable_never_a_value():
    side = WorkerSide(kubectl(), "invoicetron-migration-abc", "SRC", "10.0.0.5", 5432, "app user")
    shell = side.shell("pg_dump", ["-Fc"], "invoicetron")
    assert shell == "PGHOST=10.0.0.5 PGPORT=5432 PGUSER='app user' PGPASSWORD=\"${SRC_PASSWORD}\" pg_dump -d invoicetron -Fc"
    assert side.shell("gzip", ["-c"], None) == "gzip -c"


def test_worker_argv_runs_bash_with_pipefail_in_the_pod():
    side = WorkerSide(kubectl(), "pod-1", "TGT", "invoicetron-db", 5432, "app")
    argv = side.argv("psql", ["-X"], "invoicetron")
    assert argv[:-1] == kubectl()("exec", "-i", "pod-1", "--", "bash", "-c")
    assert argv[-1].startswith("set -euo pipefail\nPGHOST=invoicetron-db ") and " exec psql -d invoicetron -X" in argv[-1]
    assert 'PGPASSWORD="${TGT_PASSWORD}"' in argv[-1]


def test_worker_shell_expands_the_password_from_the_environment():
    """What bash makes of the words: the variable's value, not the literal reference."""
    side = WorkerSide(kubectl(), "pod-1", "SRC", "db", 5432, "app")
    script = side.shell("sh", ["-c", 'printf "%s|%s" "$PGUSER" "$PGPASSWORD"'], "ignored").replace(" -d ignored", "")
    out = subprocess.run(["bash", "-c", script], env={"SRC_PASSWORD": PASSWORD, "PATH": os.environ["PATH"]},
                         capture_output=True, text=True, check=True).stdout
    assert out == "app|" + PASSWORD


# --- run / describe ---------------------------------------------------------------------------------------------

class ShellSide(sides.Side):
    label = "fake side"

    def __init__(self, script, prefix=b""):
        self.script, self.prefix = script, prefix

    def argv(self, program, args, database):
        return ["sh", "-c", self.script]

    def stdin_prefix(self):
        return self.prefix

    def explain(self, rc, stderr):
        return None


def test_run_sends_the_prefix_then_stdin_and_returns_stdout():
    assert sides.run(ShellSide("cat", prefix=b"pw\n"), "psql", [], "db", stdin=b"SELECT 1;\n") == "pw\nSELECT 1;\n"


def test_run_failure_raises_with_the_tail_of_stderr():
    with pytest.raises(SideError) as raised:
        sides.run(ShellSide("for i in 1 2 3 4 5 6 7 8; do echo line $i >&2; done; exit 3"), "psql", [], "db")
    assert str(raised.value) == "fake side: psql failed (rc=3): " + "\n".join("line %d" % i for i in range(3, 9))


def test_run_timeout_and_missing_program():
    with pytest.raises(SideError, match=r"did not finish within 0\.2 seconds"):
        sides.run(ShellSide("sleep 5"), "psql", [], "db", timeout=0.2)
    missing = LocalDsn("host=x")
    with pytest.raises(SideError, match="'stateshift-no-such-program' is not installed on the controller"):
        sides.run(missing, "stateshift-no-such-program", [], None)


ODD_PASSWORDS = ["it's \"quoted\"", "back\\slash\\n", "$(touch /tmp/stateshift-pwned) `id` $HOME", "ünïcødé ✓ пароль",
                 " leading and trailing ", "semi;colon|pipe&amp*glob?"]


@pytest.mark.parametrize("password", ODD_PASSWORDS)
def test_a_password_with_odd_bytes_reaches_the_docker_host_unchanged(password):
    side = DockerOverSsh(None, "db", "app", password)
    assert side.host_output('printf %s "$PGPASSWORD"') == password
    assert not os.path.exists("/tmp/stateshift-pwned")
    assert all(password not in word for word in side.argv("psql", ["-X"], "db"))


@pytest.mark.parametrize("password", ["two\nlines", "carriage\rreturn", "nul\x00byte"])
def test_a_password_that_cannot_be_one_line_is_refused_without_showing_it(password):
    side = DockerOverSsh(None, "db", "app", password)
    with pytest.raises(SideError) as raised:
        side.stdin_prefix()
    assert "line break or NUL byte" in str(raised.value) and password not in str(raised.value)


@pytest.mark.parametrize("password", [*ODD_PASSWORDS, "two\nlines"])
def test_a_dsn_source_hands_any_password_to_libpq_in_the_environment(password):
    side = LocalDsn("host=db dbname=app", password)
    assert side.env()["PGPASSWORD"] == password
    assert all(password not in word for word in side.argv("psql", ["-X"], "app"))


@pytest.mark.parametrize("password", [*ODD_PASSWORDS, "two\nlines"])
def test_the_jobs_pod_hands_any_password_to_libpq_unchanged(password):
    side = WorkerSide(kubectl(), "pod-1", "SRC", "db", 5432, "app")
    script = side.shell("sh", ["-c", 'printf %s "$PGPASSWORD"'], "ignored").replace(" -d ignored", "")
    out = subprocess.run(["bash", "-c", script], env={"SRC_PASSWORD": password, "PATH": os.environ["PATH"]},
                         capture_output=True, text=True, check=True).stdout
    assert out == password and not os.path.exists("/tmp/stateshift-pwned")


class ReportingHost(DockerOverSsh):
    """The Docker host's answers to discovered_addresses' one script, canned."""

    def __init__(self, ssh_host, published, container_ips, own):
        super().__init__(SshTarget(ssh_host), "db", "app", "pw")
        self.answer = "%s\n---\n%s\n---\n%s\n" % (published, container_ips, own)

    def host_output(self, script, stdin=b""):
        assert "hostname -I" in script and "docker port" in script
        return self.answer


def test_only_addresses_the_docker_host_reports_get_the_password():
    host = ReportingHost("db.example.com", "0.0.0.0:15432\n[::]:15432\n192.0.2.7:25432\n127.0.0.1:35432", "172.18.0.5",
                         "192.0.2.7 10.0.0.9")
    assert host.address_candidates() == [("192.0.2.7", 25432), ("172.18.0.5", 5432)], "a host name was guessed"


def test_a_port_published_everywhere_is_tried_at_the_ssh_address_only_when_it_is_the_hosts_own():
    assert ReportingHost("10.0.0.9", "0.0.0.0:15432", "", "192.0.2.7 10.0.0.9").address_candidates() == [("10.0.0.9", 15432)]
    assert ReportingHost("10.0.0.8", "0.0.0.0:15432", "", "192.0.2.7 10.0.0.9").address_candidates() == []


def test_source_address_is_the_only_candidate_when_set():
    side = ReportingHost("10.0.0.9", "0.0.0.0:15432", "172.18.0.5", "10.0.0.9")
    side.address = "db.example.com:6432"
    assert side.address_candidates() == [("db.example.com", 6432)]


def test_the_source_connection_settings_reach_the_jobs_pod_and_the_dsn_client():
    side = WorkerSide(kubectl(), "pod-1", "SRC", "db", 5432, "app", {"PGSSLMODE": "require", "PGREQUIREAUTH": "scram-sha-256"})
    script = side.shell("sh", ["-c", 'printf "%s|%s" "$PGSSLMODE" "$PGREQUIREAUTH"'], "ignored").replace(" -d ignored", "")
    out = subprocess.run(["bash", "-c", script], env={"SRC_PASSWORD": "x", "PATH": os.environ["PATH"]},
                         capture_output=True, text=True, check=True).stdout
    assert out == "require|scram-sha-256"
    assert LocalDsn("host=db", "pw", network_env={"PGSSLMODE": "verify-full"}).env()["PGSSLMODE"] == "verify-full"


def test_a_call_that_hangs_is_stopped_at_its_deadline_naming_what_hung():
    with pytest.raises(SideError, match=r"^kubectl get configmap m did not finish within 0.5 seconds and was stopped"):
        sides.run_process(["sleep", "30"], timeout=0.5, what="kubectl get configmap m")
