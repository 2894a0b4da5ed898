"""The definitions of a RabbitMQ workload: users with sha256 hashes of the Secret's passwords, kept while they match."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import CatalogError, validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import definitions
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.derived import rabbitmq_password_hash_matches

WORKLOAD = validate_catalog([{
    "name": "bowmark", "engine": "rabbitmq", "storage": {"size": "1Gi"}, "auth": {"user": "admin"}, "vhosts": ["app", "reports"],
    "users": [{"name": "app", "password_key": "app-password", "vhosts": ["app"]},
              {"name": "reporter", "password_key": "reporter-password", "vhosts": ["reports"], "tags": ["monitoring"]}],
}])[0]
PASSWORDS = {"rabbitmq-password": "admin-pw", "app-password": "app-pw", "reporter-password": "rep-pw", "erlang-cookie": "c"}
BY_USER = {"admin": "admin-pw", "app": "app-pw", "reporter": "rep-pw"}


def test_users_get_hashes_of_their_passwords_tags_and_permissions_on_their_vhosts_only():
    document = definitions.build(WORKLOAD, PASSWORDS)
    users = {user["name"]: user for user in document["users"]}
    assert sorted(users) == ["admin", "app", "reporter"]
    assert all(user["hashing_algorithm"] == "rabbit_password_hashing_sha256" for user in users.values())
    assert rabbitmq_password_hash_matches("app-pw", users["app"]["password_hash"])
    assert not rabbitmq_password_hash_matches("rep-pw", users["app"]["password_hash"])
    assert users["admin"]["tags"] == ["administrator"] and users["reporter"]["tags"] == ["monitoring"]
    assert definitions.summary(document)["permissions"] == ["admin@app", "admin@reports", "app@app", "reporter@reports"]
    assert "app-pw" not in str(document)


def test_a_hash_that_still_matches_is_kept_and_a_changed_password_gets_a_new_one():
    first = definitions.build(WORKLOAD, PASSWORDS)
    again = definitions.build(WORKLOAD, PASSWORDS, definitions.known_hashes(first))
    assert again == first
    rotated = definitions.build(WORKLOAD, dict(PASSWORDS, **{"app-password": "new"}), definitions.known_hashes(first))
    assert definitions.passwords_changed(first, rotated) == ["app"]
    assert definitions.build(WORKLOAD, PASSWORDS) != first, "a fresh hash is salted"


def test_a_missing_password_key_is_named():
    with pytest.raises(definitions.MissingPassword, match="reporter-password"):
        definitions.build(WORKLOAD, {k: v for k, v in PASSWORDS.items() if k != "reporter-password"})


def test_what_the_running_broker_lacks_is_named():
    wanted = definitions.build(WORKLOAD, PASSWORDS)
    assert definitions.missing_from(wanted, wanted, BY_USER) == []
    stale = definitions.build(WORKLOAD, dict(PASSWORDS, **{"app-password": "old"}))
    stale["vhosts"] = [v for v in stale["vhosts"] if v["name"] != "reports"]
    stale["permissions"] = [p for p in stale["permissions"] if p["user"] != "reporter"]
    stale["users"][2]["tags"] = []
    assert definitions.missing_from(stale, wanted, BY_USER) == [
        "vhost reports", "user app", "tags of user reporter", "permission of reporter on reports"]


SHOP = validate_catalog([{
    "name": "shop", "engine": "rabbitmq", "storage": {"size": "1Gi"}, "vhosts": ["shop"],
    "queues": [{"name": "orders", "vhost": "shop", "type": "quorum"},
               {"name": "audit", "vhost": "shop", "arguments": {"x-max-length": 10}}],
    "exchanges": [{"name": "events", "vhost": "shop", "type": "topic"}],
    "bindings": [{"vhost": "shop", "source": "events", "destination": "orders", "routing_key": "order.*"}],
    "policies": [{"name": "cap", "vhost": "shop", "pattern": "^audit$", "definition": {"max-length": 100}}],
}])[0]


def test_the_catalogs_topology_is_in_the_definitions():
    document = definitions.build(SHOP, {"rabbitmq-password": "pw"})
    assert document["queues"] == [
        {"name": "orders", "vhost": "shop", "durable": True, "auto_delete": False, "arguments": {"x-queue-type": "quorum"}},
        {"name": "audit", "vhost": "shop", "durable": True, "auto_delete": False, "arguments": {"x-max-length": 10}}]
    assert document["bindings"] == [{"source": "events", "vhost": "shop", "destination": "orders", "destination_type": "queue",
                                     "routing_key": "order.*", "arguments": {}}]
    assert document["policies"] == [{"name": "cap", "vhost": "shop", "pattern": "^audit$", "apply-to": "queues",
                                     "definition": {"max-length": 100}, "priority": 0}]
    summary = definitions.summary(document)
    assert summary["queues"] == ["shop/audit", "shop/orders"] and summary["exchanges"] == ["shop/events"]


def test_a_declared_queue_the_broker_lacks_is_named():
    wanted = definitions.build(SHOP, {"rabbitmq-password": "pw"})
    broker = dict(wanted, queues=[wanted["queues"][0]])
    assert definitions.missing_from(broker, wanted, {"shop": "pw"}) == ["queue shop/audit"]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"queues": [{"name": "amq.orders", "vhost": "shop"}]}, "queues[0].name = 'amq.orders': is not a name RabbitMQ takes for a queue"),
    ({"queues": [{"name": "orders", "vhost": "nope"}]}, "queues[0].vhost = 'nope': is not one of vhosts (shop)"),
    ({"queues": [{"name": "orders", "vhost": "shop", "type": "quorum", "durable": False}]},
     "queues[0].durable = False: is false for a quorum queue, which is always durable"),
    ({"bindings": [{"vhost": "shop", "source": "events", "destination": "orders"}]},
     "bindings[0].source = 'events': is not an exchange of exchanges on vhost shop"),
    ({"bindings": [{"vhost": "shop", "source": "amq.topic", "destination": "orders"}]},
     "bindings[0].destination = 'orders': is not a queue the catalog declares on vhost shop"),
    ({"policies": [{"name": "p", "vhost": "shop", "pattern": "(", "definition": {"max-length": 1}}]},
     "policies[0].pattern = '(': is not a regular expression"),
    ({"policies": [{"name": "p", "vhost": "shop", "pattern": "x", "definition": {"max-length": [1]}}]},
     "policies[0].definition = {'max-length': [1]}: has a list for 'max-length'"),
    ({"queues": [{"name": "q", "vhost": "shop", "arguments": {"max-length": 1}}]},
     "queues[0].arguments = {'max-length': 1}: has key 'max-length' that is not an x- argument"),
])
def test_bad_topology_is_refused_naming_the_field(changes, expected):
    with pytest.raises(CatalogError) as raised:
        validate_catalog([dict({"name": "shop", "engine": "rabbitmq", "storage": {"size": "1Gi"}, "vhosts": ["shop"]}, **changes)])
    assert expected in str(raised.value), str(raised.value)
