# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Object metadata shared by every builder: a namespaced object's header."""

from __future__ import annotations


def namespaced(api_version, kind, name, workload, labels=None):
    """``apiVersion``, ``kind`` and ``metadata`` of an object of ``workload``, with its labels (the workload's by default)."""
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": workload["namespace"], "labels": dict(labels or workload["labels"])}}
