# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pod_exec for modules that take a kubeconfig path and context rather than kubernetes.core's auth options."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.pod_exec import pod_exec


def exec_with_stdin(namespace, pod, container, argv, data, kubeconfig=None, context=None, timeout=60):
    """Returns (rc, stdout, stderr). The command must exit by itself after reading ``data``."""
    from kubernetes import config  # noqa: PLC0415 - optional dependency, imported on use

    try:
        api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
    except config.ConfigException:
        config.load_incluster_config()
        api_client = None
    return pod_exec(api_client, namespace, pod, argv, container=container, stdin=data, timeout=timeout)
