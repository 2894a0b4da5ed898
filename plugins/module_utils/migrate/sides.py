# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the PostgreSQL client programs of a migration run, and how they are started from the controller.

A *side* turns (program, arguments, database) into a local argv:

- DockerOverSsh: ``ssh host docker exec -i container program`` on the source's Docker host
  (or ``docker exec`` here when the host is the controller); never ``-t``, so bytes pass unchanged.
- LocalDsn: the program on the controller, connected with a connection string.
- PodSide: ``kubectl exec -i`` into the target pod, connected over the pod's own socket.
- WorkerSide: ``kubectl exec -i`` into the migration Job's pod, connected over the pod network
  with credentials the pod reads from a Secret.

Passwords never reach an argv: DockerOverSsh sends one as the first line of stdin (read by the
remote shell, handed to docker as ``-e PGPASSWORD``), LocalDsn puts it in the child's environment,
the worker reads its own from the Secret.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl  # noqa: F401  (re-exported for the engine)
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import docker_exec
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import inventory as pg_inventory

SSH_UNREACHABLE_RC = 255


class SideError(Exception):
    """A program could not be run or failed; the message says where, why and what to do."""


class Side:
    label = "side"

    def argv(self, program, args, database):
        raise NotImplementedError

    def stdin_prefix(self):
        return b""

    def env(self):
        return None

    def explain(self, rc, stderr):
        return pg_inventory.explain_psql_error(stderr)

    def shell(self, program, args, database):
        """The argv as one shell word list, for sides whose commands are joined into a pipeline."""
        return shlex.join(self.argv(program, args, database))


class SshTarget:
    """The SSH options of an inventory host, as its connection plugin resolved them."""

    def __init__(self, host, port=None, user=None, private_key_file=None, extra_args="", control_dir=None, name=None):
        self.host, self.port, self.user = host, port, user
        self.private_key_file, self.extra_args = private_key_file, extra_args or ""
        self.control_dir = control_dir
        self.name = name or host

    def argv(self):
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15", "-o", "LogLevel=ERROR"]
        if self.control_dir:
            argv += ["-o", "ControlMaster=auto", "-o", "ControlPersist=60",
                     "-o", "ControlPath=%s" % os.path.join(self.control_dir, "%C")]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.private_key_file:
            argv += ["-i", os.path.expanduser(self.private_key_file)]
        argv += shlex.split(self.extra_args)
        argv.append("%s@%s" % (self.user, self.host) if self.user else self.host)
        return argv

    def where(self):
        return "%s (%s%s)" % (self.name, self.host, ":%s" % self.port if self.port else "")


class DockerOverSsh(Side):
    def __init__(self, ssh, container, user, password=None, docker_bin="docker"):
        self.ssh, self.container, self.user = ssh, container, user
        self.password, self.docker_bin = password, docker_bin
        self.label = "source container '%s' on %s" % (container, ssh.name if ssh else "the controller")

    def remote_command(self, argv):
        """A shell command line run on the Docker host."""
        docker = docker_exec.exec_argv(self.container, argv, docker_bin=self.docker_bin,
                                       env_names=["PGPASSWORD"] if self.password else [])
        if self.password:
            return "IFS= read -r PGPASSWORD && export PGPASSWORD && exec " + shlex.join(docker)
        return "exec " + shlex.join(docker)

    def host_argv(self, command):
        """argv that runs a shell command on the Docker host."""
        if self.ssh is None:
            return ["sh", "-c", command]
        return [*self.ssh.argv(), "--", command]

    def program_argv(self, program, args, database):
        if database is None:
            return [program, *list(args)]
        database_option = "-l" if program == "pg_dumpall" else "-d"
        return [program, "-U", self.user, database_option, database, *list(args)]

    def argv(self, program, args, database):
        return self.host_argv(self.remote_command(self.program_argv(program, args, database)))

    def host_script(self, script):
        """argv that runs a shell script on the Docker host; $PGPASSWORD is set when the source has one."""
        preamble = "IFS= read -r PGPASSWORD && export PGPASSWORD\n" if self.password else ""
        return self.host_argv(preamble + script)

    def program_words(self, program, args, database):
        """Shell words that run the program in the container, for use inside host_script()."""
        return shlex.join(docker_exec.exec_argv(self.container, self.program_argv(program, args, database),
                                                docker_bin=self.docker_bin,
                                                env_names=["PGPASSWORD"] if self.password else []))

    def stdin_prefix(self):
        return (self.password + "\n").encode() if self.password else b""

    def explain(self, rc, stderr):
        host = self.ssh.where() if self.ssh else "the controller"
        if self.ssh is not None and rc == SSH_UNREACHABLE_RC:
            last = (stderr or "").strip().splitlines()[-1:] or ["no message"]
            return ("cannot reach the source host %s over SSH: %s. Check ansible_host, ansible_port and ansible_user "
                    "in the inventory and that the controller's key is accepted" % (host, last[0]))
        return docker_exec.explain_failure(self.container, rc, stderr, host=host) or pg_inventory.explain_psql_error(stderr)


class LocalDsn(Side):
    def __init__(self, dsn, password=None):
        self.dsn, self.password = dsn, password
        self.label = "source %s" % redact_dsn(dsn)

    def argv(self, program, args, database):
        if database is None:
            return [program, *list(args)]
        return [program, "-d", self.dsn, *list(args)]

    def host_script(self, script):
        return ["sh", "-c", script]

    def program_words(self, program, args, database):
        return shlex.join(self.argv(program, args, database))

    def env(self):
        environ = dict(os.environ)
        if self.password:
            environ["PGPASSWORD"] = self.password
        return environ

    def explain(self, rc, stderr):
        if rc == 127:
            return "the PostgreSQL client programs are not installed on the controller: install postgresql-client"
        return pg_inventory.explain_psql_error(stderr)


class PodSide(Side):
    def __init__(self, kubectl, pod, container, user):
        self.kubectl, self.pod, self.container, self.user = kubectl, pod, container, user
        self.label = "target pod %s/%s" % (kubectl.namespace, pod)

    def exec_argv(self, argv):
        return self.kubectl("exec", "-i", self.pod, "-c", self.container, "--") + list(argv)

    def argv(self, program, args, database):
        if database is None:
            return self.exec_argv([program, *list(args)])
        return self.exec_argv([program, "-U", self.user, "-d", database, *list(args)])

    def shell(self, program, args, database):
        if database is None:
            return shlex.join([program, *args])
        return shlex.join([program, "-U", self.user, "-d", database, *args])

    def script_argv(self, script):
        return self.exec_argv(["sh", "-c", "set -e\n" + script])

    def explain(self, rc, stderr):
        text = stderr or ""
        if "NotFound" in text or ("not found" in text and "pods" in text):
            return "pod %s/%s does not exist: run the databases phase first" % (self.kubectl.namespace, self.pod)
        return pg_inventory.explain_psql_error(text)


class WorkerSide(Side):
    """Programs in the migration Job's pod; ``prefix`` selects the SRC_* or TGT_* connection variables."""

    def __init__(self, kubectl, pod, prefix, host, port, user):
        self.kubectl, self.pod, self.prefix = kubectl, pod, prefix
        self.host, self.port, self.user = host, port, user
        self.label = "migration pod %s/%s" % (kubectl.namespace, pod)

    def connect_env(self):
        return "PGHOST=%s PGPORT=%s PGUSER=%s PGPASSWORD=\"${%s_PASSWORD}\"" % (
            shlex.quote(str(self.host)), shlex.quote(str(self.port)), shlex.quote(self.user), self.prefix)

    def shell(self, program, args, database):
        if database is None:
            return shlex.join([program, *list(args)])
        return "env %s %s" % (self.connect_env(), shlex.join([program, "-d", database, *list(args)]))

    def argv(self, program, args, database):
        return self.script_argv("exec " + self.shell(program, args, database))

    def script_argv(self, script):
        return self.kubectl("exec", "-i", self.pod, "--", "bash", "-c", "set -euo pipefail\n" + script)


_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
_URI_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def redact_dsn(dsn):
    """The connection string without its password (key=value, quoted or not, and URI forms)."""
    return _URI_PASSWORD.sub(r"\1***@", _DSN_PASSWORD.sub(r"\1***", dsn))


def run_process(argv, stdin=b"", env=None, timeout=None):
    """subprocess.run for the controller side of the action plugins (AnsibleModule.run_command does not exist there)."""
    return subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=timeout, check=False)  # pylint: disable=ansible-bad-function


def run(side, program, args, database, stdin=b"", timeout=None):
    """Run to completion; returns stdout as text. Raises SideError with the side's explanation."""
    argv = side.argv(program, args, database)
    try:
        completed = run_process(argv, side.stdin_prefix() + stdin, env=side.env(), timeout=timeout)
    except FileNotFoundError:
        raise SideError("%s: '%s' is not installed on the controller" % (side.label, argv[0])) from None
    except subprocess.TimeoutExpired:
        raise SideError("%s: %s did not finish within %s seconds" % (side.label, program, timeout)) from None
    if completed.returncode != 0:
        # docker prints some exec failures (a missing program) on stdout
        stderr = completed.stderr.decode("utf-8", "replace") + "\n" + completed.stdout[-2000:].decode("utf-8", "replace")
        raise SideError(describe(side, program, completed.returncode, stderr))
    return completed.stdout.decode("utf-8", "replace")


def run_script(side, script, what, timeout=None):
    """Run a shell script where the side's programs run (the target pod, the Job's pod); returns stdout."""
    completed = run_process(side.script_argv(script), timeout=timeout)
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace") + "\n" + completed.stdout[-2000:].decode("utf-8", "replace")
        raise SideError(describe(side, what, completed.returncode, stderr))
    return completed.stdout.decode("utf-8", "replace")


def describe(side, program, rc, stderr):
    reason = side.explain(rc, stderr)
    if reason:
        return "%s: %s" % (side.label, reason)
    return "%s: %s failed (rc=%s): %s" % (side.label, program, rc, tail(stderr))


def tail(text, lines=6):
    return "\n".join((text or "").strip().splitlines()[-lines:])


def spawn(argv, env=None, stdin=True, stdout=True):
    """Start a process whose pipes the caller drives; stderr is collected to a pipe as well."""
    try:
        return subprocess.Popen(  # pylint: disable=ansible-bad-function
            argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env, start_new_session=True)
    except FileNotFoundError:
        raise SideError("'%s' is not installed on the controller" % argv[0]) from None
