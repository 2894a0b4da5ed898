# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command in a pod's container with ``kubectl exec``, with optional stdin and a deadline.

The one way this collection runs commands in pods (the migration engine builds the same argv with
``exec_argv``). Never ``-t``, so stdin and stdout stay binary-safe; data given as ``stdin`` travels in
the exec stream, never on a command line; kubectl exits with the command's own exit code.
"""

from __future__ import annotations

import subprocess

TIMED_OUT = 124


class PodExecError(Exception):
    """kubectl could not be run at all (it is not installed)."""


def exec_argv(kubectl, pod, argv, container=None, stdin=False):
    """``kubectl exec [-i] <pod> [-c <container>] -- argv`` for a Kubectl of the pod's namespace."""
    args = ["exec"] + (["-i"] if stdin else []) + [pod] + (["-c", container] if container else [])
    return kubectl(*args, "--", *argv)


def pod_exec(kubectl, pod, argv, container=None, stdin=None, timeout=60):
    """Return (exit_code, stdout, stderr) as text; exit code 124 when it did not finish within timeout seconds.

    ``stdin`` (str or bytes) is sent to the command, which must exit by itself after reading it."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    command = exec_argv(kubectl, pod, argv, container=container, stdin=data is not None)
    try:
        completed = subprocess.run(command, input=data, capture_output=True, timeout=timeout,  # pylint: disable=ansible-bad-function
                                   check=False, stdin=None if data is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise PodExecError("%s is not installed (set kubectl_bin)" % command[0]) from None
    except subprocess.TimeoutExpired as exc:
        return TIMED_OUT, _text(exc.stdout), _text(exc.stderr) + "\ntimed out after %s seconds" % timeout
    return completed.returncode, _text(completed.stdout), _text(completed.stderr)


def _text(data):
    return (data or b"").decode("utf-8", "replace")
