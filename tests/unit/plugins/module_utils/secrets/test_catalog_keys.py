"""Secret keys the catalog gives: literals and values derived from the workload, against the op CLI double."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import CatalogError, validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import sync as secret_sync
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.spec import SpecError, normalize_key
from tests.doubles.harness import FakeOnePassword
from tests.unit.plugins.module_utils.secrets.test_onepassword import sync_cli

PASSWORD_REF = "op://Kubernetes/Shop/postgres-password"
REPORTER_REF = "op://Kubernetes/Shop/reporter-password"


@pytest.fixture
def vault(tmp_path):
    fake = FakeOnePassword(tmp_path)
    fake.seed("Kubernetes", "Shop", {"postgres-password": "p@ss/w:rd?#1", "reporter-password": "rep-0"})
    return fake


def shop(keys, **changes):
    roles = [{"name": "reporter", "password_key": "reporter-password"}, {"name": "readers", "login": False}]
    workload = {"name": "shop", "namespace": "shop", "engine": "postgresql", "storage": {"size": "1Gi"}, "service_name": "postgres",
                "databases": ["shop", "reports"], "roles": roles,
                "secrets": {"shop-secrets": dict({"postgres-password": {"op": PASSWORD_REF, "generate": "hex32", "rotate": True},
                                                  "reporter-password": REPORTER_REF}, **keys)}}
    workload.update(changes)
    return validate_catalog([workload])


def data_of(result):
    return result["secrets"][0]["data"]


def test_literal_and_derived_keys_are_written_without_touching_1password(vault):
    keys = {"sslmode": {"value": "disable"}, "PGHOST": {"from": "host"}, "PGPORT": {"from": "port"}, "PGUSER": {"from": "user"},
            "PGDATABASE": {"from": "database"}, "DATABASE_URL": {"from": "url"},
            "REPORTS_URL": {"from": "url", "user": "reporter", "database": "reports"}}
    result, client = sync_cli(vault, shop(keys))
    data = data_of(result)
    assert (data["sslmode"], data["PGHOST"], data["PGPORT"]) == ("disable", "postgres.shop.svc", "5432")
    assert (data["PGUSER"], data["PGDATABASE"]) == ("shop", "shop")
    url = urlsplit(data["DATABASE_URL"])
    assert (url.scheme, url.hostname, url.port, url.path) == ("postgresql", "postgres.shop.svc", 5432, "/shop")
    assert (unquote(url.username), unquote(url.password)) == ("shop", "p@ss/w:rd?#1")
    reports = urlsplit(data["REPORTS_URL"])
    assert (reports.username, unquote(reports.password), reports.path) == ("reporter", "rep-0", "/reports")
    assert client.calls == 1 and result["written"] == []
    sources = result["summary"][0]["keys"]
    assert sources["sslmode"]["source"] == "literal" and sources["DATABASE_URL"]["source"] == "derived from url"
    assert sources["DATABASE_URL"]["op"] is None


def test_a_derived_url_follows_a_rotated_password_in_the_same_run(vault):
    result = sync_cli(vault, shop({"DATABASE_URL": {"from": "url"}}), rotate=["shop"])[0]
    data = data_of(result)
    assert data["postgres-password"] != "p@ss/w:rd?#1"
    assert unquote(urlsplit(data["DATABASE_URL"]).password) == data["postgres-password"]
    assert vault.value("Kubernetes", "Shop", "postgres-password") == data["postgres-password"]


@pytest.mark.parametrize("keys, field, problem", [
    ({"URL": {"from": "url", "user": "ghost"}}, "secrets.shop-secrets.URL.user", "is neither auth.user nor one of the workload's roles"),
    ({"URL": {"from": "url", "database": "typo"}}, "secrets.shop-secrets.URL.database", "is not one of the workload's databases"),
    ({"URL": {"from": "url", "user": "readers"}}, "secrets.shop-secrets.URL.user", "has no password key in the catalog"),
    ({"URL": {"from": "url", "password_key": "nope"}}, "secrets.shop-secrets.URL.password_key", "is not a 1Password or literal key"),
    ({"URL": {"from": "url", "password_key": "H"}, "H": {"from": "host"}}, "secrets.shop-secrets.URL.password_key",
     "is not a 1Password or literal key"),
])
def test_a_url_without_a_known_password_is_refused_before_anything_is_written(vault, keys, field, problem):
    with pytest.raises(secret_sync.SecretSyncError) as caught:
        sync_cli(vault, shop(keys))
    assert field in str(caught.value) and problem in str(caught.value)
    assert vault.calls("op") == []


@pytest.mark.parametrize("raw, problem", [
    ({"value": "x", "op": PASSWORD_REF}, "beside value"),
    ({"value": ["x"]}, "is not a string"),
    ({"from": "password"}, "is not something a key can be derived from"),
    ({"from": "host", "password_key": "p"}, "is only read by from: url"),
    ({"from": "url", "rotate": True}, "has unknown option(s) rotate"),
])
def test_bad_literal_and_derived_keys_say_what_to_write(raw, problem):
    with pytest.raises(SpecError) as caught:
        normalize_key(raw)
    assert problem in str(caught.value)


def test_the_catalog_refuses_a_bad_derived_key_with_its_field():
    with pytest.raises(CatalogError) as caught:
        shop({"X": {"from": "secret"}})
    assert "secrets.shop-secrets.X.from" in str(caught.value) and "use one of host, port, user, database, url" in str(caught.value)


def test_rotating_a_derived_key_by_name_says_to_rotate_its_source(vault):
    with pytest.raises(secret_sync.SecretSyncError) as caught:
        sync_cli(vault, shop({"DATABASE_URL": {"from": "url"}}), rotate=["shop/shop-secrets/DATABASE_URL"])
    assert "is derived from url, not a 1Password value: rotate the key it is made from" in str(caught.value)


def test_a_derived_key_cannot_be_declared_by_two_workloads():
    shop_workload = shop({"DATABASE_URL": {"from": "url"}})[0]
    other = {"name": "shop-reports", "namespace": "shop", "engine": "postgresql", "storage": {"size": "1Gi"},
             "auth": {"secret": "shop-secrets"},
             "secrets": {"shop-secrets": {"postgres-password": {"op": PASSWORD_REF, "generate": "hex32", "rotate": True},
                                          "DATABASE_URL": {"from": "url"}}}}
    with pytest.raises(CatalogError) as caught:
        validate_catalog([{key: value for key, value in shop_workload.items() if key not in ("objects", "labels", "backup_labels",
                                                                                             "selector")}, other])
    assert "Secret shop/shop-secrets key DATABASE_URL is derived from a workload and workload 'shop' declares it too" in str(caught.value)
