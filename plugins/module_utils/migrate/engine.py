# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL migration engine: one source database into the workload's StatefulSet primary.

Order of work (nothing is written before step 4):
 1. preflight, read-only: the source answers and has pg_dump, the database exists, the target pod
    answers, no downgrade, the target database is empty (or ours from an interrupted run, or force),
    the backup fits on its disk;
 2. an exported snapshot on the source, used by the backup, the copy and the verification, so all
    three see the same data even while the source keeps taking writes;
 3. the backup (pg_dump -Fc) on the source host, with its sha256;
 4. the marker ConfigMap says "copying": a re-run after any interruption knows the target is ours;
 5. restore tuning, globals (filtered), a fresh database, schema before data, the tables in parallel
    (each one TRUNCATE + COPY in one transaction, committed only after a clean source end), sequences,
    indexes and constraints in parallel, ANALYZE; the tuning is undone whatever happens;
 6. verification against the snapshot; the marker says "verified" only if it passed.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import os
import posixpath
import re
import shlex
import subprocess
import tempfile
import threading
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import sides, worker
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import (
    PROGRESS_COPY_SQL,
    CopyProgress,
    Ticker,
    human_bytes,
    human_seconds,
)
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.transport import JobTransport, StreamTransport
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import globals as pg_globals
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import inventory as pg_inventory
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import sql
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import verify as pg_verify

PSQL = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
MARKER_COPYING, MARKER_VERIFIED = "copying", "verified"
DEFAULT_BACKUP_DIR = "/var/backups/stateshift"
BACKUP_DISK_MARGIN = 1.1


class MigrationError(Exception):
    """The migration stopped; ``phase`` says where and the message what to do. The source is unchanged."""

    def __init__(self, message, phase):
        super().__init__(message)
        self.phase = phase


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SnapshotHolder:
    """A source session that exports a snapshot and keeps it alive until closed."""

    def __init__(self, side, database):
        self.side, self.database, self.process, self.snapshot = side, database, None, None

    def __enter__(self):
        self.process = sides.spawn(self.side.argv("psql", PSQL, self.database), env=self.side.env())
        self.process.stdin.write(self.side.stdin_prefix()
                                 + b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline().decode().strip()
        if not line:
            self.process.stdin.close()
            stderr = self.process.stderr.read().decode("utf-8", "replace")
            raise sides.SideError(sides.describe(self.side, "psql", self.process.wait(), stderr))
        self.snapshot = line
        return self

    def __exit__(self, *exc):
        try:
            self.process.stdin.write(b"COMMIT;\n")
            self.process.stdin.close()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            for pipe in (self.process.stdout, self.process.stderr):
                pipe.close()
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        return False


class Migration:
    """req: the module's arguments (see plugins/modules/pg_migrate.py); emit(line): progress output."""

    def __init__(self, req, emit=None, ssh=None):
        self.req, self.emit = req, emit or (lambda line: None)
        self.database = req["database"]
        self.app = "%s-postgresql" % req["workload"]
        self.label = "%s/%s" % (req["workload"], self.database)
        self.kubectl = sides.Kubectl(req["namespace"], {"kubeconfig": req.get("kubeconfig"), "context": req.get("context")},
                                     req.get("kubectl_bin") or "kubectl")
        source = req["source"]
        if source.get("dsn"):
            self.source = sides.LocalDsn(source["dsn"], source.get("password"))
        else:
            self.source = sides.DockerOverSsh(ssh, source["container"], source.get("user") or "postgres",
                                              source.get("password"), source.get("docker_bin") or "docker")
        self.target = sides.PodSide(self.kubectl, "%s-0" % self.app, "postgresql", req["target_user"])
        self.worker_pod = None
        self.notes = []
        self.timings = {}

    # -- queries ---------------------------------------------------------------------------------------

    def source_json(self, query, database=None, snapshot=None, what="the source"):
        script = "".join("%s;\n" % s for s in sql.snapshot_statements(snapshot)) + query.strip().rstrip(";") + ";\nCOMMIT;\n"
        return sql.parse_json(sides.run(self.source, "psql", PSQL, database or self.database, stdin=script.encode()), what)

    def target_json(self, query, database, what="the target"):
        return sql.parse_json(sides.run(self.target, "psql", PSQL, database, stdin=query.encode()), what)

    def target_script(self, script, database, timeout=None):
        return sides.run(self.target, "psql", PSQL, database, stdin=script.encode(), timeout=timeout)

    # -- marker ----------------------------------------------------------------------------------------

    def marker_name(self):
        return "%s-migration" % self.app

    def read_marker(self):
        completed = sides.run_process(self.kubectl("get", "configmap", self.marker_name(), "-o", "json", "--ignore-not-found"))
        if completed.returncode != 0:
            raise sides.SideError("cannot read the migration marker: %s" % sides.tail(completed.stderr.decode()))
        if not completed.stdout.strip():
            return {}
        data = json.loads(completed.stdout).get("data") or {}
        return json.loads(data[self.database]) if self.database in data else {}

    def write_marker(self, state, **fields):
        record = dict(fields, state=state, updated=utc_now())
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": self.marker_name(),
                             "labels": {"app.kubernetes.io/managed-by": "stateshift", worker.LABEL: self.app}},
                "data": {self.database: json.dumps(record, sort_keys=True)}}
        worker.kubectl_run(self.kubectl, ["apply", "--server-side", "--force-conflicts",
                                          "--field-manager=stateshift-migrate-%s" % self.database.replace("_", "-").lower(),
                                          "-f", "-"], stdin=json.dumps(body).encode())
        return record

    # -- preflight -------------------------------------------------------------------------------------

    def preflight(self):
        req = self.req
        try:
            facts = self.source_json(sql.SOURCE_FACTS_SQL, what="the source facts")
        except sides.SideError as exc:
            raise MigrationError(self._explain_missing_database(str(exc)), "preflight") from None
        if facts["large_objects"]:
            raise MigrationError("%s: the source holds %d large objects (pg_largeobject); this engine copies tables only. "
                                 "Move them into bytea columns or migrate this database with pg_dump/pg_restore"
                                 % (self.label, facts["large_objects"]), "preflight")
        tables = self.source_json(sql.TABLES_SQL, what="the table list")
        try:
            server = self.target_json(sql.TARGET_SERVER_SQL.format(name=sql.quote_literal(self.database)), "postgres")
        except sides.SideError as exc:
            raise MigrationError("%s (run the databases phase first and wait for the pod to be Ready)" % exc, "preflight") from None
        target_version, exists = server["version_num"], server["database_exists"]
        source_major, target_major = facts["version_num"] // 10000, target_version // 10000
        if source_major > target_major:
            raise MigrationError(
                "%s: the source runs PostgreSQL %d but the target runs %d: a migration to an older major version is "
                "not possible. Set the workload's version (and image) to %d or newer and re-run the databases phase"
                % (self.label, source_major, target_major, source_major), "preflight")
        self._check_source_tools(source_major)
        marker = self.read_marker()
        content = self.target_json(sql.TARGET_CONTENT_SQL, self.database) if exists else {}
        non_empty = {k: v for k, v in content.items() if v}
        plan = {"source": facts, "tables": tables, "target_version_num": target_version, "marker": marker,
                "target_exists": bool(exists), "target_content": content, "source_major": source_major,
                "target_major": target_major}
        if non_empty and marker.get("state") not in (MARKER_COPYING, MARKER_VERIFIED) and not req.get("force"):
            found = ", ".join("%s %s" % (v, k) for k, v in sorted(non_empty.items()))
            raise MigrationError(
                "%s: the target database '%s' in pod %s/%s is not empty (%s) and no stateshift migration wrote it. "
                "Refusing to overwrite it: check what it holds, then set migration.force: true to replace its contents"
                % (self.label, self.database, req["namespace"], self.target.pod, found), "preflight")
        if req.get("backup", {}).get("enabled", True):
            plan["backup_free_bytes"] = self._check_backup_disk(facts["data_bytes"])
        if target_major > source_major:
            self.notes.append("the target (PostgreSQL %d) is newer than the source (%d)" % (target_major, source_major))
        return plan

    def _explain_missing_database(self, message):
        if "does not exist in the source server" not in message or not isinstance(self.source, sides.DockerOverSsh):
            return message
        try:
            listed = sides.run(self.source, "psql", PSQL, "postgres", stdin=(pg_inventory.LIST_DATABASES_SQL + ";").encode())
        except sides.SideError:
            return message
        return message.replace("(the server has: unknown)", "(the server has: %s)" % ", ".join(pg_inventory.parse_database_list(listed)))

    def _check_source_tools(self, source_major):
        for program in ("pg_dump", "pg_dumpall"):
            try:
                version = sides.run(self.source, program, ["--version"], None)
            except sides.SideError as exc:
                raise MigrationError("%s (the migration needs %s on the source side)" % (exc, program), "preflight") from None
            major = tool_major(version)
            if major is not None and major < source_major:
                raise MigrationError(
                    "%s: %s on %s is version %d, older than the source server (%d), and cannot dump it. Install the "
                    "PostgreSQL %d client programs there" % (self.label, program, self._where(), major, source_major, source_major),
                    "preflight")

    def progress_interval(self):
        return float(self.req.get("progress_interval") or 5)

    def backup_dir(self):
        base = self.req.get("backup", {}).get("dir") or DEFAULT_BACKUP_DIR
        return posixpath.join(base, self.req["workload"])

    def _check_backup_disk(self, data_bytes):
        script = ('d=%s; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d" | tail -n 1'
                  % shlex.quote(self.backup_dir()))
        free = self._host_output(script).split()
        available = int(free[3]) * 1024
        needed = int(data_bytes * BACKUP_DISK_MARGIN)
        if available < needed:
            message = ("%s: not enough disk for the backup in %s on %s: %s free, the dump can take up to %s. Free space there "
                       "or set backup.dir to a larger filesystem")
            raise MigrationError(message % (self.label, self.backup_dir(), self._where(), human_bytes(available), human_bytes(needed)),
                                 "preflight")
        return available

    def _where(self):
        if isinstance(self.source, sides.DockerOverSsh) and self.source.ssh:
            return self.source.ssh.where()
        return "the controller"

    def _host_output(self, script, stdin=b""):
        argv = self.source.host_script(script)
        completed = sides.run_process(argv, self.source.stdin_prefix() + stdin, env=self.source.env())
        if completed.returncode != 0:
            raise sides.SideError(sides.describe(self.source, "sh", completed.returncode, completed.stderr.decode("utf-8", "replace")))
        return completed.stdout.decode("utf-8", "replace")

    # -- transport -------------------------------------------------------------------------------------

    def address_candidates(self):
        explicit = self.req["source"].get("address")
        if explicit:
            host, _sep, port = str(explicit).rpartition(":") if ":" in str(explicit) else (str(explicit), "", "5432")
            return [(host, int(port or 5432))]
        if isinstance(self.source, sides.LocalDsn):
            return []
        container = shlex.quote(self.source.container)
        docker = shlex.quote(self.source.docker_bin)
        out = self._host_output("%s port %s 5432/tcp 2>/dev/null || true; echo ---; "
                                "%s inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' %s"
                                % (docker, container, docker, container))
        published, _sep, addresses = out.partition("---")
        candidates = []
        ssh_host = self.source.ssh.host if self.source.ssh else None
        for line in published.split():
            host, _sep, port = line.rpartition(":")
            host = host.strip("[]")
            if host in ("0.0.0.0", "::") and ssh_host and not ssh_host.startswith("127."):
                candidates.append((ssh_host, int(port)))
            elif host not in ("0.0.0.0", "::") and not host.startswith("127.") and host != "::1":
                candidates.append((host, int(port)))
        candidates += [(ip, 5432) for ip in addresses.split()]
        return candidates

    def source_password_for_cluster(self):
        password = self.req["source"].get("password")
        if password or isinstance(self.source, sides.LocalDsn):
            return password
        env = self._host_output("%s inspect -f '{{range .Config.Env}}{{println .}}{{end}}' %s"
                                % (shlex.quote(self.source.docker_bin), shlex.quote(self.source.container)))
        for line in env.splitlines():
            if line.startswith("POSTGRES_PASSWORD="):
                return line.split("=", 1)[1]
        return None

    def choose_transport(self):
        wanted = self.req.get("transport") or "auto"
        if wanted == "stream":
            return self._stream("set by migration.transport")
        candidates = self.address_candidates()
        password = self.source_password_for_cluster() if candidates else None
        reason = None
        if not candidates:
            reason = "no address at which the cluster could reach the source (set source.address)"
        elif not password:
            reason = "no source password to give the in-cluster Job (set source.password)"
        else:
            manifest = worker.manifests(self.app, self.req["target_image"], password, self.req["target_secret"],
                                        self.req["target_password_key"], self.req.get("timeout") or 86400)
            self.worker_pod = worker.start(self.kubectl, self.app, manifest)
            found = self._probe_from_worker(candidates)
            if found:
                return self._job(found)
            reason = "the cluster cannot reach the source at %s" % ", ".join("%s:%s" % c for c in candidates)
            self.stop_worker()
        if wanted == "job":
            raise MigrationError("%s: transport 'job' was asked for but %s. Set source.address to an address the "
                                 "cluster's pods can reach, or use transport: stream" % (self.label, reason), "transport")
        return self._stream(reason)

    def _probe_from_worker(self, candidates):
        user = self.req["source"].get("user") or "postgres"
        tries = []
        for host, port in candidates:
            env = "PGHOST=%s PGPORT=%d PGUSER=%s PGPASSWORD=\"$SRC_PASSWORD\" PGCONNECT_TIMEOUT=5" % (
                shlex.quote(host), port, shlex.quote(user))
            tries.append("if env %s psql -X -A -t -d %s -c 'SELECT 1' >/dev/null 2>&1; then echo %s; exit 0; fi"
                         % (env, shlex.quote(self.database), shlex.quote("%s:%d" % (host, port))))
        target_check = ("env PGHOST=%s PGUSER=%s PGPASSWORD=\"$TGT_PASSWORD\" PGCONNECT_TIMEOUT=5 psql -X -A -t -d postgres "
                        "-c 'SELECT 1' >/dev/null || { echo 'the migration pod cannot log in to the target' >&2; exit 3; }"
                        % (shlex.quote(self.app), shlex.quote(self.req["target_user"])))
        argv = self.kubectl("exec", self.worker_pod, "--", "bash", "-c", target_check + "\n" + "\n".join(tries) + "\nexit 1")
        completed = sides.run_process(argv, timeout=120)
        if completed.returncode == 0:
            host, _sep, port = completed.stdout.decode().strip().rpartition(":")
            return host, int(port)
        if completed.returncode == 3:
            self.notes.append(completed.stderr.decode().strip())
        return None

    def _stream(self, reason):
        self.transport_reason = reason
        return StreamTransport(self.source, self.target)

    def _job(self, address):
        self.transport_reason = "the cluster reaches the source at %s:%d" % address
        user = self.req["source"].get("user") or "postgres"
        src = sides.WorkerSide(self.kubectl, self.worker_pod, "SRC", address[0], address[1], user)
        tgt = sides.WorkerSide(self.kubectl, self.worker_pod, "TGT", self.app, 5432, self.req["target_user"])
        return JobTransport(src, tgt)

    def stop_worker(self, wait=True):
        if self.worker_pod:
            worker.remove(self.kubectl, self.app, wait=wait)
            self.worker_pod = None

    # -- backup ----------------------------------------------------------------------------------------

    def backup(self, snapshot):
        name = "%s-%s-%s.dump" % (self.req["workload"], self.database, utc_now().replace(":", ""))
        final = posixpath.join(self.backup_dir(), name)
        # -Z1: fast zlib; pgbench scale 50 (755 MiB) dumps in 2.4-2.7 s against 3.3-3.5 s at the default level, 2% larger
        dump = self.source.program_words("pg_dump", ["-Fc", "-Z1", "--snapshot=%s" % snapshot], self.database)
        script = ("set -eu; umask 077; mkdir -p %(dir)s; tmp=%(final)s.partial; trap 'rm -f \"$tmp\"' EXIT; "
                  "%(dump)s > \"$tmp\"; sha256sum \"$tmp\" | cut -d' ' -f1; wc -c < \"$tmp\"; mv \"$tmp\" %(final)s; trap - EXIT"
                  % {"dir": shlex.quote(self.backup_dir()), "final": shlex.quote(final), "dump": dump})
        started = time.monotonic()

        def report_progress():
            written = int(self._host_output("stat -c %%s %s 2>/dev/null || echo 0" % shlex.quote(final + ".partial")).strip() or 0)
            elapsed = time.monotonic() - started
            figures = (self.label, human_bytes(written), human_bytes(written / elapsed), human_seconds(elapsed))
            self.emit("backup %s: %s written, %s/s, %s elapsed" % figures)

        try:
            with Ticker(self.progress_interval(), report_progress):
                digest, size = self._host_output(script).split()[:2]
        except sides.SideError as exc:
            raise MigrationError("%s: the backup failed, nothing was written to the target: %s" % (self.label, exc), "backup") from None
        return {"path": final, "host": self._where(), "sha256": digest, "bytes": int(size), "format": "custom"}

    # -- copy ------------------------------------------------------------------------------------------

    def apply_globals(self, transport):
        keep = self.req.get("keep_privileged_roles", False)
        try:
            dumped = sides.run(self.source, "pg_dumpall", ["--globals-only", "--no-tablespaces"], self.database)
        except sides.SideError as exc:
            if "permission denied" not in str(exc):
                raise
            dumped = sides.run(self.source, "pg_dumpall", ["--globals-only", "--no-tablespaces", "--no-role-passwords"], self.database)
            self.notes.append("the source user may not read role passwords: roles were created without passwords")
        existing = self.target_json(sql.ROLE_NAMES_SQL, "postgres")
        roles_sql, per_database, summary = pg_globals.filter_globals(dumped, existing, keep_privileged=keep)
        self.target_script(roles_sql, "postgres")
        return per_database, summary, set(existing) | set(summary["created"])

    def recreate_database(self, facts, per_database, roles):
        """A fresh database owned like the source's (if the target has that role), with its per-database role settings."""
        owner = facts["owner"] if facts["owner"] in roles else self.req["target_user"]
        statements = (sql.drop_database_sql(self.database), sql.create_database_sql(self.database, owner, facts))
        script = "%s;\n%s;\n%s" % (*statements, per_database.get(self.database, ""))
        self.target_script(script, "postgres")

    def schema_path(self):
        return "/tmp/stateshift-%s-schema.dump" % self.database

    def copy_schema(self, transport, snapshot):
        # The sections, not --schema-only: only then does the archive refresh materialized views after the data.
        transport.pipe(("pg_dump", ["-Fc", "--section=pre-data", "--section=post-data", "--snapshot=%s" % snapshot], self.database),
                       ("sh", ["-c", "cat > %s" % shlex.quote(self.schema_path())], None))
        sides.run(transport.data_target, "pg_restore",
                  ["--section=pre-data", "--single-transaction", "--exit-on-error", self.schema_path()], self.database)

    def copy_tables(self, transport, tables, snapshot):
        jobs = max(1, int(self.req.get("jobs") or 2))
        for table in tables:
            table["key"] = "%s.%s" % (table["schema"], table["name"])

        def poll():
            return self.target_json(PROGRESS_COPY_SQL, self.database, what="copy progress")

        progress = CopyProgress("copy %s" % self.label, tables, self.emit, poll=poll, interval=self.progress_interval())

        def copy_one(table):
            statements = [*sql.snapshot_statements(snapshot), sql.copy_out_sql(table), "COMMIT"]
            source_args = PSQL + [part for statement in statements for part in ("-c", statement)]
            transport.pipe(("psql", source_args, self.database),
                           ("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1"], self.database),
                           prefix=sql.copy_in_prefix(table), commit=sql.copy_in_commit())
            progress.table_done(table["key"])

        with progress, concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(copy_one, table): table for table in tables}
            try:
                for future in concurrent.futures.as_completed(futures):
                    try:
                        future.result()
                    except Exception as exc:
                        transport.cancel()
                        raise MigrationError("%s: copying table %s failed: %s" % (self.label, futures[future]["key"], exc),
                                             "copy") from None
            except BaseException:
                transport.cancel()
                for future in futures:
                    future.cancel()
                raise
        return progress.line()

    def finish_schema(self, transport, snapshot):
        sequences = self.source_json(sql.SEQUENCE_VALUES_SQL, snapshot=snapshot, what="the sequences")
        if sequences:
            self.target_script(sql.setval_sql(sequences), self.database)
        jobs = str(max(1, int(self.req.get("jobs") or 2)))
        target = transport.data_target
        sides.run_script(target, "\n".join((
            target.shell("pg_restore", ["--section=post-data", "-j", jobs, "--exit-on-error", self.schema_path()], self.database),
            target.shell("vacuumdb", ["--analyze-only", "-j", jobs, "-q"], self.database),
            target.shell("rm", ["-f", self.schema_path()], None))), "pg_restore --section=post-data, vacuumdb --analyze-only")

    # -- verification ----------------------------------------------------------------------------------

    def verification_level(self):
        return self.req.get("verify") or "checksum"

    def verify_source(self, snapshot):
        script = pg_verify.side_script(self.verification_level(), snapshot)
        return pg_verify.parse_side(sides.run(self.source, "psql", PSQL, self.database, stdin=script.encode()))

    def verify_target(self):
        script = pg_verify.side_script(self.verification_level(), sequences=True)
        side = pg_verify.parse_side(sides.run(self.target, "psql", PSQL, self.database, stdin=script.encode()))
        return side, pg_verify.sequence_findings(side.pop("sequences", []))

    def verify(self, snapshot=None, source_side=None):
        """Compare both sides. source_side: a Background already computing the source's half (it reads the
        snapshot, so it can run while the target is still being written)."""
        level = self.verification_level()
        if level == "none":
            return {"ok": True, "level": "none", "mismatches": [], "tables": [], "objects": {}, "sequences": [], "totals": {}}
        source_side = source_side or Background(self.verify_source, snapshot).begin()
        target, sequences = self.verify_target()
        return pg_verify.compare(source_side.result(), target, sequences, level)

    # -- the run ---------------------------------------------------------------------------------------

    def timed(self, phase, fn, *args):
        started = time.monotonic()
        self.emit("%s: %s ..." % (self.label, phase))
        try:
            return fn(*args)
        finally:
            self.timings[phase] = round(time.monotonic() - started, 2)

    def run(self, check_mode=False):
        started, started_at = time.monotonic(), utc_now()
        plan = self.timed("preflight", self.preflight)
        marker = plan["marker"]
        data_bytes = sum(t["size_bytes"] for t in plan["tables"])
        summary = {"tables": len(plan["tables"]), "data_bytes": data_bytes,
                   "source_version": plan["source"]["version"], "target_version_num": plan["target_version_num"]}
        if marker.get("state") == MARKER_VERIFIED and not self.req.get("force"):
            report = self.timed("verify", self.verify)
            return self._result(False, report, marker, started, started_at, summary, already=True)
        if check_mode:
            size = human_bytes(data_bytes)
            before = json.dumps(plan["target_content"], sort_keys=True) if plan["target_exists"] else "absent"
            return {"changed": True, "plan": summary, "marker": marker,
                    "msg": "%s: would copy %d tables (%s) into %s" % (self.label, len(plan["tables"]), size, self.target.label),
                    "diff": {"before": "%s: %s\n" % (self.database, before),
                             "after": "%s: %d tables, %s from the source\n" % (self.database, len(plan["tables"]), size)}}
        transport = None
        # The Job's pod starts while the backup runs: neither waits for the other.
        choosing = Background(self.choose_transport).begin()
        try:
            with SnapshotHolder(self.source, self.database) as holder:
                snapshot = holder.snapshot
                backup = None
                if self.req.get("backup", {}).get("enabled", True):
                    backup = self.timed("backup", self.backup, snapshot)
                    self.emit("%s: backup %s (%s, sha256 %s) on %s" % (self.label, backup["path"], human_bytes(backup["bytes"]),
                                                                       backup["sha256"][:16], backup["host"]))
                transport = self.timed("transport", choosing.result)
                self.emit("%s: transport %s (%s)" % (self.label, transport.name, self.transport_reason))
                settings_before = self.settings_before(marker)
                record = self.write_marker(MARKER_COPYING, started=started_at, backup=backup, transport=transport.name,
                                           settings_before=settings_before)
                source_side = self.copy(transport, plan, snapshot, settings_before)
                report = self.timed("verify", self.verify, snapshot, source_side)
            marker = self.write_marker(MARKER_VERIFIED if report["ok"] else MARKER_COPYING,
                                       started=record["started"], finished=utc_now(), backup=backup, transport=transport.name,
                                       verified=report["ok"], mismatches=len(report["mismatches"]))
        except sides.SideError as exc:
            raise MigrationError("%s: %s" % (self.label, exc), "copy") from None
        finally:
            choosing.join()
            self.stop_worker(wait=False)
        return self._result(True, report, marker, started, started_at, summary, backup=backup, transport=transport.name)

    def settings_before(self, marker):
        """What postgresql.auto.conf held before any run tuned it: an interrupted run recorded it in the marker."""
        if marker.get("state") == MARKER_COPYING and isinstance(marker.get("settings_before"), dict):
            return marker["settings_before"]
        return self.target_json(sql.auto_conf_sql(self.restore_settings()), "postgres", what="postgresql.auto.conf")

    def copy(self, transport, plan, snapshot, previous):
        self.target_script(sql.tune_sql(self.restore_settings()), "postgres")
        try:
            per_database, self.roles_summary, roles = self.timed("globals", self.apply_globals, transport)
            self.timed("database", self.recreate_database, plan["source"], per_database, roles)
            self.timed("schema", self.copy_schema, transport, snapshot)
            # the source's half of the verification reads the snapshot: it runs while the target is written
            source_side = Background(self.verify_source, snapshot).begin() if self.verification_level() != "none" else None
            last = self.timed("data", self.copy_tables, transport, plan["tables"], snapshot)
            self.emit(last)
            self.timed("indexes, constraints, sequences, analyze", self.finish_schema, transport, snapshot)
        finally:
            self.target_script(sql.untune_sql(self.restore_settings(), previous), "postgres")
        return source_side

    def restore_settings(self):
        return self.req.get("restore_settings") or sql.RESTORE_SETTINGS

    def _result(self, changed, report, marker, started, started_at, summary, backup=None, transport=None, already=False):
        duration = round(time.monotonic() - started, 2)
        report.update(workload=self.req["workload"], database=self.database, started=started_at, finished=utc_now(),
                      duration_seconds=duration, source=self.source.label, target=self.target.label,
                      transport=transport or marker.get("transport"), backup=backup or marker.get("backup"),
                      timings=self.timings, notes=self.notes, roles=getattr(self, "roles_summary", None))
        files = write_report(report, self.req.get("report_dir"), "%s-%s" % (self.req["workload"], self.database))
        rate = summary["data_bytes"] / self.timings["data"] if self.timings.get("data") else None
        if already:
            msg = "%s: already migrated (%s); re-verified: %s" % (self.label, marker.get("updated"), "ok" if report["ok"] else "MISMATCH")
        else:
            msg = "%s: copied %d tables (%s) in %s%s via %s; verification %s" % (
                self.label, summary["tables"], human_bytes(summary["data_bytes"]), human_seconds(duration),
                " (%s/s)" % human_bytes(rate) if rate else "", transport, "passed" if report["ok"] else "FAILED")
        if not report["ok"]:
            msg += ": " + "; ".join(report["mismatches"][:5])
        return {"changed": changed, "failed": not report["ok"], "msg": msg, "report": report, "report_files": files,
                "backup": report["backup"], "transport": report["transport"], "summary": summary}


def tool_major(version_output):
    """17 from 'pg_dump (PostgreSQL) 17.2', 15 from '15.20 (Debian 15.20-0+deb12u1)'; None if unreadable."""
    match = re.search(r"(\d+)(?:\.\d+)?", version_output.split(")")[-1] if ")" in version_output else version_output)
    return int(match.group(1)) if match else None


class Background(threading.Thread):
    """A call run in a thread whose result, or exception, is handed to the caller by result()."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.value, self.error = fn, args, None, None

    def begin(self):
        self.start()
        return self

    def run(self):
        try:
            self.value = self.fn(*self.args)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self.error = exc

    def result(self):
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


def write_report(report, directory, stem):
    """Write <stem>.json and <stem>.md (0644, no secrets in a report) and return their paths."""
    if not directory:
        return []
    os.makedirs(directory, exist_ok=True)
    paths = []
    for suffix, text in ((".json", json.dumps(report, indent=2, sort_keys=True) + "\n"),
                         (".md", pg_verify.markdown(report, "Migration of %s" % stem))):
        path = os.path.join(directory, stem + suffix)
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
        paths.append(path)
    return paths
