#!/usr/bin/env bash
# Benchmarks against the lab (not part of `make test`). Results: bench/results/*.json and stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
python3 bench/readiness.py --rounds "${BENCH_ROUNDS:-5}" | tee bench/results/readiness.txt
bench/databases_rerun.sh | tee bench/results/databases_rerun.txt
bench/migration/run.sh
python3 -m bench.cutover.run --rounds "${BENCH_CUTOVER_ROUNDS:-5}"
python3 -m bench.failover.run --rounds "${BENCH_FAILOVER_ROUNDS:-5}"
python3 -m bench.readme
