#!/usr/bin/env bash
# Shows `az aks diagnose-pull run` diagnosing a broken cluster in the simulated Azure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec tests/netns.sh .venv/bin/python -m tests.demo "$@"
