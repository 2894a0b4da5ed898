from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import patroni_users


def test_only_the_missing_users_are_created_with_passwords_read_in_the_pod():
    script = "\n".join(patroni_users.create_sql({"replication": "replicator"}))
    assert "CREATE ROLE :\"name_replication\" LOGIN REPLICATION PASSWORD :'user_password';" in script
    assert "`printf '%s' \"$PATRONI_REPLICATION_PASSWORD\"`" in script
    assert "rewind" not in script and "GRANT" not in script
    assert script.index("password_missing \\gset") < script.index("CREATE ROLE")


def test_the_rewind_user_may_read_what_pg_rewind_reads():
    script = "\n".join(patroni_users.create_sql({"rewind": "rewinder"}))
    assert "CREATE ROLE :\"name_rewind\" LOGIN PASSWORD" in script
    assert script.count("GRANT EXECUTE ON FUNCTION") == 4
    assert "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)" in script
    assert "SET log_statement = 'none';" in script


def test_the_names_are_quoted_as_literals():
    assert patroni_users.present_sql(["replicator", "o'brien"]).endswith("IN ('replicator', 'o''brien')")
