# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one set of options that says how every plugin of this collection reaches the cluster.

A subset of kubernetes.core's auth options, with the same names, aliases, types and environment variables, so
``module_defaults: {group/stateshift.k3s.k8s: {kubeconfig: ...}}`` sets the cluster once for our plugins and
for kubernetes.core's. The doc fragment ``stateshift.k3s.k8s_connection`` documents exactly this spec (a unit
test keeps the two equal). kubectl.py maps the options to kubectl, client.py to the Python client.
"""

from __future__ import annotations

import copy

from ansible.module_utils.common.parameters import env_fallback


def _option(env, **spec):
    spec["fallback"] = (env_fallback, [env])
    return spec


CONNECTION_ARG_SPEC = dict(
    kubeconfig=_option("K8S_AUTH_KUBECONFIG", type="path"),
    context=_option("K8S_AUTH_CONTEXT", type="str"),
    host=_option("K8S_AUTH_HOST", type="str"),
    api_key=_option("K8S_AUTH_API_KEY", type="str", no_log=True),
    validate_certs=_option("K8S_AUTH_VERIFY_SSL", type="bool", aliases=["verify_ssl"]),
    ca_cert=_option("K8S_AUTH_SSL_CA_CERT", type="path", aliases=["ssl_ca_cert"]),
    client_cert=_option("K8S_AUTH_CERT_FILE", type="path", aliases=["cert_file"]),
    client_key=_option("K8S_AUTH_KEY_FILE", type="path", aliases=["key_file"]),
)

CONNECTION_OPTION_NAMES = tuple(CONNECTION_ARG_SPEC)


def connection_arg_spec(**module_spec):
    """A module's argument_spec: the connection options plus the module's own."""
    spec = copy.deepcopy(CONNECTION_ARG_SPEC)
    spec.update(module_spec)
    return spec


def connection_options(params):
    """The connection options that are set in a module's or action's params, as a dict."""
    return {name: params[name] for name in CONNECTION_OPTION_NAMES if params.get(name) is not None}
