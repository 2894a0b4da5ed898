"""The backup pod's scripts run as the pods run them (sh -ec, values in the environment) against a real server:
the dump records the row counts of its own snapshot, the restore verifies them, a damaged dump or changed counts
fail the restore, and MODE=replace puts the backup in place of the database while keeping the old one."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import backup_scripts

DATABASE = "bkp_shop"


def run(server, script, backup_dir, **env):
    environment = dict(os.environ, PGHOST=server.socket_dir, PGPORT=str(server.port), PGUSER="postgres", BACKUP_DIR=str(backup_dir),
                       ROW_COUNTS_SQL=backup_scripts.ROW_COUNTS_SQL, DATABASES=DATABASE, DATABASE=DATABASE, RETENTION_DAYS="7",
                       BACKUP="", BEFORE="", INTO="bkp_scratch", MODE="scratch", KEEP_AS="bkp_shop_before_restore")
    environment.update(env)
    environment["PATH"] = server.bin + os.pathsep + environment["PATH"]
    return subprocess.run(["sh", "-ec", script], env=environment, capture_output=True, text=True, check=False, timeout=120)


@pytest.fixture
def shop(local_postgres):
    local_postgres.psql("DROP DATABASE IF EXISTS %s" % DATABASE)
    local_postgres.psql("CREATE DATABASE %s" % DATABASE)
    local_postgres.psql('CREATE TABLE orders (id int PRIMARY KEY); CREATE SCHEMA "Odd Schema"; '
                        'CREATE TABLE "Odd Schema"."line items" (n int); INSERT INTO orders SELECT generate_series(1, 250); '
                        'INSERT INTO "Odd Schema"."line items" SELECT generate_series(1, 40)', database=DATABASE)
    yield local_postgres
    for name in (DATABASE, "bkp_scratch", "bkp_shop_before_restore"):
        local_postgres.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


def backed_up(server, backup_dir):
    done = run(server, backup_scripts.BACKUP_SCRIPT, backup_dir)
    assert done.returncode == 0, done.stderr
    dumps = sorted(path for path in backup_dir.iterdir() if path.suffix == ".dump")
    assert len(dumps) == 1 and not list(backup_dir.glob("*.partial"))
    return dumps[0]


def test_the_dump_records_the_row_counts_of_its_own_snapshot_and_a_restore_matches_them(shop, tmp_path):
    dump = backed_up(shop, tmp_path)
    assert dump.with_suffix(".counts").read_text() == '"Odd Schema"."line items"\t40\npublic.orders\t250\n'
    restored = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert "restored %s into bkp_scratch (sha256 matches; row counts of 2 tables match the backup's)" % dump.name in restored.stdout
    assert shop.psql("SELECT count(*) FROM orders", database="bkp_scratch").stdout.strip() == "250"


def test_a_restore_that_gives_other_rows_than_recorded_fails_and_says_which(shop, tmp_path):
    dump = backed_up(shop, tmp_path)
    counts = dump.with_suffix(".counts")
    counts.write_text(counts.read_text().replace("orders\t250", "orders\t251"))
    restored = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path)
    assert restored.returncode != 0
    assert "restores other rows than it recorded" in restored.stderr and "orders\t251" in restored.stderr


def test_a_damaged_dump_is_refused_before_anything_is_restored(shop, tmp_path):
    dump = backed_up(shop, tmp_path)
    data = bytearray(dump.read_bytes())
    dump.write_bytes(bytes(data[: len(data) // 2]))
    restored = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path, MODE="drill")
    assert restored.returncode != 0
    assert "restore of %s failed" % DATABASE in restored.stderr


def test_the_dump_records_its_sha256_and_a_drill_refuses_a_dump_changed_since(shop, tmp_path):
    dump = backed_up(shop, tmp_path)
    recorded = dump.with_suffix(".sha256").read_text().strip()
    assert recorded == hashlib.sha256(dump.read_bytes()).hexdigest()
    drilled = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path, MODE="drill")
    assert drilled.returncode == 0, drilled.stderr
    assert "restore drill passed: %s restored and verified (sha256 matches; " % dump.name in drilled.stdout

    with dump.open("ab") as handle:
        handle.write(b"\0")  # pg_restore --list still reads it: only the sha256 tells
    refused = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path, MODE="drill")
    assert refused.returncode != 0
    assert "does not match the sha256 recorded when it was written (%s)" % recorded in refused.stderr
    assert shop.psql("SELECT count(*) FROM pg_database WHERE datname = 'bkp_scratch'").stdout.strip() == "0"


def test_replace_puts_the_backup_in_place_and_keeps_the_database_as_it_was(shop, tmp_path):
    backed_up(shop, tmp_path)
    shop.psql("DELETE FROM orders WHERE id > 100", database=DATABASE)
    restored = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path, MODE="replace")
    assert restored.returncode == 0, restored.stderr
    assert shop.psql("SELECT count(*) FROM orders", database=DATABASE).stdout.strip() == "250"
    kept = shop.psql("SELECT datallowconn FROM pg_database WHERE datname = 'bkp_shop_before_restore'").stdout.strip()
    assert kept == "f"


def test_a_drill_drops_its_scratch_database_and_a_backup_is_picked_by_time(shop, tmp_path):
    dump = backed_up(shop, tmp_path)
    older = tmp_path / ("%s-20200101T000000Z.dump" % DATABASE)
    older.write_bytes(dump.read_bytes())
    picked = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path, MODE="drill", BEFORE="20210101T000000Z")
    assert picked.returncode == 0, picked.stderr
    assert "restore drill passed: %s restored and verified (read by pg_restore --list only" % older.name in picked.stdout
    assert shop.psql("SELECT count(*) FROM pg_database WHERE datname = 'bkp_scratch'").stdout.strip() == "0"
    missing = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path, BEFORE="20190101T000000Z")
    assert missing.returncode != 0 and "no backup of %s matches" % DATABASE in missing.stderr


def test_a_scratch_name_that_belongs_to_another_database_is_refused_and_that_database_kept(shop, tmp_path):
    backed_up(shop, tmp_path)
    shop.psql("DROP DATABASE IF EXISTS bkp_scratch")
    shop.psql("CREATE DATABASE bkp_scratch")
    shop.psql("CREATE TABLE precious (n int)", database="bkp_scratch")
    refused = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path)
    assert refused.returncode != 0 and "database bkp_scratch exists and was not made by a restore" in refused.stderr
    assert shop.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'precious'", database="bkp_scratch").stdout.strip() == "1"
    shop.psql("DROP DATABASE bkp_scratch")
    again = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path)
    assert again.returncode == 0, again.stderr
    assert run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path).returncode == 0, "a scratch database it made is made again"


def test_a_replace_whose_keep_name_is_taken_is_refused_before_the_database_is_touched(shop, tmp_path):
    backed_up(shop, tmp_path)
    shop.psql("CREATE DATABASE bkp_shop_before_restore")
    refused = run(shop, backup_scripts.RESTORE_SCRIPT, tmp_path, MODE="replace")
    assert refused.returncode != 0 and "database bkp_shop_before_restore exists" in refused.stderr
    assert shop.psql("SELECT datallowconn FROM pg_database WHERE datname = 'bkp_shop'").stdout.strip() == "t"
