# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command in a pod with data on stdin (kubernetes.core.k8s_exec has no stdin).

Secrets then travel in the exec stream, not in the command line that the API server logs.
"""

from __future__ import annotations

import time


def exec_with_stdin(namespace, pod, container, argv, data, kubeconfig=None, context=None, timeout=60):
    """Returns (rc, stdout, stderr). The command must exit by itself after reading ``data``."""
    from kubernetes import client, config  # noqa: PLC0415 - optional dependency, imported on use
    from kubernetes.stream import stream  # noqa: PLC0415

    try:
        config.load_kube_config(config_file=kubeconfig, context=context)
    except config.ConfigException:
        config.load_incluster_config()
    api = client.CoreV1Api()
    response = stream(api.connect_get_namespaced_pod_exec, pod, namespace, container=container, command=argv,
                      stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)
    out, err = [], []
    try:
        response.write_stdin(data)
        deadline = time.monotonic() + timeout
        while response.is_open():
            if time.monotonic() > deadline:
                return 124, "".join(out), "".join(err) + "\ntimed out after %d seconds" % timeout
            response.update(timeout=1)
            if response.peek_stdout():
                out.append(response.read_stdout())
            if response.peek_stderr():
                err.append(response.read_stderr())
        rc = response.returncode
    finally:
        response.close()
    return (rc if rc is not None else 1), "".join(out), "".join(err)
