# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog's secret fields (the schema's no_log fields): kept out of the validated catalog fact.

``redact(workload)`` is what the fact holds: source.password left out, source.dsn without its
password. Code that needs the values (the migration) reads them from the raw ``stateshift_workloads``
with ``secret_values_of(raw_workloads, name)``, in a no_log task, and never returns them.
"""

from __future__ import annotations

import copy

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import dsn, schema

# A secret field is left out of the fact unless it has a redactor here, which keeps what is not secret.
_REDACTORS = {"source.dsn": dsn.without_password}


def secret_fields():
    """The paths of every secret field, as the schema declares them (no_log)."""
    return tuple(f.path for f in schema.FIELDS if f.no_log)


def _parent_and_key(workload, path):
    *parents, key = path.split(".")
    mapping = workload
    for name in parents:
        mapping = mapping.get(name) if isinstance(mapping, dict) else None
    return (mapping, key) if isinstance(mapping, dict) else (None, key)


def redact(workload):
    """A copy of ``workload`` without the values of its secret fields."""
    result = copy.deepcopy(workload)
    for path in secret_fields():
        mapping, key = _parent_and_key(result, path)
        if mapping is None or key not in mapping:
            continue
        redactor = _REDACTORS.get(path)
        if redactor is not None and isinstance(mapping[key], str):
            mapping[key] = redactor(mapping[key])
        else:
            del mapping[key]
    return result


def secret_values_of(raw_workloads, workload_name):
    """{path: value} of the secret fields workload ``workload_name`` sets in the raw catalog (``stateshift_workloads``).

    KeyError when no workload has that name. Call it from a no_log task; never return what it gives."""
    for workload in raw_workloads or []:
        if isinstance(workload, dict) and workload.get("name") == workload_name:
            values = {}
            for path in secret_fields():
                mapping, key = _parent_and_key(workload, path)
                if mapping is not None and key in mapping:
                    values[path] = mapping[key]
            return values
    raise KeyError("workload %r is not in stateshift_workloads" % (workload_name,))
