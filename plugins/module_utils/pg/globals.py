# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `pg_dumpall --globals-only` output before it is replayed on the target.

- Roles the target already has (its own superuser, roles the postgresql role created) are never
  altered: their attributes and passwords stay as the cluster set them.
- New roles lose SUPERUSER, REPLICATION and BYPASSRLS unless the caller keeps them.
- Settings a role has in one database are split out, to be applied once that database exists.

The output carries password verifiers: callers pass it on stdin and never log it.
"""

from __future__ import annotations

import re

_ROLE_STATEMENT = re.compile(r'^(?P<verb>CREATE|ALTER) ROLE (?P<name>"(?:[^"]|"")+"|[^\s;]+)(?P<rest>.*)$')
_IN_DATABASE = re.compile(r'^ IN DATABASE (?P<db>"(?:[^"]|"")+"|\S+) ')
_PRIVILEGED = {"SUPERUSER": "NOSUPERUSER", "REPLICATION": "NOREPLICATION", "BYPASSRLS": "NOBYPASSRLS"}
_ATTRIBUTES_PART = re.compile(r"^(?P<attrs>.*?)(?P<password> PASSWORD '.*)?;$")


def unquote(identifier):
    if identifier.startswith('"') and identifier.endswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier


def _drop_privileges(rest):
    match = _ATTRIBUTES_PART.match(rest)
    if not match:
        return rest
    words = [_PRIVILEGED.get(word, word) for word in match.group("attrs").split(" ")]
    return " ".join(words) + (match.group("password") or "") + ";"


def filter_globals(text, existing_roles, keep_privileged=False):
    """Return (roles_sql, per_database_sql, summary).

    per_database_sql maps a database name to the ALTER ROLE ... IN DATABASE lines for it.
    summary lists the roles created, skipped and stripped, without any password.
    """
    existing = set(existing_roles)
    roles, per_database = [], {}
    summary = {"created": [], "kept_existing": [], "privileges_dropped": []}
    for line in text.splitlines():
        match = _ROLE_STATEMENT.match(line)
        if not match:
            if not line.startswith("SET ") and not line.startswith("\\"):
                roles.append(line)
            continue
        name, rest = unquote(match.group("name")), match.group("rest")
        if name in existing:
            if match.group("verb") == "CREATE" and name not in summary["kept_existing"]:
                summary["kept_existing"].append(name)
            continue
        if match.group("verb") == "CREATE":
            summary["created"].append(name)
            roles.append(line)
            continue
        database = _IN_DATABASE.match(rest)
        if database:
            per_database.setdefault(unquote(database.group("db")), []).append(line)
            continue
        if rest.startswith(" WITH ") and not keep_privileged:
            stripped = _drop_privileges(rest)
            if stripped != rest:
                summary["privileges_dropped"].append(name)
            rest = stripped
        roles.append("ALTER ROLE %s%s" % (match.group("name"), rest))
    return "\n".join(roles) + "\n", {db: "\n".join(lines) + "\n" for db, lines in per_database.items()}, summary
