# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The users a Patroni cluster needs beside its superuser: the replication user the replicas stream as, and the user
pg_rewind connects as (with execute on the four functions it reads the old leader's files with).

Patroni creates them when it initialises a new cluster, not when it takes over the data of a single server: then they
are made here, on the leader, with the passwords Patroni itself reads (its environment), read inside the pod by psql
(the shell's printf builtin in backquotes), never on a command line or in this script.
"""

from __future__ import annotations

# the user's kind: (role attributes, the environment variable of its password in Patroni's container)
USERS = {"replication": ("LOGIN REPLICATION", "PATRONI_REPLICATION_PASSWORD"), "rewind": ("LOGIN", "PATRONI_REWIND_PASSWORD")}
REWIND_FUNCTIONS = ("pg_catalog.pg_ls_dir(text, boolean, boolean)", "pg_catalog.pg_stat_file(text, boolean)",
                    "pg_catalog.pg_read_binary_file(text)", "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)")
PRESENT_SQL = "SELECT coalesce(json_agg(rolname ORDER BY rolname), '[]') FROM pg_roles WHERE rolname IN (%s)"


def present_sql(names):
    """The query that lists which of ``names`` exist (names are the collection's constants, quoted as literals)."""
    return PRESENT_SQL % ", ".join("'%s'" % name.replace("'", "''") for name in names)


def create_sql(missing):
    """psql script lines creating each of ``missing`` ({kind: name}); psql variables name_<kind> carry the names."""
    lines = ["\\set ON_ERROR_STOP 1", "\\set VERBOSITY terse", "SET log_statement = 'none';",
             "SET log_min_duration_statement = -1;", "SET log_min_error_statement = panic;"]
    for kind in sorted(missing):
        attributes, variable = USERS[kind]
        lines += ["\\set user_password `printf '%%s' \"$%s\"`" % variable,
                  "SELECT :'user_password' = '' AS password_missing \\gset",
                  "\\if :password_missing",
                  "SELECT 'no password in %s: the pod does not run Patroni with the Secret key yet'::int;" % variable,
                  "\\endif",
                  "CREATE ROLE :\"name_%s\" %s PASSWORD :'user_password';" % (kind, attributes)]
        if kind == "rewind":
            lines += ["GRANT EXECUTE ON FUNCTION %s TO :\"name_%s\";" % (function, kind) for function in REWIND_FUNCTIONS]
    return lines
