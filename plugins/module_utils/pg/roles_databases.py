# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog's roles and databases in a server: which are missing, and the psql script that creates them.

One script serves the first start (the init script of the StatefulSet) and every later run
(the postgres_roles_databases module), so a role or database added to the catalog is created the
same way whenever it is added. Names reach psql as variables (:'x' literal, :"x" identifier),
never pasted into SQL; a role's password is read from the pod's environment by psql's backquotes
(the shell's printf builtin), never put on a command line or into the script.
"""

from __future__ import annotations

# Roles and databases the server makes itself: never reported as unmanaged.
SYSTEM_DATABASES = ("postgres",)

INVENTORY_SQL = (
    "SELECT json_build_object("
    "'roles', (SELECT coalesce(json_agg(rolname ORDER BY rolname), '[]') FROM pg_roles WHERE rolname !~ '^pg_'), "
    "'databases', (SELECT coalesce(json_agg(json_build_object('name', datname, 'owner', pg_get_userbyid(datdba)) "
    "ORDER BY datname), '[]') FROM pg_database WHERE NOT datistemplate))"
)


def role_password_variable(number):
    """The environment variable holding the password of the ``number``-th role with a password_key (from 1)."""
    return "STATESHIFT_ROLE_PASSWORD_%d" % number


def password_variables(roles):
    """{role name: environment variable of its password} for the catalog's roles that have a password_key."""
    with_password = [role for role in roles if role.get("password_key")]
    return {role["name"]: role_password_variable(number) for number, role in enumerate(with_password, 1)}


def wanted(roles, databases, superuser):
    """(roles, databases) as the script takes them: each role with its login and password variable (numbered among
    the roles that have a password_key, as the StatefulSet numbers them), each database with its owner (default
    ``superuser``)."""
    variables = password_variables(roles)
    return ([{"name": role["name"], "login": role["login"], "password_variable": variables.get(role["name"])} for role in roles],
            [{"name": database["name"], "owner": database.get("owner") or superuser} for database in databases])


def plan(roles, databases, present, superuser):
    """What to create so the server has ``roles`` and ``databases``, and what it has that the catalog does not name.

    present: {roles: [name], databases: [{name, owner}]} as INVENTORY_SQL returns it. Raises ValueError
    naming the database whose owner is neither in the server, nor created here, nor the superuser.
    """
    present_roles = set(present["roles"])
    present_databases = {database["name"] for database in present["databases"]}
    create_roles = [role for role in roles if role["name"] not in present_roles]
    create_databases = [database for database in databases if database["name"] not in present_databases]
    known = present_roles | {role["name"] for role in roles} | {superuser}
    for database in create_databases:
        if database["owner"] not in known:
            raise ValueError("database %s would be owned by role %s, which the server does not have and the catalog does not "
                             "list under roles: add it to roles, or set databases[].owner to an existing role"
                             % (database["name"], database["owner"]))
    named_roles = {role["name"] for role in roles} | {superuser}
    named_databases = {database["name"] for database in databases}
    return {
        "create_roles": create_roles,
        "create_databases": create_databases,
        "unmanaged_roles": sorted(present_roles - named_roles),
        "unmanaged_databases": sorted(present_databases - named_databases - set(SYSTEM_DATABASES)),
    }


def script_variables(roles, databases):
    """The psql variables the script reads: role_<n>, database_<n> and owner_<n>, numbered from 1."""
    variables = [("role_%d" % number, role["name"]) for number, role in enumerate(roles, 1)]
    for number, database in enumerate(databases, 1):
        variables += [("database_%d" % number, database["name"]), ("owner_%d" % number, database["owner"])]
    return variables


def create_sql(roles, databases):
    """Lines of SQL that create ``roles`` (then set their passwords) and ``databases``, each only if it is missing.

    A role whose password variable is empty in the environment stops the script before the role gets an
    empty password (the pod has not restarted with the Secret key yet, or the key is empty)."""
    # nothing of this session reaches the server log, whatever log_statement says: ALTER ROLE carries a password
    lines = ["\\set VERBOSITY terse", "SET log_statement = 'none';", "SET log_min_duration_statement = -1;",
             "SET log_min_error_statement = panic;"]
    for number, role in enumerate(roles, 1):
        if role.get("password_variable"):
            lines += ["\\set role_password `printf '%%s' \"$%s\"`" % role["password_variable"],
                      "SELECT :'role_password' = '' AS password_missing \\gset",
                      "\\if :password_missing",
                      "SELECT format('no password for role %%s in the environment variable %s: the pod has not restarted "
                      "with its Secret key, or the key is empty', :'role_%d')::int;" % (role["password_variable"], number),
                      "\\endif"]
        lines += ["SELECT format('CREATE ROLE %%I %s', :'role_%d')" % ("LOGIN" if role["login"] else "NOLOGIN", number),
                  "  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role_%d')\\gexec" % number]
        if role.get("password_variable"):
            lines.append("ALTER ROLE :\"role_%d\" PASSWORD :'role_password';" % number)
    for number in range(1, len(databases) + 1):
        lines += ["SELECT format('CREATE DATABASE %%I OWNER %%I', :'database_%d', :'owner_%d')" % (number, number),
                  "  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database_%d')\\gexec" % number]
    return lines
