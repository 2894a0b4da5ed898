# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubectl argv for one namespace, built from the shared Kubernetes connection options (connection.py)."""

from __future__ import annotations

import contextlib
import os
import weakref

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubeconfig import write_token_kubeconfig

KUBECTL_ARG_SPEC = dict(kubectl_bin=dict(type="str", default="kubectl"))


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def connection_flags(connection):
    """kubectl's global flags for connection options without a token (a token goes in a kubeconfig file)."""
    flags = []
    for option, flag in (("kubeconfig", "--kubeconfig"), ("context", "--context"), ("host", "--server"),
                         ("client_cert", "--client-certificate"), ("client_key", "--client-key")):
        if connection.get(option):
            flags += [flag, connection[option]]
    if connection.get("ca_cert") and connection.get("validate_certs") is not False:
        flags += ["--certificate-authority", connection["ca_cert"]]
    if connection.get("validate_certs") is not None:
        flags.append("--insecure-skip-tls-verify=%s" % ("false" if connection["validate_certs"] else "true"))
    return flags


class Kubectl:
    """``Kubectl(ns, connection_options(params))("get", "pods")`` -> argv.

    With an ``api_key`` the token, server and certificates go into a private (0600) kubeconfig passed with
    ``--kubeconfig``, so the token is never in an argv; the file is removed by ``close()`` (or leaving a ``with``
    block, or at the latest when the object is collected)."""

    def __init__(self, namespace, connection=None, kubectl_bin="kubectl"):
        connection = connection or {}
        self.namespace = namespace
        self.kubeconfig_file = None
        self._cleanup = None
        if connection.get("api_key"):
            self.kubeconfig_file = write_token_kubeconfig(connection)
            self._cleanup = weakref.finalize(self, _remove, self.kubeconfig_file)
            flags = ["--kubeconfig", self.kubeconfig_file]
        else:
            flags = connection_flags(connection)
        self.base = [kubectl_bin, *flags, "-n", namespace]

    def __call__(self, *args):
        return self.base + list(args)

    def namespaced(self, namespace, *args):
        """The argv of ``args`` in another namespace than this Kubectl's own."""
        return [*self.base[:-2], "-n", namespace, *args]

    def close(self):
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
