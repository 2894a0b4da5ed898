"""The source's secrets come from the raw catalog (stateshift_workloads), never from the redacted fact."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.secret_fields import redact
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context, credentials

from .fakes import options, workload


@pytest.mark.parametrize(("dsn", "password"), [
    ("host=db user=app password=s3cret dbname=app", "s3cret"),
    ("host=db password='it\\'s a \\\\ secret' dbname=app", "it's a \\ secret"),
    ("postgresql://app:p%40ss%3Aword@db:5432/app", "p@ss:word"),
    ("postgresql://app@db/app?password=q%20p", "q p"),
    ("host=db user=app", None),
])
def test_the_dsn_password_is_read_in_both_forms(dsn, password):
    assert credentials.dsn_password(dsn) == password


def dsn_workload(dsn):
    return dict(workload(), source={"dsn": dsn, "database": "shop"})


def test_a_dsn_source_gets_its_password_apart_and_a_dsn_without_it():
    raw = [dsn_workload("host=db user=app password=Hunter-2 dbname=shop")]
    catalog = [redact(w) for w in validate_catalog(raw)]
    assert "Hunter-2" not in repr(catalog)
    secrets = credentials.source_secrets(raw, "shop", catalog[0]["source"])
    assert secrets == {"password": "Hunter-2", "dsn": "host=db user=app dbname=shop"}
    ctx = context.build(catalog, "shop", options(), secrets=secrets)
    assert (ctx.source.password, ctx.source.dsn) == ("Hunter-2", "host=db user=app dbname=shop")
    assert "Hunter-2" not in repr(ctx)


def test_source_password_wins_over_the_dsn_one():
    raw = [dict(workload(), source={"dsn": "host=db password=a", "password": "b", "database": "shop"})]
    assert credentials.source_secrets(raw, "shop", {})["password"] == "b"


def test_a_container_source_without_the_raw_catalog_uses_the_containers_password():
    catalog = validate_catalog([workload()])
    assert credentials.source_secrets(None, "shop", catalog[0]["source"]) == {"password": None, "dsn": None}


def test_a_dsn_source_without_the_raw_catalog_is_refused_with_what_to_do():
    catalog = validate_catalog([dsn_workload("host=db password=Hunter-2")])
    with pytest.raises(credentials.CredentialsError, match="stateshift_workloads, which is not set: define the catalog"):
        credentials.source_secrets(None, "shop", catalog[0]["source"])


def test_a_workload_missing_from_the_raw_catalog_is_named():
    with pytest.raises(credentials.CredentialsError, match="'shop' is in the stateshift_catalog fact but not in stateshift_workloads"):
        credentials.source_secrets([], "shop", {})


def test_a_nul_byte_password_is_refused_without_showing_it():
    raw = [dict(workload(), source=dict(workload()["source"], password="bad\x00pw"))]
    with pytest.raises(credentials.CredentialsError) as raised:
        credentials.source_secrets(raw, "shop", {})
    assert "NUL byte" in str(raised.value) and "bad" not in str(raised.value)
