"""The action plugins' shared part: secrets from the raw catalog, every failure a result without a secret."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.plugin_utils import migration_task
from tests.unit.plugins.module_utils.migrate.fakes import options, workload


class Templar:
    def __init__(self):
        self.templated = []

    def template(self, value):
        self.templated.append(value)
        return value


def test_the_context_gets_the_password_from_stateshift_workloads():
    raw = [dict(workload(), source=dict(workload()["source"], password="Hunter-2"))]
    task_vars = {"ansible_facts": {"stateshift_catalog": validate_catalog(raw)}, "stateshift_workloads": raw}
    templar = Templar()
    ctx = migration_task.migration_context(templar, task_vars, {"workload": "shop", "database": None}, options())
    assert ctx.source.password == "Hunter-2" and templar.templated == [raw]


def test_a_failure_never_shows_a_secret_or_a_traceback():
    result = migration_task.failure(ZeroDivisionError("bad Hunter-2"), ["Hunter-2"])
    assert result["failed"] and "Hunter-2" not in result["msg"] and "unexpected ZeroDivisionError" in result["msg"]
    result = migration_task.failure(MigrationError("target said Hunter-2", "preflight"), ["Hunter-2"])
    assert result["msg"] == "target said ********" and result["phase"] == "preflight"
