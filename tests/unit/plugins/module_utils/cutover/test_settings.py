from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.settings import SettingError, pointed, saved_key

HOST = "shop-postgresql.shop.svc"


@pytest.mark.parametrize("value, expected", [
    ("postgresql://app:s3cr%40t@10.10.50.10:5432/app?sslmode=require",
     "postgresql://app:s3cr%40t@shop-postgresql.shop.svc:5432/app?sslmode=require"),
    ("postgres://app@db/app", "postgres://app@shop-postgresql.shop.svc:5432/app"),
    ("postgresql://10.10.50.10:15432/app", "postgresql://shop-postgresql.shop.svc:5432/app"),
    ("host=10.10.50.10 port=15432 dbname=app password='a b'", "host=shop-postgresql.shop.svc port=5432 dbname=app password='a b'"),
    ("hostaddr=10.10.50.10 dbname=app", "host=shop-postgresql.shop.svc port=5432 dbname=app"),
])
def test_a_url_keeps_everything_but_host_and_port(value, expected):
    assert pointed(value, "url", HOST, 5432) == expected


def test_a_mongodb_url_keeps_its_credentials_database_and_options():
    assert pointed("mongodb://root:s%40cret@vinylvault-db:27017/vault?authSource=admin&retryWrites=true", "url",
                   "vinylvault-mongodb.vault.svc", 27017) == \
        "mongodb://root:s%40cret@vinylvault-mongodb.vault.svc:27017/vault?authSource=admin&retryWrites=true"


def test_a_mongodb_srv_url_is_refused_without_showing_it():
    with pytest.raises(SettingError) as refused:
        pointed("mongodb+srv://root:hunter2@cluster.example/vault", "url", "vinylvault-mongodb.vault.svc", 27017)
    assert "mongodb+srv://" in str(refused.value) and "hunter2" not in str(refused.value)


def test_an_amqp_url_keeps_its_credentials_and_vhost():
    assert pointed("amqp://app:p%2Fw@10.10.50.10:5672/shop", "url", "bowmark-rabbitmq.bowmark.svc", 5672) == \
        "amqp://app:p%2Fw@bowmark-rabbitmq.bowmark.svc:5672/shop"


def test_host_and_host_port_forms_replace_the_whole_value():
    assert pointed("10.10.50.10", "host", HOST, 5432) == HOST
    assert pointed("10.10.50.10:15432", "host_port", HOST, 5432) == HOST + ":5432"


@pytest.mark.parametrize("value", ["postgresql://a:pw@h1:5432,h2:5432/app", "just-a-hostname"])
def test_a_value_it_cannot_read_is_refused_without_showing_it(value):
    with pytest.raises(SettingError) as raised:
        pointed(value, "url", HOST, 5432)
    assert value not in str(raised.value) and "pw" not in str(raised.value)


def test_saved_keys_are_valid_secret_keys_and_distinct():
    one = saved_key({"kind": "Secret", "name": "app-env", "key": "DATABASE_URL"}, "shop")
    other = saved_key({"kind": "ConfigMap", "name": "app-env", "key": "DATABASE_URL"}, "shop")
    assert one == "secret.shop.app-env.DATABASE_URL" and one != other
