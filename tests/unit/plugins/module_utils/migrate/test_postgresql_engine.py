"""The PostgreSQL engine through the whole runbook, between two real local servers: the source by DSN, the target
through a kubectl whose ``exec`` runs the command here against the second server (stream transport)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context, credentials, postgresql_parts
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import run as runbook
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.postgresql import PostgresEngine
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sources import LocalDsn
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.transport import StreamTransport
from tests.fixtures.postgres import LocalPostgres

from .fakes import options

# kubectl that keeps ConfigMaps in a file and runs ``exec ... -- command`` here, against the target server.
POD_KUBECTL = r'''#!%s
import json, os, sys
store, host, port = sys.argv[1:4]
args = sys.argv[4:]
maps = json.load(open(store)) if os.path.exists(store) else {}
if "exec" in args:
    command = args[args.index("--") + 1:]
    os.execvpe(command[0], command, dict(os.environ, PGHOST=host, PGPORT=port))
if "get" in args and "configmap" in args:
    name = args[args.index("configmap") + 1]
    print(json.dumps(maps[name]) if name in maps else "")
elif "get" in args and "service" in args:
    print("10.43.7.9", end="")
elif "apply" in args:
    body = json.load(sys.stdin)
    maps.setdefault(body["metadata"]["name"], {"data": {}})["data"].update(body["data"])
    json.dump(maps, open(store, "w"))
''' % sys.executable

SOURCE_SQL = """
CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL, "user" text);
INSERT INTO customers (name, "user") SELECT 'customer ' || g, 'u' || g FROM generate_series(1, 500) g;
CREATE SCHEMA reporting;
CREATE TABLE reporting.totals (customer_id int REFERENCES public.customers (id), amount numeric(10, 2));
INSERT INTO reporting.totals SELECT g, g * 1.5 FROM generate_series(1, 500) g;
CREATE INDEX totals_customer_idx ON reporting.totals (customer_id);
"""


@pytest.fixture(scope="module")
def servers(local_postgres):
    """The session's server is the source; a second one, started here, the target."""
    postgres_user = pwd.getpwnam("postgres")
    base = tempfile.mkdtemp(prefix="stateshift-pg-target-")
    os.chown(base, postgres_user.pw_uid, postgres_user.pw_gid)
    target = LocalPostgres(base, port=5441)
    target.start()
    local_postgres.psql("DROP DATABASE IF EXISTS shop;")
    local_postgres.psql("CREATE DATABASE shop;")
    local_postgres.psql(SOURCE_SQL, database="shop")
    try:
        yield local_postgres, target
    finally:
        target.stop()
        shutil.rmtree(base, ignore_errors=True)


def engine_for(servers, tmp_path, force=False, database="shop", user="postgres", **migration):
    source, target = servers
    script = tmp_path / "kubectl"
    script.write_text(POD_KUBECTL)
    script.chmod(0o755)
    workload = {"name": "shop", "engine": "postgresql", "version": "15", "storage": {"size": "1Gi"}, "auth": {"user": "postgres"},
                "source": {"dsn": "host=%s port=%d user=%s %s" % (source.socket_dir, source.port, user, dbname_pair(database))},
                "migration": dict({"transport": "stream", "backup_dir": str(tmp_path / "backups")}, **migration)}
    ctx = context.build(validate_catalog([workload]), "shop", options(progress_interval=0.2, force=force), database=database)
    assert ctx.database == database  # the module's database option, which the catalog's rules do not check
    cluster = Kubectl("shop", {}, kubectl_bin=str(script))
    cluster.base[1:1] = [str(tmp_path / "maps.json"), target.socket_dir, str(target.port)]
    engine = PostgresEngine(ctx, LocalDsn(ctx.source.dsn, user="postgres"), cluster)
    OPENED.append(engine)
    return engine


OPENED = []


@pytest.fixture(autouse=True)
def engines_closed():
    """The engines' psql sessions end with each test (opened_engine closes them in the action)."""
    yield
    while OPENED:
        OPENED.pop().close()


def dbname_pair(database):
    return "dbname='%s'" % database.replace("\\", "\\\\").replace("'", "\\'")


def test_a_stream_migration_between_real_servers_is_verified_then_only_reverified(servers, tmp_path):
    engine = engine_for(servers, tmp_path)
    result = runbook.migrate(engine)
    assert not result["failed"], result["msg"]
    assert result["msg"].startswith("shop/shop: copied 2 tables")
    assert result["report"]["level"] == "checksum" and result["report"]["totals"]["rows_target"] == 1000
    assert os.path.getsize(result["backup"]["path"]) == result["backup"]["bytes"]
    target = servers[1]
    assert target.psql("SELECT nextval('customers_id_seq');", database="shop").stdout.strip() == "501"
    assert target.psql("SELECT count(*) FROM pg_indexes WHERE indexname = 'totals_customer_idx';", database="shop").stdout.strip() == "1"
    assert target.psql("SHOW autovacuum;").stdout.strip() == "off", "the server's own setting was not put back"
    assert json.loads(json.loads((tmp_path / "maps.json").read_text())["shop-postgresql-migration"]["data"]["shop"])["state"] == "verified"

    again = runbook.migrate(engine_for(servers, tmp_path))
    assert not again["changed"] and "already migrated" in again["msg"]


def test_a_missing_source_database_is_refused_in_preflight(servers, tmp_path):
    engine = engine_for(servers, tmp_path)
    engine.source = LocalDsn(engine.ctx.source.dsn.replace("dbname='shop'", "dbname='shopx'"), user="postgres")
    with pytest.raises(MigrationError) as raised:
        engine.inspect()
    assert raised.value.phase == "preflight"
    assert "database 'shopx' does not exist in the source server" in str(raised.value)


def test_the_fingerprint_changes_when_the_target_is_written_not_when_it_is_read(servers, tmp_path):
    engine = engine_for(servers, tmp_path, force=True)
    assert not runbook.migrate(engine)["failed"]
    target = servers[1]
    before = engine.fingerprint()
    target.psql("SELECT count(*) FROM customers; ANALYZE customers;", database="shop")
    assert engine.fingerprint() == before
    target.psql("TRUNCATE reporting.totals;", database="shop")
    truncated = engine.fingerprint()
    assert truncated["relations"] != before["relations"]
    target.psql("UPDATE customers SET name = name WHERE id = 1;", database="shop")
    for _attempt in range(50):  # a backend reports its row writes as it exits
        if engine.fingerprint()["writes"] != truncated["writes"]:
            break
        time.sleep(0.1)
    assert engine.fingerprint()["writes"] == truncated["writes"] + 1


COVERAGE_SQL = """
CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY, note text);
INSERT INTO scratch SELECT g, 'n' || g FROM generate_series(1, 30) g;
CREATE TABLE measurements (at date NOT NULL, value double precision) PARTITION BY RANGE (at);
CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO measurements SELECT date '2023-06-01' + g, 0.1 * g + 0.2 FROM generate_series(1, 400) g;
CREATE TABLE priced (id int PRIMARY KEY, net numeric NOT NULL, gross numeric GENERATED ALWAYS AS (net * 1.2) STORED);
INSERT INTO priced (id, net) SELECT g, g FROM generate_series(1, 20) g;
CREATE TABLE secrets (id int, owner text);
INSERT INTO secrets SELECT g, 'u' || (g % 3) FROM generate_series(1, 12) g;
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY only_u1 ON secrets USING (owner = 'u1');
CREATE SEQUENCE ticket_numbers START 1000;
SELECT setval('ticket_numbers', 4242);
CREATE ROLE plain_reader LOGIN;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO plain_reader;
"""


@pytest.fixture(scope="module")
def coverage_source(servers):
    source = servers[0]
    source.psql("DROP DATABASE IF EXISTS coverage;")
    source.psql("DROP ROLE IF EXISTS plain_reader;")
    source.psql("CREATE DATABASE coverage;")
    source.psql(COVERAGE_SQL, database="coverage")
    yield servers
    source.psql("DROP DATABASE coverage;")
    source.psql("DROP ROLE plain_reader;")


def test_unlogged_partitioned_generated_rls_and_unowned_sequences_are_copied_and_verified(coverage_source, tmp_path):
    result = runbook.migrate(engine_for(coverage_source, tmp_path, force=True, database="coverage"))
    assert not result["failed"], result["msg"]
    target = coverage_source[1]

    def on_target(query):
        return target.psql(query, database="coverage").stdout.strip()

    assert on_target("SELECT count(*) FROM measurements;") == "400", "a partition's rows were counted twice or lost"
    assert on_target("SELECT relpersistence FROM pg_class WHERE relname = 'scratch';") == "u"
    assert on_target("SELECT sum(gross) = sum(net) * 1.2 FROM priced;") == "t"
    assert on_target("SET row_security = off; SELECT count(*) FROM secrets;") == "12", "rows hidden by a policy were not copied"
    assert on_target("SELECT last_value FROM ticket_numbers;") == "4242"
    tables = {row["table"] for row in result["report"]["tables"]}
    assert {"public.measurements_2023", "public.measurements_2024", "public.secrets"} <= tables
    assert "public.measurements" not in tables


def test_a_role_that_row_security_applies_to_is_refused_before_any_write(coverage_source, tmp_path):
    engine = engine_for(coverage_source, tmp_path, database="coverage", user="plain_reader")
    with pytest.raises(MigrationError) as raised:
        engine.inspect()
    assert raised.value.phase == "preflight"
    assert "row-level security is enabled on public.secrets" in str(raised.value) and "BYPASSRLS" in str(raised.value)


def test_a_sequence_behind_on_the_target_is_a_mismatch(coverage_source, tmp_path):
    engine = engine_for(coverage_source, tmp_path, force=True, database="coverage")
    runbook.migrate(engine)
    coverage_source[1].psql("SELECT setval('ticket_numbers', 1000);", database="coverage")
    report = runbook.compare(engine, "count")["report"]
    assert "sequence public.ticket_numbers: at 4242 on the source, 1000 on the target" in report["mismatches"]


def test_an_icu_database_is_created_with_its_provider_and_locale(servers, tmp_path):
    source, target = servers
    source.psql("DROP DATABASE IF EXISTS icu_db;")
    source.psql("CREATE DATABASE icu_db TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LOCALE 'C.UTF-8';")
    source.psql("CREATE TABLE words (w text); INSERT INTO words VALUES ('a'), ('B');", database="icu_db")
    result = runbook.migrate(engine_for(servers, tmp_path, force=True, database="icu_db"))
    assert not result["failed"], result["msg"]
    assert target.psql("SELECT datlocprovider, daticulocale FROM pg_database WHERE datname = 'icu_db';").stdout.strip() == "i|de-DE"


def test_no_password_ever_appears_in_the_process_list(servers, tmp_path):
    source = servers[0]
    password = "Sekr1t-%s" % os.urandom(6).hex()
    raw_dsn = "host=%s port=%d user=postgres password=%s dbname=shop" % (source.socket_dir, source.port, password)
    secrets = credentials.source_secrets([{"name": "shop", "source": {"dsn": raw_dsn}}], "shop", {"dsn": raw_dsn})
    engine = engine_for(servers, tmp_path, force=True)
    engine.source = LocalDsn(secrets["dsn"], secrets["password"], user="postgres")
    seen, done = [], threading.Event()

    def sample():
        while not done.is_set():
            seen.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False).stdout)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = runbook.migrate(engine)
    finally:
        done.set()
        sampler.join()
    assert not result["failed"], result["msg"]
    assert len(seen) > 10 and any("psql" in listing for listing in seen), "the sampler saw no client program"
    assert not [listing for listing in seen if password in listing]


def test_the_schema_dump_is_private_and_removed_when_the_copy_fails(servers, tmp_path, monkeypatch):
    engine = engine_for(servers, tmp_path, force=True)
    modes = []

    def fail_copy(transport, parts, snapshot):
        modes.append(os.stat(engine.schema_path).st_mode & 0o777)
        raise SideError("target pod: psql failed (rc=2): connection lost")

    monkeypatch.setattr(engine, "copy_table", fail_copy)
    monkeypatch.setattr(engine, "copy_tables_together", fail_copy)
    with pytest.raises(MigrationError):
        runbook.migrate(engine)
    assert modes and modes[0] == 0o600
    assert not os.path.exists(engine.schema_path)


HOSTILE_DATABASE = "we\"ird db; $(touch /tmp/stateshift-pwned) =x'q"
HOSTILE_TABLE = '"My ""Schema""; --"."line\nbreak $(id)"'
HOSTILE_COLUMNS = ['id; DROP TABLE x', "Quote's \"col\"", "a b"]
HOSTILE_SQL = "\n".join((
    'CREATE SCHEMA "My ""Schema""; --";',
    "CREATE TABLE {t} ({c[0]} serial PRIMARY KEY, {c[1]} text, {c[2]} double precision);",
    "INSERT INTO {t} ({c[1]}, {c[2]}) SELECT E'v\\t' || g || E'\\n''x', g / 3.0 FROM generate_series(1, 50) g;",
    'CREATE INDEX "idx ""x""" ON {t} ({c[2]});',
)).format(t=HOSTILE_TABLE, c=['"%s"' % name.replace('"', '""') for name in HOSTILE_COLUMNS])


def test_hostile_database_schema_table_and_column_names_are_copied_and_verified(servers, tmp_path):
    source, target = servers
    quoted = '"%s"' % HOSTILE_DATABASE.replace('"', '""')
    source.psql("DROP DATABASE IF EXISTS %s;" % quoted)
    source.psql("CREATE DATABASE %s;" % quoted)
    source.psql(HOSTILE_SQL, database="dbname='%s'" % HOSTILE_DATABASE.replace("'", "\\'"))
    result = runbook.migrate(engine_for(servers, tmp_path, force=True, database=HOSTILE_DATABASE))
    assert not result["failed"], result["msg"]
    assert result["report"]["level"] == "checksum" and result["report"]["totals"]["rows_target"] == 50
    assert not os.path.exists("/tmp/stateshift-pwned")
    assert target.psql("SELECT count(*) FROM %s;" % HOSTILE_TABLE,
                       database="dbname='%s'" % HOSTILE_DATABASE.replace("'", "\\'")).stdout.strip() == "50"


def test_the_job_reaches_the_target_by_its_service_ip_not_by_a_dns_lookup(servers, tmp_path):
    engine = engine_for(servers, tmp_path)
    _source_side, target_side = engine.job_sides(engine.cluster, "shop-migration-x", ("192.0.2.5", 5432))
    assert target_side.host == "10.43.7.9"
    assert "PGHOST=10.43.7.9 " in engine.reach_script([("192.0.2.5", 5432)])


PARTS_SQL = """
CREATE TABLE public.events (id serial PRIMARY KEY, payload text NOT NULL);
INSERT INTO events (payload) SELECT repeat(md5(g::text), 3) FROM generate_series(1, 40000) g;
CREATE TABLE public.event_notes (event_id int REFERENCES public.events (id), note text);
INSERT INTO event_notes SELECT g, 'note ' || g FROM generate_series(1, 40000, 100) g;
"""


@pytest.fixture
def parts_source(servers):
    source, target = servers
    for server in (source, target):
        server.psql("DROP DATABASE IF EXISTS parts;")
    source.psql("CREATE DATABASE parts;")
    source.psql(PARTS_SQL, database="parts")
    return servers


def interrupt_after(engine, monkeypatch, parts_in):
    """engine.copy_table fails once ``parts_in`` parts committed; returns the keys of the parts copy_table was given."""
    given, copy_table = [], engine.copy_table

    def copy_some(transport, part, snapshot):
        given.append(part["key"])
        if len(given) > parts_in:
            raise SideError("target pod: psql failed (rc=2): connection lost")
        copy_table(transport, part, snapshot)

    monkeypatch.setattr(engine, "copy_table", copy_some)
    return given


def parts_engine(parts_source, tmp_path):
    """The engine for the database 'parts', its tables copied in parts of 1 MiB, one at a time."""
    return engine_for(parts_source, tmp_path, database="parts", table_part_mib=1, jobs=1, backup=False)


def interrupted(parts_source, tmp_path, monkeypatch, parts_in):
    """A first run stopped once ``parts_in`` parts committed; returns its engine."""
    first = parts_engine(parts_source, tmp_path)
    interrupt_after(first, monkeypatch, parts_in)
    with pytest.raises(MigrationError):
        runbook.migrate(first)
    return first


def test_an_interrupted_copy_in_parts_resumes_with_the_parts_not_in(parts_source, tmp_path, monkeypatch):
    _source, target = parts_source
    record = interrupted(parts_source, tmp_path, monkeypatch, 2).recorded_parts()
    events = [row for row in record["parts"] if row["table"] == "public.events"]
    assert len(events) >= 4 and events[-1]["end_block"] is None, "a large table is copied in ranges, the last one open"
    assert [row["done"] for row in record["parts"]].count(True) == 2

    second = parts_engine(parts_source, tmp_path)
    given = interrupt_after(second, monkeypatch, 1000)
    result = runbook.migrate(second)
    assert not result["failed"], result["msg"]
    assert len(given) == len(record["parts"]) - 2
    assert "resumed an interrupted copy: 2 of %d parts were in, %d copied" % (len(record["parts"]), len(given)) in result["report"]["notes"]
    on_target = target.psql("SELECT count(*), count(DISTINCT id), to_regnamespace('_stateshift_copy') IS NULL FROM events;",
                            database="parts").stdout.strip()
    assert on_target == "40000|40000|t", "every row once; the record is dropped"


def test_a_resumed_table_the_source_changed_since_is_copied_again(parts_source, tmp_path, monkeypatch):
    source, target = parts_source
    interrupted(parts_source, tmp_path, monkeypatch, 1)
    # the first part (its pages hold id 1) is in; the source changes it afterwards
    source.psql("UPDATE events SET payload = 'changed after the interruption' WHERE id = 1;", database="parts")
    result = runbook.migrate(parts_engine(parts_source, tmp_path))
    assert not result["failed"], result["msg"]
    assert "recopy" in result["report"]["timings"]
    assert target.psql("SELECT payload FROM events WHERE id = 1;", database="parts").stdout.strip() == "changed after the interruption"
    assert target.psql("SELECT count(*) FROM events;", database="parts").stdout.strip() == "40000"


def test_a_source_schema_named_like_the_copy_record_is_refused_before_any_write(parts_source, tmp_path):
    source, target = parts_source
    source.psql("CREATE SCHEMA _stateshift_copy;", database="parts")
    with pytest.raises(MigrationError) as raised:
        runbook.migrate(parts_engine(parts_source, tmp_path))
    assert raised.value.phase == "preflight" and "rename that schema on the source first" in str(raised.value)
    assert target.psql("SELECT count(*) FROM pg_database WHERE datname = 'parts';").stdout.strip() == "0"


BATCH_SCHEMA = '"b\\s ""q"""'
BATCH_TABLE = BATCH_SCHEMA + '."t\\.1"'
BATCH_SQL = "\n".join((
    "CREATE SCHEMA %s;" % BATCH_SCHEMA,
    "CREATE TABLE %s (id int PRIMARY KEY, body text);" % BATCH_TABLE,
    r"INSERT INTO %s SELECT g, E'\\.\nline ' || g || E'\\N\t''' FROM generate_series(1, 300) g;" % BATCH_TABLE,
    "CREATE TABLE empty_one (id int);",
    "CREATE TABLE plain (id int, note text);",
    "INSERT INTO plain SELECT g, NULL FROM generate_series(1, 50) g;",
))


@pytest.fixture()
def batch_source(servers):
    source, _target = servers
    source.psql("DROP DATABASE IF EXISTS batchy;")
    source.psql("CREATE DATABASE batchy;")
    source.psql(BATCH_SQL, database="batchy")
    yield servers
    source.psql("DROP DATABASE batchy WITH (FORCE);")


def test_small_tables_are_copied_together_in_one_stream_and_verified(batch_source, tmp_path, monkeypatch):
    _source, target = batch_source
    streams = []
    pipe = StreamTransport.pipe

    def counted(self, source_cmd, target_cmd, *args, **kwargs):
        if any("TO STDOUT" in str(word) for word in source_cmd[1]):
            streams.append(source_cmd)
        return pipe(self, source_cmd, target_cmd, *args, **kwargs)

    monkeypatch.setattr(StreamTransport, "pipe", counted)
    result = runbook.migrate(engine_for(batch_source, tmp_path, force=True, database="batchy", jobs=1))
    assert not result["failed"], result["msg"]
    assert result["report"]["level"] == "checksum" and result["report"]["totals"]["rows_target"] == 350
    assert len(streams) == 1, "three small tables, one job: one stream"
    body = target.psql("SELECT body FROM %s WHERE id = 7;" % BATCH_TABLE, database="batchy").stdout
    assert body == "\\.\nline 7\\N\t'\n", "a row that reads like the end of a COPY is data"
    assert target.psql("SELECT count(*) FROM pg_namespace WHERE nspname = '_stateshift_copy';", database="batchy").stdout.strip() == "0"


def test_a_batch_with_a_table_already_in_is_copied_table_by_table(batch_source, tmp_path, monkeypatch):
    """Another run committing one of the batch's tables first makes the batch's claim fail (ALREADY_IN, as the claim
    test of test_postgresql_parts shows against a real server); here the first batch fails so, and each table is then
    copied alone."""
    streams, pipe = [], StreamTransport.pipe

    def first_batch_already_in(self, source_cmd, target_cmd, *args, **kwargs):
        copies = sum("TO STDOUT" in str(word) for word in source_cmd[1])
        if copies:
            streams.append(copies)
        if copies > 1 and streams.count(copies) == 1:
            raise SideError("target pod: psql failed (rc=3): ERROR:  %s" % postgresql_parts.ALREADY_IN)
        return pipe(self, source_cmd, target_cmd, *args, **kwargs)

    monkeypatch.setattr(StreamTransport, "pipe", first_batch_already_in)
    result = runbook.migrate(engine_for(batch_source, tmp_path, force=True, database="batchy", jobs=1))
    assert not result["failed"], result["msg"]
    assert streams == [3, 1, 1, 1]
    assert result["report"]["totals"]["rows_target"] == 350


def test_the_target_session_ends_for_the_copy_only_when_several_streams_run(servers, tmp_path):
    engine = engine_for(servers, tmp_path)
    engine.target_script("SELECT 1;", "postgres")
    with engine.quiet(1):
        assert engine.sessions.run(engine.target, "postgres", "SELECT pg_backend_pid();") == \
            engine.sessions.run(engine.target, "postgres", "SELECT pg_backend_pid();"), "one session, kept"
    with engine.quiet(2):
        assert engine.sessions.run(engine.target, "postgres", "SELECT pg_backend_pid();") != \
            engine.sessions.run(engine.target, "postgres", "SELECT pg_backend_pid();"), "one-shot psql meanwhile"
    engine.close()
