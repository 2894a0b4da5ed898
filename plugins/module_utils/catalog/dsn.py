# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libpq connection strings (source.dsn): parse both forms, and take the password out of one.

Key/value form: ``host=db user=app password='it''s'`` (values bare, or single-quoted with \\' and \\\\);
URI form: ``postgresql://user:password@host:5432/db?password=...``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_URI = re.compile(r"^postgres(ql)?://", re.IGNORECASE)
_PAIR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)+)")


def is_uri(dsn):
    return bool(_URI.match(dsn))


def pairs(dsn):
    """The (key, raw value) pairs of a key/value connection string; ValueError when it does not parse."""
    found, position = [], 0
    while dsn[position:].strip():
        match = _PAIR.match(dsn, position)
        if not match:
            raise ValueError("cannot read a key=value pair at %r" % dsn[position:position + 20])
        found.append((match.group(1), match.group(2)))
        position = match.end()
    return found


def problem(dsn):
    """Why ``dsn`` is not a connection string libpq reads, or None."""
    if is_uri(dsn):
        try:
            urlsplit(dsn).port  # noqa: B018 (raises on a bad port)
        except ValueError:
            return "is not a connection URI (its port is not a number)"
        return None
    try:
        pairs(dsn)
    except ValueError:
        return "is not a key=value connection string or a postgresql:// URI"
    return None


def without_password(dsn):
    """``dsn`` with its password taken out (the userinfo password and any password parameter)."""
    if is_uri(dsn):
        parts = urlsplit(dsn)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            netloc = "%s@%s" % (userinfo.split(":", 1)[0], host)
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return " ".join("%s=%s" % (key, value) for key, value in pairs(dsn) if key != "password")
