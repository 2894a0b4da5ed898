# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one format of every catalog problem, wherever it is found.

    workload 'x' (stateshift_workloads[i]): field = value: problem; fix

The ``= value`` part is left out when the field is missing (pass MISSING as the value); a secret's
value is shown as ``<hidden>`` (pass HIDDEN).
"""

from __future__ import annotations

MISSING = object()


class _Hidden:
    """Stands for the value of a no_log field in a problem line."""

    def __repr__(self):
        return "<hidden>"


HIDDEN = _Hidden()


def workload_label(name, index=None):
    """Who the problem belongs to: ``workload 'x' (stateshift_workloads[i])``."""
    where = "stateshift_workloads[%d]" % index if index is not None else None
    if name is None or name == "":
        return where or "a workload without a name"
    return "workload %r (%s)" % (name, where) if where else "workload %r" % (name,)


def field_text(field, value, problem, fix):
    """``field = value: problem; fix`` without the label (for exceptions raised below a workload)."""
    shown = "" if value is MISSING else "%r" % (value,)
    subject = "%s = %s" % (field, shown) if field and shown else (field or shown)
    return "%s: %s; %s" % (subject, problem, fix)


def field_error(label, field, value, problem, fix):
    """One problem, one line: ``label: field = value: problem; fix``."""
    return "%s: %s" % (label, field_text(field, value, problem, fix))
