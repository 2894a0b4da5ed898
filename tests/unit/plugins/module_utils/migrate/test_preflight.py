from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import marker, preflight

from .fakes import FakeCluster, FakeEngine, FakeSource, make_context, run_state


def check(tmp_path, ctx=None, **engine_options):
    ctx = ctx or make_context()
    cluster = FakeCluster(tmp_path)
    engine = FakeEngine(ctx, cluster.kubectl, **engine_options)
    return preflight.check(run_state(ctx), engine), cluster, engine


def test_an_empty_target_passes_and_the_plan_carries_the_marker(tmp_path):
    plan, cluster, _engine = check(tmp_path)
    assert plan.marker == {}
    assert plan.data_bytes == 150
    assert all("apply" not in call for call in cluster.calls()), "preflight wrote something"


def test_a_non_empty_target_no_run_wrote_is_refused_naming_the_field(tmp_path):
    with pytest.raises(MigrationError) as raised:
        check(tmp_path, target_content={"relations": 1, "functions": 0})
    message = str(raised.value)
    assert raised.value.phase == "preflight"
    assert message.startswith("shop/shop: the target database 'shop' in pod shop/shop-postgresql-0 is not empty (1 relations)")
    assert message.endswith("then run the migrate playbook with -e stateshift_force=true (pg_migrate: force: true) to replace "
                            "its contents")


@pytest.mark.parametrize("state", marker.OURS)
def test_a_non_empty_target_of_an_earlier_run_passes(tmp_path, state):
    ctx = make_context()
    cluster = FakeCluster(tmp_path)
    marker.write(cluster.kubectl, ctx, state)
    engine = FakeEngine(ctx, cluster.kubectl, target_content={"relations": 9})
    assert preflight.check(run_state(ctx), engine).marker["state"] == state


def test_force_of_the_run_lets_a_non_empty_target_pass(tmp_path):
    plan, _cluster, _engine = check(tmp_path, ctx=make_context(force=True), target_content={"relations": 1})
    assert plan.target_objects() == {"relations": 1}


def test_too_little_disk_for_the_backup_is_refused_naming_backup_dir(tmp_path):
    with pytest.raises(MigrationError) as raised:
        check(tmp_path, source=FakeSource(free_bytes=100))
    assert str(raised.value) == (
        "workload 'shop' (stateshift_workloads[0]): migration.backup_dir = '/var/backups/stateshift': not enough disk for the "
        "backup in /var/backups/stateshift/shop on legacy (10.0.0.5): 0 B free, the dump can take up to 165 B; "
        "free space there or set migration.backup_dir to a larger filesystem")


def test_without_a_backup_the_disk_is_not_checked(tmp_path):
    source = FakeSource(free_bytes=0)
    check(tmp_path, ctx=make_context({"backup": False}), source=source)
    assert source.scripts == []
