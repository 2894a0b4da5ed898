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
        db-user: {from: user}                  # derived from the workload: host, port, user, database, url
        DATABASE_URL: {from: url}              # pg_conn_url with the current password of the user
        sslmode: {value: disable}              # a literal, kept in the Secret as written

Every function here is pure: no I/O, no secret values (only references and generator specs).
Error messages have the catalog's one format (catalog/errors.py): the workload, the field
(``secrets.<secret>.<key>...``), the bad value, the problem and the fix.
"""

from __future__ import annotations

import re

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import syntax
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.errors import MISSING, field_error, workload_label
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import catalog_keys
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.errors import SpecError
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.op_keys import parse_generate, parse_reference

OPTIONS_KEY = "$options"
OPTION_NAMES = ("immutable", "type", "labels", "annotations")
KEY_NAMES = ("op", "generate", "rotate", "role")

_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
KEY_HINT = ("write {op: op://Vault/Item/field, generate: hex32}, just the reference, {value: text} or "
            "{from: host|port|user|database|url}")


def normalize_key(spec):
    """Normalise one key's source; raise SpecError on bad input.

    A 1Password key becomes ``{op, generate, rotate, role}``, a literal ``{value}`` and a key derived from
    the workload ``{from, user, database, password_key}`` (the unset ones None); ``kind`` says which."""
    if isinstance(spec, str):
        spec = {"op": spec}
    if not isinstance(spec, dict):
        raise SpecError("", spec, "is not a key source", KEY_HINT)
    if "value" in spec:
        return catalog_keys.literal_key(spec)
    if "from" in spec:
        return catalog_keys.derived_key(spec)
    return _op_key(spec)


def _op_key(spec):
    unknown = sorted(set(spec) - set(KEY_NAMES))
    if unknown:
        raise SpecError("", spec, "has unknown option(s) %s" % ", ".join(unknown), "allowed are %s" % ", ".join(KEY_NAMES))
    if "op" not in spec:
        raise SpecError("op", MISSING, "is missing", "every key needs its 1Password reference (op://Vault/Item/field), "
                        "which is where a generated value is written back")
    parse_reference(spec["op"])
    generate = parse_generate(spec.get("generate"))
    rotate = spec.get("rotate", False)
    if not isinstance(rotate, bool):
        raise SpecError("rotate", rotate, "is not a boolean", "use true or false")
    if rotate and generate is None:
        raise SpecError("rotate", rotate, "rotation needs a generator for the new value", "add generate: hex32 (or another generator)")
    role = spec.get("role")
    if role is not None and syntax.pg_role(role, None):
        raise SpecError("role", role, "is not a PostgreSQL role name", "use 1 to 63 letters, digits, '_' and '-', "
                        "starting with a letter or '_'")
    return {"kind": "op", "op": spec["op"], "generate": generate, "rotate": rotate, "role": role}


def normalize_options(options):
    if options is None:
        return {"immutable": False, "type": "Opaque", "labels": {}, "annotations": {}}
    if not isinstance(options, dict):
        raise SpecError("", options, "must be a mapping", "set any of %s" % ", ".join(OPTION_NAMES))
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise SpecError("", options, "has unknown option(s) %s" % ", ".join(unknown), "allowed are %s" % ", ".join(OPTION_NAMES))
    immutable = options.get("immutable", False)
    if not isinstance(immutable, bool):
        raise SpecError("immutable", immutable, "is not a boolean", "use true or false")
    for name in ("labels", "annotations"):
        value = options.get(name, {})
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise SpecError(name, value, "must map strings to strings", "quote the values")
    secret_type = options.get("type", "Opaque")
    if not isinstance(secret_type, str) or not secret_type:
        raise SpecError("type", secret_type, "is not a Secret type", "use a type such as Opaque")
    return {"immutable": immutable, "type": secret_type, "labels": dict(options.get("labels", {})),
            "annotations": dict(options.get("annotations", {}))}


def _below(path, exc):
    return "%s.%s" % (path, exc.field) if exc.field else path


def validate_secrets(workload_name, secrets, index=None):
    """Check one workload's ``secrets`` subtree. Returns a list of error messages (empty when valid)."""
    label = workload_label(workload_name, index)
    if secrets is None:
        return []
    if not isinstance(secrets, dict):
        return [field_error(label, "secrets", secrets, "must map Secret names to keys",
                            "write {invoicetron-secrets: {postgres-password: {op: op://Kubernetes/Invoicetron/postgres-password}}}")]
    errors = []
    for secret_name, keys in secrets.items():
        here = "secrets.%s" % (secret_name,)
        if not isinstance(secret_name, str) or len(secret_name) > 253 or not _SECRET_NAME.match(secret_name):
            errors.append(field_error(label, here, MISSING, "is not a valid Secret name",
                                      "use lower-case letters, digits, '-' and '.' (DNS-1123 subdomain, at most 253 characters)"))
        elif not isinstance(keys, dict) or not keys:
            errors.append(field_error(label, here, keys, "is not a mapping of keys to sources", KEY_HINT))
        elif not set(keys) - {OPTIONS_KEY}:
            errors.append(field_error(label, here, MISSING, "the Secret has no keys", "add at least one key with an 'op' reference"))
        else:
            errors.extend(field_error(label, _below("%s.%s" % (here, key), exc), exc.value, exc.problem, exc.fix)
                          for key, exc in _key_errors(keys))
    return errors


def _key_errors(keys):
    """(key, SpecError) for every bad key or $options of one Secret."""
    for key, spec in keys.items():
        try:
            if key == OPTIONS_KEY:
                normalize_options(spec)
            elif syntax.secret_key(key, None):
                raise SpecError("", MISSING, "is not a valid Secret key", "use letters, digits, '-', '_' and '.' "
                                "(at least one letter or digit)")
            else:
                normalize_key(spec)
        except SpecError as exc:
            yield key, exc


def describe(spec):
    """A short, value-free description of a normalised key spec for messages."""
    if spec["kind"] == "value":
        return "a literal value"
    if spec["kind"] == "from":
        return "derived from %s" % spec["from"]
    text = spec["op"]
    if spec["generate"]:
        text += " (generate %s%d)" % (spec["generate"]["kind"], spec["generate"]["length"])
    if spec["role"]:
        text += " (role %s)" % spec["role"]
    return text


def _declared_keys(workloads):
    """(index, workload, namespace, secret, key, normalised spec) for every valid key of every workload."""
    for index, workload in enumerate(workloads or []):
        secrets = workload.get("secrets") if isinstance(workload, dict) else None
        if not isinstance(secrets, dict) or not isinstance(workload.get("namespace"), str):
            continue
        for secret_name, keys in secrets.items():
            for key, raw in (keys.items() if isinstance(keys, dict) else ()):
                try:
                    yield index, workload, workload["namespace"], secret_name, key, normalize_key(raw)
                except (SpecError, TypeError):
                    continue  # validate_secrets reports it


def secret_key_conflicts(workloads):
    """Errors for every Secret key that two workloads of one namespace declare differently (the first one wins)."""
    errors, first = [], {}
    for index, workload, namespace, secret_name, key, spec in _declared_keys(workloads):
        if key == OPTIONS_KEY:
            continue
        where = (namespace, secret_name, key)
        if where in first and spec["kind"] == "from":
            errors.append(field_error(
                workload_label(workload.get("name"), index), "secrets.%s.%s" % (secret_name, key), describe(spec),
                "Secret %s/%s key %s is derived from a workload and workload %r declares it too" % (*where, first[where][0]),
                "declare it in one workload only (a derived value names one workload's database)"))
        elif where in first and first[where][1] != spec:
            errors.append(field_error(
                workload_label(workload.get("name"), index), "secrets.%s.%s" % (secret_name, key), describe(spec),
                "Secret %s/%s key %s is declared differently by workload %r (%s)" % (*where, first[where][0], describe(first[where][1])),
                "declare it once or make both declarations identical"))
        first.setdefault(where, (workload.get("name"), spec))
    return errors


def _plannable(index, workload):
    """The errors that keep one workload's Secrets out of the plan."""
    if not isinstance(workload, dict):
        return [field_error(workload_label(None, index), "", workload, "is not a mapping", "each workload is a mapping")]
    name = workload.get("name")
    if workload.get("secrets") and not (isinstance(workload.get("namespace"), str) and workload["namespace"]):
        return [field_error(workload_label(name, index), "namespace", MISSING, "is missing",
                            "set it: the Secrets %s need one" % ", ".join(map(str, workload["secrets"])))]
    return validate_secrets(name, workload.get("secrets"), index) if workload.get("secrets") else []


def _merge_secret(merged, index, workload, secret_name, keys, errors):
    ident = (workload["namespace"], secret_name)
    options = normalize_options(keys.get(OPTIONS_KEY))
    entry = merged.get(ident)
    if entry is None:
        merged[ident] = entry = {"namespace": ident[0], "name": secret_name, "workloads": [], "options": options, "keys": {}}
    elif OPTIONS_KEY in keys and options != entry["options"]:
        errors.append(field_error(workload_label(workload["name"], index), "secrets.%s.%s" % (secret_name, OPTIONS_KEY), MISSING,
                                  "Secret %s/%s has other %s in workload(s) %s" % (*ident, OPTIONS_KEY, ", ".join(entry["workloads"])),
                                  "make them identical"))
    entry["workloads"].append(workload["name"])
    for key, raw in keys.items():
        if key == OPTIONS_KEY or key in entry["keys"]:
            continue
        spec = normalize_key(raw)
        if spec["kind"] == "from":
            try:
                spec = dict(spec, context=catalog_keys.derivation_context(workload, spec, keys))
            except SpecError as exc:
                errors.append(field_error(workload_label(workload["name"], index), _below("secrets.%s.%s" % (secret_name, key), exc),
                                          exc.value, exc.problem, exc.fix))
                continue
        entry["keys"][key] = spec


def _reference_conflicts(workloads):
    """Errors for one 1Password reference given two generators, or rotated by one entry and not another."""
    errors, first = [], {}
    for index, workload, _namespace, secret_name, key, spec in _declared_keys(workloads):
        if spec["kind"] != "op":
            continue
        other = first.setdefault(spec["op"].lower(), (spec, workload.get("name"), secret_name, key))
        label, field = workload_label(workload.get("name"), index), "secrets.%s.%s" % (secret_name, key)
        if other[0]["generate"] and spec["generate"] and other[0]["generate"] != spec["generate"]:
            errors.append(field_error(label, field, describe(spec), "1Password reference %s is generated differently by workload %r "
                                      "(Secret %s key %r: %s)" % (spec["op"], other[1], other[2], other[3], describe(other[0])),
                                      "use one generator"))
        elif other[0]["rotate"] != spec["rotate"]:
            errors.append(field_error(label, field, describe(spec), "1Password reference %s is rotated by one entry and not by "
                                      "another (workloads %r and %r)" % (spec["op"], other[1], workload.get("name")),
                                      "set rotate the same everywhere"))
    return errors


def plan(workloads):
    """Validate every workload and merge Secrets by (namespace, name).

    Returns ``(secrets, errors)``. ``secrets`` is a list of
    ``{namespace, name, workloads, options, keys: {key: normalised spec}}`` in catalog order.
    A key claimed by two workloads must have the same source; one 1Password field must not be
    given two different generators. Any error means nothing should be written.
    """
    errors, valid, merged = [], [], {}
    for index, workload in enumerate(workloads or []):
        problems = _plannable(index, workload)
        errors.extend(problems)
        valid.append(workload if not problems and isinstance(workload, dict) and workload.get("secrets") else {})
    errors += secret_key_conflicts(valid) + _reference_conflicts(valid)
    for index, workload in enumerate(valid):
        for secret_name, keys in (workload.get("secrets") or {}).items():
            _merge_secret(merged, index, workload, secret_name, keys, errors)
    return list(merged.values()), errors
