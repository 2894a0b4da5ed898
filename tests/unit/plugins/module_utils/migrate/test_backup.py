from __future__ import annotations

import re

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import backup

from .fakes import DIGEST, FakeCluster, FakeEngine, FakeSource, make_context, run_state


def test_the_file_is_named_after_workload_database_and_time():
    ctx = make_context()
    assert backup.directory(ctx) == "/var/backups/stateshift/shop"
    assert backup.file_name(ctx, ".dump", now="2026-11-22T04:27:47Z") == "shop-shop-2026-11-22T042747Z.dump"


def test_take_writes_a_partial_file_renamed_when_complete(tmp_path):
    ctx = make_context({"backup_dir": "/srv/dumps"})
    source = FakeSource()
    run = run_state(ctx)
    taken = backup.take(run, FakeEngine(ctx, FakeCluster(tmp_path).kubectl, source=source), "SNAP-1")
    assert re.fullmatch(r"/srv/dumps/shop/shop-shop-\d{4}-\d\d-\d\dT\d{6}Z\.dump", taken["path"])
    assert taken == {"path": taken["path"], "host": "legacy (10.0.0.5)", "sha256": DIGEST, "bytes": 4096, "format": "custom"}
    [script] = source.scripts
    assert "umask 077" in script and "fake-dump --snapshot=SNAP-1 > \"$tmp\"" in script
    assert script.index(".partial") < script.index("mv ")
    assert run.lines[-1] == "shop/shop: backup %s (4.0 KiB, sha256 %s) on legacy (10.0.0.5)" % (taken["path"], DIGEST[:16])


def test_a_failed_backup_stops_the_run_before_any_write(tmp_path):
    ctx = make_context()
    with pytest.raises(MigrationError) as raised:
        backup.take(run_state(ctx), FakeEngine(ctx, FakeCluster(tmp_path).kubectl, source=FakeSource(backup_fails=True)), "S")
    assert raised.value.phase == "backup"
    assert "the backup failed, nothing was written to the target: fake source: pg_dump failed (rc=1): disk full" in str(raised.value)
