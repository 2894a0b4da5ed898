# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve, generate, rotate and write back the catalog's Secrets - all or nothing.

Order: validate the whole catalog; read every referenced 1Password item (one fetch per item);
refuse if any reference is missing and has no generator; only then generate what is missing or
rotated and write it back (one write per item). The caller applies the Kubernetes Secrets after
this returns, so a bad reference never leaves a Secret half-written.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import catalog_keys, onepassword, value_rules
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import spec as secret_spec
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import values as secret_values

MANAGED_BY = "stateshift.k3s"


class SecretSyncError(Exception):
    """One or more problems, each naming the workload/Secret/key/reference and the fix."""

    def __init__(self, errors):
        super().__init__("\n".join(errors))
        self.errors = list(errors)


def _selected(selectors, workloads, secret, key, spec):
    """Whether a key is rotated by ``selectors`` (``all``, ``workload``, ``workload/secret``, ``workload/secret/key``)."""
    for selector in selectors:
        parts = selector.split("/")
        if parts == ["all"] and spec["rotate"]:
            return True
        if parts[0] not in workloads:
            continue
        if len(parts) == 1 and spec["rotate"]:
            return True
        if len(parts) == 2 and parts[1] == secret and spec["rotate"]:
            return True
        if len(parts) == 3 and parts[1] == secret and parts[2] == key:
            return True
    return False


def _check_selectors(selectors, planned):
    errors = []
    for selector in selectors:
        parts = selector.split("/")
        if parts == ["all"]:
            continue
        matched = False
        for entry in planned:
            if parts[0] not in entry["workloads"]:
                continue
            if len(parts) == 1 or (len(parts) >= 2 and parts[1] == entry["name"] and
                                   (len(parts) == 2 or parts[2] in entry["keys"])):
                matched = True
                if len(parts) == 3 and entry["keys"][parts[2]]["kind"] != "op":
                    errors.append("rotate selector %r: key %r of Secret %s/%s is %s, not a 1Password value: rotate the key "
                                  "it is made from, and it follows" % (selector, parts[2], entry["namespace"], entry["name"],
                                                                       secret_spec.describe(entry["keys"][parts[2]])))
                elif len(parts) == 3 and entry["keys"][parts[2]]["generate"] is None:
                    errors.append("rotate selector %r: key %r of Secret %s/%s has no 'generate', so there is no way "
                                  "to make a new value; add generate: hex32 (or another generator)"
                                  % (selector, parts[2], entry["namespace"], entry["name"]))
        if not matched or len(parts) > 3:
            errors.append("rotate selector %r matches no workload, Secret or key of the catalog: use 'all', "
                          "'<workload>', '<workload>/<secret>' or '<workload>/<secret>/<key>'" % selector)
    return errors


def sync(workloads, client, rotate=(), check_mode=False, generate=secret_values.generate, only=None,
         item_category="SECURE_NOTE"):
    """Returns ``{"secrets": [...with data...], "summary": [...value-free...], "written": [...], "rotated": [...]}``.

    Raises SecretSyncError (all problems at once) before anything is written.
    """
    planned, errors = secret_spec.plan(workloads)
    if only:
        unknown = sorted(set(only) - {w.get("name") for w in workloads or [] if isinstance(w, dict)})
        errors += ["workload %r (in 'only') is not in the catalog" % name for name in unknown]
        planned = [entry for entry in planned if set(entry["workloads"]) & set(only)]
    errors += _check_selectors(list(rotate or ()), planned)
    if errors:
        raise SecretSyncError(errors)

    references = []
    for entry in planned:
        for spec in entry["keys"].values():
            if spec["op"] and spec["op"] not in references:
                references.append(spec["op"])
    try:
        found = client.resolve(references)
    except onepassword.OnePasswordError as exc:
        raise SecretSyncError([str(exc)]) from None

    new_values, rotated_refs = _decide(planned, found, rotate, generate)
    errors = _unusable_values(planned, found, new_values)
    if errors:
        raise SecretSyncError(errors)

    written = []
    if new_values and not check_mode:
        try:
            written = client.write(new_values, category=item_category)
        except onepassword.OnePasswordError as exc:
            raise SecretSyncError([str(exc)]) from None
    return _result(planned, found, new_values, rotated_refs, written, client.calls)


def _decide(planned, found, rotate, generate):
    """Per 1Password field: keep, generate (missing) or rotate. Raises SecretSyncError for missing ones."""
    specs = {}
    rotated_refs = set()
    for entry in planned:
        for key, spec in entry["keys"].items():
            if spec["kind"] != "op":
                continue
            specs.setdefault(spec["op"], spec)
            if _selected(rotate or (), entry["workloads"], entry["name"], key, spec):
                rotated_refs.add(spec["op"])
    problems = []
    new_values = {}
    for ref, spec in specs.items():
        state = found[ref]
        if ref in rotated_refs:
            new_values[ref] = generate(spec["generate"])
        elif state["missing"]:
            if spec["generate"] is None:
                parsed = secret_spec.parse_reference(ref)
                section = " in section %r" % parsed["section"] if parsed["section"] else ""
                if state["missing"] == "item":
                    what = "item %r is not in vault %r" % (parsed["item"], parsed["vault"])
                else:
                    what = "item %r has no field %r%s" % (parsed["item"], parsed["field"], section)
                users = ["%s/%s key %r" % (e["namespace"], e["name"], k) for e in planned
                         for k, s in e["keys"].items() if s["op"] == ref]
                problems.append("%s: %s (needed by Secret %s); create it in 1Password or add 'generate: hex32' to the key"
                                % (ref, what, ", ".join(users)))
            else:
                new_values[ref] = generate(spec["generate"])
    if problems:
        raise SecretSyncError(problems)
    return new_values, rotated_refs


def _unusable_values(planned, found, new_values):
    """One message per key whose value cannot be carried (secrets/value_rules.py), naming the key, never the value."""
    errors = []
    for entry in planned:
        for key, spec in entry["keys"].items():
            if spec["kind"] != "op":
                continue
            value = new_values.get(spec["op"], found[spec["op"]]["value"])
            problem = value_rules.value_problem(value, spec["role"])
            if problem:
                where = (entry["namespace"], entry["name"], key, spec["op"], problem)
                errors.append("Secret %s/%s key %r: the value of %s %s; change it in 1Password (or rotate it with "
                              "secrets_rotate if the key has 'generate')" % where)
    return errors


def _result(planned, found, new_values, rotated_refs, written, calls):
    secrets, summary = [], []
    for entry in planned:
        data, sources = {}, {}
        for key, spec in entry["keys"].items():
            ref = spec["op"]
            if spec["kind"] == "value":
                data[key], source = spec["value"], "literal"
            elif spec["kind"] == "op":
                data[key] = new_values.get(ref, found[ref]["value"])
                source = "rotated" if ref in rotated_refs else ("generated" if ref in new_values else "1password")
            else:
                source = "derived from %s" % spec["from"]
            sources[key] = {"op": ref, "source": source, "role": spec["role"]}
        for key, spec in entry["keys"].items():
            if spec["kind"] == "from":
                data[key] = catalog_keys.derived_value(spec, data)
        options = entry["options"]
        labels = dict(options["labels"])
        labels.setdefault("app.kubernetes.io/managed-by", MANAGED_BY)
        if len(entry["workloads"]) == 1:
            labels.setdefault("app.kubernetes.io/part-of", entry["workloads"][0])
        annotations = dict(options["annotations"])
        annotations.setdefault("stateshift.k3s/source", "1password")
        common = {"namespace": entry["namespace"], "name": entry["name"], "workloads": entry["workloads"],
                  "type": options["type"], "immutable": options["immutable"], "labels": labels,
                  "annotations": annotations}
        secrets.append(dict(common, data=data))
        summary.append(dict(common, keys=sources,
                            rotated=sorted(k for k, s in sources.items() if s["source"] == "rotated")))
    return {"secrets": secrets, "summary": summary, "written": written, "rotated": sorted(rotated_refs),
            "generated": sorted(set(new_values) - rotated_refs), "op_calls": calls}
