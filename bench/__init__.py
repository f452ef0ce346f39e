"""Benchmarks of the extension against the simulated Azure (run with scripts/bench.sh)."""
