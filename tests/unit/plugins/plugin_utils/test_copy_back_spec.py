from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.stateshift.k3s.plugins.plugin_utils import docspec

REPO = Path(__file__).resolve().parents[4]


def test_pg_copy_back_takes_a_workload_and_the_connection_options():
    spec = docspec.argument_spec("pg_copy_back")
    assert spec["workload"] == {"type": "str", "required": True}
    assert spec["force"] == {"type": "bool", "default": False}
    assert spec["timeout"]["default"] == 86400 and spec["progress_interval"]["default"] == 5.0
    assert {"kubeconfig", "context", "kubectl_bin", "database", "report_dir"} <= set(spec)


def test_pg_copy_back_is_in_the_k8s_action_group():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert "pg_copy_back" in runtime["action_groups"]["k8s"]
