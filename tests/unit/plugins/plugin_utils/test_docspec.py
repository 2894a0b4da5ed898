"""argument_spec(module) read from the collection's real module documentation and doc fragments."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import CONNECTION_ARG_SPEC
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import KUBECTL_ARG_SPEC
from ansible_collections.stateshift.k3s.plugins.plugin_utils import docspec


def _without_fallbacks(spec):
    return {name: {key: value for key, value in entry.items() if key != "fallback"} for name, entry in spec.items()}


def test_the_connection_fragment_documents_exactly_the_connection_spec():
    options = docspec.fragment_documentation("stateshift.k3s.k8s_connection")["options"]
    assert docspec.options_to_spec(options) == _without_fallbacks(CONNECTION_ARG_SPEC)


def test_the_kubectl_fragment_documents_the_kubectl_spec():
    options = docspec.fragment_documentation("stateshift.k3s.kubectl")["options"]
    assert docspec.options_to_spec(options) == KUBECTL_ARG_SPEC


def test_fragment_options_merge_into_the_module_spec():
    spec = docspec.argument_spec("pg_role_password")
    assert spec["role"] == {"type": "str", "required": True}
    assert spec["password"]["no_log"] is True
    assert spec["transport"] == {"type": "str", "choices": ["pod", "local"], "default": "pod"}
    for name in CONNECTION_ARG_SPEC:
        assert name in spec
    assert spec["validate_certs"]["aliases"] == ["verify_ssl"]
    assert spec["kubeconfig"]["type"] == "path"


def test_connection_options_get_their_environment_fallbacks():
    spec = docspec.argument_spec("pg_role_password")
    assert spec["kubeconfig"]["fallback"] == CONNECTION_ARG_SPEC["kubeconfig"]["fallback"]


def test_suboptions_become_nested_options():
    options = {
        "source": {"description": "x", "type": "dict", "required": True, "suboptions": {
            "user": {"description": "x", "type": "str", "default": "postgres"},
            "password": {"description": "x", "type": "str"},
            "password_key": {"description": "x", "type": "str"},
        }},
        "verify": {"description": "x", "type": "str", "default": "checksum", "choices": ["checksum", "count", "none"]},
    }
    assert docspec.options_to_spec(options) == {
        "source": {"type": "dict", "required": True, "options": {
            "user": {"type": "str", "default": "postgres"},
            "password": {"type": "str", "no_log": True},
            "password_key": {"type": "str"},
        }},
        "verify": {"type": "str", "default": "checksum", "choices": ["checksum", "count", "none"]},
    }


def test_an_action_module_gets_the_connection_and_kubectl_options():
    spec = docspec.argument_spec("pg_migrate")
    assert spec["kubectl_bin"] == {"type": "str", "default": "kubectl"}
    assert spec["report_dir"]["type"] == "path"
    assert set(CONNECTION_ARG_SPEC) <= set(spec)


def test_lists_keep_their_elements():
    spec = docspec.argument_spec("postgres_ready")
    assert spec["databases"] == {"type": "list", "elements": "str", "default": []}


def test_each_call_returns_a_fresh_copy():
    first = docspec.argument_spec("postgres_ready")
    first["databases"]["default"].append("changed")
    assert docspec.argument_spec("postgres_ready")["databases"]["default"] == []


def test_the_spec_validates_arguments_with_env_fallback(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "lab")
    result = ArgumentSpecValidator(docspec.argument_spec("pg_role_password")).validate(
        {"role": "app", "password": "secret", "verify_ssl": False})
    assert not result.error_messages
    assert result.validated_parameters["context"] == "lab"
    assert result.validated_parameters["validate_certs"] is False
    assert result.validated_parameters["timeout"] == 60


def test_a_fragment_variable_can_be_named():
    doc = docspec.fragment_documentation("stateshift.k3s.k8s_read_only.documentation")
    assert doc["options"] == {}


def test_an_unknown_module_is_an_error():
    with pytest.raises(docspec.DocSpecError):
        docspec.argument_spec("no_such_module")
