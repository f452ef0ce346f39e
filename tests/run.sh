#!/usr/bin/env bash
# Every test: lint, unit and property tests, and the end-to-end suite (wheel -> az extension add -> real az against
# the simulated Azure over TLS) with the newest azure-cli (.venv); then the end-to-end subset of
# tests/e2e/oldest_az.py (one scenario per check) with the oldest supported azure-cli (.venv-oldaz;
# ACRPULL_OLDEST_AZ=0 skips it). Extra arguments go to both pytest runs.
# The tests are spread over ACRPULL_WORKERS pytest-xdist workers (default 2, one per core; 1 runs them in one
# process), each in its own loopback-only network namespace (tests/netns.sh) with its own simulated Azure on port
# 443 and its own az configuration. .venv-oldaz is created in the background while the first run goes on.
# The README's figures are not touched: `python scripts/figures.py` writes them from the last whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
oldaz=
if [ "${ACRPULL_OLDEST_AZ:-1}" != 0 ]; then
  mkdir -p tests/.artifacts
  scripts/setup.sh --oldest-az > tests/.artifacts/setup-oldest-az.log 2>&1 &
  oldaz=$!
  trap 'kill "$oldaz" 2>/dev/null || true' EXIT
fi
.venv/bin/ruff check .
workers=${ACRPULL_WORKERS:-2}
pytest_in_sandbox() {
  if [ "$workers" -gt 1 ]; then
    .venv/bin/python -m pytest -p xdist --dist loadfile --tx "$workers*popen//python=tests/netns.sh $PWD/.venv/bin/python" \
      "$@"
  else
    tests/netns.sh .venv/bin/python -m pytest "$@"
  fi
}
status=0
pytest_in_sandbox tests "$@" || status=$?
if [ -n "$oldaz" ]; then
  if wait "$oldaz"; then
    trap - EXIT
    echo "End-to-end subset with the oldest supported $(.venv-oldaz/bin/az version --query '"azure-cli"' -o tsv \
      2>/dev/null | sed 's/^/azure-cli /')" >&2
    ACRPULL_AZ="$PWD/.venv-oldaz/bin/az" pytest_in_sandbox tests/e2e -m oldest_az "$@" || status=$?
  else
    trap - EXIT
    cat tests/.artifacts/setup-oldest-az.log >&2
    echo "Could not create .venv-oldaz: the end-to-end subset on the oldest azure-cli did not run." >&2
    status=1
  fi
fi
exit "$status"
