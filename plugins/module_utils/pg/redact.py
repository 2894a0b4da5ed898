# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Take password verifiers and password literals out of text shown to a user (psql echoes a failed statement)."""

from __future__ import annotations

import re

HIDDEN = "********"
_PATTERNS = (
    (re.compile(r"SCRAM-SHA-256\$[^\s'\"]*"), HIDDEN),
    (re.compile(r"\bmd5[0-9a-f]{32}\b"), HIDDEN),
    (re.compile(r"(PASSWORD\s+)'(?:[^']|'')*'?", re.IGNORECASE), r"\1'" + HIDDEN + "'"),
    (re.compile(r"(PGPASSWORD=)\S+"), r"\1" + HIDDEN),
    (re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE), r"\1" + HIDDEN),
    (re.compile(r"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE), r"\1" + HIDDEN + "@"),
)


def redact(text):
    """``text`` without SCRAM/MD5 verifiers, PASSWORD '...' literals, PGPASSWORD=..., password=... or URI passwords."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
