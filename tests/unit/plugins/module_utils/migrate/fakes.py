"""A fake engine, source and cluster for the migration steps' unit tests: in memory, recording what they are asked."""

from __future__ import annotations

import contextlib
import json
import sys
import types

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.interface import Engine, Plan, whole_table
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import Side, SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sources import SourceSide
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import RunState

DIGEST = "ab" * 32

# A kubectl that keeps ConfigMaps in a JSON file and logs every call: enough for the marker and the Job's removal.
FAKE_KUBECTL = r'''#!%s
import json, os, sys
store, log = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
with open(log, "a") as handle:
    handle.write(json.dumps(args) + "\n")
maps = json.load(open(store)) if os.path.exists(store) else {}
if "get" in args and "configmap" in args:
    name = args[args.index("configmap") + 1]
    print(json.dumps(maps[name]) if name in maps else "")
elif "apply" in args:
    body = json.load(sys.stdin)
    current = maps.setdefault(body["metadata"]["name"], {"metadata": body["metadata"], "data": {}})
    current["data"].update(body["data"])
    json.dump(maps, open(store, "w"))
''' % sys.executable


def workload(**migration):
    return {"name": "shop", "engine": "postgresql", "version": "15", "storage": {"size": "1Gi"},
            "source": {"host": "legacy", "container": "shop-db", "database": "shop", "user": "shop"},
            "migration": dict({"transport": "stream"}, **migration)}


def options(**overrides):
    values = dict(check_mode=False, force=False, report_dir=None, progress_interval=3600.0, timeout=600, restore_settings=None,
                  kubectl_bin="kubectl", connection=types.MappingProxyType({}))
    values.update(overrides)
    return context.RunOptions(**values)


def make_context(migration=None, **option_overrides):
    return context.build(validate_catalog([workload(**(migration or {}))]), "shop", options(**option_overrides))


class FakeCluster:
    """A Kubectl whose kubectl is FAKE_KUBECTL, its state under tmp_path."""

    def __init__(self, tmp_path):
        script = tmp_path / "kubectl"
        script.write_text(FAKE_KUBECTL)
        script.chmod(0o755)
        self.store, self.log = tmp_path / "configmaps.json", tmp_path / "kubectl.log"
        self.kubectl = Kubectl("shop", {}, kubectl_bin=str(script))
        self.kubectl.base[1:1] = [str(self.store), str(self.log)]

    def calls(self):
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def marker(self, database="shop"):
        maps = json.loads(self.store.read_text()) if self.store.exists() else {}
        data = maps.get("shop-postgresql-migration", {}).get("data", {})
        return json.loads(data[database]) if database in data else {}


class FakeSource(SourceSide):
    label = "fake source"

    def __init__(self, free_bytes=10 << 30, backup_fails=False, backups_present=True):
        self.free_bytes, self.backup_fails, self.scripts = free_bytes, backup_fails, []
        self.backups_present = backups_present  # a backup written earlier is still whole on the host
        self.user, self.password, self.address = "shop", None, None

    def host_script(self, script):
        raise AssertionError("host_output is faked")

    def where(self):
        return "legacy (10.0.0.5)"

    def host_output(self, script, stdin=b"", timeout=None):
        self.scripts.append(script)
        if "df -Pk" in script:
            return "/dev/sda1 100 0 %d 0%% /\n" % (self.free_bytes // 1024)
        if "sha256sum" in script:
            if self.backup_fails:
                raise SideError("fake source: pg_dump failed (rc=1): disk full")
            return "%s\n4096\n" % DIGEST
        if script.startswith("stat -c %s") and ".partial" not in script:
            return "4096\n" if self.backups_present else "0\n"
        return "0\n"


class FakeTarget(Side):
    label = "target pod shop/shop-postgresql-0"
    pod = "shop-postgresql-0"


class FakeTransport:
    name = "fake"

    def __init__(self):
        self.cancelled = 0

    def cancel(self):
        self.cancelled += 1


class FakeEngine(Engine):
    """Tables are {'key', 'size_bytes', 'rows_estimate'}; ``fail_table`` fails that table's copy."""

    name = "fake"

    def __init__(self, ctx, cluster, source=None, tables=None, target_content=None, source_rows=None, target_rows=None, fail_table=None,
                 source_databases=None):
        super().__init__(ctx, source or FakeSource(), cluster)
        self.tables = tables if tables is not None else [{"key": "public.a", "size_bytes": 100, "rows_estimate": 2},
                                                         {"key": "public.b", "size_bytes": 50, "rows_estimate": 1}]
        # fail_table: a table, or {database: table} for a task over several databases
        self.fail_tables = fail_table
        self.fail_table = fail_table.get(ctx.database) if isinstance(fail_table, dict) else fail_table
        # target_content: what the target database holds, or {database: that} for a task over several databases
        self.target_contents = target_content or {}
        per_database = bool(self.target_contents) and all(isinstance(v, dict) for v in self.target_contents.values())
        self.target_content = self.target_contents.get(ctx.database, {}) if per_database else self.target_contents
        self.source_databases = source_databases or ["postgres", ctx.database]
        self.source_rows = source_rows or {"public.a": 2, "public.b": 1}
        self.target_rows = dict(target_rows or self.source_rows)
        self.events, self._target = [], FakeTarget()
        self.writes = 7  # the target's fingerprint: a test that writes to the target changes it
        self.record = None

    @property
    def target(self):
        return self._target

    def twin(self, ctx):
        other = FakeEngine(ctx, self.cluster, source=self.source, tables=self.tables, target_content=self.target_contents,
                           source_rows=self.source_rows, target_rows=self.target_rows, fail_table=self.fail_tables,
                           source_databases=self.source_databases)
        other.events = self.events  # one log for the whole task
        return other

    def source_database_names(self):
        return list(self.source_databases)

    def inspect(self):
        self.events.append("inspect")
        return Plan(tables=self.tables, source={"owner": "shop"}, source_version="15.4", target_version=150004,
                    target_exists=bool(self.target_content), target_content=dict(self.target_content), backup_bytes=150,
                    target_fingerprint=self.fingerprint())

    def fingerprint(self):
        return {"writes": self.writes}

    @contextlib.contextmanager
    def snapshot(self):
        self.events.append("snapshot")
        try:
            yield "SNAP-1"
        finally:
            self.events.append("snapshot released")

    def backup_command(self, snapshot):
        return "fake-dump --snapshot=%s" % snapshot

    def settings(self):
        return {"autovacuum": "on"}

    def tune(self):
        self.events.append("tune")

    def untune(self, before):
        self.events.append(("untune", before))

    def copy_globals(self):
        self.events.append("globals")
        return "roles", {"created": ["shop_ro"], "kept_existing": [], "privileges_dropped": []}

    def create_database(self, plan, copied_globals):
        self.events.append(("database", copied_globals))

    def copy_schema(self, snapshot, restore=True):
        self.events.append(("schema", snapshot) if restore else ("schema read", snapshot))

    # The record of parts, as the PostgreSQL engine keeps it in the target database: a part is in once its copy commits.
    def parts_digest(self, tables):
        return "digest of " + ",".join(sorted(table["key"] for table in tables))

    def record_parts(self, digest, parts):
        self.record = {"digest": digest, "parts": [{"table": part["key"], "part": None, "done": False} for part in parts]}

    def recorded_parts(self):
        return json.loads(json.dumps(self.record)) if self.record else None

    def resumed_parts(self, plan, record):
        tables = {table["key"]: table for table in plan.tables}
        return [whole_table(tables[row["table"]]) for row in record["parts"] if not row["done"]]

    def forget_parts(self):
        self.events.append("forget parts")
        self.record = None

    def copy_table(self, transport, part, snapshot):
        if part["key"] == self.fail_table:
            raise SideError("target pod: psql failed (rc=2): connection lost")
        self.events.append(("table", part["key"], snapshot))
        for row in self.record["parts"] if self.record else []:
            if row["table"] == part["key"]:
                row["done"] = True

    def recopy_table(self, transport, table, snapshot):
        self.events.append(("recopy", table["key"], snapshot))
        self.target_rows[table["key"]] = self.source_rows[table["key"]]

    def copy_progress(self):
        return {}

    def copy_sequences(self, snapshot):
        self.events.append(("sequences", snapshot))

    def build_indexes(self):
        self.events.append("indexes")

    def verify_source(self, level, snapshot):
        self.events.append(("verify source", level, snapshot))
        return dict(self.source_rows)

    def verify_target(self, level):
        self.events.append(("verify target", level))
        return dict(self.target_rows)

    def compare(self, source_half, target_half, level):
        mismatches = ["table %s: %s rows on the source, %s on the target" % (key, rows, target_half.get(key))
                      for key, rows in sorted(source_half.items()) if target_half.get(key) != rows]
        tables = [{"table": key, "match": target_half.get(key) == rows} for key, rows in sorted(source_half.items())]
        return {"ok": not mismatches, "level": level, "mismatches": mismatches, "tables": tables, "objects": {},
                "sequences": [], "totals": {"tables": len(source_half), "rows_source": sum(source_half.values())}}

    def markdown(self, report, title):
        return "# %s\n" % title

    def reach_script(self, candidates):
        return "exit 1"

    def job_sides(self, cluster, pod, address):
        raise AssertionError("the fake engine streams")


def run_state(ctx):
    lines = []
    state = RunState(ctx, lines.append)
    state.lines = lines
    return state
