# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The texts inside the PostgreSQL objects: the settings file and the init script (the backup's: backup_scripts.py)."""

from __future__ import annotations

import shlex

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import roles_databases


def conf_value(value):
    """A postgresql.conf string literal: backslashes and single quotes doubled; a newline cannot be written."""
    text = ("on" if value else "off") if isinstance(value, bool) else str(value)
    if "\n" in text or "\r" in text or "\x00" in text:
        raise ValueError("a server setting value cannot hold a newline")
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "''")


def postgresql_conf(settings):
    """postgresql.conf lines for ``settings`` (names validated by the catalog), sorted by name."""
    return "".join("%s = %s\n" % (name, conf_value(value)) for name, value in sorted(settings.items()))


def init_wanted(workload):
    """The catalog's roles and its databases after the first (POSTGRES_DB, which the image creates)."""
    return roles_databases.wanted(workload["roles"], workload["databases"][1:], workload["auth"]["user"])


def init_sql(workload):
    """The SQL the init script runs: the catalog's roles, then its databases after the first (see pg/roles_databases.py)."""
    return roles_databases.create_sql(*init_wanted(workload))


def init_script(workload):
    """The entrypoint's init script: include the settings file, then create the catalog's roles and extra databases."""
    psql = "psql -v ON_ERROR_STOP=1 -X -q --username \"$POSTGRES_USER\" --dbname postgres"
    pairs = roles_databases.script_variables(*init_wanted(workload))
    variables = "".join(" \\\n  -v %s" % shlex.quote("%s=%s" % pair) for pair in pairs)
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
