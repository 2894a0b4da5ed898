"""Several databases of one source in one task (source.databases), against the fake engine."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import CatalogError, validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context, databases
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import run as runbook
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import marker

from .fakes import FakeCluster, FakeEngine, make_context, options, run_state, workload


def context_with(source_databases):
    spec = workload()
    spec["source"]["databases"] = source_databases
    return context.build(validate_catalog([spec]), "shop", options())


def failure(exc):
    return {"failed": True, "changed": False, "msg": str(exc)}


def migrate_each(engine):
    def work(one):
        return runbook.migrate(one, run=run_state(one.ctx))
    return databases.each(engine, databases.names(engine, None), work, failure)


def test_a_list_is_taken_as_it_is_and_all_asks_the_source():
    engine = FakeEngine(context_with(["shop", "shop_reports"]), None)
    assert databases.names(engine, None) == ["shop", "shop_reports"]
    engine = FakeEngine(context_with("all"), None, source_databases=["postgres", "shop", "shop_reports"])
    assert databases.names(engine, None) == ["shop", "shop_reports"], "all: every database but postgres"
    assert databases.names(engine, "shop_reports") == ["shop_reports"], "the module's database option wins"
    assert databases.names(FakeEngine(make_context(), None), None) == ["shop"], "without source.databases: source.database"


def test_all_on_a_source_with_no_database_of_its_own_is_refused():
    engine = FakeEngine(context_with("all"), None, source_databases=["postgres"])
    with pytest.raises(MigrationError, match=r"source.databases = 'all': the source has no database but postgres"):
        databases.names(engine, None)


def test_every_database_is_copied_with_one_globals_step_and_one_result(tmp_path):
    cluster = FakeCluster(tmp_path)
    engine = FakeEngine(context_with(["shop", "shop_reports"]), cluster.kubectl)
    result = migrate_each(engine)
    assert not result["failed"] and result["changed"]
    assert list(result["databases"]) == ["shop", "shop_reports"]
    assert result["msg"].startswith("shop/shop: copied 2 tables") and "; shop/shop_reports: copied 2 tables" in result["msg"]
    assert engine.events.count("globals") == 1, "the roles are copied once for the whole source"
    assert cluster.marker("shop")["state"] == cluster.marker("shop_reports")["state"] == marker.VERIFIED


def test_the_first_failure_stops_the_others_and_a_rerun_finishes(tmp_path):
    cluster = FakeCluster(tmp_path)
    engine = FakeEngine(context_with(["shop", "shop_reports", "shop_archive"]), cluster.kubectl,
                        fail_table={"shop_reports": "public.b"})
    result = migrate_each(engine)
    assert result["failed"]
    assert list(result["databases"]) == ["shop", "shop_reports"]
    assert result["msg"].endswith("; not started: shop_archive")
    assert cluster.marker("shop_archive") == {}

    again = migrate_each(FakeEngine(context_with(["shop", "shop_reports", "shop_archive"]), cluster.kubectl,
                                    target_content={"shop": {"relations": 2}, "shop_reports": {"relations": 2}}))
    assert not again["failed"], again["msg"]
    assert not again["databases"]["shop"]["changed"], "a verified copy is only verified again"
    assert again["databases"]["shop_reports"]["changed"] and again["databases"]["shop_archive"]["changed"]


@pytest.mark.parametrize(("value", "problem"), [
    ("some", "must be all or a list of database names"),
    ([], "must name at least one database"),
    (["shop", "shop"], "names shop twice"),
    (["shop", "bad name;"], "'bad name;' is not a PostgreSQL database name"),
    (7, "must be all or a list of database names"),
])
def test_bad_source_databases_are_refused_naming_the_field(value, problem):
    spec = workload()
    spec["source"]["databases"] = value
    with pytest.raises(CatalogError) as raised:
        validate_catalog([spec])
    assert "source.databases" in str(raised.value) and problem in str(raised.value)


def test_a_source_with_databases_needs_no_database_of_its_own():
    spec = workload()
    del spec["source"]["database"]
    spec["source"]["databases"] = ["shop_reports", "shop"]
    assert validate_catalog([spec])[0]["source"]["database"] == "shop_reports", "the first listed"
    spec["source"]["databases"] = "all"
    assert validate_catalog([spec])[0]["source"]["database"] == "shop", "the target's first database"
    del spec["source"]["databases"]
    with pytest.raises(CatalogError, match=r"source.database: is required"):
        validate_catalog([spec])
