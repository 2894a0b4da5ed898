"""The 1Password client against the test doubles of the op CLI and of the Connect API."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import onepassword
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import sync as secret_sync
from tests.doubles.harness import OP_DOUBLE, FakeOnePassword, environ, subprocess_runner

ITEMS = ["Invoicetron", "Portfolio", "Ledger", "Mailer", "Queue"]


@pytest.fixture
def vault(tmp_path):
    fake = FakeOnePassword(tmp_path)
    for number, title in enumerate(ITEMS):
        fake.seed("Kubernetes", title, {"field-%d" % index: "value-%d-%d" % (number, index) for index in range(4)})
    return fake


def catalog():
    """20 secrets (keys) across 5 items, spread over 5 workloads and 10 Secrets."""
    workloads = []
    for title in ITEMS:
        secrets = {}
        for index in range(4):
            secrets.setdefault("%s-secrets-%d" % (title.lower(), index % 2), {})["key-%d" % index] = {
                "op": "op://Kubernetes/%s/field-%d" % (title, index)}
        workloads.append({"name": title.lower(), "namespace": title.lower(), "secrets": secrets})
    return workloads


def cli_client(fake, token=None, **kwargs):
    env = fake.cli_env(token)
    backend = onepassword.OpCli(subprocess_runner, op_bin=str(OP_DOUBLE), token=env.get("OP_SERVICE_ACCOUNT_TOKEN"))
    kwargs.setdefault("sleep", lambda seconds: None)
    return onepassword.Client(backend, **kwargs), env


def sync_cli(fake, workloads, token=None, **kwargs):
    client, env = cli_client(fake, token)
    with environ(OP_DOUBLE_STATE=env["OP_DOUBLE_STATE"]):
        return secret_sync.sync(workloads, client, **kwargs), client


def test_twenty_secrets_across_five_items_take_five_op_calls(vault):
    result, client = sync_cli(vault, catalog())
    values = [value for secret in result["secrets"] for value in secret["data"].values()]
    assert len(values) == 20
    assert sorted(values) == sorted("value-%d-%d" % (n, i) for n in range(5) for i in range(4))
    calls = vault.calls("op")
    assert len(calls) == 5 == client.calls == result["op_calls"]
    assert {call["command"] for call in calls} == {"item get"}


def test_twenty_secrets_across_five_items_over_connect(vault):
    with vault.connect() as url:
        client = onepassword.Client(onepassword.Connect(url, vault.connect_token))
        result = secret_sync.sync(catalog(), client)
    assert sum(len(secret["data"]) for secret in result["secrets"]) == 20
    calls = [call["command"] for call in vault.calls("connect")]
    item_gets = [call for call in calls if call.count("/items/") == 1]
    assert len(item_gets) == 5  # one fetch per item
    assert calls.count("GET /v1/vaults") == 1  # vault names resolved once
    assert len(calls) == 7  # + one listing of the vault's item titles


def test_missing_values_are_generated_written_back_once_and_never_regenerated(vault):
    workloads = [{"name": "invoicetron", "namespace": "invoicetron", "secrets": {"invoicetron-secrets": {
        "field-0": {"op": "op://Kubernetes/Invoicetron/field-0"},
        "postgres-password": {"op": "op://Kubernetes/Invoicetron/postgres-password", "generate": "hex32"},
        "better-auth-secret": {"op": "op://Kubernetes/Invoicetron/better-auth-secret", "generate": "base64_32"},
        "session": {"op": "op://Kubernetes/Brand New/app/session", "generate": "passphrase5"}}}}]
    first = sync_cli(vault, workloads)[0]
    data = first["secrets"][0]["data"]
    assert vault.value("Kubernetes", "Invoicetron", "postgres-password") == data["postgres-password"]
    assert vault.value("Kubernetes", "Invoicetron", "better-auth-secret") == data["better-auth-secret"]
    assert vault.value("Kubernetes", "Brand New", "session") == data["session"]
    assert first["written"] == ["Kubernetes/Invoicetron", "Kubernetes/Brand New"]
    commands = [call["command"] for call in vault.calls("op")]
    assert commands.count("item edit") == 1 and commands.count("item create") == 1

    vault.reset_calls()
    second = sync_cli(vault, workloads)[0]
    assert second["secrets"][0]["data"] == data
    assert second["generated"] == [] and second["written"] == []
    assert [call["command"] for call in vault.calls("op")] == ["item get", "item get"]
    assert vault.read()["argv_leaks"] == []


def test_connect_write_back(vault):
    workloads = [{"name": "w", "namespace": "w", "secrets": {"s": {
        "a": {"op": "op://Kubernetes/Invoicetron/new-a", "generate": "hex16"},
        "b": {"op": "op://Kubernetes/Fresh/new-b", "generate": "alnum20"}}}}]
    with vault.connect() as url:
        client = onepassword.Client(onepassword.Connect(url, vault.connect_token))
        result = secret_sync.sync(workloads, client)
        again = secret_sync.sync(workloads, onepassword.Client(onepassword.Connect(url, vault.connect_token)))
    assert vault.value("Kubernetes", "Invoicetron", "new-a") == result["secrets"][0]["data"]["a"]
    assert vault.value("Kubernetes", "Fresh", "new-b") == result["secrets"][0]["data"]["b"]
    assert again["secrets"][0]["data"] == result["secrets"][0]["data"] and again["generated"] == []


def test_rotation_writes_a_new_value(vault):
    workloads = [{"name": "w", "namespace": "w", "secrets": {"s": {
        "pw": {"op": "op://Kubernetes/Invoicetron/field-0", "generate": "hex32", "rotate": True},
        "keep": {"op": "op://Kubernetes/Invoicetron/field-1", "generate": "hex32"}}}}]
    result = sync_cli(vault, workloads, rotate=["w"])[0]
    assert result["rotated"] == ["op://Kubernetes/Invoicetron/field-0"]
    assert result["secrets"][0]["data"]["pw"] != "value-0-0"
    assert vault.value("Kubernetes", "Invoicetron", "field-0") == result["secrets"][0]["data"]["pw"]
    assert result["secrets"][0]["data"]["keep"] == "value-0-1"


@pytest.mark.parametrize("reference, expected", [
    ("op://Kubernetes/Invoicetron/nope", "op://Kubernetes/Invoicetron/nope: item 'Invoicetron' has no field 'nope'"),
    ("op://Kubernetes/Nope/field", "op://Kubernetes/Nope/field: item 'Nope' is not in vault 'Kubernetes'"),
    ("op://Missing/Invoicetron/field", 'op://Missing/Invoicetron/field: "Missing" isn\'t a vault in this account'),
])
def test_missing_references_name_the_reference_and_write_nothing(vault, reference, expected):
    workloads = [{"name": "w", "namespace": "w", "secrets": {"s": {
        "gen": {"op": "op://Kubernetes/Invoicetron/would-be-generated", "generate": "hex32"},
        "bad": {"op": reference}}}}]
    with pytest.raises(secret_sync.SecretSyncError) as error:
        sync_cli(vault, workloads)
    assert expected in str(error.value)
    assert vault.value("Kubernetes", "Invoicetron", "would-be-generated") is None
    assert {call["command"] for call in vault.calls("op")} == {"item get"}


def test_all_missing_references_are_reported_at_once(vault):
    workloads = [{"name": "w", "namespace": "w", "secrets": {"s": {
        "a": {"op": "op://Kubernetes/Invoicetron/nope-a"}, "b": {"op": "op://Kubernetes/Ledger/nope-b"}}}}]
    with pytest.raises(secret_sync.SecretSyncError) as error:
        sync_cli(vault, workloads)
    assert len(error.value.errors) == 2


@pytest.mark.parametrize("token, expected", [
    ("", "You are not currently signed in"),
    ("ops_expired", "(401) Unauthorized"),
])
def test_missing_or_bad_token_is_a_clear_error(vault, token, expected):
    with pytest.raises(secret_sync.SecretSyncError) as error:
        sync_cli(vault, catalog()[:1], token=token)
    message = str(error.value)
    assert expected in message and "OP_SERVICE_ACCOUNT_TOKEN" in message
    assert "op://Kubernetes/Invoicetron/" in message  # names the reference


def test_bad_connect_token(vault):
    with vault.connect() as url, pytest.raises(secret_sync.SecretSyncError) as error:
        secret_sync.sync(catalog()[:1], onepassword.Client(onepassword.Connect(url, "wrong")))
    assert "HTTP 401 (Invalid token signature)" in str(error.value) and "OP_CONNECT_TOKEN" in str(error.value)


def test_no_credentials_at_all():
    with pytest.raises(onepassword.OnePasswordError, match="OP_SERVICE_ACCOUNT_TOKEN is not set"):
        onepassword.backend_from({})


def test_rate_limits_are_retried_with_backoff(vault):
    vault.rate_limit_next(3)
    delays = []
    client, env = cli_client(vault, sleep=delays.append, backoff=0.5)
    with environ(OP_DOUBLE_STATE=env["OP_DOUBLE_STATE"]):
        result = secret_sync.sync(catalog(), client)
    assert sum(len(s["data"]) for s in result["secrets"]) == 20
    assert delays == [0.5, 1.0, 2.0]
    assert len(vault.calls("op")) == 8


def test_rate_limit_that_persists_fails_clearly(vault):
    vault.rate_limit_next(100)
    client, env = cli_client(vault, retries=2)
    with environ(OP_DOUBLE_STATE=env["OP_DOUBLE_STATE"]), pytest.raises(secret_sync.SecretSyncError) as error:
        secret_sync.sync(catalog()[:1], client)
    assert "(429) Too Many Requests" in str(error.value) and "after 2 retries" in str(error.value)


def test_connect_rate_limit_honours_retry_after(vault):
    vault.rate_limit_next(2)
    delays = []
    with vault.connect() as url:
        client = onepassword.Client(onepassword.Connect(url, vault.connect_token), sleep=delays.append)
        result = secret_sync.sync(catalog()[:1], client)
    assert delays == [1.0, 1.0] and result["secrets"]


def test_sections_are_matched_and_created(vault):
    vault.seed("Kubernetes", "Sectioned", [])
    workloads = [{"name": "w", "namespace": "w", "secrets": {"s": {
        "a": {"op": "op://Kubernetes/Sectioned/Admin/password", "generate": "hex16"}}}}]
    first = sync_cli(vault, workloads)[0]
    second = sync_cli(vault, workloads)[0]
    assert first["secrets"][0]["data"] == second["secrets"][0]["data"]
    item = next(i for i in vault.read()["vaults"][0]["items"] if i["title"] == "Sectioned")
    assert item["sections"] == [{"id": "admin", "label": "Admin"}]
    assert item["fields"][0]["reference"] == "op://Kubernetes/Sectioned/Admin/password"


def test_a_catalog_without_1password_references_needs_no_credentials():
    literal = [{"name": "shop", "secrets": {"shop-secrets": {"postgres-password": {"value": "x"}}}}, {"name": "plain"}]
    assert not onepassword.references_1password(literal)
    assert onepassword.references_1password([*literal, {"name": "app", "secrets": {"s": {"k": {"op": "op://V/I/f"}}}}])
    client = onepassword.Client(onepassword.NoBackend("no 1Password credentials"))
    assert client.resolve([]) == {} and client.calls == 0
    with pytest.raises(onepassword.OnePasswordError, match="no 1Password credentials"):
        client.resolve(["op://Vault/Item/field"])
