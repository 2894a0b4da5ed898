"""migration.mode: online on the lab: a source container of its own started with wal_level=logical (as the Compose fix
says), a writer inserting every 10 ms and recording the ids the source acknowledged, the online migration (publication,
subscription, initial sync), a re-run that only reports the lag, then the cutover's database half (pg_source_access
blocked + pg_final_sync): every acknowledged row is on the target, verified; the write unavailability is measured."""

from __future__ import annotations

import datetime
import json
import secrets
import subprocess
import threading
import time

import pytest

from .conftest import REPO, nothing_changed
from .migration_helpers import Target

CONTAINER = "online-sync-src"
DATABASE = "online_sync_src"
USER = "onsync_src"
WRITER = "online_sync_writer"
CUTOVER = REPO / "tests" / "integration" / "playbooks" / "pg_online_cutover.yml"
PROBE = REPO / "tests" / "integration" / "playbooks" / "pg_cutover_probe.yml"
# odd bytes on purpose: the subscription's conninfo must carry them escaped
SOURCE_PASSWORD = "Src-%s'\\x \"q" % secrets.token_hex(8)


def src_psql(sql, user=USER, check=True):
    result = subprocess.run(["docker", "exec", "-i", CONTAINER, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                             "-U", user, "-d", DATABASE], input=sql, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(result.stderr)
    return result.stdout.strip()


def start_source():
    subprocess.run(["docker", "rm", "-f", CONTAINER], capture_output=True, check=False)
    subprocess.run(["docker", "run", "-d", "--name", CONTAINER, "--network", "stateshift-legacy",
                    "--label", "org.stateshift.test=online-sync",
                    "-e", "POSTGRES_USER=%s" % USER, "-e", "POSTGRES_DB=%s" % DATABASE,
                    "-e", "POSTGRES_PASSWORD=%s" % SOURCE_PASSWORD,
                    "postgres:15", "postgres", "-c", "wal_level=logical"], capture_output=True, check=True)
    for _attempt in range(120):
        ready = subprocess.run(["docker", "exec", CONTAINER, "pg_isready", "-h", "127.0.0.1", "-U", USER, "-d", DATABASE],
                               capture_output=True, check=False)
        if ready.returncode == 0 and src_psql("SELECT 1;", check=False) == "1":
            break
        time.sleep(1)
    src_psql("CREATE ROLE %s LOGIN;\n"
             "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, price numeric(10, 2));\n"
             "INSERT INTO items (name, price) SELECT 'item ' || g, g * 0.25 FROM generate_series(1, 20000) g;\n"
             "CREATE TABLE probe (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), note text);\n"
             "CREATE TABLE nokey (v int);\nINSERT INTO nokey VALUES (1), (2);\n"
             "GRANT CONNECT ON DATABASE %s TO %s;\nGRANT ALL ON probe, probe_id_seq TO %s;" % (WRITER, DATABASE, WRITER, WRITER))


class Writer(threading.Thread):
    """Inserts a row every 10 ms as a client role, reconnecting when its session ends; keeps the acknowledged ids."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.acked, self.failures = threading.Event(), [], 0

    def run(self):
        while not self.stop.is_set():
            process = subprocess.Popen(["docker", "exec", "-i", CONTAINER, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                        "-U", WRITER, "-d", DATABASE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True, bufsize=1)
            try:
                while not self.stop.is_set():
                    process.stdin.write("INSERT INTO probe (note) VALUES ('writer') RETURNING id;\n")
                    process.stdin.flush()
                    line = process.stdout.readline()
                    if not line.strip():
                        break
                    self.acked.append((int(line), time.time()))
                    time.sleep(0.01)
            except (BrokenPipeError, ValueError):
                pass
            finally:
                process.kill()
                process.wait()
            self.failures += 1
            time.sleep(0.1)


@pytest.fixture(scope="module")
def target(playbook, cluster):
    start_source()
    workload = Target(playbook, "onsyncr", DATABASE, migration={"mode": "online", "transport": "job",
                                                                "backup_dir": "/var/backups/stateshift-tests"})
    workload.workload["source"] = {"host": "legacy-vm", "container": CONTAINER, "database": DATABASE, "user": USER}
    workload.deploy()
    yield workload
    workload.remove()
    subprocess.run(["docker", "rm", "-f", CONTAINER], capture_output=True, check=False)


def test_online_preflight_names_what_to_fix(target):
    shared = dict(target.workload, source={"host": "legacy-vm", "container": "invoicetron-db", "database": "invoicetron",
                                           "user": "invoicetron"})
    result = target.playbook.run(REPO / "playbooks" / "migrate.yml", "--check", "-e",
                                 json.dumps({"stateshift_workloads": [shared]}), check=False)
    assert result.returncode != 0
    assert "wal_level is 'replica'" in result.stdout and '["postgres", "-c", "wal_level=logical"]' in result.stdout, result.stdout[-3000:]
    assert "restart the container" in result.stdout

    refused = target.migrate("--check", check=False)
    assert refused.returncode != 0
    assert "neither a primary key nor a replica identity" in refused.stdout and "public.nokey" in refused.stdout
    assert "REPLICA IDENTITY FULL" in refused.stdout
    src_psql("ALTER TABLE nokey REPLICA IDENTITY FULL;")
    planned = target.migrate("--check")
    assert "would copy the schema, create publication" in planned.stdout, planned.stdout[-3000:]
    assert target.marker() == {}


def task_times(stdout):
    """{task name: (start, end)} from the JSON callback's output."""
    times = {}
    for play in json.loads(stdout[stdout.index("{"):])["plays"]:
        for task in play["tasks"]:
            duration = task["task"]["duration"]
            times[task["task"]["name"]] = tuple(datetime.datetime.fromisoformat(duration[key].replace("Z", "+00:00")).timestamp()
                                                for key in ("start", "end"))
    return times


def test_online_migration_under_load_loses_no_acknowledged_write(target):
    writer = Writer()
    writer.start()
    try:
        time.sleep(1)
        started = time.time()
        migrated = target.migrate("-v")
        migrate_seconds = time.time() - started
        assert migrated.returncode == 0, migrated.stdout[-4000:]
        assert "initial sync: 3/3 tables ready" in migrated.stdout, migrated.stdout[-4000:]
        record = target.marker()
        assert record["state"] == "replicating" and record["slot"] and record["publication"] and record["start_lsn"]
        assert src_psql("SELECT active FROM pg_replication_slots WHERE slot_name = '%s';" % record["slot"]) == "t"

        again = target.migrate()
        assert again.returncode == 0 and nothing_changed(again.stdout), again.stdout[-3000:]
        assert "replicating since" in again.stdout and "behind" in again.stdout
        time.sleep(3)
        assert int(target.psql("SELECT max(id) FROM probe;")) > writer.acked[0][0], "the subscription does not apply new rows"

        payload = {"probe_workloads": [target.workload], "probe_workload": target.name}
        cutover = target.playbook.run(CUTOVER, "-e", json.dumps(payload), check=False, json_output=True)
        assert cutover.returncode == 0, cutover.stdout[-6000:]
    finally:
        writer.stop.set()
        writer.join(timeout=10)
    times = task_times(cutover.stdout)
    final_msg = json.loads(cutover.stdout[cutover.stdout.index("{"):])["plays"][0]["tasks"][-1]["hosts"]["legacy-vm"]["msg"]
    unavailable = times["Final sync"][1] - times["Block writes on the source"][0]
    last_ack = max(at for _id, at in writer.acked)
    acked = {row_id for row_id, _at in writer.acked}
    on_target = {int(line) for line in target.psql("SELECT id FROM probe;").split()}
    missing = acked - on_target
    print("\nonline cutover: %d writes acknowledged, migrate %.1fs, write unavailability (block start to final sync end) %.2fs, "
          "last acknowledged write to final sync end %.2fs, block task %.2fs, final sync task %.2fs\n%s"
          % (len(acked), migrate_seconds, unavailable, times["Final sync"][1] - last_ack,
             times["Block writes on the source"][1] - times["Block writes on the source"][0],
             times["Final sync"][1] - times["Final sync"][0], final_msg))
    print("\n".join(line for line in cutover.stdout.splitlines() if "catching up" in line))
    assert not missing, "acknowledged writes missing on the target: %s" % sorted(missing)[:20]
    server_log = subprocess.run(["kubectl", "logs", "-n", target.namespace, target.pod, "-c", "postgresql"], capture_output=True,
                                text=True, check=False).stdout
    for text in (migrated.stdout, migrated.stderr, again.stdout, cutover.stdout, cutover.stderr, server_log):
        assert SOURCE_PASSWORD not in text, "the source password leaked"
    assert target.psql("SELECT count(*) FROM probe;") == src_psql("SELECT count(*) FROM probe;")
    assert '"verified": true' in cutover.stdout and '"final_lsn"' in cutover.stdout
    record = target.marker()
    assert record["state"] == "verified" and record["final_lsn"]
    assert src_psql("SELECT count(*) FROM pg_replication_slots;") == "0"
    assert src_psql("SELECT count(*) FROM pg_publication;") == "0"
    assert target.psql("SELECT count(*) FROM pg_subscription;") == "0"
    assert int(target.psql("SELECT last_value FROM probe_id_seq;")) >= max(acked)

    payload = {"probe_workloads": [target.workload], "probe_module": "pg_final_sync", "probe_args": {"workload": target.name}}
    resync = target.playbook.run(PROBE, "-e", json.dumps(payload), check=False)
    assert resync.returncode == 0 and nothing_changed(resync.stdout), resync.stdout[-3000:]
    payload["probe_module"], payload["probe_args"]["state"] = "pg_source_access", "open"
    assert target.playbook.run(PROBE, "-e", json.dumps(payload), check=False).returncode == 0
    assert src_psql("INSERT INTO probe (note) VALUES ('open again') RETURNING 1;", user=WRITER) == "1"
