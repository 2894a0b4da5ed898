# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make a PostgreSQL role's password match a value, without the plaintext leaving the controller.

The server gets a SCRAM-SHA-256 verifier (``ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'``), sent in
a psql script on stdin - never in argv, never in an environment variable of the pod. The stored
verifier is read first; when it already matches the password nothing changes (idempotent).
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import psql
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import quote_ident
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import quote_secret_literal as quote_literal
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import derived as derived_values
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import value_rules

MARK = "stateshift-rolpassword:"


def psql_argv(user="postgres", database="postgres", host=None, port=None):
    """psql reading a script on stdin (pg_role_password's command)."""
    return psql.argv(user, database, host=host, port=port)


def read_script(role):
    """Prints MARK + exists flag + stored password (verifier) of ``role``; ends with \\q (no EOF needed over exec)."""
    return ("SELECT '%s' || CASE WHEN count(*) = 0 THEN 'missing' ELSE 'present:' || coalesce(max(rolpassword), '') END "
            "FROM pg_authid WHERE rolname = %s;\n\\q\n" % (MARK, quote_literal(role)))


def alter_script(role, verifier):
    return ("ALTER ROLE %s PASSWORD %s;\nSELECT '%sdone';\n\\q\n" % (quote_ident(role), quote_literal(verifier), MARK))


def _psql_argument(text):
    """A psql meta-command argument: single-quoted, where psql reads '' and backslash escapes."""
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "''")


def _conninfo_value(text):
    return "'%s'" % str(text).replace("\\", "\\\\").replace("'", "\\'")


def login_script(role, password, host, port=None, database="postgres"):
    """Log in as ``role`` with ``password`` (PGPASSWORD set inside psql, never in argv) and print MARK + login."""
    conninfo = "host=%s user=%s dbname=%s" % (_conninfo_value(host), _conninfo_value(role), _conninfo_value(database))
    if port:
        conninfo += " port=%d" % int(port)
    return ("\\setenv PGPASSWORD %s\n\\connect %s\n\\setenv PGPASSWORD\nSELECT '%slogin';\n\\q\n"
            % (_psql_argument(password), _psql_argument(conninfo), MARK))


def verify_login(execute, role, password, login):
    """Raise ValueError unless ``role`` logs in with ``password`` at ``login`` ({host, port, database})."""
    rc, out, err = execute(login_script(role, password, login["host"], login.get("port"), login.get("database") or "postgres"))
    if rc != 0 or MARK + "login" not in out:
        detail = (err or "").strip()[-300:]
        raise ValueError("role %r could not log in with its new password at %s (rc=%d): %s; the clients were not restarted"
                         % (role, login["host"], rc, detail))


def parse_read(output):
    """(exists, stored verifier or '') from read_script's output."""
    for line in output.splitlines():
        if line.startswith(MARK):
            rest = line[len(MARK):]
            if rest == "missing":
                return False, ""
            if rest.startswith("present:"):
                return True, rest[len("present:"):]
    raise ValueError("psql printed no result line (is this a PostgreSQL server, and is the user a superuser?)")


def ensure(execute, role, password, check_mode=False, iterations=derived_values.SCRAM_DEFAULT_ITERATIONS, login=None):
    """``execute(script) -> (rc, stdout, stderr)`` runs psql with the script on stdin.

    With ``login`` ({host, port, database}) the role then logs in with the password (verify_login).

    Returns ``{"changed": bool, "exists": bool, "previous_format": "scram-sha-256"|"md5"|"none"|"other"}``.
    Raises ValueError (role missing, psql error) with a message that holds no secret.
    """
    problem = value_rules.value_problem(password, role)
    if problem:
        raise ValueError("the new password %s; nothing was changed" % problem)
    rc, out, err = execute(read_script(role))
    if rc != 0:
        raise ValueError("reading the password of role %r failed (rc=%d): %s" % (role, rc, (err or out).strip()[-500:]))
    exists, stored = parse_read(out)
    if not exists:
        raise ValueError("role %r does not exist in the database: create it first (the databases phase does) "
                         "or fix 'role' on the key" % role)
    if stored.startswith("SCRAM-SHA-256$"):
        previous = "scram-sha-256"
    elif stored.startswith("md5"):
        previous = "md5"
    else:
        previous = "none" if not stored else "other"
    changed = not (previous == "scram-sha-256" and derived_values.pg_scram_sha256_matches(password, stored))
    if changed and not check_mode:
        verifier = derived_values.pg_scram_sha256(password, iterations=iterations)
        rc, out, err = execute(alter_script(role, verifier))
        if rc != 0 or MARK + "done" not in out:
            detail = (err or "").replace(verifier, "********").strip()[-500:]
            raise ValueError("ALTER ROLE %s failed (rc=%d): %s" % (quote_ident(role), rc, detail))
    if login and not check_mode:
        verify_login(execute, role, password, login)
    return {"changed": changed, "exists": True, "previous_format": previous, "login_verified": bool(login and not check_mode)}
