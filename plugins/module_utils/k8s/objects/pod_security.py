# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod Security Admission labels of a namespace: set the catalog's level, never lower one already there."""

from __future__ import annotations

LEVELS = ("privileged", "baseline", "restricted")
MODES = ("enforce", "warn", "audit")


def label(mode):
    return "pod-security.kubernetes.io/%s" % mode


def levels(wanted, existing_labels=None):
    """{mode: level} for the namespace: ``wanted`` (the catalog's), or the existing level where it is stricter."""
    existing_labels = existing_labels or {}
    result = {}
    for mode in MODES:
        present = existing_labels.get(label(mode))
        stricter = present in LEVELS and LEVELS.index(present) > LEVELS.index(wanted)
        result[mode] = present if stricter else wanted
    return result


def kept_stricter(wanted, existing_labels=None):
    """The modes whose existing level is stricter than ``wanted`` and is kept: {mode: existing level}."""
    return {mode: level for mode, level in levels(wanted, existing_labels).items() if level != wanted}


def namespace_labels(wanted, existing_labels=None):
    """The Pod Security labels to apply to the namespace."""
    return {label(mode): level for mode, level in levels(wanted, existing_labels).items()}
