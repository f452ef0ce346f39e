"""Diagnosis only reads: for every scenario, every diagnosing command of the group (`run`, each `check-*`, and
`fleet`) sends no write to the simulated Azure.

A write is any PUT, PATCH or DELETE, and any POST other than the reads the contract allows: token requests
(Entra ID, the registry's token exchange), list* actions (cluster user credentials, registry credentials),
Resource Graph queries and Microsoft Graph's read-only look-ups. AKS run command is a POST that starts a pod:
without --probe (which this suite never passes) it is allowed only to read Kubernetes objects with `kubectl get`
of a cluster whose API server cannot be reached from where az runs (private, or authorized IP ranges), as the
contract's safety rule says. Scenarios and commands are discovered, so the suite covers those added later.

`run` runs every check, so it runs on every scenario. Each other command runs a subset of the same checks over
the same facts; to keep the suite's time in bounds they take turns, each on every n-th scenario (n = their
number), so that every command still meets scenarios of every area. ACRPULL_READ_ONLY_ALL=1 runs every command
on every scenario.
"""
import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.arguments import diagnose_args
from tests.e2e.figures import tally_fixture
from tests.simulator.runcommand import and_lists
from tests.simulator.scenarios import SCENARIOS, build

READ_ONLY_POSTS = [
    r"^login\.microsoftonline\.com/[^/]+/oauth2/(v2\.0/)?token$",
    r"^management\.azure\.com/.*/(listClusterUserCredential|listCredentials|listKeys)$",
    r"^management\.azure\.com/providers/Microsoft\.ResourceGraph/resources$",
    r"^graph\.microsoft\.com/v1\.0/(directoryObjects/getByIds|\$batch)$",
    r"^[^/]+\.azurecr\.io/oauth2/(exchange|token)$",
]


def diagnosing_commands(env):
    text = env.run("aks", "diagnose-pull", "--help").stdout
    names = re.findall(r"^\s{4}([a-z][a-z-]+)\s", text.split("Commands:", 1)[1], re.MULTILINE)
    return [n for n in names if n == "run" or n.startswith("check-") or n == "fleet"]


tally = tally_fixture("read-only")


@pytest.fixture(scope="module")
def commands(azenv):
    found = diagnosing_commands(azenv)
    assert "run" in found and any(c.startswith("check-") for c in found), found
    return found


def _posts_not_allowed(log):
    bad = []
    for e in log:
        if e["method"] != "POST":
            continue
        line = "{}{}".format(e["host"], e["path"])
        if not any(re.search(p, line, re.IGNORECASE) for p in READ_ONLY_POSTS):
            bad.append(line)
    return bad


def _api_server_closed(world):
    clusters = [r for r in world.arm.values() if r.get("type") == "Microsoft.ContainerService/ManagedClusters"]
    profiles = [(c["properties"].get("apiServerAccessProfile") or {}) for c in clusters]
    return any(p.get("enablePrivateCluster") or p.get("authorizedIPRanges") for p in profiles)


def commands_for(commands, index):
    """`run`, and the other commands in turn (all of them with ACRPULL_READ_ONLY_ALL=1)."""
    others = [c for c in commands if c != "run"]
    if os.environ.get("ACRPULL_READ_ONLY_ALL") == "1" or not others:
        return list(commands)
    return ["run", others[index % len(others)]]


# Scenarios without a cluster have nothing to diagnose: they are not generated rather than skipped.
CLUSTERED = [n for n in sorted(SCENARIOS) if diagnose_args(build(n)) is not None]


@pytest.mark.parametrize("index,name", list(enumerate(CLUSTERED)), ids=CLUSTERED)
def test_diagnosis_only_reads(scenario, tally, commands, index, name):
    sc = scenario(name)
    args = diagnose_args(sc.world)
    commands = commands_for(commands, index)

    def one(command):
        cmd_args = args if command != "fleet" else [a for a in args[4:] if not a.startswith("--pod")][:2]
        return command, sc.az("aks", "diagnose-pull", command, *cmd_args, "-o", "json")

    sc.sim.clear_log()
    # The commands only read, so they can share the simulator; a write would show whichever made it.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, commands))
    writes = [(e["method"], e["host"], e["path"]) for e in sc.sim.writes()]
    posts = [p for p in _posts_not_allowed(sc.sim.log) if not re.search(r"/runCommand$", p, re.IGNORECASE)]
    tally.add(scenarios=1, runs=len(results), requests=len(sc.sim.log), writes=len(writes) + len(posts))
    tally.note(commands=commands)
    tally.add(**{"runs_" + c.replace("-", "_"): 1 for c in commands})
    for command, result in results:
        assert "Traceback" not in result.stderr, (command, result)
        assert result.rc in (0, 1, 3), (command, result)
    assert not writes, "az aks diagnose-pull {} wrote: {}".format(" ".join(commands), writes)
    assert not posts, "POSTs that are not reads: {}".format(posts)
    run_commands = [e for e in sc.sim.log if re.search(r"/runCommand$", e["path"], re.IGNORECASE)]
    if run_commands:
        assert _api_server_closed(sc.world), "AKS run command without --probe on a reachable API server"
        ran = getattr(sc.world, "commands_run", [])
        # kubectl get only (the pods' lines through run command are filtered by awk in the cluster)
        assert ran and all(words[:2] == ["kubectl", "get"] or words[:1] == ["awk"]
                           for c in ran for words, _ in and_lists(c)), ran
