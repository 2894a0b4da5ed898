from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.errors import MISSING, field_error, field_text, workload_label


def test_one_format_with_and_without_a_value():
    label = workload_label("wiki", 2)
    assert label == "workload 'wiki' (stateshift_workloads[2])"
    assert field_error(label, "storage.size", "10GB", "is not a Kubernetes quantity", "write it like 10Gi") \
        == "workload 'wiki' (stateshift_workloads[2]): storage.size = '10GB': is not a Kubernetes quantity; write it like 10Gi"
    assert field_error(label, "engine", MISSING, "is required", "set engine: postgresql") \
        == "workload 'wiki' (stateshift_workloads[2]): engine: is required; set engine: postgresql"


def test_labels_without_a_name_or_an_index():
    assert workload_label(None, 0) == "stateshift_workloads[0]"
    assert workload_label("wiki") == "workload 'wiki'"
    assert field_text("", 3, "is not a mapping", "write a mapping") == "3: is not a mapping; write a mapping"
