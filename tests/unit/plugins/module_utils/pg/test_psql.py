from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.pg.psql import tool_major


def test_tool_major():
    assert tool_major("pg_dump (PostgreSQL) 17.2") == 17
    assert tool_major("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == 15
    assert tool_major("15.20") == 15
    assert tool_major("nonsense") is None
