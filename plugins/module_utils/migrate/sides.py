# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the database client programs of a migration run, and how they are started from the controller.

A *side* turns (program, arguments, database) into a local argv:

- the source sides (DockerOverSsh, LocalDsn) are in sources.py;
- PodSide: ``kubectl exec -i`` into the target pod, connected over the pod's own socket;
- WorkerSide: ``kubectl exec -i`` into the migration Job's pod, connected over the pod network
  with credentials the pod reads from a Secret, so no password reaches an argv.
"""

from __future__ import annotations

import os
import shlex
import subprocess

from ansible_collections.stateshift.k3s.plugins.module_utils.pg.psql import dbname, explain_psql_error
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.redact import redact


class SideError(Exception):
    """A program could not be run or failed; the message says where, why and what to do; ``stderr`` is the program's own.
    Both are redacted: psql quotes a failed statement, which may carry a password verifier."""

    def __init__(self, message, stderr=""):
        super().__init__(redact(message))
        self.stderr = redact(stderr or "")


class Side:
    label = "side"
    takes_database = True  # False: the side connects where its connection string says, whatever database is asked

    def argv(self, program, args, database):
        raise NotImplementedError

    def stdin_prefix(self):
        return b""

    def env(self):
        return None

    def explain(self, rc, stderr):
        return explain_psql_error(stderr)

    def shell(self, program, args, database):
        """The argv as one shell word list, for sides whose commands are joined into a pipeline."""
        return shlex.join(self.argv(program, args, database))


class PodSide(Side):
    def __init__(self, kubectl, pod, container, user):
        self.kubectl, self.pod, self.container, self.user = kubectl, pod, container, user
        self.label = "target pod %s/%s" % (kubectl.namespace, pod)

    def exec_argv(self, argv):
        return self.kubectl("exec", "-i", self.pod, "-c", self.container, "--") + list(argv)

    def argv(self, program, args, database):
        if database is None:
            return self.exec_argv([program, *list(args)])
        return self.exec_argv([program, "-U", self.user, "-d", dbname(database), *list(args)])

    def shell(self, program, args, database):
        if database is None:
            return shlex.join([program, *args])
        return shlex.join([program, "-U", self.user, "-d", dbname(database), *args])

    def script_argv(self, script):
        return self.exec_argv(["sh", "-c", "set -e\n" + script])

    def explain(self, rc, stderr):
        text = stderr or ""
        if "NotFound" in text or ("not found" in text and "pods" in text):
            return "pod %s/%s does not exist: run the databases phase first" % (self.kubectl.namespace, self.pod)
        return explain_psql_error(text)


class WorkerSide(Side):
    """Programs in the migration Job's pod; ``prefix`` selects the SRC_* or TGT_* connection variables."""

    def __init__(self, kubectl, pod, prefix, host, port, user, network_env=None):
        self.kubectl, self.pod, self.prefix = kubectl, pod, prefix
        self.host, self.port, self.user = host, port, user
        self.network_env = dict(network_env or {})
        self.label = "migration pod %s/%s" % (kubectl.namespace, pod)

    def connect_env(self):
        """Assignments bash puts in the program's environment: never ``env NAME=value``, whose argv a process list shows."""
        settings = "".join(" %s=%s" % (name, shlex.quote(value)) for name, value in sorted(self.network_env.items()))
        return "PGHOST=%s PGPORT=%s PGUSER=%s%s PGPASSWORD=\"${%s_PASSWORD}\"" % (
            shlex.quote(str(self.host)), shlex.quote(str(self.port)), shlex.quote(self.user), settings, self.prefix)

    def shell(self, program, args, database):
        if database is None:
            return shlex.join([program, *list(args)])
        return "%s %s" % (self.connect_env(), shlex.join([program, "-d", dbname(database), *list(args)]))

    def argv(self, program, args, database):
        return self.script_argv("exec " + self.shell(program, args, database) if database is None
                                else self.connect_env() + " exec " + shlex.join([program, "-d", dbname(database), *list(args)]))

    def script_argv(self, script):
        return self.kubectl("exec", "-i", self.pod, "--", "bash", "-c", "set -euo pipefail\n" + script)


# Deadlines: a call that reads or changes a few rows or objects gets QUICK seconds; one that moves or reads all the
# data gets the run's timeout (the module's timeout option), passed by its caller.
QUICK = 300
LONG = 86400  # a run without a timeout option (pg_compare) still ends


def run_process(argv, stdin=b"", env=None, timeout=QUICK, what=None):
    """subprocess.run for the controller side of the action plugins (AnsibleModule.run_command does not exist there).
    A call that outlives its deadline is killed and raises SideError naming ``what`` (default: the program)."""
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=timeout,  # pylint: disable=ansible-bad-function
                              check=False)
    except subprocess.TimeoutExpired:
        raise SideError("%s did not finish within %s seconds and was stopped: check that the host, pod or server it talks to "
                        "answers" % (what or os.path.basename(str(argv[0])), timeout)) from None


def run(side, program, args, database, stdin=b"", timeout=QUICK):
    """Run to completion; returns stdout as text. Raises SideError with the side's explanation."""
    argv = side.argv(program, args, database)
    try:
        completed = run_process(argv, side.stdin_prefix() + stdin, env=side.env(), timeout=timeout, what="%s: %s" % (side.label, program))
    except FileNotFoundError:
        raise SideError("%s: '%s' is not installed on the controller" % (side.label, argv[0])) from None
    if completed.returncode != 0:
        # docker prints some exec failures (a missing program) on stdout
        stderr = completed.stderr.decode("utf-8", "replace") + "\n" + completed.stdout[-2000:].decode("utf-8", "replace")
        raise SideError(describe(side, program, completed.returncode, stderr), stderr)
    return completed.stdout.decode("utf-8", "replace")


def run_script(side, script, what, timeout=QUICK):
    """Run a shell script where the side's programs run (the target pod, the Job's pod); returns stdout."""
    completed = run_process(side.script_argv(script), timeout=timeout, what="%s: %s" % (side.label, what))
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace") + "\n" + completed.stdout[-2000:].decode("utf-8", "replace")
        raise SideError(describe(side, what, completed.returncode, stderr), stderr)
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
