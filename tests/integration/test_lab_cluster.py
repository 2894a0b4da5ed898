"""The lab cluster's smoke test (tests/lab/cluster/smoke.sh) under pytest: a PostgreSQL
StatefulSet on the real node, reached by DNS from a Job and another pod, through
port-forward from the host, surviving a pod deletion; Pod Security enforced."""

from __future__ import annotations

import re
import subprocess

from .conftest import REPO


def test_smoke_test_of_the_lab_cluster_passes():
    result = subprocess.run([str(REPO / "tests" / "lab" / "cluster" / "smoke.sh")], capture_output=True, text=True,
                            check=False, timeout=600)
    output = result.stdout + result.stderr
    summary = re.findall(r"^(\d+) passed, (\d+) failed$", result.stdout, re.MULTILINE)
    assert result.returncode == 0, output
    assert summary, output
    passed, failed = map(int, summary[-1])
    assert failed == 0 and passed >= 6, output
