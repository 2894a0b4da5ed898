# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command in a pod's container through the API server and get its exit code.

Data given as ``stdin`` travels in the exec stream, never on the command line that the API
server logs (kubernetes.core.k8s_exec has no stdin).
"""

from __future__ import annotations

import time

try:
    from kubernetes.client import CoreV1Api
    from kubernetes.stream import stream
except ImportError:  # reported by the module through its requirement check
    CoreV1Api = stream = None


class PodExecError(Exception):
    """The command could not be run in the pod (the pod or container is missing, the API refused)."""


def pod_exec(api_client, namespace, pod, argv, container=None, stdin=None, timeout=60):
    """Return (exit_code, stdout, stderr) of argv run in the pod; exit code 124 on timeout."""
    api = CoreV1Api(api_client)
    kwargs = dict(command=argv, stderr=True, stdout=True, stdin=stdin is not None, tty=False, _preload_content=False)
    if container:
        kwargs["container"] = container
    try:
        response = stream(api.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
    except Exception as exc:
        raise PodExecError("cannot run %s in pod %s/%s: %s" % (argv[0], namespace, pod, getattr(exc, "reason", exc))) from None
    stdout, stderr = [], []
    try:
        if stdin is not None:
            response.write_stdin(stdin)
        deadline = time.monotonic() + timeout
        while response.is_open():
            if time.monotonic() > deadline:
                return 124, "".join(stdout), "".join(stderr) + "\ntimed out after %d seconds" % timeout
            response.update(timeout=1)
            if response.peek_stdout():
                stdout.append(response.read_stdout())
            if response.peek_stderr():
                stderr.append(response.read_stderr())
        code = response.returncode
    finally:
        response.close()
    return (code if code is not None else 1), "".join(stdout), "".join(stderr)
