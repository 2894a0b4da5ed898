#!/usr/bin/env bash
# Quality gates: ruff, yamllint, ansible-lint (production profile).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"; ruff check .
echo "== yamllint"; yamllint -s .
echo "== ansible-lint"; ansible-lint --profile production --offline -q
