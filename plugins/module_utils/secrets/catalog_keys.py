# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secret keys whose value comes from the catalog, not 1Password: literals, and values derived from the workload.

A literal (``{value: disable}``) is written as it is. A derived key (``{from: host|port|user|database|url}``)
is made from the workload's Service, auth and databases; a URL (``pg_conn_url``) carries the current value
of a password key of the same Secret, so it follows a rotation in the same run. Neither is read from nor
written to 1Password.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import names, syntax
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.errors import MISSING
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.schema import default_of
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import derived
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.errors import SpecError

DERIVED_FROM = ("host", "port", "user", "database", "url")
DERIVED_NAMES = ("from", "user", "database", "password_key")


def literal_key(spec):
    """A key the catalog gives as written: ``{value: text}``."""
    if set(spec) != {"value"}:
        raise SpecError("", MISSING, "has option(s) %s beside value" % ", ".join(sorted(set(spec) - {"value"})),
                        "a literal key takes value: alone; put secret values in 1Password (op:) instead")
    value = spec["value"]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SpecError("value", MISSING, "is not a string", "quote it")
    if "\x00" in str(value):
        raise SpecError("value", MISSING, "holds a NUL byte", "remove it")
    return {"kind": "value", "value": str(value), "op": None, "generate": None, "rotate": False, "role": None}


def derived_key(spec):
    """A key made from the workload: ``{from: host|port|user|database|url, user, database, password_key}``."""
    unknown = sorted(set(spec) - set(DERIVED_NAMES))
    if unknown:
        raise SpecError("", spec, "has unknown option(s) %s" % ", ".join(unknown),
                        "a derived key takes %s" % ", ".join(DERIVED_NAMES))
    if spec["from"] not in DERIVED_FROM:
        raise SpecError("from", spec["from"], "is not something a key can be derived from", "use one of %s" % ", ".join(DERIVED_FROM))
    for name in ("user", "database"):
        if spec.get(name) is not None and syntax.pg_role(spec[name], None):
            raise SpecError(name, spec[name], "is not a PostgreSQL name", "use 1 to 63 letters, digits, '_' and '-'")
    if spec.get("password_key") is not None and syntax.secret_key(spec["password_key"], None):
        raise SpecError("password_key", spec["password_key"], "is not a Secret key", "use letters, digits, '-', '_' and '.'")
    if spec.get("password_key") and spec["from"] != "url":
        raise SpecError("password_key", spec["password_key"], "is only read by from: url", "remove it")
    return {"kind": "from", "from": spec["from"], "user": spec.get("user"), "database": spec.get("database"),
            "password_key": spec.get("password_key"), "op": None, "generate": None, "rotate": False, "role": None}


def is_derived(raw):
    return isinstance(raw, dict) and "from" in raw and "value" not in raw


def derivation_context(workload, spec, keys):
    """What a derived key is made from: {host, port, user, database, password_key} of the workload's database.

    ``keys`` are the other keys the workload declares in the same Secret: a URL's password must be one of them,
    so its current value (rotated or not) is known in the same run."""
    if workload.get("engine") != "postgresql":
        raise SpecError("from", spec["from"], "is only known for PostgreSQL workloads", "use op: or value: instead")
    auth = workload.get("auth") or {}
    superuser = auth.get("user") or default_of("auth.user", workload)
    databases = workload.get("databases") or default_of("databases", workload)
    first = databases[0]["name"] if isinstance(databases[0], dict) else databases[0]
    context = {"host": names.service_host(workload), "port": "5432", "user": spec["user"] or superuser,
               "database": spec["database"] or first, "password_key": None}
    role_names = [role.get("name") if isinstance(role, dict) else role for role in workload.get("roles") or []]
    if context["user"] not in [superuser, *role_names]:
        raise SpecError("user", context["user"], "is neither auth.user nor one of the workload's roles",
                        "use %s" % ", ".join([superuser, *role_names]))
    database_names = [database["name"] if isinstance(database, dict) else database for database in databases]
    if context["database"] not in database_names:
        raise SpecError("database", context["database"], "is not one of the workload's databases", "use %s" % ", ".join(database_names))
    if spec["from"] == "url":
        password_key = spec["password_key"]
        if password_key is None:
            by_role = {role.get("name"): role.get("password_key") for role in workload.get("roles") or [] if isinstance(role, dict)}
            password_key = (auth.get("password_key") or default_of("auth.password_key", workload) if context["user"] == superuser
                            else by_role.get(context["user"]))
        if password_key is None:
            raise SpecError("user", context["user"], "has no password key in the catalog (not auth.user, no roles[].password_key)",
                            "set password_key: to the key of this Secret that holds the user's password")
        if password_key not in keys or password_key == "$options" or is_derived(keys[password_key]):
            raise SpecError("password_key", password_key, "is not a 1Password or literal key of this Secret, so the URL's password is "
                            "not known here",
                            "declare the password under the same Secret, or set password_key: to a key of it")
        context["password_key"] = password_key
    return context


def derived_value(spec, data):
    """The value of a derived key; a URL carries the current value of its password key in ``data``."""
    context = spec["context"]
    if spec["from"] != "url":
        return context[spec["from"]]
    return derived.pg_conn_url(data[context["password_key"]], context["user"], context["host"], int(context["port"]),
                               context["database"])
