"""pg_copy_back on the lab: a database copied forward into a StatefulSet, written to there (inserts, updates, deletes,
a sequence advanced, awkward text and bytes), then copied back into the legacy host's container in one transaction:
verified, backed up first, idempotent; refused before any write when the schemas differ; killed midway (the
controller, or the StatefulSet's reader) it leaves the source exactly as it was, and a plain re-run finishes it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time

import pytest

from .conftest import REPO, nothing_changed, recap
from .migration_helpers import FINGERPRINT_SQL, Target, kill_tree, legacy_ssh, source_fingerprint, source_psql

# Its kills are timed by progress lines, which come late on a busy machine: it runs alone.
pytestmark = [pytest.mark.lab, pytest.mark.serial]

DATABASE = "copyback_src"
PROBE = REPO / "tests" / "integration" / "playbooks" / "pg_copy_back_probe.yml"
# the forward copy without its own backup (the copy-back always takes one), in a directory of these tests
MIGRATION = {"transport": "stream", "backup": False, "backup_dir": "/var/backups/stateshift-copyback-tests"}
SCHEMA_SQL = r"""
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, created timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, amount numeric(12, 2),
                     note text, data bytea, tags text[], span interval, ratio double precision);
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL, payload text NOT NULL);
CREATE SEQUENCE invoice_numbers START 1000;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'touched by trigger'; RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.note IS NULL) EXECUTE FUNCTION touch();
INSERT INTO customers (name, created) SELECT 'customer ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour'
  FROM generate_series(1, 2000) g;
INSERT INTO orders (customer_id, amount, note, data, tags, span, ratio)
  SELECT 1 + g % 2000, g * 1.25, 'note ' || g, decode(md5(g::text), 'hex'), ARRAY['a' || g, 'b'], g * interval '1 minute', g / 7.0
  FROM generate_series(1, 20000) g;
INSERT INTO orders (customer_id, amount, note, data) VALUES
  (1, 0.10, E'tab\there, newline\nthere, backslash \\ and quote '' and ünïcödé ✓', '\x00ff5c0a0d'::bytea);
INSERT INTO events (at, payload) SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', repeat(md5(g::text), 3)
  FROM generate_series(1, 600000) g;
SELECT nextval('invoice_numbers');
ANALYZE;
"""
TARGET_WRITES_SQL = r"""
INSERT INTO customers (name) VALUES ('written after cutover'), (E'second\\one\twith tab');
UPDATE orders SET amount = amount + 1, note = E'updated\nafter cutover' WHERE id % 100 = 0;
DELETE FROM orders WHERE id % 97 = 0;
INSERT INTO orders (customer_id, amount, note) VALUES (2001, 99.99, 'new order, NULL data');
ALTER TABLE orders DISABLE TRIGGER orders_touch;
INSERT INTO orders (customer_id, amount, note) VALUES (2002, NULL, NULL);
ALTER TABLE orders ENABLE TRIGGER orders_touch;
INSERT INTO events (at, payload) VALUES (now(), 'event after cutover');
SELECT nextval('invoice_numbers') FROM generate_series(1, 5);
"""


def ensure_source():
    """The copy-back's own source database in the legacy container (made afresh for this module)."""
    source_psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % DATABASE, "postgres")
    source_psql("CREATE DATABASE %s;" % DATABASE, "postgres")
    source_psql(SCHEMA_SQL, DATABASE)


@pytest.fixture(scope="module")
def target(playbook, cluster):
    ensure_source()
    workload = Target(playbook, "cb", DATABASE, migration=MIGRATION)
    workload.deploy()
    workload.migrate()
    assert workload.marker()["state"] == "verified"
    workload.psql(TARGET_WRITES_SQL)
    assert workload.psql(FINGERPRINT_SQL) != source_fingerprint(DATABASE)
    yield workload
    workload.remove()
    source_psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % DATABASE, "postgres")


def copy_back(target, *extra, **args):
    probe_args = dict({"workload": target.name, "progress_interval": 0.5}, **args)
    return target.playbook.run(PROBE, "-e", json.dumps({"probe_workloads": [target.workload], "probe_args": probe_args}),
                               *extra, check=False)


def copy_back_record(target):
    found = subprocess.run(["kubectl", "get", "configmap", "%s-postgresql-migration" % target.name, "-n", target.namespace, "-o", "json"],
                           capture_output=True, text=True, check=True).stdout
    data = json.loads(found).get("data") or {}
    return json.loads(data["%s.copy-back" % DATABASE]) if "%s.copy-back" % DATABASE in data else {}


def wait_no_source_session(timeout=60):
    """The killed copy-back's session on the source has ended (its transaction rolled back)."""
    deadline = time.time() + timeout
    query = ("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid() "
             "AND backend_type = 'client backend';" % DATABASE)
    while source_psql(query, "postgres") != "0":
        assert time.time() < deadline, "the killed copy-back's source session is still there"
        time.sleep(0.5)


def test_check_mode_only_says_what_would_happen(target):
    before = source_fingerprint(DATABASE)
    result = copy_back(target, "--check", "--diff")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "would back up the source database on legacy-vm" in result.stdout
    assert "replace its 3 tables" in result.stdout
    assert source_fingerprint(DATABASE) == before
    assert copy_back_record(target) == {}


def test_a_schema_mismatch_is_refused_before_any_write(target):
    source_psql("ALTER TABLE orders ADD COLUMN legacy_flag boolean; ALTER TABLE customers ALTER COLUMN name TYPE varchar(200);",
                DATABASE)
    try:
        before = source_fingerprint(DATABASE)
        result = copy_back(target)
        assert result.returncode != 0
        assert "the source database's schema differs from the StatefulSet's" in result.stdout, result.stdout[-3000:]
        assert "table public.orders: column legacy_flag (boolean) exists only in the source database" in result.stdout
        assert ("table public.customers: column name is text in the StatefulSet's database but character varying(200) "
                "in the source database") in result.stdout
        assert '"phase": "preflight"' in result.stdout
        assert source_fingerprint(DATABASE) == before
        assert copy_back_record(target) == {}
    finally:
        source_psql("ALTER TABLE orders DROP COLUMN legacy_flag; ALTER TABLE customers ALTER COLUMN name TYPE text;", DATABASE)


class Background:
    """The probe playbook in its own process group, its output read line by line."""

    def __init__(self, target, pattern):
        argv = ["ansible-playbook"]
        for inventory in target.playbook.inventories:
            argv += ["-i", str(inventory)]
        probe_args = {"workload": target.name, "progress_interval": 0.3}
        argv += [str(PROBE), "-e", json.dumps({"probe_workloads": [target.workload], "probe_args": probe_args})]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                        start_new_session=True)
        self.pattern, self.lines, self.seen = re.compile(pattern), [], threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)
            if self.pattern.search(line):
                self.seen.set()

    def wait_seen(self, timeout=240):
        assert self.seen.wait(timeout), "the copy-back never got there:\n" + "".join(self.lines[-40:])

    def finish(self, timeout=300):
        self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return self.process.returncode, "".join(self.lines)


def events_reader_since(since):
    """The session on the StatefulSet reading public.events for a copy-back that began after ``since`` (its clock)."""
    return ("SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%%\"public\".\"events\") TO STDOUT' "
            "AND pid <> pg_backend_pid() AND backend_start > '%s'" % since)


def copy_back_sessions(target):
    return target.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'stateshift-copy-back';",
                       database="postgres")


def loading_events():
    """Rows of public.events the copy-back's session has loaded so far on the source (0 when no such COPY runs)."""
    found = source_psql("SELECT coalesce(max(p.tuples_processed), 0) FROM pg_stat_progress_copy p JOIN pg_database d "
                        "ON d.oid = p.datid WHERE d.datname = '%s' AND p.command = 'COPY FROM' "
                        "AND p.relid = 'public.events'::regclass;" % DATABASE, DATABASE)
    return int(found or 0)


def test_killing_the_controller_midway_leaves_the_source_unchanged(target):
    before = source_fingerprint(DATABASE)
    run = Background(target, r"copy-back cb/%s: public\.events: [1-9]\d* rows" % DATABASE)
    deadline = time.time() + 300
    while loading_events() == 0 and run.process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    kill_tree(run.process.pid)
    rc, output = run.finish()
    assert rc != 0, output[-3000:]
    wait_no_source_session()
    assert source_fingerprint(DATABASE) == before, "the source changed"
    assert copy_back_record(target)["state"] == "copying"


def test_a_failed_read_on_the_statefulset_rolls_the_source_back(target):
    """The reader of the largest table is ended on the StatefulSet while the source holds the tables before it in its
    open transaction. It is watched for on the StatefulSet itself: its output is buffered between the pod and the
    controller, so by the time the source loads its rows the reader may be gone."""
    before = source_fingerprint(DATABASE)
    started = target.psql("SELECT now();", database="postgres")
    run = Background(target, r"copy-back cb/%s: public\.events: [1-9]\d* rows" % DATABASE)
    killed = "0"
    while killed == "0" and run.process.poll() is None:
        killed = target.psql("SELECT count(pg_terminate_backend(pid)) FROM (%s) r;" % events_reader_since(started),
                             database="postgres")
    rc, output = run.finish()
    assert killed == "1", "no COPY was running on the StatefulSet to kill:\n" + output[-3000:]
    assert rc != 0, output[-3000:]
    assert "the source database is unchanged (the copy-back's transaction was not committed)" in output, output[-3000:]
    assert any(counts["failed"] for counts in recap(output).values())
    wait_no_source_session()
    assert source_fingerprint(DATABASE) == before, "the source changed"
    # the reader the controller kill above left blocked in the pod was ended by this run, and this run left none
    assert copy_back_sessions(target) == "0"


def test_rerun_copies_back_verified_with_a_backup(target, tmp_path):
    result = copy_back(target, report_dir=str(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "verification passed" in result.stdout
    assert re.search(r"copy-back cb/%s: \d/3 public\.events: 600001 rows" % DATABASE, result.stdout), result.stdout[-3000:]
    assert source_fingerprint(DATABASE) == target.psql(FINGERPRINT_SQL)
    assert source_psql("SELECT note FROM orders WHERE customer_id = 2002;", DATABASE) == "", "a trigger fired on the copied rows"
    assert source_psql("SELECT last_value FROM invoice_numbers;", DATABASE) == "1005"
    record = copy_back_record(target)
    assert record["state"] == "verified" and record["verified"] is True
    backup = record["backup"]
    assert backup["path"].endswith(".before-copy-back.dump")
    on_host = legacy_ssh("sha256sum %s" % backup["path"])
    assert on_host.returncode == 0 and on_host.stdout.split()[0] == backup["sha256"]
    report = json.loads((tmp_path / ("cb-%s-copy-back.json" % DATABASE)).read_text())
    assert report["ok"] and report["direction"] == "statefulset->source"
    assert target.marker()["state"] == "verified", "the forward copy's record was touched"
    print("copy-back figures: timings %s, totals %s, backup %s bytes" % (report["timings"], report["totals"], backup["bytes"]))


def test_rerun_after_a_verified_copy_back_only_reverifies(target):
    result = copy_back(target)
    assert result.returncode == 0, result.stdout[-3000:]
    assert nothing_changed(result.stdout), result.stdout[-3000:]
    assert "already copied back and verified" in result.stdout


SMALL_DATABASE = "copyback_small"
SMALL_SQL = r"""
CREATE TABLE notes (id serial PRIMARY KEY, body text, at timestamptz DEFAULT now(), data jsonb, amount numeric);
INSERT INTO notes (body, data, amount) SELECT E'note\t' || g, jsonb_build_object('g', g, 'ü', 'x'), g / 3.0
  FROM generate_series(1, 500) g;
"""


@pytest.fixture(scope="module")
def newer_target(playbook, cluster):
    """A PostgreSQL 18 StatefulSet copied forward from the legacy container's PostgreSQL 15."""
    source_psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % SMALL_DATABASE, "postgres")
    source_psql("CREATE DATABASE %s;" % SMALL_DATABASE, "postgres")
    source_psql(SMALL_SQL, SMALL_DATABASE)
    workload = Target(playbook, "cb18", SMALL_DATABASE, migration=MIGRATION)
    workload.workload["version"] = "18"
    workload.deploy()
    workload.migrate()
    yield workload
    workload.remove()
    source_psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % SMALL_DATABASE, "postgres")


def test_a_newer_statefulset_copies_back_into_an_older_source(newer_target):
    assert newer_target.psql("SHOW server_version_num;").startswith("18")
    assert source_psql("SHOW server_version_num;", SMALL_DATABASE).startswith("15")
    newer_target.psql("INSERT INTO notes (body, data, amount) VALUES (E'after\\ncutover', '{\"k\": [1, 2]}', 1e-20);"
                      "UPDATE notes SET amount = amount * 2 WHERE id < 10; DELETE FROM notes WHERE id = 7;")
    result = copy_back(newer_target)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "verification passed" in result.stdout
    assert "text COPY from PostgreSQL 18 (the StatefulSet) into 15 (the source)" in result.stdout
    assert source_fingerprint(SMALL_DATABASE) == newer_target.psql(FINGERPRINT_SQL)
