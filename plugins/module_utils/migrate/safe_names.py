# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A database's name where only plain names fit: temporary file names, ConfigMap keys, field manager names."""

from __future__ import annotations

import hashlib
import re

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")


def safe_name(name):
    """``name`` itself when it is only letters, digits, '.', '_' and '-' (at most 63), else ``db-`` and a digest of it."""
    if _PLAIN.fullmatch(name):
        return name
    return "db-" + hashlib.sha256(name.encode()).hexdigest()[:16]
