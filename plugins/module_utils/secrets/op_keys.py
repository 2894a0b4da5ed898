# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A 1Password key of the catalog: its ``op://`` reference and the generator of a missing or rotated value."""

from __future__ import annotations

import re

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.errors import SpecError

GENERATOR_KINDS = ("hex", "base64", "base64url", "alnum", "passphrase")
DEFAULT_GENERATOR = {"kind": "hex", "length": 32}
# Bounds per kind: random bytes for hex/base64/base64url, characters for alnum, words for passphrase.
LENGTH_BOUNDS = {"hex": (16, 512), "base64": (16, 512), "base64url": (16, 512), "alnum": (16, 1024), "passphrase": (4, 64)}
_SHORTHAND = re.compile(r"^(hex|base64url|base64|alnum|passphrase)[_-]?(\d+)$")
# Secret reference syntax: op://vault/item[/section]/field; names of alphanumerics, - _ . and spaces.
_REF_PART = r"[A-Za-z0-9_.\- ]+"
_REFERENCE = re.compile(r"^op://(%s)/(%s)(?:/(%s))?/(%s)$" % (_REF_PART, _REF_PART, _REF_PART, _REF_PART))
GENERATE_HINT = "use {kind: hex|base64|base64url|alnum|passphrase, length: N} or a shorthand such as hex32, base64_32, passphrase6"


def parse_reference(text):
    """Split ``op://vault/item[/section]/field`` into a dict, or raise SpecError saying why."""
    if not isinstance(text, str):
        raise SpecError("op", text, "is not a 1Password reference", "write it as a string like op://Vault/Item/field")
    if "?" in text:
        raise SpecError("op", text, "has query parameters, which are not supported", "reference the field itself")
    match = _REFERENCE.match(text)
    if not match:
        raise SpecError("op", text, "is not a 1Password secret reference", "use op://<vault>/<item>[/<section>]/<field> "
                        "(names of letters, digits, spaces, '-', '_' and '.')")
    vault, item, section, field = match.groups()
    if any(part != part.strip() for part in (vault, item, field, section or "")):
        raise SpecError("op", text, "has leading or trailing spaces in a name", "remove them")
    return {"reference": text, "vault": vault, "item": item, "section": section, "field": field}


def parse_generate(value):
    """Normalise a generator spec (dict, shorthand string or ``true``) to ``{kind, length}``.

    Raises SpecError with the fix. ``None``/``False`` mean "do not generate" and return None.
    """
    if value is None or value is False:
        return None
    if value is True:
        return dict(DEFAULT_GENERATOR)
    match = _SHORTHAND.match(value.strip()) if isinstance(value, str) else None
    if match:
        kind, length = match.group(1), int(match.group(2))
    elif isinstance(value, dict):
        kind, length = _generator_mapping(value)
    else:
        raise SpecError("generate", value, "is not a generator", GENERATE_HINT)
    low, high = LENGTH_BOUNDS[kind]
    if not low <= length <= high:
        unit = "words" if kind == "passphrase" else ("characters" if kind == "alnum" else "random bytes")
        raise SpecError("generate", value, "length %d for %s is out of range" % (length, kind), "use %d to %d %s" % (low, high, unit))
    return {"kind": kind, "length": length}


def _generator_mapping(value):
    unknown = sorted(set(value) - {"kind", "length"})
    if unknown:
        raise SpecError("generate", value, "has unknown generator option(s) %s" % ", ".join(unknown), GENERATE_HINT)
    kind = value.get("kind", DEFAULT_GENERATOR["kind"])
    length = value.get("length", DEFAULT_GENERATOR["length"] if kind != "passphrase" else 6)
    if kind not in GENERATOR_KINDS:
        raise SpecError("generate", value, "generator kind %r is unknown" % (kind,), "use one of %s" % ", ".join(GENERATOR_KINDS))
    if isinstance(length, str) and length.isdigit():
        length = int(length)
    if isinstance(length, bool) or not isinstance(length, int):
        raise SpecError("generate", value, "generator length %r is not an integer" % (length,), "give the length as a number")
    return kind, length
