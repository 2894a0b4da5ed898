# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and normalisation of the workload catalog's ``secrets`` subtree.

Shape (per workload)::

    secrets:                                   # Kubernetes Secret name -> key -> source
      invoicetron-secrets:
        $options: {immutable: false, type: Opaque, labels: {}, annotations: {}}   # optional
        postgres-password:
          op: op://Kubernetes/Invoicetron/postgres-password
          generate: {kind: hex, length: 32}    # or the shorthand hex32 / base64_32 / passphrase6
          rotate: false                        # rotate this value when the role runs with rotation on
          role: invoicetron                    # PostgreSQL role whose password this is (for ALTER ROLE)
        api-url: op://Kubernetes/Invoicetron/api-url    # shorthand: just the reference

Every function here is pure: no I/O, no secret values (only references and generator specs).
Error messages name the workload, the Secret, the key, the bad value and the fix.
"""

from __future__ import annotations

import re

GENERATOR_KINDS = ("hex", "base64", "base64url", "alnum", "passphrase")
DEFAULT_GENERATOR = {"kind": "hex", "length": 32}
# Bounds per kind: random bytes for hex/base64/base64url, characters for alnum, words for passphrase.
LENGTH_BOUNDS = {
    "hex": (16, 512),
    "base64": (16, 512),
    "base64url": (16, 512),
    "alnum": (16, 1024),
    "passphrase": (4, 64),
}
OPTIONS_KEY = "$options"
OPTION_NAMES = ("immutable", "type", "labels", "annotations")
KEY_NAMES = ("op", "generate", "rotate", "role")

_SHORTHAND = re.compile(r"^(hex|base64url|base64|alnum|passphrase)[_-]?(\d+)$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# Secret reference syntax: op://vault/item[/section]/field; names of alphanumerics, - _ . and spaces.
_REF_PART = r"[A-Za-z0-9_.\- ]+"
_REFERENCE = re.compile(r"^op://(%s)/(%s)(?:/(%s))?/(%s)$" % (_REF_PART, _REF_PART, _REF_PART, _REF_PART))
_ROLE = re.compile(r"^[^\x00]{1,63}$")
GENERATE_HINT = ("use {kind: hex|base64|base64url|alnum|passphrase, length: N} "
                 "or a shorthand such as hex32, base64_32, passphrase6")


def parse_reference(text):
    """Split ``op://vault/item[/section]/field`` into a dict, or raise ValueError saying why."""
    if not isinstance(text, str):
        raise ValueError("a 1Password reference must be a string like op://Vault/Item/field, got %r" % (text,))
    if "?" in text:
        raise ValueError("query parameters are not supported in %r: reference the field itself" % text)
    match = _REFERENCE.match(text)
    if not match:
        raise ValueError("%r is not a 1Password secret reference: use op://<vault>/<item>[/<section>]/<field> "
                         "(names of letters, digits, spaces, '-', '_' and '.')" % text)
    vault, item, section, field = match.groups()
    if any(part != part.strip() for part in (vault, item, field, section or "")):
        raise ValueError("%r has leading or trailing spaces in a name: remove them" % text)
    return {"reference": text, "vault": vault, "item": item, "section": section, "field": field}


def parse_generate(value):
    """Normalise a generator spec (dict, shorthand string or ``true``) to ``{kind, length}``.

    Raises ValueError with the fix. ``None``/``False`` mean "do not generate" and return None.
    """
    if value is None or value is False:
        return None
    if value is True:
        return dict(DEFAULT_GENERATOR)
    if isinstance(value, str):
        match = _SHORTHAND.match(value.strip())
        if not match:
            raise ValueError("%r is not a generator: %s" % (value, GENERATE_HINT))
        kind, length = match.group(1), int(match.group(2))
    elif isinstance(value, dict):
        unknown = sorted(set(value) - {"kind", "length"})
        if unknown:
            raise ValueError("unknown generator option(s) %s: %s" % (", ".join(unknown), GENERATE_HINT))
        kind = value.get("kind", DEFAULT_GENERATOR["kind"])
        length = value.get("length", DEFAULT_GENERATOR["length"] if kind != "passphrase" else 6)
        if kind not in GENERATOR_KINDS:
            raise ValueError("generator kind %r is unknown: use one of %s" % (kind, ", ".join(GENERATOR_KINDS)))
        if isinstance(length, bool) or not isinstance(length, int):
            if isinstance(length, str) and length.isdigit():
                length = int(length)
            else:
                raise ValueError("generator length %r is not an integer" % (length,))
    else:
        raise ValueError("%r is not a generator: %s" % (value, GENERATE_HINT))
    low, high = LENGTH_BOUNDS[kind]
    if not low <= length <= high:
        unit = "words" if kind == "passphrase" else ("characters" if kind == "alnum" else "random bytes")
        raise ValueError("length %d for %s is out of range: use %d to %d %s" % (length, kind, low, high, unit))
    return {"kind": kind, "length": length}


def normalize_key(spec):
    """Normalise one key's source to ``{op, generate, rotate, role}``; raise ValueError on bad input."""
    if isinstance(spec, str):
        spec = {"op": spec}
    if not isinstance(spec, dict):
        raise ValueError("expected a mapping like {op: op://Vault/Item/field, generate: hex32} "
                         "or a reference string, got %r" % (spec,))
    unknown = sorted(set(spec) - set(KEY_NAMES))
    if unknown:
        raise ValueError("unknown option(s) %s: allowed are %s" % (", ".join(unknown), ", ".join(KEY_NAMES)))
    if "op" not in spec:
        raise ValueError("'op' is missing: every key needs its 1Password reference (op://Vault/Item/field), "
                         "which is where a generated value is written back")
    parse_reference(spec["op"])
    generate = parse_generate(spec.get("generate"))
    rotate = spec.get("rotate", False)
    if not isinstance(rotate, bool):
        raise ValueError("rotate %r is not a boolean: use true or false" % (rotate,))
    if rotate and generate is None:
        raise ValueError("rotate is true but there is no 'generate': rotation needs a generator for the new value")
    role = spec.get("role")
    if role is not None and (not isinstance(role, str) or not _ROLE.match(role)):
        raise ValueError("role %r is not a PostgreSQL role name (1 to 63 characters)" % (role,))
    return {"op": spec["op"], "generate": generate, "rotate": rotate, "role": role}


def normalize_options(options):
    if options is None:
        return {"immutable": False, "type": "Opaque", "labels": {}, "annotations": {}}
    if not isinstance(options, dict):
        raise ValueError("expected a mapping with %s" % ", ".join(OPTION_NAMES))
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise ValueError("unknown option(s) %s: allowed are %s" % (", ".join(unknown), ", ".join(OPTION_NAMES)))
    immutable = options.get("immutable", False)
    if not isinstance(immutable, bool):
        raise ValueError("immutable %r is not a boolean" % (immutable,))
    for name in ("labels", "annotations"):
        value = options.get(name, {})
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError("%s must map strings to strings, got %r" % (name, value))
    secret_type = options.get("type", "Opaque")
    if not isinstance(secret_type, str) or not secret_type:
        raise ValueError("type %r is not a Secret type such as Opaque" % (secret_type,))
    return {"immutable": immutable, "type": secret_type, "labels": dict(options.get("labels", {})),
            "annotations": dict(options.get("annotations", {}))}


def validate_secrets(workload_name, secrets):
    """Check one workload's ``secrets`` subtree. Returns a list of error messages (empty when valid)."""
    where = "workload %r: secrets" % (workload_name,)
    if secrets is None:
        return []
    if not isinstance(secrets, dict):
        return ["%s must map Secret names to keys, got %r; "
                "example: {invoicetron-secrets: {postgres-password: {op: op://Kubernetes/Invoicetron/postgres-password}}}"
                % (where, secrets)]
    errors = []
    for secret_name, keys in secrets.items():
        here = "%s.%s" % (where, secret_name)
        if not isinstance(secret_name, str) or len(secret_name) > 253 or not _SECRET_NAME.match(secret_name):
            errors.append("%s: %r is not a valid Secret name: use lower-case letters, digits, '-' and '.' "
                          "(DNS-1123 subdomain, at most 253 characters)" % (where, secret_name))
            continue
        if not isinstance(keys, dict) or not keys:
            errors.append("%s: expected a mapping of keys to sources, got %r" % (here, keys))
            continue
        if not set(keys) - {OPTIONS_KEY}:
            errors.append("%s: the Secret has no keys: add at least one key with an 'op' reference" % here)
        for key, spec in keys.items():
            if key == OPTIONS_KEY:
                try:
                    normalize_options(spec)
                except ValueError as exc:
                    errors.append("%s.%s: %s" % (here, OPTIONS_KEY, exc))
                continue
            if not isinstance(key, str) or len(key) > 253 or not _SECRET_KEY.match(key):
                errors.append("%s: %r is not a valid Secret key: use letters, digits, '-', '_' and '.'" % (here, key))
                continue
            try:
                normalize_key(spec)
            except ValueError as exc:
                errors.append("%s.%s: %s" % (here, key, exc))
    return errors


def describe(spec):
    """A short, value-free description of a normalised key spec for messages."""
    text = spec["op"]
    if spec["generate"]:
        text += " (generate %s%d)" % (spec["generate"]["kind"], spec["generate"]["length"])
    if spec["role"]:
        text += " (role %s)" % spec["role"]
    return text


def plan(workloads):
    """Validate every workload and merge Secrets by (namespace, name).

    Returns ``(secrets, errors)``. ``secrets`` is a list of
    ``{namespace, name, workloads, options, keys: {key: normalised spec}}`` in catalog order.
    A key claimed by two workloads must have the same source; one 1Password field must not be
    given two different generators. Any error means nothing should be written.
    """
    errors = []
    merged = {}
    by_reference = {}
    for index, workload in enumerate(workloads or []):
        if not isinstance(workload, dict):
            errors.append("stateshift_workloads[%d] is not a mapping" % index)
            continue
        name = workload.get("name", "#%d" % index)
        secrets = workload.get("secrets")
        if not secrets:
            continue
        namespace = workload.get("namespace")
        if not isinstance(namespace, str) or not namespace:
            errors.append("workload %r: 'namespace' is missing; the Secrets %s need one" % (name, ", ".join(secrets)))
            continue
        problems = validate_secrets(name, secrets)
        if problems:
            errors.extend(problems)
            continue
        for secret_name, keys in secrets.items():
            ident = (namespace, secret_name)
            options = normalize_options(keys.get(OPTIONS_KEY))
            entry = merged.get(ident)
            if entry is None:
                entry = merged[ident] = {"namespace": namespace, "name": secret_name, "workloads": [name],
                                         "options": options, "keys": {}, "_owner": {}}
            else:
                entry["workloads"].append(name)
                if OPTIONS_KEY in keys and options != entry["options"]:
                    errors.append("Secret %s/%s: workloads %s and %r give different %s; make them identical"
                                  % (namespace, secret_name, ", ".join(repr(w) for w in entry["workloads"][:-1]),
                                     name, OPTIONS_KEY))
            for key, raw in keys.items():
                if key == OPTIONS_KEY:
                    continue
                spec = normalize_key(raw)
                known = entry["keys"].get(key)
                if known is not None and known != spec:
                    errors.append("Secret %s/%s key %r is claimed differently by workload %r (%s) and workload %r (%s): "
                                  "make both entries identical or use different keys"
                                  % (namespace, secret_name, key, entry["_owner"][key], describe(known), name,
                                     describe(spec)))
                    continue
                entry["keys"][key] = spec
                entry["_owner"].setdefault(key, name)
                ref = spec["op"].lower()
                other = by_reference.get(ref)
                if other is None:
                    by_reference[ref] = (spec, name, secret_name, key)
                elif other[0]["generate"] and spec["generate"] and other[0]["generate"] != spec["generate"]:
                    errors.append("1Password reference %s is generated differently by workload %r (Secret %s key %r: %s) "
                                  "and workload %r (Secret %s key %r: %s): use one generator"
                                  % (spec["op"], other[1], other[2], other[3], describe(other[0]), name, secret_name,
                                     key, describe(spec)))
                elif other[0]["rotate"] != spec["rotate"]:
                    errors.append("1Password reference %s is rotated by one entry and not by another (workloads %r and %r): "
                                  "set rotate the same everywhere" % (spec["op"], other[1], name))
    result = []
    for entry in merged.values():
        entry.pop("_owner")
        result.append(entry)
    return result, errors
