"""pod_exec through a fake kubectl on disk: argv, stdin, exit codes and the deadline."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import TIMED_OUT, PodExecError, exec_argv, pod_exec
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl

FAKE_KUBECTL = """#!{python}
import json, sys, time
args = sys.argv[1:]
command = args[args.index("--") + 1:]
if command[0] == "sleep":
    time.sleep(float(command[1]))
data = sys.stdin.buffer.read() if "-i" in args else b""
sys.stdout.write(json.dumps({{"args": args, "stdin": data.decode()}}))
sys.stderr.write("to stderr")
sys.exit(int(command[1]) if command[0] == "exit" else 0)
"""


@pytest.fixture
def kubectl(tmp_path):
    fake = tmp_path / "kubectl"
    fake.write_text(FAKE_KUBECTL.format(python=sys.executable))
    fake.chmod(0o755)
    with Kubectl("ns", {"context": "lab"}, str(fake)) as instance:
        yield instance


def test_exec_argv_never_allocates_a_tty():
    argv = exec_argv(Kubectl("ns"), "db-0", ["psql", "-c", "select 1"], container="postgres", stdin=True)
    assert argv == ["kubectl", "-n", "ns", "exec", "-i", "db-0", "-c", "postgres", "--", "psql", "-c", "select 1"]
    assert "-t" not in exec_argv(Kubectl("ns"), "db-0", ["true"])


def test_stdin_reaches_the_command_and_not_the_argv(kubectl):
    code, stdout, stderr = pod_exec(kubectl, "db-0", ["psql"], container="postgres", stdin="ALTER ROLE x;")
    seen = json.loads(stdout)
    assert code == 0 and stderr == "to stderr"
    assert seen["stdin"] == "ALTER ROLE x;"
    assert seen["args"] == ["--context", "lab", "-n", "ns", "exec", "-i", "db-0", "-c", "postgres", "--", "psql"]


def test_without_stdin_there_is_no_dash_i(kubectl):
    _code, stdout, _stderr = pod_exec(kubectl, "db-0", ["true"])
    assert "-i" not in json.loads(stdout)["args"]


def test_the_commands_exit_code_is_returned(kubectl):
    assert pod_exec(kubectl, "db-0", ["exit", "3"])[0] == 3


def test_a_command_past_its_deadline_gets_124(kubectl):
    code, _stdout, stderr = pod_exec(kubectl, "db-0", ["sleep", "5"], timeout=0.5)
    assert code == TIMED_OUT
    assert "timed out" in stderr


def test_a_missing_kubectl_is_an_error():
    with pytest.raises(PodExecError, match="not installed"):
        pod_exec(Kubectl("ns", kubectl_bin="/nonexistent/kubectl"), "db-0", ["true"])
