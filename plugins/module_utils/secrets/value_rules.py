# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which secret values the collection carries, checked before anything is written.

A value travels as base64 in the Secret, as a SCRAM verifier in a psql script, percent-encoded in a
connection URL and as an environment variable of the pods. Quotes, ``$``, backslashes and non-ASCII
text survive all of these; a NUL byte survives none (no environment variable or C string holds one),
and a database password with a newline or another control character is cut by ``.pgpass`` files,
env files and line-reading clients. Problems are described without the value.
"""

from __future__ import annotations

import re

# Longer than any generator makes (hex 512 bytes = 1024 characters); nothing longer is tested end to end.
ROLE_PASSWORD_MAX = 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def value_problem(value, role=None):
    """Why ``value`` cannot be used (as the password of PostgreSQL role ``role`` when given), or None."""
    if not isinstance(value, str):
        return "is not text"
    if "\x00" in value:
        return "holds a NUL byte, which no environment variable, libpq or PostgreSQL can carry"
    if role is None:
        return None
    if _CONTROL.search(value):
        return ("holds a newline or another control character, which .pgpass files, env files and line-reading "
                "clients cut, so it cannot be the password of PostgreSQL role %r" % role)
    if len(value) > ROLE_PASSWORD_MAX:
        return ("is %d characters long, more than the %d a password of PostgreSQL role %r may have"
                % (len(value), ROLE_PASSWORD_MAX, role))
    return None
