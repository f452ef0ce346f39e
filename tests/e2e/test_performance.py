"""What keeps a diagnosis fast, asserted without timing anything (scripts/bench.sh measures the times).

- Every scenario is diagnosed without fetching anything twice, under injected latency so that
  concurrent checks really overlap, and with the access tokens expired without asking Entra ID
  twice for the same token.
- The loader, which az runs for every `az aks ...` command, imports nothing heavy.
"""
import collections
import json
import os
import re
import subprocess
import sys

import pytest

from tests.simulator.harness import ROOT
from tests.simulator.scenarios import SCENARIOS

LATENCY = 0.05
# Modules that only a diagnosis may import, never the loader.
HEAVY = ("azure.mgmt", "requests", "yaml", "msal", "msrest", "azure.cli.command_modules", "azext_acrpull.custom",
         "azext_acrpull.diagnose.facts", "azext_acrpull.diagnose.checks", "azext_acrpull.diagnose.fix")


def _first(world, marker, prefer):
    found = [r for k, r in sorted(world.arm.items()) if marker in k and "/" not in k.split(marker, 1)[1]]
    return next((r for r in found if r["name"].lower() == prefer), found[0] if found else None)


def diagnose_args(world):
    """`run` the way a person would for this scenario: its cluster, its registry, its failing pod if any."""
    cluster = _first(world, "/microsoft.containerservice/managedclusters/", "aks1")
    args = ["-g", cluster["id"].split("/")[4], "-n", cluster["name"]]
    registry = _first(world, "/microsoft.containerregistry/registries/", "myacr")
    if registry:
        args += ["--acr", registry["name"]]
    objects = (world.kube.get(cluster["properties"]["fqdn"].lower()) or {}).get("objects", {})
    pods = [o for _, o in sorted(objects.items()) if o.get("kind") == "Pod"]
    if pods:
        args += ["--pod", pods[0]["metadata"]["name"], "--namespace", pods[0]["metadata"].get("namespace", "default")]
    return args


def token_requests(log):
    return collections.Counter(e.get("scope") for e in log if e["host"] == "login.microsoftonline.com"
                               and e["method"] == "POST")


def _run(sc):
    sc.sim.clear_log()
    sc.sim.latency = LATENCY
    try:
        result = sc.az("aks", "diagnose-pull", "run", *diagnose_args(sc.world), "-o", "json")
    finally:
        sc.sim.latency = 0.0
    assert "Traceback" not in result.stderr, result
    assert result.rc in (0, 3), result   # 3: the scenario's registry or cluster does not exist
    return result


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_request_twice(scenario, name):
    sc = scenario(name)
    _run(sc)
    sc.assert_no_duplicate_reads()
    sc.assert_read_only()
    repeated = {scope: n for scope, n in token_requests(sc.sim.log).items() if n > 1}
    assert not repeated, "tokens asked for more than once: {}".format(repeated)


def _expire_access_tokens(config_dir):
    path = os.path.join(config_dir, "msal_token_cache.json")
    with open(path, encoding="utf-8") as f:
        cache = json.load(f)
    cache["AccessToken"] = {}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cache, f)


@pytest.mark.parametrize("name", ["mi-healthy", "sp-healthy"])
def test_expired_tokens_are_fetched_once(scenario, name):
    """Reads start concurrently; with no token cached, only the first asks Entra ID, the others wait for it."""
    sc = scenario(name)
    _expire_access_tokens(sc.env.config_dir)
    _run(sc)
    tokens = token_requests(sc.sim.log)
    assert tokens["https://management.core.windows.net//.default"] == 1, tokens
    assert all(n == 1 for n in tokens.values()), tokens
    sc.assert_no_duplicate_reads()


_LOADER_PROBE = r"""
import sys
from azure.cli.core.mock import DummyCli
import azure.cli.core.commands.parameters  # az imports these for any command with arguments
cli = DummyCli()
cli.invocation = type("Invocation", (), {"data": {"command_string": "aks diagnose-pull run"}})()
print("=== acrpull ===", file=sys.stderr, flush=True)
before = set(sys.modules)
import azext_acrpull
loader = azext_acrpull.COMMAND_LOADER_CLS(cli_ctx=cli)
loader.load_command_table(["aks", "show"])
loader.load_arguments("aks diagnose-pull run")
print("\n".join(sorted(set(sys.modules) - before)))
"""


def test_loader_imports_nothing_heavy():
    """What az runs for every `az aks ...` command: the package, its command table and its arguments."""
    env = dict(os.environ, PYTHONPATH=ROOT, AZURE_CORE_COLLECT_TELEMETRY="false")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", _LOADER_PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = proc.stdout.split()
    assert "azext_acrpull.commands" in imported and "azext_acrpull._params" in imported, imported
    heavy = [m for m in imported if m.startswith(HEAVY)]
    assert not heavy, "the loader imports {}".format(heavy)
    # The same from -X importtime: no heavy module is imported after the marker (by the package).
    timings = proc.stderr.split("=== acrpull ===", 1)[1]
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", timings, re.MULTILINE)
    assert names and not [n for n in names if n.startswith(HEAVY)], names


def test_reads_ahead_only_for_the_checks_selected(scenario):
    """`run` reads the pull identity's group memberships and the pull role's definition beside the registry's role
    assignments; a command whose checks need neither (check-network) reads neither."""
    sc = scenario("mi-healthy")
    ahead = re.compile(r"/transitiveMemberOf/|/roleDefinitions/")
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "check-network", "-g", "rg1", "-n", "aks1", "--acr", "myacr", "-o", "json")
    assert result.rc == 0, result
    assert not [e["path"] for e in sc.sim.log if ahead.search(e["path"])]
    _run(sc)
    assert sorted(ahead.search(e["path"]).group(0) for e in sc.sim.log if ahead.search(e["path"])) == [
        "/roleDefinitions/", "/transitiveMemberOf/"]
    sc.assert_no_duplicate_reads()


ROLE_LIST = r"^GET management\.azure\.com/.*/registries/myacr/providers/Microsoft\.Authorization/roleAssignments$"
RESOURCE_GRAPH = "/providers/Microsoft.ResourceGraph/resources"


def test_role_hint_starts_the_role_reads_before_the_registrys_list_ends(scenario):
    """demo-broken: the kubelet identity holds no pull role, so the checks of cause 1 read the other holders' roles
    and directory objects. A Resource Graph query sent at the start says which: they start while ARM's list of the
    registry's role assignments (held back here by 3 s) is still on its way, each once."""
    from tests.simulator.server import Fault
    sc = scenario("demo-broken")
    fault = Fault(ROLE_LIST, status=0, delay=3)
    sc.sim.faults = [fault]
    try:
        _run(sc)
    finally:
        sc.sim.faults = []
    assert fault.hits == 1
    log = sc.sim.log
    (listed,) = [e for e in log if e["path"].endswith("/registries/myacr/providers/Microsoft.Authorization/"
                                                      "roleAssignments")]
    ended = listed["time"] + listed["ms"] / 1000
    # the role hint and the private path's query (network_ahead.py), each once
    queries = [e for e in log if e["path"] == RESOURCE_GRAPH]
    assert [e["method"] for e in queries] == ["POST", "POST"] and len({e["bodyDigest"] for e in queries}) == 2
    definitions = [e for e in log if "/roleDefinitions/" in e["path"]]
    objects = [e for e in log if e["path"].endswith("/directoryObjects/getByIds")]
    # Owner, AcrPush and Contributor besides AcrPull (the pull role, read ahead anyway), and one getByIds.
    assert len(definitions) == 4 and len(objects) == 1, [e["path"] for e in definitions + objects]
    early = [e["path"].rsplit("/", 1)[-1] for e in definitions + objects if e["time"] < ended]
    assert len(early) == 5, early
    sc.assert_no_duplicate_reads()
