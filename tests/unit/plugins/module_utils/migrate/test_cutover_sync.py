"""The pure parts of pg_source_access (access.py), the online mode (replication.py) and pg_final_sync (final_sync.py)."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import access, final_sync, replication
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError

from .fakes import FakeCluster, make_context


def state(**overrides):
    holders = [{"role": "PUBLIC", "grant_option": False}, {"role": "app", "grant_option": True}, {"role": "shop", "grant_option": True}]
    values = {"owner": "shop", "acl": "{=Tc/shop,shop=CTc/shop,app=c/shop}", "user": "migrator", "user_super": False,
              "setting": None, "holders": holders, "can_connect": [], "sessions": 2}
    values.update(overrides)
    return values


def test_blocking_revokes_from_every_holder_and_keeps_the_migration_user_in():
    ctx = make_context()
    previous = access.previous_of(state())
    assert [holder["role"] for holder in previous["revoked"]] == ["PUBLIC", "app", "shop"]
    assert previous["granted_to_user"] is True
    script = access.block_sql(ctx, previous, "migrator")
    assert 'GRANT CONNECT ON DATABASE "shop" TO "migrator";' in script
    assert 'REVOKE CONNECT ON DATABASE "shop" FROM PUBLIC CASCADE;' in script
    assert 'REVOKE CONNECT ON DATABASE "shop" FROM "app" CASCADE;' in script
    assert 'ALTER DATABASE "shop" SET default_transaction_read_only = on;' in script
    assert script.startswith(access.READ_WRITE + "BEGIN;") and script.rstrip().endswith("COMMIT;")


def test_opening_restores_the_grant_options_and_the_unset_setting():
    ctx = make_context()
    previous = access.previous_of(state())
    script = access.open_sql(ctx, previous, "migrator")
    assert 'GRANT CONNECT ON DATABASE "shop" TO "app" WITH GRANT OPTION;' in script
    assert 'GRANT CONNECT ON DATABASE "shop" TO PUBLIC;' in script
    assert 'REVOKE CONNECT ON DATABASE "shop" FROM "migrator";' in script
    assert 'ALTER DATABASE "shop" RESET default_transaction_read_only;' in script
    previous["setting"] = "off"
    assert "SET default_transaction_read_only = 'off';" in access.open_sql(ctx, previous, "migrator")


def test_a_superuser_migration_user_gets_no_grant_of_its_own():
    previous = access.previous_of(state(user="shop", user_super=True))
    assert previous["granted_to_user"] is False
    assert [holder["role"] for holder in previous["revoked"]] == ["PUBLIC", "app"]


def test_blocked_means_read_only_and_no_other_holder():
    assert access.is_blocked(state(setting="on", holders=[{"role": "migrator", "grant_option": False}]))
    assert not access.is_blocked(state(setting="on"))
    assert not access.is_blocked(state(setting=None, holders=[]))


def test_neither_owner_nor_superuser_is_refused_naming_source_user():
    with pytest.raises(MigrationError, match=r"source.user = 'migrator': can neither revoke CONNECT"):
        access.refuse_unable(make_context(), state())


def test_the_record_is_a_key_of_its_own_in_the_marker(tmp_path):
    ctx, cluster = make_context(), FakeCluster(tmp_path).kubectl
    assert access.read_record(cluster, ctx) == {}
    access.write_record(cluster, ctx, access.BLOCKED, previous={"acl": None})
    assert access.read_record(cluster, ctx)["state"] == "blocked"
    assert access.record_key(ctx) == "shop.source-access"


def test_replication_names_are_plain_identifiers_unique_per_database():
    ctx = make_context()
    found = replication.names(ctx)
    assert found["publication"] == found["subscription"] == found["slot"]
    assert found["slot"].startswith("stateshift_") and len(found["slot"]) <= 63
    assert all(char.isalnum() or char == "_" for char in found["slot"])


def test_the_conninfo_quotes_its_values_and_holds_no_password():
    ctx = make_context()
    text = replication.conninfo(ctx, ("10.0.0.5", 5432))
    assert text.startswith("host='10.0.0.5' port='5432' user='shop' dbname='shop' sslmode='prefer'")
    assert "password" not in text
    assert replication.conninfo(ctx, ("it's\\here", 1)).startswith("host='it\\'s\\\\here'")


def test_the_subscription_script_takes_the_password_from_the_pods_environment():
    script = replication.CREATE_SUBSCRIPTION_SCRIPT
    assert "\\getenv srcpw SRC_PASSWORD" in script and "log_min_error_statement = panic" in script
    assert "\\gexec" in script


def test_the_final_sync_result_has_the_contracts_fields():
    ctx = make_context()

    class Plan:
        source_version, target_version = "15.20", 150020

    checked = {"ok": True, "level": "checksum", "mismatches": [], "totals": {"tables": 1}, "fingerprint": {"writes": 3},
               "tables": [{"table": "public.items", "target_rows": 5, "target_checksum": "x", "match": True}]}
    out = final_sync.result(ctx, Plan, checked, False, "nothing to sync", {"path": "/b.dump", "sha256": "ab", "format": "custom"},
                            final_lsn="0/1")
    assert out["verified"] and out["mode"] == "offline" and out["final_lsn"] == "0/1"
    assert out["tables"] == [{"name": "public.items", "rows": 5, "checksum": "x", "match": True}]
    assert out["backup"] == {"path": "/b.dump", "sha256": "ab"}
    assert out["fingerprint"] == {"writes": 3} and out["msg"] == "shop/shop: nothing to sync"
