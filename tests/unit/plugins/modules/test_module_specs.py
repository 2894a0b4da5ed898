"""Each Kubernetes-facing module's argument_spec is what its documentation says (as ansible-test's validate-modules
checks), and takes exactly the shared connection options."""

from __future__ import annotations

import importlib

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import CONNECTION_ARG_SPEC
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec, module_documentation

MODULES = ["statefulset_ready", "pvc_bound", "statefulset_plan", "postgres_ready", "pg_role_password"]
K8S_AUTH_ONLY = {"username", "password", "proxy", "no_proxy", "proxy_headers", "persist_config", "impersonate_user",
                 "impersonate_groups"}


class Captured(Exception):
    pass


def module_spec(name, monkeypatch):
    module = importlib.import_module("ansible_collections.stateshift.k3s.plugins.modules." + name)

    def capture(argument_spec, **_kwargs):
        raise Captured(argument_spec)

    monkeypatch.setattr(module, "AnsibleModule", capture)
    with pytest.raises(Captured) as captured:
        module.main()
    return captured.value.args[0]


def normalized(spec):
    result = {}
    for name, entry in spec.items():
        entry = {key: value for key, value in entry.items() if not (key == "no_log" and value is False)}
        entry.setdefault("type", "str")
        if "options" in entry:
            entry["options"] = normalized(entry["options"])
        result[name] = entry
    return result


@pytest.mark.parametrize("name", MODULES)
def test_the_argument_spec_matches_the_documentation(name, monkeypatch):
    assert normalized(module_spec(name, monkeypatch)) == normalized(argument_spec(name))


@pytest.mark.parametrize("name", MODULES)
def test_the_connection_options_are_the_shared_ones(name, monkeypatch):
    spec = module_spec(name, monkeypatch)
    for option, entry in CONNECTION_ARG_SPEC.items():
        assert spec[option] == entry
    if name != "pg_role_password":
        assert not K8S_AUTH_ONLY & set(spec)
    assert "stateshift.k3s.k8s_connection" in module_documentation(name)["extends_documentation_fragment"]
