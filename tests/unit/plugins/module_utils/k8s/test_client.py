"""Connection options -> the Python client's Configuration, resolved as kubernetes.core resolves them."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s import client

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster: {server: 'https://lab:6443', insecure-skip-tls-verify: true}
contexts:
- name: lab
  context: {cluster: lab, user: lab}
users:
- name: lab
  user: {token: from-kubeconfig}
"""


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    return str(path)


def test_a_kubeconfig_is_loaded(kubeconfig):
    configuration = client.client_configuration({"kubeconfig": kubeconfig})
    assert configuration.host == "https://lab:6443"
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer from-kubeconfig"


def test_options_override_the_kubeconfig(kubeconfig):
    configuration = client.client_configuration({"kubeconfig": kubeconfig, "host": "https://other/", "api_key": "t",
                                                 "validate_certs": True, "ca_cert": "/ca.crt"})
    assert configuration.host == "https://other"
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer t"
    assert configuration.verify_ssl is True
    assert configuration.ssl_ca_cert == "/ca.crt"


def test_host_and_token_need_no_kubeconfig(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    configuration = client.client_configuration({"host": "https://api", "api_key": "t", "client_cert": "/c", "client_key": "/k"})
    assert configuration.host == "https://api"
    assert (configuration.cert_file, configuration.key_file) == ("/c", "/k")


def test_module_cluster_fails_the_module_with_the_reason(tmp_path):
    class Module:
        params = {"kubeconfig": str(tmp_path / "missing")}

        def fail_json(self, **result):
            raise SystemExit(result["msg"])

    with pytest.raises(SystemExit, match="cannot reach the Kubernetes API"):
        client.module_cluster(Module())
