"""Fixtures shared by the module_utils tests."""

from __future__ import annotations

import os

import pytest

from tests.unit.plugins.module_utils.pg.scram_helpers import GROUP


@pytest.fixture(scope="module")
def scram_server(local_postgres):
    """Roles in GROUP must log in with SCRAM (everyone else keeps trust)."""
    hba = os.path.join(local_postgres.data, "pg_hba.conf")
    with open(hba, encoding="utf-8") as handle:
        original = handle.read()
    local_postgres.psql("DO $$ BEGIN CREATE ROLE %s NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$" % GROUP)
    with open(hba, "w", encoding="utf-8") as handle:
        handle.write("local all +%s scram-sha-256\n" % GROUP + original)
    local_postgres.psql("SELECT pg_reload_conf()")
    try:
        yield local_postgres
    finally:
        with open(hba, "w", encoding="utf-8") as handle:
            handle.write(original)
        local_postgres.psql("SELECT pg_reload_conf()")
