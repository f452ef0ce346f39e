"""How long a diagnosis takes, next to az's own floor and next to the article's manual sequence.

    scripts/bench.sh [--runs N] [--latency SECONDS] [--scenarios NAME ...] [--no-readme]

Against the simulated Azure answering every request after ``--latency`` seconds, its own work included (150 ms, about
what ARM answers in), it times over several interleaved rounds, after one warm-up round that is
discarded:

- ``az aks show``: the floor, az's own start-up plus one round trip;
- ``az aks diagnose-pull run --acr myacr`` on each scenario;
- the article's manual sequence of built-in az commands answering the same questions;
- ``az aks show`` and ``run`` again with the signed-in account's access tokens expired;
- ``az aks show`` with and without the extension installed (interleaved pairs);
- finding the failing pods among 5,000 (bench/discovery.py: the pod LIST page as ``run`` reads it, in this process).

For each it reports the median wall and CPU time, the peak RSS of the az process, the requests
per run, the duplicates (the same method and URL, and for token requests the same scope, more
than once) and the critical path in round trips (see ``critical_path``). The results replace
the block between the README's ``bench`` markers. The exit status is 1 when a target is missed.
"""
import argparse
import collections
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata

from bench.launcher import Launcher
from bench.readme import write_section
from bench.summary import save_results
from tests.simulator.harness import Environment
from tests.simulator.scenarios import SCENARIOS, build
from tests.simulator.world import guid

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TARGET_RATIO = 1.5        # run / az aks show
TARGET_OVERHEAD = 0.03    # what the installed extension may add to an unrelated az aks command
DEFAULT_SCENARIOS = ("mi-healthy", "demo-broken", "sp-healthy", "net-hub-spoke-healthy")
PRIVATE_LINK_ZONE = "privatelink.azurecr.io"


# -- one az process ---------------------------------------------------------------------------
@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    rc: int
    log: list
    stderr: str = ""
    unknown: int = 0


def run_az(launcher, az, env_vars, args, sim, timeout=180):
    """Run az once; wall time, CPU time and peak RSS of that very process (wait4, in bench/launcher.py: forked from
    this process, which holds the simulator, az would report this process's size as its own), and its requests. It
    runs in its configuration folder, not the source tree, so that az imports the installed extension."""
    sim.clear_log()
    with tempfile.TemporaryDirectory() as tmp:
        out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
        ran = launcher.run([az, *args], env_vars, env_vars["AZURE_CONFIG_DIR"], out, err, timeout)
        with open(err, "rb") as f:
            stderr = f.read().decode(errors="replace")
    log = [dict(e) for e in sim.log]
    return Sample(ran["wall"], ran["cpu"], ran["rssMb"], ran["status"], log, stderr,
                  sum(1 for e in log if e["unknown"]))


# -- what a request log says ------------------------------------------------------------------
def request_key(entry):
    """Method, URL, a token's scope and a POST's body digest: two Resource Graph queries to the one URL are two
    requests, the same query sent again is a repeat."""
    return (entry["method"], entry["host"], entry["path"], tuple(sorted(entry["query"].items())),
            entry.get("scope"), entry.get("bodyDigest") if entry["method"] == "POST" else None)


def duplicates(log):
    """Requests beyond the first with the same method, URL, token scope and POST body."""
    counts = collections.Counter(request_key(e) for e in log)
    return sum(n - 1 for n in counts.values() if n > 1)


def duplicate_list(log):
    counts = collections.Counter(request_key(e) for e in log)
    return ["{} {}{}".format(k[0], k[1], k[2]) for k, n in counts.items() if n > 1]


def critical_path(log):
    """The critical path in round trips: the longest chain of requests in which each one started
    after the one before it had ended. Requests that overlap in time cannot depend on each other,
    so this counts the round trips that had to wait for one another (it is the most intervals
    that do not overlap, found greedily by earliest end)."""
    chain, free_at = 0, float("-inf")
    for start, end in sorted(((e["time"], e["time"] + e["ms"] / 1000.0) for e in log), key=lambda p: p[1]):
        if start >= free_at:
            chain, free_at = chain + 1, end
    return chain


# -- the article's manual sequence ------------------------------------------------------------
def _find(world, marker, prefer=None):
    found = [r for k, r in sorted(world.arm.items()) if marker in k and "/" not in k.split(marker, 1)[1]]
    for r in found:
        if prefer and r.get("name", "").lower() == prefer:
            return r
    return found[0] if found else None


def _rg_of(resource_id):
    parts = resource_id.split("/")
    return parts[4] if len(parts) > 4 else None


def ensure_outbound_ip(world, cluster):
    """The standard load balancer's managed outbound public IP, which every such AKS cluster has;
    added (shaped as ARM returns it) when a scenario does not model it, so that
    `az network public-ip show` has something to read."""
    props = cluster["properties"]
    lb = props["networkProfile"].setdefault("loadBalancerProfile", {})
    for ref in lb.get("effectiveOutboundIPs") or []:
        if ref["id"].lower() in world.arm:
            return world.arm[ref["id"].lower()]
    node_rg = props["nodeResourceGroup"]
    sub = cluster["id"].split("/")[2]
    name = guid("pip/" + cluster["id"].lower())
    pip_id = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/publicIPAddresses/{}".format(
        sub, node_rg, name)
    frontend = ("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/loadBalancers/kubernetes/"
                "frontendIPConfigurations/{}").format(sub, node_rg, name)
    pip = world.put({
        "name": name, "id": pip_id, "etag": 'W/"{}"'.format(guid("etag/" + pip_id)), "location": cluster["location"],
        "tags": {"aks-managed-cluster-name": cluster["name"], "aks-managed-cluster-rg": _rg_of(cluster["id"]),
                 "aks-managed-type": "aks-slb-managed-outbound-ip"},
        "zones": ["1", "2", "3"], "type": "Microsoft.Network/publicIPAddresses",
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {"provisioningState": "Succeeded", "resourceGuid": guid("rg/" + pip_id),
                       "ipAddress": "203.0.113.10", "publicIPAddressVersion": "IPv4",
                       "publicIPAllocationMethod": "Static", "idleTimeoutInMinutes": 4, "ipTags": [],
                       "ipConfiguration": {"id": frontend},
                       "ddosSettings": {"protectionMode": "VirtualNetworkInherited"}},
    })
    lb.setdefault("managedOutboundIPs", {"count": 1})
    lb["effectiveOutboundIPs"] = [{"id": pip_id}]
    lb.setdefault("backendPoolType", "nodeIPConfiguration")
    return pip


def _cluster_vnet(world, cluster):
    subnet = None
    for pool in cluster["properties"].get("agentPoolProfiles") or []:
        subnet = subnet or pool.get("vnetSubnetID")
    if not subnet:
        vmss = _find(world, "/microsoft.compute/virtualmachinescalesets/")
        try:
            nic = vmss["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
            subnet = nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
        except (TypeError, KeyError, IndexError):
            return None, None
    m = re.search(r"/resourceGroups/([^/]+)/providers/Microsoft\.Network/virtualNetworks/([^/]+)", subnet, re.I)
    return (m.group(1), m.group(2)) if m else (None, None)


def _endpoint_vnets(world, registry):
    """The VNets of the registry's private endpoints (endpoint -> subnet -> VNet)."""
    found = []
    for conn in ((registry or {}).get("properties") or {}).get("privateEndpointConnections") or []:
        endpoint_id = ((conn.get("properties") or {}).get("privateEndpoint") or {}).get("id") or ""
        endpoint = world.arm.get(endpoint_id.lower())
        subnet = (((endpoint or {}).get("properties") or {}).get("subnet") or {}).get("id") or ""
        vnet_id = subnet.split("/subnets/")[0]
        if vnet_id and vnet_id not in found:
            found.append(vnet_id)
    return found


def _other_subscription(subscription, cluster_subscription):
    return [] if subscription.lower() == cluster_subscription.lower() else ["--subscription", subscription]


def manual_sequence(world):
    """The commands a person runs, following the article, for the questions `run` answers.

    The sequence follows the cluster's identity as the article does: the VMSS identity check
    (C1.S4) on a managed-identity cluster, the service principal's secret (C1.S2) on a
    service-principal cluster. Names a person would have looked up are filled in."""
    cluster = _find(world, "/microsoft.containerservice/managedclusters/", "aks1")
    registry = _find(world, "/microsoft.containerregistry/registries/", "myacr")
    props = cluster["properties"]
    rg, name, node_rg = _rg_of(cluster["id"]), cluster["name"], props["nodeResourceGroup"]
    commands = [("az aks show", ["aks", "show", "-g", rg, "-n", name])]
    if registry:
        commands.append(("az role assignment list --scope <registry> --include-inherited",
                         ["role", "assignment", "list", "--scope", registry["id"], "--include-inherited"]))
    kubelet = (props.get("identityProfile") or {}).get("kubeletidentity")
    if kubelet:
        for key, vmss in sorted(world.arm.items()):
            if "/microsoft.compute/virtualmachinescalesets/" in key and _rg_of(key) == node_rg.lower():
                pool = (vmss.get("tags") or {}).get("aks-managed-poolName", vmss["name"])
                commands.append(("az vmss identity show (pool {})".format(pool),
                                 ["vmss", "identity", "show", "-g", node_rg, "-n", vmss["name"]]))
    else:
        app_id = (props.get("servicePrincipalProfile") or {}).get("clientId")
        commands.append(("az ad app credential list --id <service principal>",
                         ["ad", "app", "credential", "list", "--id", app_id]))
    if registry:
        commands.append(("az acr show", ["acr", "show", "-n", registry["name"]]))
        commands.append(("az acr network-rule list", ["acr", "network-rule", "list", "-n", registry["name"]]))
    sub = cluster["id"].split("/")[2]
    vnet_rg, vnet = _cluster_vnet(world, cluster)
    if vnet:
        commands.append(("az network vnet peering list", ["network", "vnet", "peering", "list", "-g", vnet_rg,
                                                          "--vnet-name", vnet]))
    for vnet_id in _endpoint_vnets(world, registry):   # "both VNets must be peered": the other side too
        if vnet and vnet_id.lower().endswith("/virtualnetworks/" + vnet.lower()):
            continue
        parts = vnet_id.split("/")
        commands.append(("az network vnet peering list (the endpoint's VNet)",
                         ["network", "vnet", "peering", "list", "-g", parts[4], "--vnet-name", parts[8]]
                         + _other_subscription(parts[2], sub)))
    zone = _find(world, "/microsoft.network/privatednszones/", PRIVATE_LINK_ZONE)
    zone_rg = _rg_of(zone["id"]) if zone else (_rg_of(registry["id"]) if registry else rg)
    commands.append(("az network private-dns link vnet list", ["network", "private-dns", "link", "vnet", "list",
                                                               "-g", zone_rg, "-z", PRIVATE_LINK_ZONE]
                     + (_other_subscription(zone["id"].split("/")[2], sub) if zone else [])))
    pip = ensure_outbound_ip(world, cluster)
    commands.append(("az network public-ip show", ["network", "public-ip", "show", "--ids", pip["id"],
                                                   "--query", "ipAddress"]))
    return [(label, args + ["-o", "json"]) for label, args in commands]


# -- measurements -----------------------------------------------------------------------------
@dataclass
class Measure:
    label: str
    scenario: str
    commands: list                      # [(label, args)]
    env: dict
    cold: bool = False                  # expire the cached access tokens before each run
    kind: str = "run"
    rounds: list = field(default_factory=list)   # per round: [Sample per command]

    def totals(self):
        rows = []
        for samples in self.rounds:
            log = [e for s in samples for e in s.log]
            rows.append({"wall": sum(s.wall for s in samples), "cpu": sum(s.cpu for s in samples),
                         "rss": max(s.rss_mb for s in samples), "requests": len(log), "dupes": duplicates(log),
                         "chain": sum(critical_path(s.log) for s in samples),
                         "failed": [lbl for (lbl, _), s in zip(self.commands, samples, strict=True) if s.rc != 0],
                         "unknown": sum(s.unknown for s in samples), "dupe_list": duplicate_list(log)})
        med = {k: statistics.median(r[k] for r in rows) for k in ("wall", "cpu", "chain")}
        med.update({"rss": max(r["rss"] for r in rows), "requests": max(r["requests"] for r in rows),
                    "requests_min": min(r["requests"] for r in rows), "dupes": max(r["dupes"] for r in rows),
                    "failed": sorted({f for r in rows for f in r["failed"]}),
                    "unknown": max(r["unknown"] for r in rows),
                    "dupe_list": sorted({d for r in rows for d in r["dupe_list"]})})
        return med

    def per_command(self):
        out = []
        for i, (label, _) in enumerate(self.commands):
            samples = [r[i] for r in self.rounds]
            out.append({"label": label, "wall": statistics.median(s.wall for s in samples),
                        "requests": max(len(s.log) for s in samples), "rc": max(s.rc for s in samples),
                        "unknown": max(s.unknown for s in samples)})
        return out


class Bench:
    def __init__(self, args):
        self.args = args
        self.launcher = Launcher()   # before the simulator starts: see run_az
        self.env = Environment()
        self.az = self.env.az
        self._login_to_every_subscription()
        self.plain = self._plain_env()

    def _login_to_every_subscription(self):
        """Sign in again while the scenario with the most subscriptions is loaded, so that az knows them all
        (a person's `az login` lists every subscription; `--subscription` of the manual commands needs it)."""
        from tests.simulator.world import LOGIN_APP_ID, LOGIN_SECRET, SUBSCRIPTION, TENANT
        widest = max(self.args.scenarios, key=lambda name: len(build(name).subs))
        self.load(widest)
        self.env.sim.latency = 0.0
        self.env.run_ok("login", "--service-principal", "--username", LOGIN_APP_ID, "--password", LOGIN_SECRET,
                        "--tenant", TENANT)
        self.env.run_ok("account", "set", "--subscription", SUBSCRIPTION)

    def _plain_env(self):
        """The same login in a second configuration without the extension (one simulator, one port)."""
        base = os.path.join(self.env.dir, "plain")
        config = os.path.join(base, "azure")
        shutil.copytree(self.env.config_dir, config)
        for name in ("commandIndex.json", "extensionIndex.json", "extensionHelpIndex.json", "helpIndex.json"):
            if os.path.exists(os.path.join(config, name)):
                os.remove(os.path.join(config, name))
        extensions = os.path.join(base, "extensions")
        os.makedirs(extensions)
        return dict(self.env.env, AZURE_CONFIG_DIR=config, AZURE_EXTENSION_DIR=extensions)

    def world(self, name):
        world = build(name)
        manual_sequence(world)  # the same world for every measurement (adds what the manual commands read)
        return world

    def load(self, scenario):
        from tests.simulator import resourcegraph
        self.env.load(self.world(scenario))
        resourcegraph.prepare(self.env.sim.world)   # Resource Graph's index, built before the timed commands ask
        self.env.sim.latency = self.args.latency

    def expire_tokens(self, env_vars):
        path = os.path.join(env_vars["AZURE_CONFIG_DIR"], "msal_token_cache.json")
        with open(path, encoding="utf-8") as f:
            cache = json.load(f)
        cache["AccessToken"] = {}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cache, f)

    def measure(self, m):
        self.load(m.scenario)
        cache = os.path.join(m.env["AZURE_CONFIG_DIR"], "msal_token_cache.json")
        with open(cache, "rb") as f:
            saved = f.read()
        samples = []
        for _, args in m.commands:
            if m.cold:
                self.expire_tokens(m.env)
            samples.append(run_az(self.launcher, self.az, m.env, args, self.env.sim))
        if m.cold:   # the other measurements keep finding their tokens cached, as a person's az does
            with open(cache, "wb") as f:
                f.write(saved)
        return samples

    def plan(self):
        a = self.args
        show = ["aks", "show", "-g", "rg1", "-n", "aks1", "-o", "json"]
        run = ["aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--acr", "myacr", "-o", "json"]
        env = self.env.env
        plan = [Measure("`az aks show` (the floor)", a.scenarios[0], [("az aks show", show)], env, kind="floor")]
        for name in a.scenarios:
            plan.append(Measure("`az aks diagnose-pull run`", name, [("run", run)], env))
        for name in a.scenarios:
            plan.append(Measure("manual sequence", name, manual_sequence(self.world(name)), env, kind="manual"))
        plan.append(Measure("`az aks show`, access tokens expired", a.cold_scenario, [("az aks show", show)], env,
                            cold=True, kind="floor-cold"))
        plan.append(Measure("`az aks diagnose-pull run`, access tokens expired", a.cold_scenario, [("run", run)],
                            env, cold=True, kind="run-cold"))
        return plan

    def go(self):
        plan = self.plan()
        for round_no in range(self.args.runs + 1):
            for m in plan:
                samples = self.measure(m)
                if round_no:           # round 0 warms az's command index and the disk cache
                    m.rounds.append(samples)
            print("round {}/{} done".format(round_no, self.args.runs), file=sys.stderr, flush=True)
        overhead = self.overhead()
        return plan, overhead

    def overhead(self):
        """`az aks show` with and without the extension, in pairs whose order alternates."""
        self.load(self.args.scenarios[0])
        show = ["aks", "show", "-g", "rg1", "-n", "aks1", "-o", "json"]
        sims = {"with": [], "without": []}
        for env_vars in (self.env.env, self.plain):   # warm both command indexes
            run_az(self.launcher, self.az, env_vars, show, self.env.sim)
        for i in range(self.args.overhead_runs):
            order = [("with", self.env.env), ("without", self.plain)]
            for key, env_vars in (order if i % 2 == 0 else order[::-1]):
                sims[key].append(run_az(self.launcher, self.az, env_vars, show, self.env.sim))
        return {k: {"wall": statistics.median(s.wall for s in v), "cpu": statistics.median(s.cpu for s in v),
                    "rss": max(s.rss_mb for s in v), "rc": max(s.rc for s in v)} for k, v in sims.items()}

    def close(self):
        self.env.close()
        self.launcher.close()


# -- report -----------------------------------------------------------------------------------
def report(args, plan, overhead, load_before, load_after):
    floor = next(m for m in plan if m.kind == "floor").totals()
    floor_cold = next(m for m in plan if m.kind == "floor-cold").totals()
    lines = []
    lines.append("Measured by `scripts/bench.sh` on {}: azure-cli {}, Python {}, {} CPUs, load average {:.1f} before "
                 "and {:.1f} after. Median of {} interleaved runs after a discarded warm-up round; the simulated Azure "
                 "answers every request after {:.0f} ms (its own work included).".format(
                     datetime.date.today().isoformat(), metadata.version("azure-cli"), platform.python_version(),
                     os.cpu_count(), load_before, load_after, args.runs, args.latency * 1000))
    lines.append("")
    lines.append("| command | scenario | wall s | x `az aks show` | CPU s | peak RSS MB | requests | duplicates | "
                 "critical path |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    worst, dupes = (0.0, None), 0
    for m in plan:
        t = m.totals()
        base = floor_cold if m.cold else floor
        ratio = t["wall"] / base["wall"]
        label = m.label
        if m.kind == "manual":
            label = "manual sequence ({} az commands)".format(len(m.commands))
        if m.kind.startswith("run"):
            dupes = max(dupes, t["dupes"])
            if ratio > worst[0]:
                worst = (ratio, "{}{}".format(m.scenario, ", tokens expired" if m.cold else ""))
        requests = str(t["requests"]) if t["requests"] == t["requests_min"] else "{}-{}".format(
            t["requests_min"], t["requests"])
        notes = ""
        if t["failed"]:
            notes = " (exit status not 0: {})".format(", ".join(t["failed"]))
        lines.append("| {}{} | {} | {:.2f} | {:.2f} | {:.2f} | {:.0f} | {} | {} | {:.0f} |".format(
            label, notes, m.scenario, t["wall"], ratio, t["cpu"], t["rss"], requests, t["dupes"], t["chain"]))
    lines.append("")
    lines.append("Requests and duplicates are per run (for the manual sequence, over all its commands: `az acr show` "
                 "and `az acr network-rule list` both look the registry up); a duplicate is the same method, URL, "
                 "token scope and POST body again. Critical path: the round trips that waited for one another, "
                 "i.e. the longest chain of requests in which each started after the previous "
                 "one ended; `az aks show` has one.")
    lines.append("")
    w, wo = overhead["with"], overhead["without"]
    wall_over, cpu_over = w["wall"] / wo["wall"] - 1, w["cpu"] / wo["cpu"] - 1
    run_rss = max(m.totals()["rss"] for m in plan if m.kind == "run")
    ok_ratio, ok_dupes, ok_over = worst[0] <= TARGET_RATIO, dupes == 0, wall_over < TARGET_OVERHEAD
    mark = {True: "met", False: "**missed**"}
    lines.append("Targets:")
    lines.append("")
    lines.append("- `run` within {:.1f}x of `az aks show`: {}; worst {:.2f}x ({}).".format(
        TARGET_RATIO, mark[ok_ratio], worst[0], worst[1]))
    lines.append("- No duplicate request in a `run`: {}; {} found.".format(mark[ok_dupes], dupes))
    lines.append("- The installed extension adds under {:.0f}% to an unrelated `az aks` command: {}; `az aks show` "
                 "takes {:.3f} s with it and {:.3f} s without ({:+.1f}%; CPU {:.3f} s and {:.3f} s, {:+.1f}%), median "
                 "of {} interleaved pairs.".format(
                     TARGET_OVERHEAD * 100, mark[ok_over], w["wall"], wo["wall"], wall_over * 100, w["cpu"],
                     wo["cpu"], cpu_over * 100, args.overhead_runs))
    lines.append("- Memory: peak RSS of `run` {:.0f} MB, of `az aks show` {:.0f} MB ({:.0f} MB without the "
                 "extension).".format(run_rss, w["rss"], wo["rss"]))
    lines.append("")
    lines.extend(manual_table(plan))
    all_ok = ok_ratio and ok_dupes and ok_over
    return "\n".join(lines) + "\n", all_ok, plan


def manual_table(plan):
    manual = [m for m in plan if m.kind == "manual"]
    if not manual:
        return []
    labels = []
    for m in manual:
        for label, _ in m.commands:
            if label not in labels:
                labels.append(label)
    cells = {(m.scenario, c["label"]): c for m in manual for c in m.per_command()}
    out = ["The manual sequence, command by command (median wall s, requests; `-` where the article does not "
           "apply to the cluster's identity):", "",
           "| command | " + " | ".join(m.scenario for m in manual) + " |",
           "|---|" + "---:|" * len(manual)]
    skipped = []
    for label in labels:
        row = []
        for m in manual:
            c = cells.get((m.scenario, label))
            if c is None:
                row.append("-")
                continue
            note = ""
            if c["unknown"]:
                note = " (route missing in the simulator)"
                skipped.append(label)
            elif c["rc"]:
                note = " (exit {})".format(c["rc"])
            row.append("{:.2f}, {}{}".format(c["wall"], c["requests"], note))
        out.append("| `{}` | {} |".format(label, " | ".join(row)))
    out.append("")
    return out


def write_readme(block):
    write_section(BEGIN, END, block, "## Performance")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/bench.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (after one warm-up round)")
    parser.add_argument("--overhead-runs", type=int, default=20, help="pairs of az aks show with/without")
    parser.add_argument("--latency", type=float, default=0.15, help="seconds injected into every request")
    parser.add_argument("--scenarios", nargs="+", default=[s for s in DEFAULT_SCENARIOS if s in SCENARIOS],
                        choices=sorted(SCENARIOS))
    parser.add_argument("--cold-scenario", default="demo-broken", choices=sorted(SCENARIOS))
    parser.add_argument("--no-readme", action="store_true", help="print the results only")
    parser.add_argument("--json", help="also write the raw medians to this file")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.overhead_runs < 1:
        parser.error("--runs and --overhead-runs must be at least 1")
    load_before = os.getloadavg()[0]
    bench = Bench(args)
    try:
        plan, overhead = bench.go()
    finally:
        bench.close()
    block, ok, plan = report(args, plan, overhead, load_before, os.getloadavg()[0])
    print(block)
    from bench.discovery import measure as measure_discovery
    found = measure_discovery(runs=args.runs)   # in this process: the pod LIST page, as `run` reads it
    worst = max(found["cases"], key=lambda c: c["cpu"])
    print("Discovering failing pods among {:,}: {} LIST round trip(s), CPU {:.3f} s (worst case: {}); target at most 1 "
          "and {:.1f} s: {}.".format(found["pods"], found["rounds"], worst["cpu"], worst["case"], found["targetCpu"],
                                     "met" if found["met"] else "MISSED"))
    ok = ok and found["met"]
    for m in plan:
        t = m.totals()
        if m.kind.startswith("run") and t["dupe_list"]:
            print("duplicates in run on {}: {}".format(m.scenario, t["dupe_list"]), file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"measures": [dict(m.totals(), label=m.label, scenario=m.scenario, kind=m.kind) for m in plan],
                       "overhead": overhead}, f, indent=1)
    if not args.no_readme:
        write_readme(block)
        save_results("discovery", dict(found, date=datetime.date.today().isoformat()), rewrite=False)
        save_results("run", summary_record(args, plan, load_before, os.getloadavg()[0]))
        print("README.md updated.", file=sys.stderr)
    return 0 if ok else 1


def summary_record(args, plan, load_before, load_after):
    """What the README's table of every target shows for `run` (bench/summary.py)."""
    def row(m, base=None):
        t = m.totals()
        out = {"scenario": m.scenario, "cold": m.cold, "wall": t["wall"], "cpu": t["cpu"], "rss": t["rss"],
               "requests": t["requests"], "chain": t["chain"]}
        if base is not None:
            out["ratio"] = t["wall"] / base["wall"]
        return out
    floor = next(m for m in plan if m.kind == "floor")
    floor_cold = next(m for m in plan if m.kind == "floor-cold")
    return {"date": datetime.date.today().isoformat(), "latencyMs": int(args.latency * 1000), "rounds": args.runs,
            "load": [load_before, load_after], "target": TARGET_RATIO, "floor": row(floor),
            "runs": [row(m, (floor_cold if m.cold else floor).totals()) for m in plan if m.kind.startswith("run")]}


if __name__ == "__main__":
    sys.exit(main())
