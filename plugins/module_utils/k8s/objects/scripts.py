# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The texts inside the PostgreSQL objects: the settings file, the init script and the backup script."""

from __future__ import annotations

import shlex

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.server import role_password_variable

# A new pod's address reaches the NetworkPolicy engine's rules a moment after the pod starts (kube-router,
# as in k3s, refuses it until then): wait up to 60 s for the server before the first connection.
BACKUP_SCRIPT = """\
tries=0
until pg_isready -q -t 2; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || { echo "the database server did not answer pg_isready for 60 s" >&2; exit 1; }
  sleep 2
done
stamp=$(date -u +%Y%m%dT%H%M%SZ)
for db in $DATABASES; do
  pg_dump -Fc -d "$db" -f "/backup/$db-$stamp.dump.partial"
  pg_restore --list "/backup/$db-$stamp.dump.partial" > /dev/null
  mv "/backup/$db-$stamp.dump.partial" "/backup/$db-$stamp.dump"
  echo "backed up $db to $db-$stamp.dump ($(wc -c < "/backup/$db-$stamp.dump") bytes)"
done
find /backup -name '*.dump' -mtime "+$RETENTION_DAYS" -print -delete
find /backup -name '*.partial' -mmin +60 -delete
"""


def conf_value(value):
    """A postgresql.conf string literal: backslashes and single quotes doubled; a newline cannot be written."""
    text = ("on" if value else "off") if isinstance(value, bool) else str(value)
    if "\n" in text or "\r" in text or "\x00" in text:
        raise ValueError("a server setting value cannot hold a newline")
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "''")


def postgresql_conf(settings):
    """postgresql.conf lines for ``settings`` (names validated by the catalog), sorted by name."""
    return "".join("%s = %s\n" % (name, conf_value(value)) for name, value in sorted(settings.items()))


def init_variables(workload):
    """The psql variables the init SQL reads: role_<n>, database_<n> and owner_<n>, numbered from 1."""
    variables = [("role_%d" % number, role["name"]) for number, role in enumerate(workload["roles"], 1)]
    for number, database in enumerate(workload["databases"][1:], 1):
        variables += [("database_%d" % number, database["name"]),
                      ("owner_%d" % number, database.get("owner", workload["auth"]["user"]))]
    return variables


def init_sql(workload):
    """The SQL the init script runs; every name is a psql variable (:'x' literal, :"x" identifier), never pasted."""
    lines, with_password = [], 0
    for number, role in enumerate(workload["roles"], 1):
        lines += ["SELECT format('CREATE ROLE %%I %s', :'role_%d')" % ("LOGIN" if role["login"] else "NOLOGIN", number),
                  "  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role_%d')\\gexec" % number]
        if role.get("password_key"):
            with_password += 1
            # a backquoted printf (a shell builtin) rather than \getenv, which psql 14 lacks
            lines += ["\\set role_password `printf '%%s' \"$%s\"`" % role_password_variable(with_password),
                      "ALTER ROLE :\"role_%d\" PASSWORD :'role_password';" % number]
    for number in range(1, len(workload["databases"])):
        lines += ["SELECT format('CREATE DATABASE %%I OWNER %%I', :'database_%d', :'owner_%d')" % (number, number),
                  "  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database_%d')\\gexec" % number]
    return lines


def init_script(workload):
    """The entrypoint's init script: include the settings file, then create the catalog's roles and extra databases."""
    psql = "psql -v ON_ERROR_STOP=1 -X -q --username \"$POSTGRES_USER\" --dbname postgres"
    variables = "".join(" \\\n  -v %s" % shlex.quote("%s=%s" % pair) for pair in init_variables(workload))
    lines = [
        "#!/bin/sh",
        "# Runs once, when the data directory is created: include the settings ConfigMap, then",
        "# create the catalog's extra databases and roles.",
        "set -eu",
        "echo \"include_if_exists = '/etc/postgresql/stateshift/stateshift.conf'\" >> \"$PGDATA/postgresql.conf\"",
        "# Names reach psql as variables (-v, quoted for the shell) and SQL as :'name' or :\"name\";",
        "# passwords are read from the environment (psql's backquotes run the shell's printf builtin),",
        "# never put on a command line.",
        "%s%s <<'EOSQL'" % (psql, variables),
    ]
    return "\n".join(lines + init_sql(workload)) + "\nEOSQL\n"
