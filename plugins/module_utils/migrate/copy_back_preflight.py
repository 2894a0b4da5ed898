# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The copy-back's preflight, read-only on both sides: everything that could stop it is checked before the backup.

Both sides answer and hold the database; the StatefulSet's database has no large objects and no rows hidden from
its role; both use the same encoding; the source role may set session_replication_role; both schemas have the same
tables, columns, types and sequences; pg_dump on the source host can dump the source; the backup fits there.
"""

from __future__ import annotations

import dataclasses

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import copy_back_marker
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import backup
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import copy_back_sql, psql, sql


@dataclasses.dataclass
class CopyBackPlan:
    tables: list
    source: dict
    target: dict
    encoding: str
    record: dict
    materialized_views: list = dataclasses.field(default_factory=list)

    @property
    def data_bytes(self):
        return sum(table["size_bytes"] for table in self.tables)


def check(run, engine):
    """Returns the CopyBackPlan, or raises MigrationError naming what to fix; writes nothing."""
    ctx = run.ctx
    source = engine._source_facts()
    target = target_facts(engine)
    refuse_unreadable(ctx, target)
    if source["encoding"] != target["encoding"]:
        raise MigrationError("%s: the source database is encoded %s but the StatefulSet's is %s: the rows cannot be copied back "
                             "unchanged; recreate the source database with ENCODING %s (restore its backup into it)"
                             % (ctx.label, source["encoding"], target["encoding"], target["encoding"]), "preflight")
    source_major, target_major = source["version_num"] // 10000, target["version_num"] // 10000
    refuse_without_replication_role(engine, source_major >= 15)
    refuse_schema_differences(engine)
    engine._check_source_tools(source_major)
    if target_major > source_major:
        engine.notes.append("text COPY from PostgreSQL %d (the StatefulSet) into %d (the source)" % (target_major, source_major))
    tables = engine.target_json(sql.TABLES_SQL, ctx.database, what="the StatefulSet's table list")
    for table in tables:
        table["key"] = "%s.%s" % (table["schema"], table["name"])
    backup.check_space(run, engine.source, source["data_bytes"])
    views = engine.source_json(copy_back_sql.MATERIALIZED_VIEWS_SQL, what="the source's materialized views")
    return CopyBackPlan(tables=tables, source=source, target=target, encoding=target["encoding"],
                        record=copy_back_marker.read(engine.cluster, ctx), materialized_views=views)


def target_facts(engine):
    ctx = engine.ctx
    try:
        return engine.target_json(sql.SOURCE_FACTS_SQL, ctx.database, what="the StatefulSet's database")
    except SideError as exc:
        missing = psql.missing_database(exc.stderr)
        if missing:
            raise MigrationError("%s: the StatefulSet's server (pod %s/%s) has no database '%s', so there is nothing to copy back: "
                                 "check the database option (default: the workload's source.database)"
                                 % (ctx.label, ctx.namespace, engine.target.pod, missing), "preflight") from None
        raise MigrationError("%s (the copy-back reads the StatefulSet's primary pod: it must be Ready)" % exc, "preflight") from None


def refuse_unreadable(ctx, facts):
    if facts["large_objects"]:
        raise MigrationError("%s: the StatefulSet's database holds %d large objects (pg_largeobject), which the copy-back does not "
                             "copy: move them into bytea columns first" % (ctx.label, facts["large_objects"]), "preflight")
    if facts["rls_tables"] and not facts["bypass_rls"]:
        raise MigrationError(ctx.field_problem(
            "auth.user", ctx.auth_user, "row-level security is enabled on %s in the StatefulSet's database and this role neither is "
            "a superuser nor has BYPASSRLS, so the copy-back could miss rows" % ", ".join(facts["rls_tables"][:5]),
            "grant it BYPASSRLS (ALTER ROLE ... BYPASSRLS)"), "preflight")


def refuse_without_replication_role(engine, granted_possible):
    ctx = engine.ctx
    allowed = engine.source_json(copy_back_sql.REPLICATION_ROLE_SQL[granted_possible], what="the source role's privileges")["allowed"]
    if not allowed:
        grant = (" or, as a superuser, GRANT SET ON PARAMETER session_replication_role TO %s" % ctx.source.user
                 if granted_possible else "")
        raise MigrationError(ctx.field_problem(
            "source.user", ctx.source.user, "this role may not set session_replication_role, which the copy-back needs so that "
            "foreign keys and triggers do not fire while every table is reloaded",
            "copy back as a superuser (often the container's POSTGRES_USER)%s" % grant), "preflight")


def refuse_schema_differences(engine):
    ctx = engine.ctx
    origin = engine.target_json(copy_back_sql.SCHEMA_SQL, ctx.database, what="the StatefulSet's schema")
    into = engine.source_json(copy_back_sql.SCHEMA_SQL, what="the source's schema")
    found = copy_back_sql.schema_differences(origin, into)
    if found:
        listed = "; ".join(found[:20]) + ("; and %d more" % (len(found) - 20) if len(found) > 20 else "")
        raise MigrationError("%s: the source database's schema differs from the StatefulSet's, so its rows cannot be copied back "
                             "(nothing was changed): %s. Apply the same schema changes to the source database (those made on the "
                             "StatefulSet since cutover), then re-run" % (ctx.label, listed), "preflight")
