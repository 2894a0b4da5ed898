# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # How every Kubernetes-facing plugin of this collection reaches the cluster: a subset of kubernetes.core's auth
    # options with the same names and environment variables. plugins/module_utils/k8s/connection.py holds the same
    # options as CONNECTION_ARG_SPEC; tests/unit/plugins/plugin_utils/test_docspec.py keeps the two equal.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of a kubeconfig file. When neither this nor O(host) is given, the in-cluster configuration is tried,
        then C(KUBECONFIG) or C(~/.kube/config).
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
      - Unlike M(kubernetes.core.k8s), one file only, not a dictionary.
    type: path
  context:
    description:
      - Context of the kubeconfig to use.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the API server; overrides the kubeconfig's.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token for the API server.
      - Never put on a command line; plugins that run C(kubectl) hand it over in a private temporary kubeconfig.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's certificate; the kubeconfig's setting when omitted.
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path of the CA certificate (full chain) that signed the API server's certificate.
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path of a client certificate to authenticate with.
      - Can also be set with the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path of the key of O(client_cert).
      - Can also be set with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
notes:
  - These are the options of M(kubernetes.core.k8s) with the same names, so C(module_defaults) for
    C(group/stateshift.k3s.k8s) sets them for this collection's plugins and for kubernetes.core's modules alike.
"""
