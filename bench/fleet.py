"""How `az aks diagnose-pull fleet` scales: requests, wall time and peak memory for 10, 100 and 1,000 clusters.

    scripts/bench-fleet.sh [--sizes 10 100 1000] [--runs N] [--latency SECONDS] [--no-readme]

For each size a tenant is generated (bench/fleet_tenant.py: N clusters, N/10 registries, 10*N role assignments,
20 subscriptions) and served by the simulated Azure with ``--latency`` seconds (150 ms) added to every request,
Resource Graph included, with its real page size (1,000 rows) and throttling quota (15 requests per 5 s; each run
starts with a fresh quota, as one command run by a person does). The real az runs `fleet -o json` over the whole
tenant; after one discarded warm-up run, each size is timed ``--runs`` times (median). Reported: requests per run
(all of them: tokens, Resource Graph pages, Graph batches, DNS record sets), Resource Graph pages, wall time, and
the peak RSS of the az process (wait4).

Targets: requests grow with result pages, not clusters (a hundred times the clusters, less than three times the
requests); 1,000 clusters in under 3x the wall time of 10; peak memory under 500 MB. The
results replace the block between the README's ``fleet-bench`` markers; the exit status is 1 when a target is missed.
"""
import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from bench.fleet_tenant import generate, summary
from bench.readme import write_section
from tests.simulator import resourcegraph
from tests.simulator.harness import Environment

BEGIN, END = "<!-- fleet-bench:begin -->", "<!-- fleet-bench:end -->"
ARG_PATH = "/providers/Microsoft.ResourceGraph/resources"
TARGET_RATIO = 3.0
TARGET_RSS_MB = 500.0


@dataclass
class Sample:
    wall: float
    rss_mb: float
    requests: int
    pages: int
    throttled: int
    graph: int
    other: int
    clusters: int
    failing: int


def run_once(env, args, expected, timeout=600):
    env.sim.clear_log()
    resourcegraph._quota_states.clear()   # pylint: disable=protected-access  (a fresh quota for each run)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([env.az, *args], env=env.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError("az {} failed ({}): {}".format(" ".join(args), proc.returncode, stderr[-2000:]))
    import json
    findings = json.loads(stdout)
    clusters = {f["cluster"] for f in findings}
    if len(clusters) != expected:
        raise RuntimeError("fleet reported {} clusters, the tenant has {}".format(len(clusters), expected))
    log = list(env.sim.log)
    arg = [e for e in log if e["path"] == ARG_PATH]
    return Sample(wall=wall, rss_mb=usage.ru_maxrss / 1024.0, requests=len(log),
                  pages=sum(1 for e in arg if e["status"] == 200), throttled=sum(1 for e in arg if e["status"] == 429),
                  graph=sum(1 for e in log if e["host"] == "graph.microsoft.com"),
                  other=sum(1 for e in log if e["path"] != ARG_PATH and e["host"] != "graph.microsoft.com"),
                  clusters=len(clusters), failing=len({f["cluster"] for f in findings if f["status"] == "Fail"}))


def measure(env, sizes, runs, latency):
    results = {}
    for n in sizes:
        world = generate(n)
        env.load(world)
        resourcegraph._database(world)   # pylint: disable=protected-access  (the simulator's own indexing)
        env.sim.latency = latency
        samples = [run_once(env, ["aks", "diagnose-pull", "fleet", "-o", "json"], n) for _ in range(runs)]
        results[n] = (summary(world), samples)
        med = samples[len(samples) // 2]
        print("{:>5} clusters: {:.2f} s, {} requests ({} Resource Graph pages), {:.0f} MB".format(
            n, statistics.median(s.wall for s in samples), med.requests, med.pages,
            max(s.rss_mb for s in samples)), file=sys.stderr)
    return results


def table(results, latency, runs):
    sizes = sorted(results)
    lines = ["| clusters | registries | role assignments | requests per run | Resource Graph pages | Microsoft Graph "
             "requests | other requests | wall time (median) | peak RSS | clusters failing |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        tenant, samples = results[n]
        s = sorted(samples, key=lambda x: x.wall)[len(samples) // 2]
        lines.append("| {:,} | {:,} | {:,} | {} | {} | {} | {} | {:.2f} s | {:.0f} MB | {} |".format(
            n, tenant["registries"], tenant["roleAssignments"], s.requests, s.pages, s.graph, s.other,
            statistics.median(x.wall for x in samples), max(x.rss_mb for x in samples), s.failing))
    small, large = sizes[0], sizes[-1]
    ratio = statistics.median(x.wall for x in results[large][1]) / statistics.median(x.wall for x in results[small][1])
    rss = max(x.rss_mb for _, samples in results.values() for x in samples)
    requests = {n: min(x.requests for x in results[n][1]) for n in sizes}
    pages = {n: min(x.pages for x in results[n][1]) for n in sizes}
    verdicts = [
        ("requests grow with result pages, not clusters", requests[large] < 3 * requests[small],
         "{} clusters: {} requests; {:,} clusters: {} requests, of which {} Resource Graph pages (the rest: "
         "Microsoft Graph batches of 20 look-ups, one read per private DNS zone)".format(
             small, requests[small], large, requests[large], pages[large])),
        ("{:,} clusters in under {:g}x the time of {:,}".format(large, TARGET_RATIO, small), ratio < TARGET_RATIO,
         "{:.2f}x".format(ratio)),
        ("peak memory under {:.0f} MB".format(TARGET_RSS_MB), rss < TARGET_RSS_MB, "{:.0f} MB".format(rss)),
    ]
    lines.append("")
    for what, ok, value in verdicts:
        lines.append("- {} {}: {}".format("Met:" if ok else "MISSED:", what, value))
    lines.append("")
    lines.append("`scripts/bench-fleet.sh` on {} ({} cores, Python {}), {} ms per request, median of {} run(s) after a "
                 "warm-up, {}. Tenants from `bench/fleet_tenant.py` (20 subscriptions).".format(
                     platform.machine(), os.cpu_count(), platform.python_version(), int(latency * 1000), runs,
                     datetime.date.today().isoformat()))
    return "\n".join(lines) + "\n", all(ok for _, ok, _ in verdicts)


def write_readme(block):
    write_section(BEGIN, END, block, "### Fleet")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench-fleet", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10, 100, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args(argv)
    env = Environment()
    try:
        warm = generate(min(args.sizes))
        env.load(warm)
        run_once(env, ["aks", "diagnose-pull", "fleet", "-o", "json"], min(args.sizes))
        results = measure(env, sorted(args.sizes), args.runs, args.latency)
    finally:
        env.close()
    block, ok = table(results, args.latency, args.runs)
    print(block)
    if not args.no_readme:
        write_readme(block)
        print("README.md updated.", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
