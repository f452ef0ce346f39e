"""One table of every performance target, next to what was measured, from both benchmarks' latest results.

`scripts/bench.sh` (bench/run.py) and `scripts/bench-fleet.sh` (bench/fleet.py) each save their figures under
bench/results/ and rewrite this table from both files, so either one can be re-run alone.
"""
import json
import os

from bench.readme import write_section
from tests.simulator.harness import ROOT

BEGIN, END = "<!-- perf-summary:begin -->", "<!-- perf-summary:end -->"
RESULTS = os.path.join(ROOT, "bench", "results")
SHAPE_WORDS = {"shared": "one registry", "spread": "a registry per 10 clusters"}
MARK = {True: "met", False: "**missed**", None: ""}


def save_results(name, data, rewrite=True):
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    if rewrite:
        write_readme()


def _load(name):
    try:
        with open(os.path.join(RESULTS, name + ".json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rows():
    out = []   # (what, wall, cpu, requests, chain, memory, target, met)
    run = _load("run")
    if run:
        floor = run["floor"]
        out.append(("`az aks show` (the floor), {}".format(floor["scenario"]), "{:.2f} s".format(floor["wall"]),
                    "{:.2f} s".format(floor["cpu"]), floor["requests"], floor["chain"],
                    "{:.0f} MB".format(floor["rss"]), "", None))
        for m in run["runs"]:
            out.append(("`run`, {}{}".format(m["scenario"], ", tokens expired" if m.get("cold") else ""),
                        "{:.2f} s ({:.2f}x)".format(m["wall"], m["ratio"]), "{:.2f} s".format(m["cpu"]),
                        m["requests"], m["chain"], "{:.0f} MB".format(m["rss"]),
                        "within {:.1f}x `az aks show`".format(run["target"]), m["ratio"] <= run["target"]))
    discovery = _load("discovery")
    if discovery:
        worst = max(discovery["cases"], key=lambda c: c["cpu"])
        out.append(("`run` without `--pod`: finding the failing pods among {:,} (the pod LIST page; worst case: {})"
                    .format(discovery["pods"], worst["case"]), "{:.3f} s".format(worst["wall"]),
                    "{:.3f} s".format(worst["cpu"]), "{} LIST".format(discovery["rounds"]),
                    "+{}".format(discovery["rounds"]), "{:.0f} MB".format(max(c["peakMb"] for c in discovery["cases"])),
                    "at most {} extra round trip and {:.1f} s CPU".format(discovery["targetRounds"],
                                                                         discovery["targetCpu"]),
                    discovery["met"]))
    fleet = _load("fleet")
    if fleet:
        sizes = fleet["sizes"]
        smallest = {}
        for entry in sizes:
            if entry["shape"] not in smallest or entry["clusters"] < smallest[entry["shape"]]["clusters"]:
                smallest[entry["shape"]] = entry
        for entry in sorted(sizes, key=lambda e: (e["shape"] != "shared", e["clusters"])):
            med, n = entry["median"], entry["clusters"]
            base = smallest[entry["shape"]]
            wall = "{:.2f} s".format(med["wall"])
            target, met = "under {:.0f} MB".format(fleet.get("targetRssMb", 500)), entry["peakRssMb"] < 500
            if n >= 10000:
                target = "under 60 s; " + target
                met = met and med["wall"] < 60
            elif n > base["clusters"]:
                ratio = med["wall"] / base["median"]["wall"]
                wall += " ({:.2f}x)".format(ratio)
                target = "within 3x {:,} clusters; {}".format(base["clusters"], target)
                met = met and ratio < 3
            out.append(("`fleet`, {:,} clusters, {}".format(n, SHAPE_WORDS.get(entry["shape"], entry["shape"])),
                        wall, "{:.2f} s".format(med["cpu"]), med["requests"], med["chain"],
                        "{:.0f} MB".format(entry["peakRssMb"]), target, met))
    return out, run, fleet, discovery


def block():
    found, run, fleet, discovery = rows()
    lines = ["| measured | wall time | CPU | requests | critical path | peak memory | target | |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for what, wall, cpu, requests, chain, memory, target, met in found:
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} |".format(what, wall, cpu, requests, chain, memory,
                                                                         target, MARK[met]))
    lines.append("")
    notes = []
    if run:
        notes.append("`run`: {}, {} ms per request, median of {} interleaved runs, load average {:.1f}-{:.1f} "
                     "(`scripts/bench.sh`; details below)".format(run["date"], run["latencyMs"], run["rounds"],
                                                                  *run["load"]))
    if discovery:
        notes.append("finding failing pods: {}, CPU and wall time of reading the LIST page in-process, peak memory "
                     "that reading allocates (`scripts/bench.sh`, bench/discovery.py)".format(discovery["date"]))
    if fleet:
        notes.append("`fleet`: {}, {} ms per request, load average {:.1f}-{:.1f} (`scripts/bench-fleet.sh`; "
                     "details under Fleet)".format(fleet["date"], fleet["latencyMs"], *fleet["load"]))
    lines.append("Wall times in parentheses: the ratio to the target's reference. " + "; ".join(notes) + ". The "
                 "machine (2 cores) is shared: under load wall times rise, CPU times much less.")
    return "\n".join(lines) + "\n"


def write_readme():
    write_section(BEGIN, END, block(), "### All targets")
