#!/usr/bin/env bash
# Every test: lint, unit and property tests, and the end-to-end suite (wheel -> az extension add ->
# real az against the simulated Azure over TLS) inside a loopback-only network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
status=0
tests/netns.sh .venv/bin/python -m pytest tests "$@" || status=$?
# The reliability suites' figures (faults survived, bad inputs, secrets leaked, writes seen) into the README.
.venv/bin/python scripts/figures.py || echo "README figures were not updated" >&2
exit "$status"
