# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quoting of PostgreSQL identifiers and literals, and the filter every catalog query uses for user schemas."""

from __future__ import annotations

# Schemas that hold user objects: not the system catalogs, not TOAST, not temporary schemas.
USER_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
)

# An object that belongs to an extension (the extension creates it on the target); format with oid=<column>.
NOT_EXTENSION_MEMBER = "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"

# A table whose rows are the user's: not part of an extension, or an extension's configuration table
# (pg_extension_config_dump), whose rows pg_dump would dump as data too.
USER_DATA = ("(" + NOT_EXTENSION_MEMBER + " OR {oid} IN (SELECT unnest(e.extconfig) FROM pg_extension e "
             "WHERE e.extconfig IS NOT NULL))")


def quote_ident(name):
    """Always quote: an unquoted keyword such as user or current_date would be read as a function call."""
    return '"%s"' % name.replace('"', '""')


def quote_literal(value):
    return "'%s'" % str(value).replace("'", "''")


def quote_secret_literal(text):
    """A literal that carries a secret: refused if it holds a backslash or NUL, which no setting could read back the same."""
    if "\\" in text or "\x00" in text:
        raise ValueError("refusing a literal with a backslash or NUL byte")
    return quote_literal(text)
