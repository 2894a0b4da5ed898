"""Failover time of a ha: patroni workload (issue: p50 and max under 15 s over 5 runs; no acknowledged write lost).

A three-member cluster is deployed by the databases playbook (tests/integration/patroni_helpers.py), a writer commits
one row per connection through the client Service, and the leader pod is deleted --rounds times, each time once a
replica took over, the old leader rejoined and a write was acknowledged again. A failover's time is the longest stretch
without an acknowledged write around it. Then every acknowledged id is looked for on the leader. Prints a table and
writes bench/results/failover-<date>.json. Run it on a quiet machine, with the lab up (tests/lab/lab up).

    python -m bench.failover.run [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.integration.conftest import LEGACY_INVENTORY, Playbook  # noqa: E402
from tests.integration.patroni_helpers import Cluster, leader_deletions, wait_for  # noqa: E402


def table(result):
    lines = ["| failover | writes unacknowledged for (s) |", "|---|---|"]
    lines += ["| %d | %.2f |" % (index, gap) for index, gap in enumerate(result["gaps"], 1)]
    lines.append("p50 %.2f s, max %.2f s; %d writes acknowledged, %d lost" % (
        statistics.median(result["gaps"]), max(result["gaps"]), result["acknowledged"], result["lost"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cluster = Cluster(Playbook([REPO / "inventories" / "lab", LEGACY_INVENTORY]))
    try:
        cluster.deploy()
        wait_for("one leader and two ready replicas", cluster.leader, timeout=120)
        leader, acknowledged, gaps = leader_deletions(cluster, args.rounds)
        stored = {int(line) for line in cluster.member_psql(leader, "SELECT id FROM ledger").split()}
    finally:
        cluster.remove()
    result = {"rounds": args.rounds, "gaps": gaps, "acknowledged": len(acknowledged), "lost": len(acknowledged - stored)}
    text = table(result)
    print(text)
    out = REPO / "bench" / "results" / ("failover-%s" % datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    out.with_suffix(".txt").write_text(text + "\n")
    return 1 if result["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
