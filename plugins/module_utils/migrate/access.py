# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes on the source database blocked for the cutover, and let through again at rollback (pg_source_access).

Blocked: CONNECT revoked from PUBLIC and from every non-superuser role that holds it, except the migration's own user
(which gets CONNECT of its own if it only had it through PUBLIC); ``ALTER DATABASE .. SET default_transaction_read_only
= on`` (superusers, whom no ACL stops, get read-only sessions); the database's client sessions terminated (never
walsenders, so a subscription keeps streaming). What was there before is recorded in the migration marker ConfigMap
under the key ``<database>.source-access`` before anything changes, so ``open`` (and a re-run after an interruption)
restores the previous ACL and setting, whatever the database holds by then.
"""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import worker
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.safe_names import safe_name
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError, run, run_process, tail
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import utc_now
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import psql, sql
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import quote_ident, quote_literal

BLOCKING, BLOCKED, OPEN = "blocking", "blocked", "open"
SETTING = "default_transaction_read_only"
# Our own sessions write (GRANT, ALTER DATABASE) in a database whose default may already be read-only.
READ_WRITE = "SET default_transaction_read_only = off;\n"

STATE_SQL = """
SELECT json_build_object(
  'owner', pg_get_userbyid(d.datdba), 'acl', d.datacl::text, 'user', current_user,
  'user_super', (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
  'user_signal', pg_has_role(current_user, 'pg_signal_backend', 'MEMBER'),
  'setting', (SELECT substr(c, length('default_transaction_read_only=') + 1)
              FROM pg_db_role_setting s, unnest(s.setconfig) c
              WHERE s.setdatabase = d.oid AND s.setrole = 0 AND c LIKE 'default\\_transaction\\_read\\_only=%'),
  'holders', (SELECT coalesce(json_agg(json_build_object('role', h.role, 'grant_option', h.grant_option) ORDER BY h.role), '[]')
              FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS role,
                           bool_or(a.is_grantable) AS grant_option
                    FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                    WHERE a.privilege_type = 'CONNECT'
                      AND (a.grantee = 0 OR NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = a.grantee))
                    GROUP BY 1) h),
  'can_connect', (SELECT coalesce(json_agg(r.rolname ORDER BY r.rolname), '[]') FROM pg_roles r
                  WHERE r.rolcanlogin AND NOT r.rolsuper AND r.rolname <> current_user
                    AND has_database_privilege(r.oid, d.oid, 'CONNECT')),
  'sessions', (SELECT count(*) FROM pg_stat_activity a
               WHERE a.datname = d.datname AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()))
FROM pg_database d WHERE d.datname = {name}
"""

TERMINATE_SQL = """
SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid))
FROM pg_stat_activity a WHERE a.datname = {name} AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
"""


SIDES = ("source", "target")


def side_of(engine, side):
    """The side whose database is blocked: the source container's, or the StatefulSet's (before a copy-back)."""
    return engine.source if side == "source" else engine.target


# A session that was starting while CONNECT was revoked passed the check before it and shows up only once started; it
# could write after the final sync read the last LSN. Sessions are ended until none has appeared for 0.3 s (at most 10 s).
SETTLE_SQL = """
DO $settle$
DECLARE quiet int := 0; found int;
BEGIN
  FOR attempt IN 1..100 LOOP
    PERFORM pg_stat_clear_snapshot();
    SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid)) INTO found
      FROM pg_stat_activity a WHERE a.datname = {name} AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid();
    quiet := CASE WHEN found = 0 THEN quiet + 1 ELSE 0 END;
    EXIT WHEN quiet >= 3;
    PERFORM pg_sleep(0.1);
  END LOOP;
END
$settle$;
"""


def record_key(ctx, side="source"):
    return "%s.%s-access" % (safe_name(ctx.database), side)


def read_record(cluster, ctx, side="source"):
    """What an earlier call recorded for this database, or {}."""
    name = ctx.objects["migration_marker"]
    completed = run_process(cluster("get", "configmap", name, "-o", "json", "--ignore-not-found"), what="kubectl get configmap %s" % name)
    if completed.returncode != 0:
        raise SideError("cannot read the migration marker %s: %s" % (name, tail(completed.stderr.decode())))
    data = (json.loads(completed.stdout).get("data") or {}) if completed.stdout.strip() else {}
    return json.loads(data[record_key(ctx, side)]) if record_key(ctx, side) in data else {}


def write_record(cluster, ctx, state, side="source", **fields):
    record = dict(fields, state=state, updated=utc_now())
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ctx.objects["migration_marker"],
                         "labels": {"app.kubernetes.io/managed-by": "stateshift", worker.LABEL: ctx.app}},
            "data": {record_key(ctx, side): json.dumps(record, sort_keys=True)}}
    manager = "stateshift-access-%s%s" % ("" if side == "source" else "target-", safe_name(ctx.database).replace("_", "-").lower())
    worker.kubectl_run(cluster, ["apply", "--server-side", "--force-conflicts", "--field-manager=%s" % manager[:128], "-f", "-"],
                       stdin=json.dumps(body).encode())
    return record


def source_state(engine, side="source"):
    """The database's ACL, setting, CONNECT holders and sessions as the migration user sees them."""
    out = run(side_of(engine, side), "psql", psql.FLAGS, engine.ctx.database,
              stdin=(READ_WRITE + STATE_SQL.format(name=quote_literal(engine.ctx.database)) + ";\n").encode())
    return sql.parse_json(out, "the %s database's access" % side)


def refuse_unable(ctx, state):
    """Only a superuser or the database's owner may change its ACL and settings."""
    if not state["user_super"] and state["user"] != state["owner"]:
        raise MigrationError(ctx.field_problem(
            "source.user", state["user"], "can neither revoke CONNECT on database '%s' nor change its settings (it is neither a "
            "superuser nor the owner, %s)" % (ctx.database, state["owner"]),
            "use a superuser (often the container's POSTGRES_USER) or the database's owner as source.user"), "source_access")


def previous_of(state):
    """What ``open`` must put back: the ACL as text, the setting, the roles whose CONNECT is revoked."""
    revoke = [holder for holder in state["holders"] if holder["role"] != state["user"]]
    direct = any(holder["role"] == state["user"] for holder in state["holders"])
    return {"acl": state["acl"], "setting": state["setting"], "revoked": revoke,
            "granted_to_user": not state["user_super"] and not direct}


def block_sql(ctx, previous, user):
    database = quote_ident(ctx.database)
    lines = [READ_WRITE + "BEGIN;"]
    if previous["granted_to_user"]:
        lines.append("GRANT CONNECT ON DATABASE %s TO %s;" % (database, quote_ident(user)))
    for holder in previous["revoked"]:
        lines.append("REVOKE CONNECT ON DATABASE %s FROM %s CASCADE;" % (database, grantee(holder["role"])))
    lines.append("ALTER DATABASE %s SET %s = on;" % (database, SETTING))
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def open_sql(ctx, previous, user):
    database = quote_ident(ctx.database)
    lines = [READ_WRITE + "BEGIN;"]
    for holder in previous["revoked"]:
        option = " WITH GRANT OPTION" if holder["grant_option"] else ""
        lines.append("GRANT CONNECT ON DATABASE %s TO %s%s;" % (database, grantee(holder["role"]), option))
    if previous["granted_to_user"]:
        lines.append("REVOKE CONNECT ON DATABASE %s FROM %s;" % (database, quote_ident(user)))
    if previous["setting"] is None:
        lines.append("ALTER DATABASE %s RESET %s;" % (database, SETTING))
    else:
        lines.append("ALTER DATABASE %s SET %s = %s;" % (database, SETTING, quote_literal(previous["setting"])))
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def grantee(role):
    return "PUBLIC" if role == "PUBLIC" else quote_ident(role)


def is_blocked(state):
    """No non-superuser but the migration user holds CONNECT, and new sessions are read-only."""
    return state["setting"] == "on" and all(holder["role"] == state["user"] for holder in state["holders"])


def block(engine, emit, side="source"):
    """pg_source_access state=blocked; returns the task's result."""
    ctx = engine.ctx
    record, state = read_record(engine.cluster, ctx, side), source_state(engine, side)
    refuse_unable(ctx, state)
    if record.get("state") == BLOCKED and is_blocked(state):
        return result(ctx, False, BLOCKED, record["previous"], state, state, 0, "already blocked (%s)" % record.get("at"), side=side)
    previous = record["previous"] if record.get("state") in (BLOCKING, BLOCKED) else previous_of(state)
    if ctx.options.check_mode:
        return result(ctx, True, BLOCKED, previous, state, None, 0, "would revoke CONNECT from %s, set %s = on and terminate "
                      "%d session(s)" % (roles_text(previous), SETTING, state["sessions"]), side=side)
    at = record.get("at") if record.get("state") in (BLOCKING, BLOCKED) else utc_now()
    write_record(engine.cluster, ctx, BLOCKING, side, previous=previous, at=at)
    name = quote_literal(ctx.database)
    script = (block_sql(ctx, previous, state["user"]) + "SELECT (%s) AS terminated \\gset\n" % TERMINATE_SQL.format(name=name).strip()
              + SETTLE_SQL.format(name=name)
              + "SELECT json_build_object('terminated', :terminated, 'state', (%s));\n" % STATE_SQL.format(name=name).strip())
    done = sql.parse_json(run(side_of(engine, side), "psql", psql.FLAGS, ctx.database, stdin=script.encode()), "the block")
    terminated, after = done["terminated"], done["state"]
    write_record(engine.cluster, ctx, BLOCKED, side, previous=previous, at=at, terminated=terminated)
    emit("%s: %s blocked: CONNECT revoked from %s, %s = on, %d session(s) terminated"
         % (ctx.label, side, roles_text(previous), SETTING, terminated))
    return result(ctx, True, BLOCKED, previous, state, after, terminated, "blocked", side=side)


def reopen(engine, emit, side="source"):
    """pg_source_access state=open; returns the task's result."""
    ctx = engine.ctx
    record, state = read_record(engine.cluster, ctx, side), source_state(engine, side)
    if record.get("state") not in (BLOCKING, BLOCKED):
        why = "already open (%s)" % record.get("opened") if record else "never blocked by stateshift: nothing to restore"
        return result(ctx, False, OPEN, record.get("previous"), state, state, 0, why, side=side)
    refuse_unable(ctx, state)
    previous = record["previous"]
    if ctx.options.check_mode:
        return result(ctx, True, OPEN, previous, state, None, 0, "would grant CONNECT back to %s and restore %s (%s)"
                      % (roles_text(previous), SETTING, previous["setting"] or "unset"), side=side)
    run(side_of(engine, side), "psql", psql.FLAGS, ctx.database, stdin=open_sql(ctx, previous, state["user"]).encode())
    after = source_state(engine, side)
    write_record(engine.cluster, ctx, OPEN, side, previous=previous, at=record.get("at"), opened=utc_now())
    emit("%s: %s open again: CONNECT back for %s, %s %s"
         % (ctx.label, side, roles_text(previous), SETTING, previous["setting"] or "unset"))
    return result(ctx, True, OPEN, previous, state, after, 0, "opened", side=side)


def roles_text(previous):
    return ", ".join(holder["role"] for holder in previous["revoked"]) or "no role"


def result(ctx, changed, state, previous, before, after, terminated, what, side="source"):
    """The task's result; ``after`` None in check mode."""
    after = after or before
    warnings = []
    if state == BLOCKED and after.get("can_connect") and after is not before:
        warnings.append("these roles can still connect to '%s' (a grant by another grantor, or membership in the migration user): "
                        "%s" % (ctx.database, ", ".join(after["can_connect"])))
    out = {"changed": changed, "state": state, "msg": "%s: %s database %s" % (ctx.label, side, what),
           "previous": previous, "revoked": [holder["role"] for holder in (previous or {}).get("revoked", [])],
           "terminated": terminated, "acl": {"before": before["acl"], "after": after["acl"]},
           "setting": {"before": before["setting"], "after": after["setting"]}, "can_connect": after["can_connect"]}
    if warnings:
        out["warnings"] = warnings
    if changed and ctx.options.check_mode:
        out["diff"] = {"before": "%s: %s\n" % (ctx.database, OPEN if state == BLOCKED else BLOCKED),
                       "after": "%s: %s\n" % (ctx.database, state)}
    return out
