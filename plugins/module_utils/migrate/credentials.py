# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source's secrets for one run: read from the raw catalog (``stateshift_workloads``), never from the fact.

``source_secrets(raw_workloads, name, source)`` returns ``{"password": ..., "dsn": ...}``: the DSN without its
password (what goes on a command line) and the one password (source.password, else the DSN's own). The caller
is a no_log action; nothing here puts a value in a message.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import dsn as catalog_dsn
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.secret_fields import secret_values_of

_ESCAPED = re.compile(r"\\(.)")
NUL_REFUSED = "holds a NUL byte, which no PostgreSQL client can send as a password"


class CredentialsError(Exception):
    """The secrets cannot be read; the message says what to set (it never holds a secret)."""


def dsn_password(dsn):
    """The password a libpq connection string carries (userinfo or password parameter), or None."""
    if catalog_dsn.is_uri(dsn):
        parts = urlsplit(dsn)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if "password" in query:
            return query["password"]
        return unquote(parts.password) if parts.password is not None else None
    for key, value in catalog_dsn.pairs(dsn):
        if key == "password":
            if value.startswith("'") and value.endswith("'"):
                value = value[1:-1]
            return _ESCAPED.sub(r"\1", value)
    return None


def source_secrets(raw_workloads, name, source):
    """{'password', 'dsn'} of workload ``name``. ``source``: its validated catalog ``source`` (the fact's, redacted).

    Without the raw catalog a container source still works (the Job then uses the container's POSTGRES_PASSWORD);
    a DSN source does not: its password lives only there."""
    if raw_workloads is None:
        if source.get("dsn"):
            raise CredentialsError(
                "workload %r reads its source by source.dsn, whose password is kept out of the stateshift_catalog fact and "
                "is read from the variable stateshift_workloads, which is not set: define the catalog as stateshift_workloads "
                "(group_vars, or -e @catalog.yml) rather than passing workloads: to validate_catalog" % (name,))
        return {"password": None, "dsn": None}
    try:
        values = secret_values_of(raw_workloads, name)
    except KeyError:
        raise CredentialsError("workload %r is in the stateshift_catalog fact but not in stateshift_workloads: validate the "
                               "catalog this play uses (stateshift.k3s.validate_catalog without workloads:)" % (name,)) from None
    raw_dsn = values.get("source.dsn")
    password = values.get("source.password") or (dsn_password(raw_dsn) if raw_dsn else None)
    if password is not None and "\x00" in password:
        raise CredentialsError("workload %r: the source password %s" % (name, NUL_REFUSED))
    return {"password": password or None, "dsn": catalog_dsn.without_password(raw_dsn) if raw_dsn else None}
