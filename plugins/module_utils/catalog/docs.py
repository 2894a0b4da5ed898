# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/catalog.md's tables, rendered from the schema (scripts/catalog_docs.py writes and checks them)."""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import names, schema
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.rules import WORKLOAD_RULES

BEGIN = "<!-- generated: from plugins/module_utils/catalog/schema.py by scripts/catalog_docs.py; do not edit by hand -->"
END = "<!-- end of generated -->"
SAMPLE = {"name": "<name>", "engine": "<engine>", "service_name": "<service_name>"}


def _code(value):
    return "`%s`" % (value if isinstance(value, str) else json.dumps(value))


def default_text(field):
    """The default as the docs show it."""
    if field.default_doc is not None:
        return _code(field.default_doc)
    if field.default is schema.NO_DEFAULT:
        return ""
    return _code(field.default)


def rule_text(field):
    """What the field accepts: required, choices, bounds, the rule; or that it is refused."""
    if field.not_built:
        return "**refused**: the %s is not built yet" % field.not_built
    if field.removed:
        return "**refused**: %s; %s" % field.removed
    parts = ["required"] if field.required else []
    if field.choices:
        parts.append(", ".join(_code(choice) for choice in field.choices))
    if field.planned:
        parts.append("%s refused (not built yet)" % ", ".join(_code(value) for value in field.planned))
    if field.minimum is not None:
        parts.append("%d to %d" % (field.minimum, field.maximum) if field.maximum is not None else "≥ %d" % field.minimum)
    if field.rule is not None:
        parts.append(field.rule.__doc__)
    if field.nullable:
        parts.append("null allowed")
    return "; ".join(parts)


def _engines(field):
    """The engines of the field and of every field above it."""
    engines, path = field.engines, field.path
    while "." in path:
        path = path.rsplit(".", 1)[0]
        listed = path[:-2] if path.endswith("[]") else path
        engines = tuple(engine for engine in engines if engine in schema.field(listed).engines)
    return "all" if engines == schema.ENGINES else ", ".join(engines)


def _kind(field):
    if field.kind == "list" and field.elements:
        return "list of %s" % field.elements
    return {"version": "str", "names": "all or list of str"}.get(field.kind, field.kind)


def fields_table():
    rows = ["| field | type | default | engines | accepts | what it is |", "|---|---|---|---|---|---|"]
    for field in schema.FIELDS:
        cells = (field.path, _kind(field), default_text(field), _engines(field), rule_text(field), field.doc)
        rows.append("| `%s` | %s | %s | %s | %s | %s |" % cells)
    return rows


def output_table():
    rows = ["| key | what it is |", "|---|---|"]
    rows += ["| `%s` | %s |" % (key, doc) for key, (doc, _make) in schema.OUTPUT_KEYS.items()]
    rows += ["| `objects.%s` | `%s` |" % (kind, name) for kind, name in names.object_names(SAMPLE).items()]
    return rows


def render():
    """The generated part of docs/catalog.md, markers included."""
    lines = [BEGIN, "", "### Fields", "", *fields_table(), "", "### Checks across fields", ""]
    lines += ["- %s" % rule.__doc__ for rule in WORKLOAD_RULES]
    lines += ["", "### Added by the catalog", "", "Every validated workload also carries these keys (made by "
              "`plugins/module_utils/catalog/names.py`); roles and modules read names here instead of spelling them.", ""]
    lines += [*output_table(), "", END]
    return "\n".join(lines)


def replace_generated(text, generated):
    """``text`` with the part between the markers replaced by ``generated``; ValueError when a marker is missing."""
    if BEGIN not in text or END not in text:
        raise ValueError("the markers %r and %r are missing" % (BEGIN, END))
    head, rest = text.split(BEGIN, 1)
    return head + generated + rest.split(END, 1)[1]
