"""docs/catalog.md and the roles' workload options are made from the schema; the checked-in files must match it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import argspec, docs, schema
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog

REPO = Path(__file__).resolve().parents[5]
FIX = "run: python scripts/catalog_docs.py"


def role_options(role):
    spec = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"]["options"][argspec.WORKLOAD_OPTIONS[role]]


def test_docs_are_made_from_the_schema():
    text = (REPO / "docs" / "catalog.md").read_text()
    assert docs.replace_generated(text, docs.render()) == text, FIX


@pytest.mark.parametrize("role", sorted(argspec.WORKLOAD_OPTIONS))
def test_role_workload_options_are_made_from_the_schema(role):
    assert role_options(role)["options"] == argspec.workload_options(), FIX
    path = REPO / "roles" / role / "meta" / "argument_specs.yml"
    text = path.read_text()
    assert argspec.replace_options(text, argspec.WORKLOAD_OPTIONS[role], argspec.workload_options()) == text, FIX


FULL = {
    "name": "invoicetron", "engine": "postgresql", "version": 15, "storage": {"class": "longhorn", "size": "10Gi"},
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    "databases": ["invoicetron", {"name": "reports", "owner": "invoicetron"}],
    "roles": [{"name": "app", "password_key": "app-password"}, "reader"],
    "settings": {"max_connections": 50},
    "secrets": {"invoicetron-secrets": {"postgres-password": {"op": "op://K/I/pw", "generate": "hex32"},
                                        "app-password": "op://K/I/app"}},
    "source": {"host": "vm", "container": "db", "database": "invoicetron", "user": "app", "password": "x", "address": "10.0.0.5:5432"},
    "migration": {"jobs": 4}, "backup": {"schedule": "@daily"},
    "clients": [{"name": "web"}], "network": {"allow_from": [{"namespace": "web", "pod_labels": {"app": "web"}}]},
}


@pytest.mark.parametrize("workload", [FULL, {"name": "wiki", "engine": "postgresql", "storage": {"size": "1Gi"}},
                                      {"name": "dsn", "engine": "postgresql", "storage": {"size": "1Gi"}, "source": {"dsn": "host=db"}}])
def test_the_filled_catalog_passes_the_role_argument_validation(workload):
    spec = {"workloads": {"type": "list", "elements": "dict", "options": argspec.workload_options()}}
    result = ArgumentSpecValidator(spec).validate({"workloads": validate_catalog([workload])})
    assert result.error_messages == []


def test_every_field_says_what_it_is_and_how_its_default_is_made():
    for field in schema.FIELDS:
        assert field.doc.endswith("."), field.path
        assert not callable(field.default) or field.default_doc, field.path
        assert field.parent == "" or schema.field(field.parent.removesuffix("[]")), field.path
        assert field.rule is None or field.rule.__doc__, field.path


def test_the_schema_is_read_by_path():
    assert schema.field("migration.transport").choices == ("auto", "job", "stream")
    assert schema.field("migration.mode").choices == ("offline", "online")
    assert schema.default_of("image", {"engine": "postgresql", "version": "16"}) == "postgres:16-alpine"
    assert schema.default_of("backup.pvc_size", {"storage": {"size": "3Gi"}}) == "3Gi"
    assert [f.name for f in schema.children("clients[]")] == ["kind", "name", "namespace", "settings"]
    assert [f.name for f in schema.children("clients[].settings[]")] == ["kind", "name", "key", "form"]


def test_a_stale_generated_part_is_found():
    text = "intro\n%s\nold table\n%s\noutro\n" % (docs.BEGIN, docs.END)
    assert docs.replace_generated(text, "NEW") == "intro\nNEW\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        docs.replace_generated("no markers", "NEW")
