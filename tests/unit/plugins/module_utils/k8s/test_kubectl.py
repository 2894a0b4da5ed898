"""Connection options -> kubectl argv; a token never reaches an argv."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import CONNECTION_OPTION_NAMES, connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubeconfig import KubeconfigError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl

TOKEN = "s3cr3t-bearer-token"


def test_connection_options_keeps_only_the_set_connection_options():
    params = {name: None for name in CONNECTION_OPTION_NAMES}
    params.update(kubeconfig="/k", validate_certs=False, namespace="ns")
    assert connection_options(params) == {"kubeconfig": "/k", "validate_certs": False}


def test_no_options_means_kubectl_defaults():
    assert Kubectl("ns")("get") == ["kubectl", "-n", "ns", "get"]


def test_every_option_without_a_token_becomes_a_flag():
    argv = Kubectl("ns", {"kubeconfig": "/k", "context": "lab", "host": "https://api:6443", "ca_cert": "/ca.crt",
                          "client_cert": "/c.crt", "client_key": "/c.key", "validate_certs": True}, "/bin/kubectl")("get", "pods")
    assert argv == ["/bin/kubectl", "--kubeconfig", "/k", "--context", "lab", "--server", "https://api:6443",
                    "--client-certificate", "/c.crt", "--client-key", "/c.key", "--certificate-authority", "/ca.crt",
                    "--insecure-skip-tls-verify=false", "-n", "ns", "get", "pods"]


def test_validate_certs_false_skips_verification_and_drops_the_ca():
    argv = Kubectl("ns", {"ca_cert": "/ca.crt", "validate_certs": False})("get")
    assert "--insecure-skip-tls-verify=true" in argv
    assert "--certificate-authority" not in argv


def _kubeconfig_of(kubectl):
    argv = kubectl("get")
    assert argv[1] == "--kubeconfig"
    return argv[2]


def _config_of(kubectl):
    with open(_kubeconfig_of(kubectl)) as stream:
        return json.load(stream)


def test_a_token_goes_into_a_private_kubeconfig_that_close_removes():
    kubectl = Kubectl("ns", {"host": "https://api:6443/", "api_key": TOKEN, "ca_cert": "ca.crt", "context": "ignored"})
    argv = kubectl("exec", "pod", "--", "true")
    assert not any(TOKEN in part for part in argv)
    path = _kubeconfig_of(kubectl)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = _config_of(kubectl)
    assert config["users"][0]["user"] == {"token": TOKEN}
    assert config["clusters"][0]["cluster"] == {"server": "https://api:6443", "certificate-authority": os.path.abspath("ca.crt")}
    kubectl.close()
    assert not os.path.exists(path)
    kubectl.close()


def test_leaving_the_with_block_removes_the_kubeconfig():
    with Kubectl("ns", {"host": "https://api", "api_key": TOKEN, "validate_certs": False,
                        "client_cert": "/c.crt", "client_key": "/c.key"}) as kubectl:
        path = _kubeconfig_of(kubectl)
        config = _config_of(kubectl)
        assert config["clusters"][0]["cluster"] == {"server": "https://api", "insecure-skip-tls-verify": True}
        assert config["users"][0]["user"] == {"token": TOKEN, "client-certificate": "/c.crt", "client-key": "/c.key"}
    assert not os.path.exists(path)


def test_a_token_without_host_takes_the_cluster_of_the_kubeconfig_context(tmp_path):
    source = tmp_path / "config"
    source.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
        "clusters:\n- name: ca\n  cluster: {server: 'https://a:6443', certificate-authority: a.crt}\n"
        "- name: cb\n  cluster: {server: 'https://b:6443', certificate-authority-data: QUJD}\n"
        "contexts:\n- name: a\n  context: {cluster: ca, user: ua}\n- name: b\n  context: {cluster: cb, user: ub}\n"
        "users:\n- name: ua\n  user: {token: other}\n")
    with Kubectl("ns", {"kubeconfig": str(source), "context": "b", "api_key": TOKEN}) as kubectl:
        config = _config_of(kubectl)
    assert config["clusters"][0]["cluster"] == {"server": "https://b:6443", "certificate-authority-data": "QUJD"}
    with Kubectl("ns", {"kubeconfig": str(source), "api_key": TOKEN}) as kubectl:
        config = _config_of(kubectl)
    assert config["clusters"][0]["cluster"] == {"server": "https://a:6443", "certificate-authority": str(tmp_path / "a.crt")}


def test_a_token_without_any_server_is_an_error(tmp_path):
    with pytest.raises(KubeconfigError, match="api_key without host"):
        Kubectl("ns", {"kubeconfig": str(tmp_path / "missing"), "api_key": TOKEN})


def test_the_kubeconfig_is_removed_when_the_object_is_collected():
    kubectl = Kubectl("ns", {"host": "https://api", "api_key": TOKEN})
    path = _kubeconfig_of(kubectl)
    del kubectl
    assert not os.path.exists(path)
