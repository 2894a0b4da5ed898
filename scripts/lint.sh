#!/usr/bin/env bash
# Quality gates: ruff, shellcheck, yamllint, ansible-lint (production profile), and that what is
# generated from the catalog schema (docs/catalog.md, the roles' workload options) is current.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"; ruff check .
echo "== shellcheck"; git ls-files -co --exclude-standard '*.sh' tests/lab/lab | xargs shellcheck -x -P SCRIPTDIR
echo "== yamllint"; yamllint -s .
echo "== ansible-lint"; ansible-lint --profile production --offline -q
echo "== catalog docs"; "${STATESHIFT_VENV:+$STATESHIFT_VENV/bin/}python3" scripts/catalog_docs.py --check
