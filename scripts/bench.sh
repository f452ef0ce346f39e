#!/usr/bin/env bash
# Times `az aks diagnose-pull run` against `az aks show` and the article's manual sequence of az commands in
# the simulated Azure (150 ms per request), and writes the results table into README.md (about 10 minutes).
# Options: see `scripts/bench.sh --help` (e.g. --runs 3, --latency 0.05, --no-readme).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec tests/netns.sh .venv/bin/python -m bench.run "$@"
