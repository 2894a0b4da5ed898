# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' argument specs for a list of validated workloads, made from the schema.

Every role that takes the catalog (``postgresql_workloads``, ``secrets_workloads``,
``data_migration_workloads``) declares the same ``options`` for its elements: every key the filled
catalog carries. scripts/catalog_docs.py writes them into each role's meta/argument_specs.yml.
"""

from __future__ import annotations

import re

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import names, schema

# role -> the option of its meta/argument_specs.yml that takes the validated catalog
WORKLOAD_OPTIONS = {"postgresql": "postgresql_workloads", "rabbitmq": "rabbitmq_workloads", "mongodb": "mongodb_workloads",
                    "secrets": "secrets_workloads",
                    "data_migration": "data_migration_workloads", "cutover": "cutover_workloads",
                    "retirement": "retirement_workloads"}
_TYPES = {"quantity": "raw", "version": "str", "names": "raw"}


def _option(field):
    option = {"type": _TYPES.get(field.kind, field.kind), "description": field.doc}
    if field.required:
        option["required"] = True
    if field.choices:
        option["choices"] = list(field.choices)
    if field.default_doc is None and field.default is not schema.NO_DEFAULT and not field.required:
        option["default"] = field.default_for({})
    elif field.default_doc is not None:
        option["description"] = "%s Default: %s." % (field.doc, field.default_doc)
    if field.no_log:
        option["no_log"] = True
    if field.kind == "list" and field.elements:
        option["elements"] = field.elements
    below = field.path + "[]" if field.kind == "list" else field.path
    if schema.children(below):
        option["options"] = _options(below)
    return option


def _options(path):
    return {field.name: _option(field) for field in schema.children(path) if not field.refused}


def workload_options():
    """The ``options`` of one element of a validated workload list."""
    options = _options("")
    for key, (doc, _make) in schema.OUTPUT_KEYS.items():
        options[key] = {"type": "dict", "description": "Added by the catalog: %s." % doc}
    sample = {"name": "<name>", "engine": "<engine>", "service_name": "<service_name>"}
    options["objects"]["options"] = {kind: {"type": "str", "description": "C(%s)" % name}
                                     for kind, name in names.object_names(sample).items()}
    return options


def options_block(options, indent):
    """``options:`` and ``options`` as YAML, every line indented by ``indent`` spaces."""
    import yaml  # noqa: PLC0415 (only the docs script and the tests render YAML)

    text = yaml.safe_dump({"options": options}, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(True))


def replace_options(text, option, options):
    """``text`` (a meta/argument_specs.yml) with the ``options`` of ``option`` replaced; the rest is kept as it is."""
    lines = text.splitlines(True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^\s+%s:\s*$" % re.escape(option), line)), None)
    if start is None:
        raise ValueError("option %s is not declared" % option)
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
        end += 1
    body, skipping = [], False
    for line in lines[start + 1:end]:
        depth = len(line) - len(line.lstrip())
        if line.strip() == "options:" and depth == indent + 2:
            skipping = True
        elif skipping and (not line.strip() or depth > indent + 2):
            continue
        else:
            skipping = False
            body.append(line)
    return "".join(lines[:start + 1] + body + [options_block(options, indent + 2)] + lines[end:])
