#!/usr/bin/env bash
# Times `az aks diagnose-pull fleet` over generated tenants of 10, 100 and 1,000 clusters in the simulated Azure
# (150 ms per request, Resource Graph's page size and quota) and writes the results table into README.md
# (about 3 minutes). Options: see `scripts/bench-fleet.sh --help` (e.g. --runs 1, --sizes 10 1000, --no-readme).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec tests/netns.sh .venv/bin/python -m bench.fleet "$@"
