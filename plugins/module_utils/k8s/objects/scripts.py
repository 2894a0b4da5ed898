# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The texts inside the PostgreSQL objects: the settings file, the init script and the backup script."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.server import role_password_variable

BACKUP_SCRIPT = """\
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


def postgresql_conf(settings):
    """postgresql.conf lines for ``settings``, sorted by name, each value single-quoted."""
    return "".join("%s = '%s'\n" % (name, str(value).replace("'", "''")) for name, value in sorted(settings.items()))


def init_script(workload):
    lines = [
        "#!/bin/sh",
        "# Runs once, when the data directory is created: include the settings ConfigMap, then",
        "# create the catalog's extra databases and roles.",
        "set -eu",
        "echo \"include_if_exists = '/etc/postgresql/stateshift/stateshift.conf'\" >> \"$PGDATA/postgresql.conf\"",
        "# Passwords are read from the environment by psql (\\getenv), never put on a command line.",
        "psql -v ON_ERROR_STOP=1 -X -q --username \"$POSTGRES_USER\" --dbname postgres <<'EOSQL'",
    ]
    number = 0
    for role in workload["roles"]:
        lines += ["SELECT format('CREATE ROLE %%I %%s', '%s', '%s')" % (role["name"], "LOGIN" if role["login"] else "NOLOGIN"),
                  "  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s')\\gexec" % role["name"]]
        if role.get("password_key"):
            number += 1
            lines += ["\\getenv role_password %s" % role_password_variable(number),
                      "ALTER ROLE \"%s\" PASSWORD :'role_password';" % role["name"]]
    for database in workload["databases"][1:]:
        owner = database.get("owner", workload["auth"]["user"])
        lines += ["SELECT format('CREATE DATABASE %%I OWNER %%I', '%s', '%s')" % (database["name"], owner),
                  "  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '%s')\\gexec" % database["name"]]
    return "\n".join(lines) + "\nEOSQL\n"
