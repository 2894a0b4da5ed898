# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL logical replication for ``migration.mode: online``: what the source must allow, the publication on the
source, the subscription on the target (its slot on the source), the initial sync, the lag, and their removal.

The subscription is created from the migration Job's pod, which holds the source password (from the Job's Secret) in
its environment: psql there reads it with ``\\getenv`` and builds the CREATE SUBSCRIPTION statement on the target, so
the password is in no argv and no log (the statement's own session does not log failed statements).
"""

from __future__ import annotations

import hashlib
import re
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.background import Background
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import human_bytes, human_seconds
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError, run
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import psql, sql
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import NOT_EXTENSION_MEMBER, USER_SCHEMAS, quote_ident, quote_literal

READ_WRITE = "SET default_transaction_read_only = off;\n"  # the source may be blocked (access.py)
COMPOSE_FIX = ("in the source's Compose service set command: [\"postgres\", \"-c\", \"wal_level=logical\"] (or run ALTER SYSTEM "
               "SET wal_level = logical), then restart the container (docker compose up -d, or docker restart): wal_level only "
               "changes when the server starts")

SOURCE_SQL = """
SELECT json_build_object(
  'wal_level', current_setting('wal_level'),
  'free_slots', current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots WHERE slot_name <> {slot}),
  'free_senders', current_setting('max_wal_senders')::int - (SELECT count(*) FROM pg_stat_replication),
  'superuser', (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
  'replication', (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user),
  'no_identity', (SELECT coalesce(json_agg(format('%I.%I', n.nspname, c.relname) ORDER BY n.nspname, c.relname), '[]')
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'r' AND {user_schemas} AND {not_extension}
                    AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (
                         SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))))
""".replace("{user_schemas}", USER_SCHEMAS).replace("{not_extension}", NOT_EXTENSION_MEMBER.format(oid="c.oid"))

SLOT_SQL = """
SELECT coalesce((SELECT json_build_object('current', pg_current_wal_lsn()::text, 'confirmed', s.confirmed_flush_lsn::text,
  'active', s.active, 'lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint,
  'applied', s.confirmed_flush_lsn >= {final})
  FROM pg_replication_slots s WHERE s.slot_name = {slot}), json_build_object('current', pg_current_wal_lsn()::text))
"""

SYNC_SQL = """
SELECT json_build_object('exists', count(DISTINCT s.oid) > 0, 'tables', count(r.srrelid),
  'ready', count(r.srrelid) FILTER (WHERE r.srsubstate = 'r'))
FROM pg_subscription s LEFT JOIN pg_subscription_rel r ON r.srsubid = s.oid WHERE s.subname = {sub}
"""

# Runs in the Job's pod against the target; :conninfo, :sub, :pub, :slot are psql variables, the password comes from
# the pod's environment and is escaped for a conninfo value ('...' with \\ and \\' escapes).
CREATE_SUBSCRIPTION_SCRIPT = r"""
\getenv srcpw SRC_PASSWORD
SELECT rolsuper AS is_super FROM pg_roles WHERE rolname = current_user \gset
\if :is_super
SET log_min_error_statement = panic;
\endif
SELECT format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I WITH (slot_name = %L, create_slot = true, copy_data = true)',
              :'sub', :'conninfo' || ' password=''' || replace(replace(:'srcpw', E'\\', E'\\\\'), '''', E'\\''') || '''',
              :'pub', :'slot') \gexec
"""


def names(ctx):
    """The publication, subscription and slot of this workload's database: one lower-case identifier (63 at most)."""
    base = re.sub(r"[^a-z0-9_]", "_", ("%s_%s" % (ctx.app, ctx.database)).lower())
    digest = hashlib.sha256(("%s/%s" % (ctx.app, ctx.database)).encode()).hexdigest()[:8]
    name = "stateshift_%s_%s" % (base[:42], digest)
    return {"publication": name, "subscription": name, "slot": name}


def source_json(engine, query, what):
    out = run(engine.source, "psql", psql.FLAGS, engine.ctx.database, stdin=(READ_WRITE + query.strip() + ";\n").encode())
    return sql.parse_json(out, what)


def check_source(engine, found):
    """Everything logical replication needs from the source, or MigrationError naming each problem and its fix."""
    ctx = engine.ctx
    facts = source_json(engine, SOURCE_SQL.format(slot=quote_literal(found["slot"])), "the source's replication settings")
    problems = []
    if facts["wal_level"] != "logical":
        problems.append("wal_level is '%s', logical replication needs 'logical': %s" % (facts["wal_level"], COMPOSE_FIX))
    if facts["free_slots"] < 1:
        problems.append("no free replication slot (max_replication_slots is used up): drop unused slots "
                        "(pg_drop_replication_slot) or raise max_replication_slots and restart the source")
    if facts["free_senders"] < 1:
        problems.append("no free WAL sender (max_wal_senders is used up): raise max_wal_senders and restart the source")
    if not facts["replication"]:
        problems.append("the source user '%s' may not replicate: ALTER ROLE %s REPLICATION (or use a superuser as source.user)"
                        % (ctx.source.user, quote_ident(ctx.source.user)))
    if facts["no_identity"]:
        problems.append("these tables have neither a primary key nor a replica identity, so their updates and deletes cannot be "
                        "replicated: %s; add a primary key, or run ALTER TABLE <table> REPLICA IDENTITY FULL on the source"
                        % ", ".join(facts["no_identity"]))
    if problems:
        raise MigrationError(ctx.field_problem("migration.mode", "online", "the source cannot be replicated: " + "; ".join(problems),
                                               "fix the source as said, or use mode: offline"), "preflight")
    if facts["free_slots"] < 3:
        engine.notes.append("only %d free replication slot(s) on the source: the initial sync uses temporary ones as well, one "
                            "table at a time then" % facts["free_slots"])
    return facts


def create_publication(engine, found, superuser, tables):
    """FOR ALL TABLES as a superuser, else the plan's tables (the source user must own them)."""
    pub = quote_ident(found["publication"])
    scope = "FOR ALL TABLES" if superuser else "FOR TABLE " + ", ".join(
        "%s.%s" % (quote_ident(table["schema"]), quote_ident(table["name"])) for table in tables)
    source_json(engine, "DROP PUBLICATION IF EXISTS %s;\nCREATE PUBLICATION %s %s;\nSELECT to_json(pg_current_wal_lsn()::text)"
                % (pub, pub, scope), "CREATE PUBLICATION")


def conninfo(ctx, address):
    """The subscription's connection string without the password (added in the Job's pod)."""
    values = {"host": address[0], "port": str(address[1]), "user": ctx.source.user, "dbname": ctx.database,
              "sslmode": ctx.source.sslmode, "application_name": "stateshift"}
    return " ".join("%s='%s'" % (key, value.replace("\\", "\\\\").replace("'", "\\'")) for key, value in values.items())


def create_subscription(engine, transport, found):
    """CREATE SUBSCRIPTION on the target, from the Job's pod (transport.data_target), to the address the pod reached."""
    source = transport.data_source
    variables = {"conninfo": conninfo(engine.ctx, (source.host, source.port)), "sub": found["subscription"],
                 "pub": found["publication"], "slot": found["slot"]}
    args = [*psql.FLAGS] + [part for name, value in sorted(variables.items()) for part in ("-v", "%s=%s" % (name, value))]
    run(transport.data_target, "psql", args, engine.ctx.database, stdin=CREATE_SUBSCRIPTION_SCRIPT.encode())


def sync_state(engine, found):
    return engine.target_json(SYNC_SQL.format(sub=quote_literal(found["subscription"])), engine.ctx.database, what="the subscription")


def slot_state(engine, found, final_lsn=None):
    query = SLOT_SQL.format(slot=quote_literal(found["slot"]), final="%s::pg_lsn" % quote_literal(final_lsn or "0/0"))
    return source_json(engine, query, "the replication slot")


def wait_initial_sync(run_state, engine, found, timeout):
    """Until every table of the subscription is ready (copied and caught up), with a progress line per interval."""
    started, last = time.monotonic(), 0.0
    interval = run_state.ctx.options.progress_interval or 5.0
    while True:
        state = sync_state(engine, found)
        elapsed = time.monotonic() - started
        if state["exists"] and state["tables"] and state["ready"] == state["tables"]:
            run_state.emit("%s: initial sync: %d/%d tables ready in %s"
                           % (run_state.ctx.label, state["ready"], state["tables"], human_seconds(elapsed)))
            return state
        if elapsed > timeout:
            raise MigrationError("%s: the initial sync did not finish within %d seconds (%d/%d tables ready): check the target's "
                                 "log for subscription errors" % (run_state.ctx.label, timeout, state["ready"], state["tables"]),
                                 "replicate")
        if elapsed - last >= interval:
            last = elapsed
            run_state.emit("%s: initial sync: %d/%d tables ready, %s elapsed"
                           % (run_state.ctx.label, state["ready"], state["tables"], human_seconds(elapsed)))
        time.sleep(0.5)


def wait_applied(run_state, engine, found, final_lsn, timeout):
    """Until the slot's confirmed position (what the subscription applied and flushed) reaches final_lsn; returns the wait."""
    started, last = time.monotonic(), 0.0
    interval = run_state.ctx.options.progress_interval or 5.0
    while True:
        slot = slot_state(engine, found, final_lsn)
        elapsed = time.monotonic() - started
        if slot.get("applied"):
            return round(elapsed, 2)
        if "confirmed" not in slot:
            raise MigrationError("%s: the replication slot %s is gone from the source: the subscription cannot catch up; run the "
                                 "migrate phase again after dropping the target database" % (run_state.ctx.label, found["slot"]),
                                 "final_sync")
        if elapsed > timeout:
            raise MigrationError("%s: the target did not apply the source's WAL up to %s within %d seconds (it is at %s, %s behind): "
                                 "check the subscription's errors in the target's log" % (
                                     run_state.ctx.label, final_lsn, timeout, slot["confirmed"], human_bytes(slot["lag_bytes"])),
                                 "final_sync")
        if elapsed - last >= interval:
            last = elapsed
            run_state.emit("%s: catching up to %s: applied %s, %s behind" % (run_state.ctx.label, final_lsn, slot["confirmed"],
                                                                             human_bytes(max(slot["lag_bytes"], 0))))
        time.sleep(0.1)


def final_position(engine, found):
    """The source's current WAL position (the slot's view of it) and its sequences, in one round trip: the source is
    blocked, so neither moves any more."""
    query = "SELECT json_build_object('slot', (%s), 'sequences', (%s))" % (
        SLOT_SQL.format(slot=quote_literal(found["slot"]), final="'0/0'::pg_lsn").strip(), sql.SEQUENCE_VALUES_SQL.strip())
    return source_json(engine, query, "the final position")


def set_sequences(engine, sequences):
    if sequences:
        engine.target_script(sql.setval_sql(sequences), engine.ctx.database)


def remove(engine, found, fingerprint=False):
    """Drop the subscription (DROP SUBSCRIPTION drops its slot on the source) and, meanwhile, the publication; then a slot
    an interrupted run left without a subscription. With ``fingerprint``, returns the target's fingerprint read once the
    subscription is gone (its apply worker flushed its statistics on exit)."""
    publication = Background(source_json, engine, "DROP PUBLICATION IF EXISTS %s;\nSELECT to_json(1)"
                             % quote_ident(found["publication"]), "DROP PUBLICATION").begin()
    script = ("SELECT count(*) > 0 AS has_sub FROM pg_subscription WHERE subname = %s \\gset\n\\if :has_sub\nDROP SUBSCRIPTION %s;\n"
              "\\endif\n" % (quote_literal(found["subscription"]), quote_ident(found["subscription"])))
    try:
        out = engine.target_script(script + (sql.FINGERPRINT_SQL + ";\n" if fingerprint else ""), engine.ctx.database)
    except SideError as exc:
        if fingerprint or "does not exist" not in str(exc):
            raise
        out = ""  # no target database yet (a first run): nothing subscribes
    finally:
        publication.result()
    if not fingerprint:
        source_json(engine, "SELECT to_json(count(pg_drop_replication_slot(slot_name))) FROM pg_replication_slots "
                    "WHERE slot_name = %s AND NOT active" % quote_literal(found["slot"]), "the leftover slot")
    return sql.parse_json(out, "the target's fingerprint")["fingerprint"] if fingerprint else None
