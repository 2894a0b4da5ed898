# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes Python client for the connection options (connection.py), for the modules that watch and read.

Resolves the options the way kubernetes.core does: a host with a token or client certificate needs no kubeconfig;
a kubeconfig or context loads that kubeconfig; otherwise the in-cluster configuration, then the default kubeconfig.
The options then override what was loaded.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_options

try:
    import kubernetes
    from kubernetes.dynamic import DynamicClient
except ImportError:
    kubernetes = DynamicClient = None

MISSING_LIBRARY = "the kubernetes Python package is needed on the host that runs the module (pip install kubernetes)"

# connection option -> attribute of kubernetes.client.Configuration
_OVERRIDES = (("host", "host"), ("validate_certs", "verify_ssl"), ("ca_cert", "ssl_ca_cert"),
              ("client_cert", "cert_file"), ("client_key", "key_file"))


def client_configuration(connection):
    """A kubernetes.client.Configuration for the connection options."""
    configuration = kubernetes.client.Configuration()
    has_credentials = connection.get("api_key") or (connection.get("client_cert") and connection.get("client_key"))
    if not (connection.get("host") and has_credentials):
        _load(connection, configuration)
    for option, attribute in _OVERRIDES:
        if connection.get(option) is not None:
            setattr(configuration, attribute, connection[option])
    if connection.get("host"):
        configuration.host = connection["host"].rstrip("/")
    if connection.get("api_key"):
        bearer = "Bearer %s" % connection["api_key"]
        configuration.api_key = {"BearerToken": bearer, "authorization": bearer}  # newer and older client versions
    return configuration


def _load(connection, configuration):
    options = dict(context=connection.get("context"), client_configuration=configuration)
    if connection.get("kubeconfig") or connection.get("context"):
        kubernetes.config.load_kube_config(config_file=connection.get("kubeconfig"), **options)
        return
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(**options)


class Cluster:
    """``Cluster(connection_options(params))``: ``.client`` is the dynamic client (``.client.client`` the ApiClient),
    ``.resource(kind, api_version)`` a resource whose verbs (get, watch, ...) take namespace and name."""

    def __init__(self, connection):
        if kubernetes is None:
            raise ImportError(MISSING_LIBRARY)
        self.client = DynamicClient(kubernetes.client.ApiClient(client_configuration(connection)))

    def resource(self, kind, api_version):
        return self.client.resources.get(kind=kind, api_version=api_version)


def module_cluster(module):
    """The Cluster for an AnsibleModule's connection options, or fail_json saying why there is none."""
    try:
        return Cluster(connection_options(module.params))
    except ImportError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:
        module.fail_json(msg="cannot reach the Kubernetes API with the connection options: %s" % exc)
