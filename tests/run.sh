#!/usr/bin/env bash
# Every test: lint, unit and property tests, and the end-to-end suite (wheel -> az extension add -> real az against
# the simulated Azure over TLS) inside a loopback-only network namespace, with the newest azure-cli (.venv); then
# the end-to-end subset of tests/e2e/oldest_az.py (one scenario per check) with the oldest supported azure-cli
# (.venv-oldaz; ACRPULL_OLDEST_AZ=0 skips it). Extra arguments go to both pytest runs.
# The README's figures are not touched: `python scripts/figures.py` writes them from the last whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
status=0
tests/netns.sh .venv/bin/python -m pytest tests "$@" || status=$?
if [ "${ACRPULL_OLDEST_AZ:-1}" != 0 ]; then
  scripts/setup.sh --oldest-az
  echo "End-to-end subset with the oldest supported $(.venv-oldaz/bin/az version --query '"azure-cli"' -o tsv \
    2>/dev/null | sed 's/^/azure-cli /')" >&2
  ACRPULL_AZ="$PWD/.venv-oldaz/bin/az" tests/netns.sh .venv/bin/python -m pytest tests/e2e -m oldest_az "$@" \
    || status=$?
fi
exit "$status"
