# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument_spec of one of this collection's modules, read from its DOCUMENTATION (doc fragments merged).

Action plugins validate their arguments with it, so a module's documentation is the only place its options are
declared: ``self.validate_argument_spec(argument_spec=argument_spec("pg_migrate"))``.
Only what the documentation can say is carried over; checks between options (mutually_exclusive, required_if, ...)
stay with the caller. A module's documentation cannot say no_log, so options named like a secret (``password``,
``*_password``, ``*_passphrase``, ``*_token``, ``api_key``) get ``no_log: true``.
"""

from __future__ import annotations

import ast
import copy
import functools
import re
from pathlib import Path

import yaml
from ansible.plugins.loader import fragment_loader

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import CONNECTION_ARG_SPEC

COLLECTION = "stateshift.k3s"
PLUGINS_DIR = Path(__file__).resolve().parent.parent

# Documentation keys that an argument_spec entry takes unchanged.
_COPIED_KEYS = ("type", "required", "default", "choices", "elements", "aliases")
_SECRET_NAME = re.compile(r"(^|_)(password|passphrase|token|api_key)$")

# Environment fallbacks cannot be written in a module's documentation; these fragments' options get the ones of
# the spec that the fragment documents (tests/unit/plugins/plugin_utils/test_docspec.py keeps the two equal).
_FRAGMENT_FALLBACKS = {"stateshift.k3s.k8s_connection": CONNECTION_ARG_SPEC}


class DocSpecError(Exception):
    pass


def argument_spec(module_name):
    """The AnsibleModule-style argument_spec of ``plugins/modules/<module_name>.py``; a fresh copy on every call."""
    return copy.deepcopy(_cached_argument_spec(module_name))


@functools.cache
def _cached_argument_spec(module_name):
    doc = module_documentation(module_name)
    spec = options_to_spec(doc.get("options") or {})
    for fragment in _fragment_names(doc):
        _add_fallbacks(spec, _FRAGMENT_FALLBACKS.get(fragment))
    return spec


def module_documentation(module_name):
    """The module's DOCUMENTATION as a dict, with the options of its doc fragments merged in (the module's own
    options win, as in ansible-doc). ``extends_documentation_fragment`` is kept, listing the merged fragments."""
    doc = _yaml_variable(PLUGINS_DIR / "modules" / ("%s.py" % module_name), "DOCUMENTATION")
    fragments = _fragment_names(doc)
    for fragment in fragments:
        fragment_doc = fragment_documentation(fragment)
        doc["options"] = {**(fragment_doc.get("options") or {}), **(doc.get("options") or {})}
    return doc


def fragment_documentation(name):
    """A doc fragment's documentation: ``stateshift.k3s.<file>`` or ``stateshift.k3s.<file>.<variable>``
    from plugins/doc_fragments, other collections' fragments through ansible's fragment loader."""
    if name.startswith(COLLECTION + "."):
        parts = name[len(COLLECTION) + 1:].split(".")
        variable = parts[1].upper() if len(parts) > 1 else "DOCUMENTATION"
        return _yaml_variable(PLUGINS_DIR / "doc_fragments" / ("%s.py" % parts[0]), variable)
    return _foreign_fragment(name)


def options_to_spec(options):
    """Documented options -> argument_spec entries (suboptions become options, recursively)."""
    spec = {}
    for name, option in options.items():
        entry = {key: copy.deepcopy(option[key]) for key in _COPIED_KEYS if key in option}
        if _SECRET_NAME.search(name):
            entry["no_log"] = True
        if "suboptions" in option:
            entry["options"] = options_to_spec(option["suboptions"] or {})
        spec[name] = entry
    return spec


def _fragment_names(doc):
    fragments = doc.get("extends_documentation_fragment") or []
    if isinstance(fragments, str):
        fragments = fragments.split(",")
    return [fragment.strip() for fragment in fragments]


def _add_fallbacks(spec, documented_spec):
    for name, entry in (documented_spec or {}).items():
        if "fallback" in entry and name in spec:
            spec[name]["fallback"] = entry["fallback"]


def _yaml_variable(path, variable):
    """The YAML of a string constant of a Python file (a module's DOCUMENTATION, a fragment class's attribute),
    read without importing the file."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except OSError as exc:
        raise DocSpecError("cannot read %s: %s" % (path, exc)) from exc
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == variable for target in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value)) or {}
    raise DocSpecError("%s has no %s" % (path, variable))


def _foreign_fragment(name):
    fragment_class = fragment_loader.get(name)
    variable = "DOCUMENTATION"
    if fragment_class is None and "." in name:
        name, variable = name.rsplit(".", 1)[0], name.rsplit(".", 1)[1].upper()
        fragment_class = fragment_loader.get(name)
    text = getattr(fragment_class, variable, None) if fragment_class is not None else None
    if text is None:
        raise DocSpecError("unknown doc fragment %s" % name)
    return yaml.safe_load(str(text)) or {}
