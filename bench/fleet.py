"""How `az aks diagnose-pull fleet` scales: requests, wall and CPU time, critical path and peak memory.

    scripts/bench-fleet.sh [--sizes 10 100 1000] [--shared-sizes 10 100 1000 10000] [--runs N] [--latency SECONDS]
                           [--no-readme]

Two tenant shapes (bench/fleet_tenant.py, 20 subscriptions each):

- spread: N clusters, N/10 registries, 10*N role assignments; `fleet -o json` over the whole tenant;
- shared: N clusters pulling from ONE registry on selected networks (one cluster in ten not among its IP rules, one
  in ten without its pull role, nine unrelated role assignments per cluster); `fleet --acr <it> -o json`, as the
  platform team that owns the registry runs it.

Each tenant is served by the simulated Azure with ``--latency`` seconds (150 ms) added to every request, Resource
Graph included, with its real page size (1,000 rows) and throttling quota (15 requests per 5 s; each run starts with a
fresh quota, as one command run by a person does). After one discarded warm-up run, each size is timed ``--runs``
times (median; one run from 10,000 clusters on). Reported: requests per run (all of them: tokens, Resource Graph
pages, Graph batches, DNS record sets), Resource Graph pages, the critical path in round trips, wall and CPU time and
the peak RSS of the az process (wait4).

Targets: requests grow with result pages, not clusters (a hundred times the clusters, less than three times the
requests), besides the one ARM list of cache rules (and of credential sets, where rules exist) per registry the
clusters pull from, which Resource Graph does not hold; 1,000 clusters in under 3x the wall time of 10, in both
shapes; 10,000 clusters on one registry in under 60 s; peak memory under 500 MB. The results replace the block
between the README's ``fleet-bench`` markers and feed
the performance summary table; the exit status is 1 when a target is missed.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from bench.fleet_tenant import SHARED_REGISTRY, generate, generate_shared, summary
from bench.launcher import Launcher
from bench.readme import write_section
from bench.run import critical_path
from bench.summary import save_results
from tests.simulator import resourcegraph
from tests.simulator.harness import Environment

BEGIN, END = "<!-- fleet-bench:begin -->", "<!-- fleet-bench:end -->"
ARG_PATH = "/providers/Microsoft.ResourceGraph/resources"
REGISTRY_LISTS = re.compile(r"/registries/[^/]+/(cacheRules|credentialSets)$", re.IGNORECASE)
TARGET_RATIO = 3.0
TARGET_RSS_MB = 500.0
TARGET_LARGE_S = 60.0
LARGE = 10000
SHAPES = {
    "spread": ("N/10 registries", generate, ["aks", "diagnose-pull", "fleet", "-o", "json"]),
    "shared": ("one registry", generate_shared,
               ["aks", "diagnose-pull", "fleet", "--acr", SHARED_REGISTRY, "-o", "json"]),
}


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    requests: int
    pages: int
    throttled: int
    graph: int
    other: int
    registry_lists: int
    chain: int
    clusters: int
    failing: int


def run_once(env, launcher, args, expected, timeout=900):
    env.sim.clear_log()
    resourcegraph._quota_states.clear()   # pylint: disable=protected-access  (a fresh quota for each run)
    with tempfile.TemporaryDirectory() as tmp:
        out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        ran = launcher.run([env.az, *args], env.env, env.dir, out, err, timeout)
        with open(out, "rb") as f:
            stdout = f.read()
        with open(err, encoding="utf-8", errors="replace") as f:
            stderr = f.read()
    if ran["status"] != 0:
        raise RuntimeError("az {} failed ({}): {}".format(" ".join(args), ran["status"], stderr[-2000:]))
    findings = json.loads(stdout)
    clusters = {f["cluster"] for f in findings}
    if len(clusters) != expected:
        raise RuntimeError("fleet reported {} clusters, the tenant has {}".format(len(clusters), expected))
    log = list(env.sim.log)
    arg = [e for e in log if e["path"] == ARG_PATH]
    return Sample(wall=ran["wall"], cpu=ran["cpu"], rss_mb=ran["rssMb"],
                  requests=len(log), pages=sum(1 for e in arg if e["status"] == 200),
                  throttled=sum(1 for e in arg if e["status"] == 429),
                  graph=sum(1 for e in log if e["host"] == "graph.microsoft.com"),
                  other=sum(1 for e in log if e["path"] != ARG_PATH and e["host"] != "graph.microsoft.com"),
                  registry_lists=sum(1 for e in log if REGISTRY_LISTS.search(e["path"])),
                  chain=critical_path(log), clusters=len(clusters),
                  failing=len({f["cluster"] for f in findings if f["status"] == "Fail"}))


def measure(env, launcher, plan, runs, latency):
    """{(shape, size): (tenant summary, [Sample])}"""
    results = {}
    for shape, n in plan:
        _, make, args = SHAPES[shape]
        started = time.perf_counter()
        world = make(n)
        env.load(world)
        resourcegraph._database(world)   # pylint: disable=protected-access  (the simulator's own indexing)
        print("{} tenant of {:,} clusters generated in {:.0f} s".format(shape, n, time.perf_counter() - started),
              file=sys.stderr, flush=True)
        env.sim.latency = latency
        samples = [run_once(env, launcher, args, n) for _ in range(1 if n >= LARGE else runs)]
        results[(shape, n)] = (summary(world), samples)
        del world
        med = _median(samples)
        print("{:>6} {} clusters: {:.2f} s, CPU {:.2f} s, {} requests ({} Resource Graph pages), {:.0f} MB".format(
            n, shape, med.wall, med.cpu, med.requests, med.pages, max(s.rss_mb for s in samples)), file=sys.stderr,
            flush=True)
    return results


def _median(samples):
    """The run of median wall time (its other figures go with it)."""
    return sorted(samples, key=lambda x: x.wall)[len(samples) // 2]


def verdicts(results):
    """[(what, met, value)] for every target the sizes measured allow."""
    out = []
    for shape in SHAPES:
        sizes = sorted(n for s, n in results if s == shape)
        if len(sizes) < 2:
            continue
        small, large = sizes[0], max(n for n in sizes if n < LARGE) if any(n < LARGE for n in sizes) else sizes[0]
        walls = {n: statistics.median(x.wall for x in results[(shape, n)][1]) for n in sizes}
        # A registry's cache rules and credential sets are not in Resource Graph: one ARM list per registry the
        # clusters pull from, by design. Those grow with such registries; everything else with result pages only.
        requests = {n: min(x.requests - x.registry_lists for x in results[(shape, n)][1]) for n in sizes}
        lists = {n: min(x.registry_lists for x in results[(shape, n)][1]) for n in sizes}
        words = SHAPES[shape][0]
        if large != small:
            out.append(("{}: requests grow with result pages, not clusters (besides one cache-rule list per registry "
                        "pulled from)".format(words),
                        requests[large] < 3 * requests[small],
                        "{:,} clusters: {} requests + {} registry lists; {:,} clusters: {} + {}".format(
                            small, requests[small], lists[small], large, requests[large], lists[large])))
            out.append(("{}: {:,} clusters in under {:g}x the time of {:,}".format(words, large, TARGET_RATIO, small),
                        walls[large] / walls[small] < TARGET_RATIO, "{:.2f}x".format(walls[large] / walls[small])))
        for n in sizes:
            if n >= LARGE:
                out.append(("{}: {:,} clusters in under {:.0f} s".format(words, n, TARGET_LARGE_S),
                            walls[n] < TARGET_LARGE_S, "{:.1f} s".format(walls[n])))
    rss = max(x.rss_mb for _, samples in results.values() for x in samples)
    out.append(("peak memory under {:.0f} MB".format(TARGET_RSS_MB), rss < TARGET_RSS_MB, "{:.0f} MB".format(rss)))
    return out


def table(results, latency, runs, load):
    lines = ["| tenant | clusters | registries | role assignments | requests per run | Resource Graph pages | "
             "Microsoft Graph requests | other requests | critical path | wall time (median) | CPU | peak RSS | "
             "clusters failing |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for shape, n in sorted(results, key=lambda k: (list(SHAPES).index(k[0]), k[1])):
        tenant, samples = results[(shape, n)]
        s = _median(samples)
        lines.append("| {} | {:,} | {:,} | {:,} | {} | {} | {} | {} | {} | {:.2f} s | {:.2f} s | {:.0f} MB | {} |"
                     .format(SHAPES[shape][0], n, tenant["registries"], tenant["roleAssignments"], s.requests,
                             s.pages, s.graph, s.other, s.chain, s.wall, s.cpu, max(x.rss_mb for x in samples),
                             s.failing))
    checks = verdicts(results)
    lines.append("")
    for what, ok, value in checks:
        lines.append("- {} {}: {}".format("Met:" if ok else "MISSED:", what, value))
    lines.append("")
    lines.append("`scripts/bench-fleet.sh` on {} ({} cores, Python {}), {} ms per request, median of {} run(s) after a "
                 "warm-up (one run at {:,} clusters and more), {}; load average {:.1f} before and {:.1f} after (the "
                 "machine is shared: wall times rise with it, CPU times much less). Tenants from "
                 "`bench/fleet_tenant.py` (20 subscriptions); on the one-registry tenant `fleet` runs with `--acr`. "
                 "Critical path: the longest chain of requests each of which started after the one before it "
                 "ended.".format(platform.machine(), os.cpu_count(), platform.python_version(), int(latency * 1000),
                                 runs, LARGE, datetime.date.today().isoformat(), load[0], load[1]))
    return "\n".join(lines) + "\n", all(ok for _, ok, _ in checks), checks


def write_readme(block):
    write_section(BEGIN, END, block, "### Fleet")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench-fleet", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[10, 100, 1000], help="clusters, spread tenant")
    parser.add_argument("--shared-sizes", nargs="*", type=int, default=[10, 100, 1000, LARGE],
                        help="clusters, one-registry tenant")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args(argv)
    plan = [("spread", n) for n in sorted(args.sizes)] + [("shared", n) for n in sorted(args.shared_sizes)]
    if not plan:
        parser.error("no sizes to measure")
    load_before = os.getloadavg()[0]
    launcher = Launcher()   # before anything large is generated: see bench/launcher.py
    env = Environment()
    try:
        warm_shape, warm_size = min(plan, key=lambda p: p[1])
        env.load(SHAPES[warm_shape][1](warm_size))
        run_once(env, launcher, SHAPES[warm_shape][2], warm_size)
        results = measure(env, launcher, plan, args.runs, args.latency)
    finally:
        env.close()
        launcher.close()
    block, ok, checks = table(results, args.latency, args.runs, (load_before, os.getloadavg()[0]))
    print(block)
    if not args.no_readme:
        write_readme(block)
        save_results("fleet", {
            "date": datetime.date.today().isoformat(), "latencyMs": int(args.latency * 1000),
            "load": [load_before, os.getloadavg()[0]],
            "sizes": [{"shape": shape, "clusters": n, "tenant": tenant, "median": asdict(_median(samples)),
                       "peakRssMb": max(x.rss_mb for x in samples), "runs": len(samples)}
                      for (shape, n), (tenant, samples) in sorted(results.items())],
            "targets": [{"what": what, "met": ok, "value": value} for what, ok, value in checks]})
        print("README.md updated.", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
