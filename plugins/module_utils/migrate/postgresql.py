# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL engine of a migration (interface.py): the source through its side, the target in its primary pod.

Snapshot: an exported snapshot (pg_export_snapshot) held open by one source session. Backup: pg_dump -Fc.
Every session that reads or writes rows runs with row_security = off (all rows or an error) and extra_float_digits = 3;
a source role that row security would apply to is refused in preflight. The target database gets the source's
encoding, locale and locale provider (libc, ICU), or preflight refuses naming the image to use.
Copy: roles and memberships read as JSON and generated as SQL (pg/globals.py), CREATE DATABASE like the source's, pg_dump's
pre-data, each table TRUNCATE + COPY FREEZE in one transaction committed only after a clean source end (a large
table: ranges of its pages, each a plain COPY in its own transaction; postgresql_parts.py), setval, then pg_restore's
post-data and ANALYZE in parallel. Restore tuning is ALTER SYSTEM + reload.
"""

from __future__ import annotations

import contextlib
import shlex

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import postgresql_parts, postgresql_snapshot, progress
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.background import Background
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.interface import Engine, Plan
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.postgresql_job import JobSides
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.psql_session import Sessions
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.safe_names import safe_name
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import (
    LONG,
    QUICK,
    PodSide,
    SideError,
    run,
    run_script,
)
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.target_pod import leader_pod
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.transport import StreamTransport
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import globals as pg_globals
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import psql, sql
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import verify as pg_verify


class PostgresEngine(postgresql_parts.CopyInParts, JobSides, Engine):
    name = "postgresql"

    def __init__(self, ctx, source, cluster):
        super().__init__(ctx, source, cluster)
        self._target = PodSide(cluster, leader_pod(cluster, ctx), ctx.objects["container"], ctx.auth_user)
        self._target_host = None
        self.restore_settings = dict(ctx.options.restore_settings or sql.RESTORE_SETTINGS)
        self.schema_path = "/tmp/stateshift-%s-schema.dump" % safe_name(ctx.database)
        self._schema_removed = False
        self.long = ctx.options.timeout or LONG  # the deadline of a step that reads or writes all the data
        self.source_version_num = 0  # known after inspect(): where the copy's progress is read

    @property
    def target(self):
        return self._target

    # -- psql on either side -------------------------------------------------------------------------

    @property
    def sessions(self):
        """The task's psql sessions, shared by the engines of its databases (closed by close())."""
        if "psql_sessions" not in self.shared:
            self.shared["psql_sessions"] = Sessions(one_shot_psql, psql.FLAGS)
        return self.shared["psql_sessions"]

    def close(self):
        sessions = self.shared.pop("psql_sessions", None)
        if sessions is not None:
            sessions.close()

    def quiet(self, streams):
        return self.sessions.paused(self.target) if streams > 1 else contextlib.nullcontext()

    def source_psql(self, script, database=None, timeout=QUICK):
        return self.sessions.run(self.source, database or self.ctx.database, script, timeout)

    def source_json(self, query, snapshot=None, database=None, what="the source"):
        script = "".join("%s;\n" % s for s in sql.snapshot_statements(snapshot)) + query.strip().rstrip(";") + ";\nCOMMIT;\n"
        return sql.parse_json(self.source_psql(script, database), what)

    def target_json(self, query, database, what="the target"):
        return sql.parse_json(self.sessions.run(self.target, database, query), what)

    def target_script(self, script, database, timeout=QUICK):
        return self.sessions.run(self.target, database, script, timeout)

    # -- 1. preflight --------------------------------------------------------------------------------

    def inspect(self):
        # the target's session starts while the source's answers (the query below reports a failure)
        warming = Background(self.target_script, "SELECT 1;", "postgres").begin()
        facts = self._source_facts()
        self.source_version_num = facts["version_num"]
        self._refuse_unreadable(facts)
        source_major = facts["version_num"] // 10000
        checking_tools = Background(self._check_source_tools, source_major).begin()  # while the tables and the target are read
        try:
            plan = self._inspect_with(facts, warming)
        finally:
            checking_tools.join()
        checking_tools.result()
        return plan

    def _inspect_with(self, facts, warming):
        ctx = self.ctx
        tables = self.source_json(sql.TABLES_SQL, what="the table list")
        for table in tables:
            table["key"] = "%s.%s" % (table["schema"], table["name"])
        if facts["copy_record_schema"]:
            raise MigrationError("%s: the source has a schema named %s, the name this migration keeps its record of copied "
                                 "parts under in the target database; rename that schema on the source first"
                                 % (ctx.label, postgresql_parts.SCHEMA), "preflight")
        warming.join()
        try:
            server = self.target_json(sql.TARGET_SERVER_SQL.format(
                name=sql.quote_literal(ctx.database), provider=sql.quote_literal(facts["locale_provider"]),
                icu_locale=sql.quote_literal(facts["icu_locale"] or ""), collate=sql.quote_literal(facts["collate"])), "postgres")
        except SideError as exc:
            raise MigrationError("%s (run the databases phase first and wait for the pod to be Ready)" % exc, "preflight") from None
        source_major, target_major = facts["version_num"] // 10000, server["version_num"] // 10000
        if source_major > target_major:
            raise MigrationError(ctx.field_problem(
                "version", ctx.version, "the source runs PostgreSQL %d but the target runs %d: a migration to an older major "
                "version is not possible" % (source_major, target_major),
                "Set the workload's version (and image) to %d or newer and re-run the databases phase" % source_major), "preflight")
        self._refuse_unknown_locale(facts, server)
        exists = bool(server["database_exists"])
        if target_major > source_major:
            self.notes.append("the target (PostgreSQL %d) is newer than the source (%d)" % (target_major, source_major))
        content = self.target_json(sql.TARGET_CONTENT_SQL, ctx.database) if exists else {}
        return Plan(tables=tables, source=facts, source_version=facts["version"], target_version=server["version_num"],
                    target_exists=exists, target_fingerprint=content.pop("fingerprint", {}), target_content=content,
                    backup_bytes=facts["data_bytes"])

    def _refuse_unreadable(self, facts):
        """What the copy could not see whole: large objects, rows hidden by row security from this role."""
        label = self.ctx.label
        if facts["large_objects"]:
            raise MigrationError("%s: the source holds %d large objects (pg_largeobject); this engine copies tables only. "
                                 "Move them into bytea columns or migrate this database with pg_dump/pg_restore"
                                 % (label, facts["large_objects"]), "preflight")
        if facts["rls_tables"] and not facts["bypass_rls"]:
            raise MigrationError(self.ctx.field_problem(
                "source.user", self.ctx.source.user, "row-level security is enabled on %s and this role neither is a superuser "
                "nor has BYPASSRLS, so the copy could miss rows" % ", ".join(facts["rls_tables"][:5]),
                "read the source as a superuser or a role with BYPASSRLS (ALTER ROLE ... BYPASSRLS)"), "preflight")

    def _refuse_unknown_locale(self, facts, server):
        if not server["locale_known"]:
            locale = facts["icu_locale"] if facts["locale_provider"] == "i" else facts["collate"]
            provider = {"i": "ICU", "b": "builtin"}.get(facts["locale_provider"], "libc")
            raise MigrationError(self.ctx.field_problem(
                "image", self.ctx.image, "the source database uses the %s locale '%s', which the target server does not have"
                % (provider, locale), "use an image whose server has that locale (a Debian-based postgres image with locales "
                "installed, or ICU for ICU locales) and re-run the databases phase"), "preflight")

    def _source_facts(self):
        try:
            return self.source_json(sql.SOURCE_FACTS_SQL, what="the source facts")
        except SideError as exc:
            databases = psql.databases_if_missing(exc.stderr, self._list_source_databases)
            if databases is None:
                raise MigrationError(str(exc), "preflight") from None
            raise MigrationError(self.ctx.field_problem(
                "source.database", self.ctx.database, "database '%s' does not exist in the source server (the server has: %s)"
                % (psql.missing_database(exc.stderr), ", ".join(databases)), "set it to one of those"), "preflight") from None

    def source_database_names(self):
        return psql.parse_database_list(self._list_source_databases())

    def _list_source_databases(self):
        return self.source_psql(psql.LIST_DATABASES_SQL + ";", "postgres")

    def _check_source_tools(self, source_major):
        for program in ("pg_dump",):
            try:
                version = run(self.source, program, ["--version"], None)
            except SideError as exc:
                raise MigrationError("%s (the migration needs %s on the source side)" % (exc, program), "preflight") from None
            major = psql.tool_major(version)
            if major is not None and major < source_major:
                raise MigrationError(
                    "%s: %s on %s is version %d, older than the source server (%d), and cannot dump it. Install the PostgreSQL %d "
                    "client programs there" % (self.ctx.label, program, self.source.where(), major, source_major, source_major),
                    "preflight")

    # -- 2. snapshot, 3. backup ----------------------------------------------------------------------

    def snapshot(self):
        return postgresql_snapshot.ExportedSnapshot(self.source, self.ctx.database)

    def backup_command(self, snapshot):
        # -Z1: fast zlib; pgbench scale 50 (755 MiB) dumps in 2.4-2.7 s against 3.3-3.5 s at the default level, 2% larger
        return self.source.program_words("pg_dump", ["-Fc", "-Z1", "--snapshot=%s" % snapshot], self.ctx.database)

    # -- 4. restore tuning ---------------------------------------------------------------------------

    def settings(self):
        return self.target_json(sql.auto_conf_sql(self.restore_settings), "postgres", what="postgresql.auto.conf")

    def tune(self):
        self.target_script(sql.tune_sql(self.restore_settings), "postgres")

    def untune(self, before):
        self.target_script(sql.untune_sql(self.restore_settings, before), "postgres")

    # -- 5. copy -------------------------------------------------------------------------------------

    def copy_globals(self):
        source = pg_globals.parse(self.source_psql(pg_globals.READ_SCRIPT))
        existing = self.target_json(sql.ROLE_NAMES_SQL, "postgres")
        roles_sql, per_database, summary = pg_globals.generate(source, existing, keep_privileged=self.ctx.keep_privileged_roles)
        if summary["without_password"]:
            self.notes.append("the source user may not read role passwords (pg_authid): %s were created without a password; "
                              "set them with ALTER ROLE ... PASSWORD" % ", ".join(summary["without_password"]))
        self.target_script(roles_sql, "postgres")
        return (per_database, set(existing) | set(summary["created"])), summary

    def create_database(self, plan, copied_globals):
        """Owned like the source's database (if the target has that role), with its per-database role settings."""
        per_database, roles = copied_globals
        database, facts = self.ctx.database, plan.source
        owner = facts["owner"] if facts["owner"] in roles else self.ctx.auth_user
        self.sessions.close_database(self.target, database)  # DROP ... WITH (FORCE) would end it
        statements = (sql.drop_database_sql(database), sql.create_database_sql(database, owner, facts, plan.target_version))
        self.target_script("%s;\n%s;\n%s" % (*statements, per_database.get(database, "")), "postgres", timeout=self.long)

    def copy_schema(self, snapshot, restore=True):
        # The sections, not --schema-only: only then does the archive refresh materialized views after the data. The source's
        # own pg_dump writes it, whatever the transport (the few bytes then pass the controller): a newer one, the Job's, also
        # writes column options only the source's build knows (Debian's 15 keeps pg_attver), which the target refuses.
        # The archive is kept in the target's own pod, so the schema and the indexes never wait for the Job's pod.
        # The pre-data is restored by the same exec that writes the archive.
        dump = ["-Fc", "--section=pre-data", "--section=post-data", "--snapshot=%s" % snapshot]
        target = self.target
        write = "umask 077 && cat > %s" % shlex.quote(self.schema_path)
        if restore:
            write += " && " + target.shell("pg_restore", ["--section=pre-data", "--single-transaction", "--exit-on-error",
                                                          self.schema_path], self.ctx.database)
        self._schema_removed = False
        StreamTransport(self.source, target, self.long).pipe(("pg_dump", dump, self.ctx.database), ("sh", ["-c", write], None))

    def remove_temporary(self):
        if not self._schema_removed:  # build_indexes removes it when it succeeds
            run(self.target, "rm", ["-f", self.schema_path], None, timeout=60)

    def copy_progress(self):
        if self.source_version_num >= progress.SOURCE_PROGRESS_MIN_VERSION:
            return progress.by_table_key(self.source_json(progress.SOURCE_PROGRESS_COPY_SQL, what="copy progress"))
        return self.target_json(progress.PROGRESS_COPY_SQL, self.ctx.database, what="copy progress")

    # -- 6. sequences, indexes -----------------------------------------------------------------------

    def copy_sequences(self, snapshot):
        sequences = self.source_json(sql.SEQUENCE_VALUES_SQL, snapshot=snapshot, what="the sequences")
        if sequences:
            self.target_script(sql.setval_sql(sequences), self.ctx.database)

    def build_indexes(self):
        jobs, target, database = str(self.ctx.jobs), self.target, self.ctx.database
        run_script(target, "\n".join((
            target.shell("pg_restore", ["--section=post-data", "-j", jobs, "--exit-on-error", self.schema_path], database),
            target.shell("vacuumdb", ["--analyze-only", "-j", jobs, "-q"], database),
            target.shell("rm", ["-f", self.schema_path], None))), "pg_restore --section=post-data, vacuumdb --analyze-only",
            timeout=self.long)
        self._schema_removed = True

    # -- 7. verification -----------------------------------------------------------------------------

    def verify_source(self, level, snapshot):
        script = pg_verify.side_script(level, snapshot)
        return pg_verify.parse_side(self.source_psql(script, timeout=self.long))

    def verify_target(self, level):
        script = pg_verify.side_script(level, sequences=True, fingerprint=True)
        return pg_verify.parse_side(self.target_script(script, self.ctx.database, timeout=self.long))

    def compare(self, source_half, target_half, level):
        findings = pg_verify.sequence_findings(target_half.pop("sequences", []))
        report = pg_verify.compare(source_half, target_half, findings, level)
        if target_half.get("fingerprint"):
            report["fingerprint"] = target_half["fingerprint"]
        return report

    def fingerprint(self):
        return self.target_json(sql.FINGERPRINT_SQL, self.ctx.database, what="the target's fingerprint")["fingerprint"]

    def markdown(self, report, title):
        return pg_verify.markdown(report, title)


def one_shot_psql(side, database, script, timeout):
    """psql started for one script (a session busy in another thread)."""
    return run(side, "psql", psql.FLAGS, database, stdin=script.encode(), timeout=timeout)
