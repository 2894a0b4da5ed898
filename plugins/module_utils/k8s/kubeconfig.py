# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A private kubeconfig that carries a bearer token to kubectl, which must never see it in its argv."""

from __future__ import annotations

import json
import os
import tempfile

NAME = "stateshift"


class KubeconfigError(Exception):
    pass


def write_token_kubeconfig(connection):
    """Write a kubeconfig (mode 0600) for the connection options' api_key and return its path; the caller removes it.

    The server and CA are O(host) and O(ca_cert) when given, otherwise the cluster of the kubeconfig's context, as
    kubernetes.core does when only a token is given."""
    cluster = _cluster(connection)
    user = {"token": connection["api_key"]}
    if connection.get("client_cert"):
        user["client-certificate"] = os.path.abspath(connection["client_cert"])
    if connection.get("client_key"):
        user["client-key"] = os.path.abspath(connection["client_key"])
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": NAME,
        "clusters": [{"name": NAME, "cluster": cluster}],
        "users": [{"name": NAME, "user": user}],
        "contexts": [{"name": NAME, "context": {"cluster": NAME, "user": NAME}}],
    }
    descriptor, path = tempfile.mkstemp(prefix="stateshift-kubeconfig-", suffix=".json")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            json.dump(config, stream)
    except BaseException:
        os.unlink(path)
        raise
    return path


def _cluster(connection):
    cluster = {} if connection.get("host") else kubeconfig_cluster(connection.get("kubeconfig"), connection.get("context"))
    if connection.get("host"):
        cluster["server"] = connection["host"].rstrip("/")
    if connection.get("ca_cert"):
        cluster.pop("certificate-authority-data", None)
        cluster["certificate-authority"] = os.path.abspath(connection["ca_cert"])
    if connection.get("validate_certs") is not None:
        cluster["insecure-skip-tls-verify"] = not connection["validate_certs"]
    if cluster.get("insecure-skip-tls-verify"):
        cluster.pop("certificate-authority", None)
        cluster.pop("certificate-authority-data", None)
    return cluster


def kubeconfig_cluster(path=None, context=None):
    """The cluster entry (server, CA) of a context of a kubeconfig: ``path``, else the first file of E(KUBECONFIG),
    else ``~/.kube/config``; the context is the current one when not named. Relative file names are made absolute."""
    import yaml  # noqa: PLC0415 - only needed for a token without a host

    path = path or (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
    try:
        with open(path, encoding="utf-8") as stream:
            config = yaml.safe_load(stream) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise KubeconfigError("api_key without host needs the server from a kubeconfig; cannot read %s: %s" % (path, exc)) from None
    context = context or config.get("current-context")
    contexts = {entry.get("name"): entry.get("context") or {} for entry in config.get("contexts") or []}
    clusters = {entry.get("name"): entry.get("cluster") or {} for entry in config.get("clusters") or []}
    cluster = dict(clusters.get(contexts.get(context, {}).get("cluster")) or {})
    if not cluster.get("server"):
        raise KubeconfigError("api_key without host needs the server from a kubeconfig; %s has no cluster for context %r"
                              % (path, context))
    if cluster.get("certificate-authority"):
        cluster["certificate-authority"] = os.path.join(os.path.dirname(os.path.abspath(path)), cluster["certificate-authority"])
    return {key: value for key, value in cluster.items()
            if key in ("server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name")}
