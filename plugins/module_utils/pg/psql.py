# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""psql as every part of the collection runs it, and what its errors mean to the user.

The flags make psql machine-readable: no psqlrc (-X), quiet, unaligned, tuples only, and stopping at
the first error, so a failed statement is a non-zero exit code and never a half-applied script.
"""

from __future__ import annotations

import re

FLAGS = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]

# psql that feeds a COPY ... FROM STDIN: it must print nothing and read the data as it comes.
COPY_IN_FLAGS = ["-X", "-q", "-v", "ON_ERROR_STOP=1"]

# The options of the modules that run psql in the database pod (doc fragment stateshift.k3s.postgres_pod).
POSTGRES_POD_ARG_SPEC = dict(
    namespace=dict(type="str", required=True),
    pod=dict(type="str", required=True),
    container=dict(type="str"),
    user=dict(type="str", default="postgres"),
)

LIST_DATABASES_SQL = "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY 1"

_MISSING_DATABASE = re.compile(r'database "(?P<name>[^"]+)" does not exist')

_PSQL_ERRORS = (
    (_MISSING_DATABASE,
     "database '{name}' does not exist in the source server: check source.database "
     "(the server has: {databases})"),
    (re.compile(r'role "(?P<name>[^"]+)" does not exist'),
     "role '{name}' does not exist in the source server: set source.user to an existing role "
     "(often the POSTGRES_USER of the container)"),
    (re.compile(r"password authentication failed for user \"(?P<name>[^\"]+)\""),
     "password authentication failed for '{name}': check the source password reference"),
    (re.compile(r"(?:could not connect to server|connection to server .*? failed)(?::\s*(?P<said>[^\n]*))?"
                r"|No such file or directory\s+Is the server running", re.IGNORECASE),
     "PostgreSQL is not accepting connections{said}: check that the server is running (its log says why) and re-run"),
)


def dbname(database):
    """The -d value that names ``database``: the client programs read a value with '=' or a URI prefix as a connection
    string, so such a name is given as one (dbname='...')."""
    if "=" in database or database.startswith(("postgresql:", "postgres:")):
        return "dbname='%s'" % database.replace("\\", "\\\\").replace("'", "\\'")
    return database


def argv(user, database, host=None, port=None, command=None, psql="psql", variables=()):
    """psql with FLAGS as user on database; the script comes from ``command`` (-c) or stdin (-f -). ``variables``:
    (name, value) pairs the script reads as :'name' or :"name" (-v name=value)."""
    words = [psql, *FLAGS, "-U", user, "-d", dbname(database)]
    if host:
        words += ["-h", host]
    if port:
        words += ["-p", str(port)]
    for name, value in variables:
        words += ["-v", "%s=%s" % (name, value)]
    return words + (["-c", command] if command is not None else ["-f", "-"])


def missing_database(stderr):
    """The name of the database psql could not find, or None."""
    match = _MISSING_DATABASE.search(stderr or "")
    return match.group("name") if match else None


def databases_if_missing(stderr, list_databases):
    """The server's databases when psql's error is a missing database, else None.

    list_databases() runs LIST_DATABASES_SQL and returns psql's output (or raises); a failure to list gives None.
    """
    if missing_database(stderr) is None:
        return None
    try:
        return parse_database_list(list_databases())
    except Exception:  # the listing only improves a message that is shown anyway
        return None


def parse_database_list(stdout):
    return [line.strip() for line in (stdout or "").splitlines() if line.strip()]


def explain_psql_error(stderr, databases=None):
    """A user-facing explanation of psql's stderr, or None if it is not a known case."""
    for pattern, template in _PSQL_ERRORS:
        match = pattern.search(stderr or "")
        if match:
            listed = ", ".join(databases) if databases else "unknown"
            found = match.groupdict()
            if "said" in found:  # the server's or libpq's own reason, e.g. "FATAL: the database system is starting up"
                found["said"] = " (%s)" % " ".join(found["said"].split()) if found["said"] else ""
            return template.format(databases=listed, **found)
    return None


def tool_major(version_output):
    """17 from 'pg_dump (PostgreSQL) 17.2', 15 from 'pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)' or '15.20'; None if unreadable."""
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", version_output) or re.search(r"(\d+)(?:\.\d+)?", version_output)
    return int(match.group(1)) if match else None
