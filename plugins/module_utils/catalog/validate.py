# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workload catalog: validate every workload before any phase changes anything.

`validate_catalog()` returns the catalog with defaults filled in (and every workload's object
names, labels and selector), or raises CatalogError with every problem found (not just the first),
each naming the workload, the field, the bad value and the fix. The rules are the schema's.
"""

from __future__ import annotations

import copy
import difflib

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import names, schema
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.errors import HIDDEN, MISSING, field_error, workload_label
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.rules import WORKLOAD_RULES
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.spec import secret_key_conflicts, validate_secrets


class CatalogError(Exception):
    """The catalog is invalid; `errors` lists every problem, one line each."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("the workload catalog has %d problem(s):\n- %s" % (len(self.errors), "\n- ".join(self.errors)))


class _Checker:
    """Walks one workload along the schema and collects its problems."""

    def __init__(self, index, workload):
        self.workload = workload
        self.label = workload_label(workload.get("name"), index)
        self.engine = workload.get("engine")
        self.errors = []

    def error(self, field, value, problem, fix):
        self.errors.append(field_error(self.label, field, value, problem, fix))

    def mapping(self, mapping, path, shown):
        allowed = schema.children(path)
        known = [f.name for f in allowed]
        for key in mapping:
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1)
                fix = "did you mean '%s'?" % hint[0] if hint else "allowed: %s" % ", ".join(known)
                self.error(_join(shown, key), MISSING, "unknown field", fix)
        for field in allowed:
            where = _join(shown, field.name)
            if field.name in mapping:
                self.value(field, mapping[field.name], where)
            elif field.required:
                self.error(where, MISSING, "is required", field.required)

    def value(self, field, value, where):
        shown = HIDDEN if field.no_log else value
        if field.not_built:
            self.error(where, shown, "is not built yet: the %s does not exist, so nothing would act on it" % field.not_built,
                       schema.NOT_BUILT_FIX % field.not_built)
            return
        if field.removed:
            self.error(where, shown, *field.removed)
            return
        if self.engine in schema.ENGINES and self.engine not in field.engines:
            self.error(where, shown, "is only used by the %s engine" % ", ".join(field.engines), "remove it")
            return
        if value is None and field.nullable:
            return
        problem = _type_problem(field, value) or _choice_problem(field, value)
        if problem is None and field.rule is not None:
            problem = field.rule(value, self.workload)
        if problem is not None:
            self.error(where, shown, problem, _fix(field, problem))
        elif field.kind == "dict" and schema.children(field.path):
            self.mapping(value, field.path, where)
        elif field.kind == "list" and field.elements == "dict":
            self.elements(field, value, where)

    def elements(self, field, items, where):
        for index, item in enumerate(items):
            here = "%s[%d]" % (where, index)
            if field.shorthand and isinstance(item, str):
                item = {field.shorthand: item}
            if not isinstance(item, dict):
                self.error(here, item, "must be a mapping", "write each entry as 'key: value' pairs")
            else:
                self.mapping(item, field.path + "[]", here)


def _join(path, name):
    return "%s.%s" % (path, name) if path else str(name)


def _type_problem(field, value):
    if field.kind == "int":
        return None if _whole_number_in_bounds(field, value) else "must be a whole number %s" % _bounds(field)
    expected = _TYPES.get(field.kind)
    return expected[1] if expected and not isinstance(value, expected[0]) else None


def _whole_number_in_bounds(field, value):
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return (field.minimum is None or value >= field.minimum) and (field.maximum is None or value <= field.maximum)


def _choice_problem(field, value):
    if value in field.planned:
        return "is not built yet (only %s)" % " and ".join(field.choices)
    if field.choices and value not in field.choices:
        planned = " (%s: planned, not built yet)" % ", ".join(field.planned) if field.planned else ""
        return "is not one of %s%s" % (", ".join(field.choices), planned)
    return None


def _fix(field, problem):
    if problem.startswith("is not one of"):
        return "use one of them"
    if field.kind == "bool":
        return "write %s: true or %s: false" % (field.name, field.name)
    if field.kind == "int":
        return "set a number %s" % _bounds(field)
    return field.fix or _DEFAULT_FIXES.get(field.kind, "see docs/catalog.md")


def _bounds(field):
    if field.minimum is not None and field.maximum is not None:
        return "from %d to %d" % (field.minimum, field.maximum)
    return "%d or more" % field.minimum if field.minimum is not None else ""


_TYPES = {"str": (str, "must be a string"), "bool": (bool, "must be true or false"), "dict": (dict, "must be a mapping"),
          "list": (list, "must be a list"), "names": ((str, list), "must be all or a list of database names")}
_DEFAULT_FIXES = {"str": "quote it", "dict": "write it as 'key: value' pairs", "list": "write a YAML list"}


def _check_workload(index, workload):
    if not isinstance(workload, dict):
        return [field_error(workload_label(None, index), "", workload, "is not a mapping",
                            "each workload is a mapping with at least name, engine and storage")]
    check = _Checker(index, workload)
    check.mapping(workload, "", "")
    for rule in WORKLOAD_RULES:
        for field, value, problem, fix in rule(workload):
            check.error(field, value, problem, fix)
    if isinstance(workload.get("secrets"), dict):
        check.errors.extend(validate_secrets(workload.get("name"), workload["secrets"], index))
    return check.errors


def fill(workload):
    """A valid workload with every default filled in, and the output keys (objects, labels, selector) added."""
    filled = copy.deepcopy(workload)
    _fill_mapping(filled, "", filled)
    for key, (_doc, make) in schema.OUTPUT_KEYS.items():
        filled[key] = make(filled)
    return filled


def _fill_mapping(mapping, path, workload):
    for field in schema.children(path):
        if field.refused or workload["engine"] not in field.engines:
            continue
        if field.name not in mapping:
            if field.default is schema.NO_DEFAULT:
                continue
            mapping[field.name] = field.default_for(workload)
        value = mapping[field.name]
        if field.normalize is not None and value is not None:
            mapping[field.name] = value = field.normalize(value)
        if field.kind == "dict" and isinstance(value, dict):
            _fill_mapping(value, field.path, workload)
        elif field.kind == "list" and field.elements == "dict":
            mapping[field.name] = [{field.shorthand: item} if isinstance(item, str) else item for item in value]
            for item in mapping[field.name]:
                _fill_mapping(item, field.path + "[]", workload)


def _check_across(workloads, given):
    errors, owners, apps, offsite = [], {}, {}, {}
    for index, workload in enumerate(workloads):
        label = workload_label(workload["name"], index)
        key, app = (workload["namespace"], workload["name"]), (workload["namespace"], workload["objects"]["app"])
        if key in owners:
            errors.append(field_error(label, "name", workload["name"], "namespace/name %s/%s is already used by "
                                      "stateshift_workloads[%d]" % (*key, owners[key]), "give each workload its own name or namespace"))
        elif app in apps:
            errors.append(field_error(label, "service_name", app[1], "names the Service and StatefulSet %s/%s of "
                                      "stateshift_workloads[%d] as well" % (*app, apps[app]),
                                      "give each workload of a namespace its own service_name"))
        owners.setdefault(key, index)
        apps.setdefault(app, index)
        s3 = workload.get("backup", {}).get("s3")
        place = (s3["endpoint"], s3["bucket"], s3["prefix"].strip("/")) if s3 else None
        if place in offsite:
            errors.append(field_error(label, "backup.s3.prefix", s3["prefix"], "is also the off-site place of stateshift_workloads[%d] "
                                      "in bucket %s (their retention would delete each other's backups)" % (offsite[place], s3["bucket"]),
                                      "give each workload its own prefix"))
        if place:
            offsite.setdefault(place, index)
        for kind, made in names.names_too_long(workload):
            field = "service_name" if "service_name" in (given[index] or {}) else "name"
            errors.append(field_error(label, field, workload[field], "makes the %s name %s, %d characters, over Kubernetes' limit of %d"
                                      % (kind.replace("_", " "), made, len(made), names.NAME_LIMITS[kind]),
                                      "set a shorter service_name (it names every object of the workload)"))
    return errors + secret_key_conflicts(workloads)


def validate_catalog(workloads):
    """Validate every workload, then the catalog as a whole; return it with defaults filled in."""
    if not isinstance(workloads, list):
        problem = "must be a list of workloads, got %s" % type(workloads).__name__
        fix = "write stateshift_workloads as a YAML list of mappings"
        raise CatalogError([field_error("stateshift_workloads", "", MISSING, problem, fix)])
    errors = []
    for index, workload in enumerate(workloads):
        errors.extend(_check_workload(index, workload))
    if errors:
        raise CatalogError(errors)
    filled = [fill(workload) for workload in workloads]
    errors = _check_across(filled, workloads)
    if errors:
        raise CatalogError(errors)
    return filled
