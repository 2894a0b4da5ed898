from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context

from .fakes import make_context, options, workload


def test_the_context_takes_the_catalog_defaults_and_names():
    ctx = make_context()
    assert (ctx.jobs, ctx.verify, ctx.force, ctx.transport, ctx.backup) == (2, "checksum", False, "stream", True)
    assert (ctx.auth_user, ctx.auth_secret, ctx.auth_password_key) == ("shop", "shop-secrets", "postgres-password")
    assert ctx.objects["primary_pod"] == "shop-postgresql-0" and ctx.label == "shop/shop"


def test_the_context_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_context().force = True
    with pytest.raises(TypeError):
        make_context().objects["app"] = "x"


def test_the_password_is_not_in_the_context_repr():
    catalog = validate_catalog([dict(workload(), source=dict(workload()["source"], password="Hunter-2-secret"))])
    assert "Hunter-2-secret" not in repr(context.build(catalog, "shop", options()))


def test_the_database_option_overrides_source_database():
    assert context.build(validate_catalog([workload()]), "shop", options(), database="other").database == "other"


def test_a_missing_catalog_or_workload_is_named():
    with pytest.raises(context.CatalogLookupError, match=r"run stateshift\.k3s\.validate_catalog"):
        context.build(None, "shop", options())
    with pytest.raises(context.CatalogLookupError, match=r"workload 'nope' is not in the catalog \(stateshift_catalog has: shop\)"):
        context.build(validate_catalog([workload()]), "nope", options())


def test_an_unvalidated_workload_is_a_bug_not_a_default():
    raw = dict(workload(), namespace="shop", image="postgres:15", auth={"user": "shop"})
    with pytest.raises(KeyError):
        context.build([raw], "shop", options())


def test_the_catalog_fact_is_read_from_ansible_facts_or_the_variable():
    assert context.catalog_fact({"ansible_facts": {"stateshift_catalog": [1]}}) == [1]
    assert context.catalog_fact({"stateshift_catalog": [2]}) == [2]
    assert context.catalog_fact({}) is None


def test_a_workload_of_another_engine_is_refused_naming_the_field():
    catalog = [{"name": "queue", "engine": "rabbitmq"}]
    with pytest.raises(context.CatalogLookupError) as raised:
        context.build(catalog, "queue", options())
    assert str(raised.value) == ("workload 'queue' (stateshift_workloads[0]): engine = 'rabbitmq': this migration handles postgresql "
                                 "workloads only; move it with its engine's module: stateshift.k3s.rabbitmq_migrate (topology) and "
                                 "rabbitmq_drain (messages)")


def test_the_source_network_settings_default_to_prefer_and_no_plaintext_password():
    ctx = make_context()
    assert (ctx.source.sslmode, ctx.source.require_auth) == ("prefer", "scram-sha-256,md5")
    assert ctx.source.network_env(15) == {"PGSSLMODE": "prefer"}, "libpq 15 has no require_auth"
    assert ctx.source.network_env(16) == {"PGSSLMODE": "prefer", "PGREQUIREAUTH": "scram-sha-256,md5"}


def test_require_auth_is_checked_by_the_catalog():
    bad = dict(workload(), source=dict(workload()["source"], require_auth="scram-sha-256,kerberos"))
    with pytest.raises(Exception, match=r"source\.require_auth = 'scram-sha-256,kerberos': is not a comma-separated list"):
        validate_catalog([bad])
