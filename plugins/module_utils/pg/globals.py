# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Roles and memberships of the source, read as data and generated as SQL for the target.

- ``READ_SCRIPT`` (psql, on the source) prints one JSON document: roles from pg_roles, their password verifiers
  from pg_authid when the session may read it (a superuser), memberships from pg_auth_members and role settings
  from pg_db_role_setting. Nothing is parsed from text.
- ``generate(globals, existing, keep_privileged)`` writes CREATE ROLE, ALTER ROLE ... SET and GRANT statements:
  every name a quoted identifier, every value a literal. Roles the target already has are never altered. New
  roles lose SUPERUSER, REPLICATION, BYPASSRLS and CREATEROLE, and memberships in the predefined roles that reach
  the server's files, programs or other sessions are left out, whatever the names, unless ``keep_privileged``.

The statements carry password verifiers: callers send them on stdin and never log them.
"""

from __future__ import annotations

import json
import re

from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import quote_ident, quote_literal, quote_secret_literal

PRIVILEGED_ATTRIBUTES = ("superuser", "replication", "bypassrls", "createrole")
PRIVILEGED_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files", "pg_signal_backend")
_ATTRIBUTES = (("superuser", "SUPERUSER"), ("createrole", "CREATEROLE"), ("createdb", "CREATEDB"), ("login", "LOGIN"),
               ("inherit", "INHERIT"), ("replication", "REPLICATION"), ("bypassrls", "BYPASSRLS"))
_LIST_SETTINGS = ("search_path", "temp_tablespaces", "local_preload_libraries", "session_preload_libraries")
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")

READ_SCRIPT = r"""
SELECT current_setting('is_superuser') = 'on' AS stateshift_reads_authid \gset
SELECT json_build_object(
  'roles', (SELECT coalesce(json_agg(json_build_object(
      'name', r.rolname, 'superuser', r.rolsuper, 'inherit', r.rolinherit, 'createrole', r.rolcreaterole,
      'createdb', r.rolcreatedb, 'login', r.rolcanlogin, 'replication', r.rolreplication, 'bypassrls', r.rolbypassrls,
      'connection_limit', r.rolconnlimit, 'valid_until', r.rolvaliduntil) ORDER BY r.rolname), '[]'::json)
    FROM pg_roles r WHERE r.rolname !~ '^pg_'),
  'memberships', (SELECT coalesce(json_agg(json_build_object('role', g.rolname, 'member', m.rolname, 'admin', a.admin_option)
                                           ORDER BY g.rolname, m.rolname), '[]'::json)
    FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member),
  'settings', (SELECT coalesce(json_agg(json_build_object('role', r.rolname, 'database', d.datname, 'config', s.setconfig)), '[]'::json)
    FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase));
\if :stateshift_reads_authid
SELECT json_build_object('passwords', (SELECT coalesce(json_object_agg(rolname, rolpassword), '{}'::json)
                                       FROM pg_authid WHERE rolpassword IS NOT NULL AND rolname !~ '^pg_'));
\endif
"""


def parse(stdout):
    """READ_SCRIPT's output as {'roles', 'memberships', 'settings', 'passwords' (None when unreadable)}."""
    found = {"passwords": None}
    for line in (stdout or "").splitlines():
        if line.startswith("{"):
            found.update(json.loads(line))
    return found


def generate(source, existing_roles, keep_privileged=False):
    """Return (roles_sql, per_database_sql, summary); summary holds names only, never a password."""
    existing = set(existing_roles)
    summary = {"created": [], "kept_existing": [], "privileges_dropped": [], "memberships_dropped": [], "without_password": []}
    statements = []
    for role in source["roles"]:
        if role["name"] in existing:
            summary["kept_existing"].append(role["name"])
            continue
        statements.append(_create_role(role, source["passwords"], keep_privileged, summary))
    created = set(summary["created"])
    statements += _grants(source["memberships"], existing | created, created, keep_privileged, summary)
    per_database = {}
    for setting in source["settings"]:
        if setting["role"] not in created:
            continue
        lines = _settings(setting["role"], setting["database"], setting["config"])
        if setting["database"]:
            per_database.setdefault(setting["database"], []).extend(lines)
        else:
            statements += lines
    return ("\n".join(statements) + "\n", {db: "\n".join(lines) + "\n" for db, lines in per_database.items()}, summary)


def _create_role(role, passwords, keep_privileged, summary):
    name = role["name"]
    summary["created"].append(name)
    words = []
    for key, word in _ATTRIBUTES:
        wanted = bool(role[key])
        if wanted and key in PRIVILEGED_ATTRIBUTES and not keep_privileged:
            wanted = False
            if name not in summary["privileges_dropped"]:
                summary["privileges_dropped"].append(name)
        words.append(word if wanted else "NO" + word)
    words.append("CONNECTION LIMIT %d" % int(role["connection_limit"]))
    if role.get("valid_until"):
        words.append("VALID UNTIL %s" % quote_literal(role["valid_until"]))
    verifier = (passwords or {}).get(name)
    if verifier:
        words.append("PASSWORD %s" % quote_secret_literal(verifier))
    elif passwords is None and role["login"]:
        summary["without_password"].append(name)
    return "CREATE ROLE %s WITH %s;" % (quote_ident(name), " ".join(words))


def _grants(memberships, known, created, keep_privileged, summary):
    """GRANT role TO member for members this run created; privileged predefined roles only when kept."""
    statements = []
    for grant in memberships:
        role, member = grant["role"], grant["member"]
        if member not in created:  # the memberships of a role the target had are its own
            continue
        if role in PRIVILEGED_ROLES and not keep_privileged:
            summary["memberships_dropped"].append("%s in %s" % (member, role))
            continue
        if role not in known and not role.startswith("pg_"):
            continue
        statements.append("GRANT %s TO %s%s;" % (quote_ident(role), quote_ident(member), " WITH ADMIN OPTION" if grant["admin"] else ""))
    return statements


def _settings(role, database, config):
    """ALTER ROLE ... [IN DATABASE ...] SET name = value for each 'name=value' of pg_db_role_setting.setconfig."""
    where = " IN DATABASE %s" % quote_ident(database) if database else ""
    lines = []
    for entry in config or []:
        name, _sep, value = entry.partition("=")
        if not _SETTING_NAME.fullmatch(name):
            continue
        values = _split_list(value) if name.lower() in _LIST_SETTINGS else [value]
        lines.append("ALTER ROLE %s%s SET %s = %s;" % (quote_ident(role), where, name, ", ".join(quote_literal(v) for v in values)))
    return lines


def _split_list(value):
    """Elements of a list setting as the server stores it ('"$user", public'): split at commas, identifiers unquoted."""
    items, current, quoted = [], "", False
    for char in value + ",":
        if char == '"':
            quoted = not quoted
            current += char
        elif char == "," and not quoted:
            item = current.strip()
            items.append(item[1:-1].replace('""', '"') if item.startswith('"') and item.endswith('"') and len(item) > 1 else item)
            current = ""
        else:
            current += char
    return [item for item in items if item != ""]
