"""The Job pod's probe script (postgresql_job.reach_script), run by bash with a scripted psql on PATH."""

from __future__ import annotations

import os
import subprocess
import types

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import postgresql_job
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps.choose_transport import TARGET_LOGIN_FAILED_RC

FAKE_PSQL = """#!/bin/bash
echo "$PGHOST" >> "$PROBE_LOG"
if [ "$PGHOST" = 10.43.0.5 ]; then
  refused=$(grep -c '^10.43.0.5$' "$PROBE_LOG")
  if [ "$refused" -le "$TARGET_REFUSALS" ]; then
    echo 'psql: error: connection to server at "10.43.0.5", port 5432 failed: Connection refused' >&2
    exit 2
  fi
  exit 0
fi
[ "$PGHOST" = 192.0.2.5 ]
"""


class Sides(postgresql_job.JobSides):
    def __init__(self):
        self.source = types.SimpleNamespace(user="app")
        self.ctx = types.SimpleNamespace(database="shop", auth_user="shop", version="15")

    def worker_network_env(self):
        return {}

    def target_host(self):
        return "10.43.0.5"


def probe(tmp_path, target_refusals):
    (tmp_path / "psql").write_text(FAKE_PSQL)
    (tmp_path / "psql").chmod(0o755)
    script = Sides().reach_script([("192.0.2.9", 5432), ("192.0.2.5", 5432)])
    env = dict(os.environ, PATH="%s:%s" % (tmp_path, os.environ["PATH"]), PROBE_LOG=str(tmp_path / "log"),
               TARGET_REFUSALS=str(target_refusals), TGT_PASSWORD="t", SRC_PASSWORD="s")
    completed = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, check=False, timeout=30)
    return completed, (tmp_path / "log").read_text().split()


def test_a_target_that_refuses_the_new_pod_at_first_is_tried_again(tmp_path):
    completed, hosts = probe(tmp_path, target_refusals=2)
    assert completed.returncode == 0 and completed.stdout.strip() == "192.0.2.5:5432"
    assert hosts == ["10.43.0.5"] * 3 + ["192.0.2.9", "192.0.2.5"]


def test_a_target_that_never_admits_the_pod_exits_3_with_psqls_error(tmp_path, monkeypatch):
    monkeypatch.setattr(postgresql_job, "TARGET_ADMIT_SECONDS", 1)
    completed, hosts = probe(tmp_path, target_refusals=1000)
    assert completed.returncode == TARGET_LOGIN_FAILED_RC
    assert "Connection refused" in completed.stderr
    assert "192.0.2.5" not in hosts and len(hosts) >= 2
