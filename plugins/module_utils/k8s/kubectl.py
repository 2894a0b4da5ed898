# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubectl argv for one namespace, built from the shared Kubernetes connection options."""

from __future__ import annotations


class Kubectl:
    """``Kubectl(ns, {"kubeconfig": ..., "context": ...})("get", "pods")`` -> argv."""

    def __init__(self, namespace, connection=None, kubectl_bin="kubectl"):
        connection = connection or {}
        self.namespace = namespace
        self.base = [kubectl_bin]
        if connection.get("kubeconfig"):
            self.base += ["--kubeconfig", connection["kubeconfig"]]
        if connection.get("context"):
            self.base += ["--context", connection["context"]]
        self.base += ["-n", namespace]

    def __call__(self, *args):
        return self.base + list(args)
