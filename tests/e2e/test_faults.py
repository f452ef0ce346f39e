"""Faults injected into every dependency: the run always finishes, the checks that needed the broken dependency
say Error and why, every other finding is unchanged, exit status 0, no traceback.

For each dependency (a row of DEPENDENCIES: a request pattern, a scenario that reads it, the arguments) the
simulated Azure answers every matching request with: 429 and Retry-After, 500, 503 (empty body, as a gateway
sends), an answer slower than --timeout, 403, 404, a broken JSON body, and a 503 once (which a retry must
absorb). Each faulted run is compared with the same run without the fault.

Adding a dependency is one line in DEPENDENCIES. A row whose scenario does not exist yet, or whose run sends no
request matching its pattern, is skipped: it becomes active as soon as a check reads that dependency.
"""
import collections
import glob
import os
import re
from dataclasses import dataclass

import pytest

from tests.e2e.figures import tally_fixture
from tests.simulator.scenarios import SCENARIOS
from tests.simulator.scenarios.reliability import SECRETS_ARGS
from tests.simulator.server import Fault

TIMEOUT = 6                 # --timeout of every run here
SLOW = TIMEOUT + 5          # the slow fault answers after this many seconds
MAX_ATTEMPTS = 4            # one request and three retries (azext_acrpull/diagnose/facts/transport.py)
CLUSTER = ("-g", "rg1", "-n", "aks1")


@dataclass(frozen=True)
class Dependency:
    name: str
    pattern: str                    # regex on the simulator's "METHOD host/path"
    scenario: str
    args: tuple = ("--acr", "myacr")
    shape: str = "arm"              # how its errors look: arm, graph, kube, acr, entra
    permission: str = ""            # regex a 403 reason must match: the missing permission
    named: bool = False             # a 404 here means a resource the user named does not exist: exit 3
    fresh_tokens: bool = False      # drop az's cached tokens first, so that the run asks Entra ID
    verdicts: tuple = ()            # checks whose verdict is about this dependency itself (may Fail, not Error)
    client_throttles: bool = False  # the client library replays a 429/5xx itself (msal: for its Retry-After, or
                                    # 60 s), so no retry can reach the service again within one run
    repeated_on: tuple = ("429", "500", "503")  # transient answers after which a request is sent again; a POST
                                                # that starts a pod only after those that say it was not taken


ARM = r"^{} management\.azure\.com/[^ ]*"
DEPENDENCIES = [
    Dependency("Entra ID", r"^POST login\.microsoftonline\.com/[^ ]*/oauth2/v2\.0/token$", "sp-healthy",
               shape="entra", fresh_tokens=True, client_throttles=True),
    Dependency("ARM managed cluster", ARM.format("GET") + r"/managedclusters/aks1$", "mi-healthy", named=True,
               permission=r"managedClusters/read"),
    Dependency("ARM cluster credentials", ARM.format("POST") + r"/listClusterUserCredential$", "secrets-everywhere",
               SECRETS_ARGS, permission=r"listClusterUserCredential/action"),
    Dependency("ARM registries", ARM.format("GET") + r"/providers/microsoft\.containerregistry/registries",
               "mi-healthy", permission=r"Microsoft\.ContainerRegistry/registries/read"),
    Dependency("ARM registry credentials", ARM.format("POST") + r"/listCredentials$", "secrets-everywhere",
               SECRETS_ARGS, permission=r"listCredentials"),
    Dependency("ARM role assignments", ARM.format("GET") + r"/providers/microsoft\.authorization/roleassignments$",
               "mi-healthy", permission=r"roleAssignments/read"),
    Dependency("ARM role definitions", ARM.format("GET") + r"/providers/microsoft\.authorization/roledefinitions/",
               "mi-healthy", permission=r"roleDefinitions/read"),
    Dependency("ARM scale sets", ARM.format("GET") + r"/providers/microsoft\.compute/virtualmachinescalesets",
               "mi-healthy", permission=r"virtualMachineScaleSets/read"),
    Dependency("ARM networks", ARM.format("GET") + r"/providers/microsoft\.network/(?!privatednszones)",
               "net-hub-spoke-healthy", permission=r"Microsoft\.Network/"),
    Dependency("ARM private DNS", ARM.format("GET") + r"/providers/microsoft\.network/privatednszones",
               "net-hub-spoke-healthy", permission=r"privateDnsZones"),
    Dependency("AKS run command", ARM.format("POST") + r"/runCommand$", "net-private-cluster",
               ("--acr", "myacr", "--probe"), permission=r"runCommand", repeated_on=("429", "503")),
    Dependency("AKS run command results", ARM.format("GET") + r"/commandResults/[^/]+$", "net-private-cluster",
               ("--acr", "myacr", "--probe")),
    Dependency("Microsoft Graph", r"^(GET|POST) graph\.microsoft\.com/", "sp-healthy", shape="graph",
               permission=r"Application\.Read\.All"),
    Dependency("Kubernetes API", r"^GET [^ /]*\.azmk8s\.io/", "secrets-everywhere", SECRETS_ARGS, shape="kube",
               named=True, permission=r"Kubernetes RBAC"),
    Dependency("registry data plane", r"^(GET|POST) myacr\.azurecr\.io/", "secrets-everywhere", SECRETS_ARGS,
               shape="acr", permission=r"AcrPull|firewall", verdicts=("registry-health",)),
]

# Defects these suites found in a check, left to its owner: (dependency, check) -> what is wrong. The test then
# reports xfail for that fault instead of failing, and passes once the check is fixed.
KNOWN = {}

FAULTS = ("429", "500", "503", "slow", "403", "404", "broken-json", "503-once")
# Words the reason of an affected check must hold, per fault.
REASONS = {"429": r"429", "500": r"500", "503": r"503", "slow": r"within {} s".format(TIMEOUT),
           "404": r"not found|404|does not exist", "broken-json": r"unreadable|unusable|JSON|Expecting"}
SIGN_IN_REFUSED = ("403", "404")    # Entra ID refusing a token is a refused sign-in: a clear az error, exit 1


def _bodies(shape, status):
    words = {403: ("AuthorizationFailed", "The client does not have authorization to perform this action."),
             404: ("NotFound", "The resource was not found."), 429: ("TooManyRequests", "Rate limit exceeded."),
             500: ("InternalServerError", "An internal error occurred.")}
    if status not in words:
        return None
    code, message = words[status]
    if shape == "graph":
        return {"error": {"code": "Authorization_RequestDenied" if status == 403 else code, "message": message}}
    if shape == "kube":
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                "reason": {403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}.get(status, "InternalError"),
                "code": status}
    if shape == "acr":
        return {"errors": [{"code": {403: "DENIED", 404: "NAME_UNKNOWN"}.get(status, "UNAVAILABLE"),
                            "message": message, "detail": None}]}
    if shape == "entra":
        return {"error": {403: "access_denied", 404: "invalid_request"}.get(status, "temporarily_unavailable"),
                "error_description": "AADSTS90033: " + message}
    return {"error": {"code": code, "message": message}}


def make_fault(dep, kind):
    if kind == "slow":
        return Fault(dep.pattern, status=0, delay=SLOW)
    if kind == "broken-json":
        return Fault(dep.pattern, status=200, raw=b'{"id": "/subscriptions/3f2b8c4e', headers={})
    if kind == "503-once":
        return Fault(dep.pattern, status=503, times=1)
    status = int(kind)
    headers = {"Retry-After": "1"} if status == 429 else {}
    return Fault(dep.pattern, status=status, body=_bodies(dep.shape, status), headers=headers)


def drop_tokens(env):
    """Forget az's cached access tokens (and msal's throttling memory), keeping the login itself."""
    for path in glob.glob(os.path.join(env.config_dir, "msal_*")):
        os.remove(path)


tally = tally_fixture("faults")


_BASELINES = {}


def baseline(scenario, dep):
    """The run without faults (once per scenario and arguments): findings by check, and requests matching."""
    key = (dep.scenario, dep.args, dep.fresh_tokens)
    if key not in _BASELINES:
        sc = scenario(dep.scenario)
        if dep.fresh_tokens:
            drop_tokens(sc.env)
        sc.sim.clear_log()
        result = sc.az("aks", "diagnose-pull", "run", *CLUSTER, *dep.args, "--timeout", str(TIMEOUT), "-o", "json")
        assert result.rc == 0 and "Traceback" not in result.stderr, result
        _BASELINES[key] = (by_check(result.json()), list(sc.sim.log))
    findings, log = _BASELINES[key]
    matching = [e for e in log if re.search(dep.pattern, "{} {}{}".format(e["method"], e["host"], e["path"]),
                                            re.IGNORECASE)]
    return findings, matching


def by_check(findings):
    out = collections.defaultdict(list)
    for f in findings:
        out[f["checkId"]].append((f["target"], f["status"]))
    return {k: sorted(v) for k, v in out.items()}


def _per_request(entries):
    """How often each request (method, host, path, query) was sent; POSTs to one URL with different bodies count
    together."""
    return collections.Counter((e["method"], e["host"], e["path"].lower(), str(sorted(e["query"].items())))
                               for e in entries)


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("dep", [d for d in DEPENDENCIES if d.scenario in SCENARIOS],
                         ids=lambda d: d.name.replace(" ", "-"))
def test_fault(scenario, tally, dep, kind):
    base, matching = baseline(scenario, dep)
    if not matching:
        pytest.skip("no request of scenario {}'s run matches dependency {} ({}): no check reads it yet".format(
            dep.scenario, dep.name, dep.pattern))
    sc = scenario(dep.scenario)
    fault = make_fault(dep, kind)
    tally.add(injected=1)
    tally.note(dependencies=dep.name, faults=kind)
    if dep.fresh_tokens:
        drop_tokens(sc.env)
    sc.sim.clear_log()
    sc.sim.faults = [fault]
    try:
        result = sc.az("aks", "diagnose-pull", "run", *CLUSTER, *dep.args, "--timeout", str(TIMEOUT), "-o", "json")
    finally:
        sc.sim.faults = []
        if dep.fresh_tokens:
            drop_tokens(sc.env)
    assert fault.hits >= 1, "the fault was never hit: {}".format(dep.pattern)
    assert "Traceback" not in result.stderr, result
    assert result.seconds < TIMEOUT + 10, "the run did not stop at its deadline ({:.1f} s)".format(result.seconds)

    if kind == "404" and dep.named:
        assert result.rc == 3, result
        assert len(error_lines(result)) == 1 and re.search(r"not found|does not exist", result.stderr), result
        tally.add(survived=1)
        return
    if dep.shape == "entra" and kind in SIGN_IN_REFUSED:
        assert result.rc == 1, result
        assert len(error_lines(result)) == 1 and "az login" in error_lines(result)[0], result
        tally.add(survived=1)
        return
    assert result.rc == 0, result
    got = by_check(result.json())
    if kind == "503-once" and not dep.client_throttles:
        assert got == base, "a single 503 was not absorbed by a retry"
        assert fault.hits == 1
        tally.add(survived=1, absorbed=1)
        return

    affected = [c for c in set(base) | set(got) if got.get(c) != base.get(c)]
    assert affected, "no check noticed the fault on {}".format(dep.name)
    findings = result.json()
    known = []
    for check_id in affected:
        statuses = {s for _, s in got.get(check_id, [])}
        allowed = {"Error", "Fail", "Warning"} if check_id in dep.verdicts else {"Error"}
        if (dep.name, check_id) in KNOWN and not statuses <= allowed:
            known.append("{}: {}".format(check_id, KNOWN[(dep.name, check_id)]))
            continue
        assert statuses and statuses <= allowed, "{} changed to {} (was {}) under {} on {}".format(
            check_id, got.get(check_id), base.get(check_id), kind, dep.name)
    errors = [f for f in findings if f["checkId"] in affected and f["status"] == "Error"]
    words = dep.permission if kind == "403" else REASONS[kind.replace("-once", "")]
    if dep.shape == "entra" and kind != "slow":
        words = r"Entra ID"     # msal does not pass the HTTP status on
    for f in errors:
        assert re.search(words, f["message"], re.IGNORECASE), "{}: {!r} does not say {!r}".format(
            f["checkId"], f["message"], words)
        assert f["remediation"] == ""

    if kind in ("429", "500", "503") and not dep.client_throttles:
        sent, before = _per_request(e for e in sc.sim.log if e.get("fault")), _per_request(matching)
        if kind not in dep.repeated_on:
            repeated = {k: n for k, n in sent.items() if n > before.get(k, 1)}
            assert not repeated, "sent again after {}, which may have started it: {}".format(kind, repeated)
        else:
            # Each request the run made without the fault is sent at most MAX_ATTEMPTS times, some more than once.
            over = {k: n for k, n in sent.items() if n > MAX_ATTEMPTS * before.get(k, 1)}
            assert not over, "retried beyond the bound: {}".format(over)
            assert any(n > before.get(k, 1) for k, n in sent.items()), "a transient {} was not retried".format(kind)
            tally.add(retried=1)
    if known:
        tally.add(known_defects=1)
        pytest.xfail("; ".join(known))
    tally.add(survived=1)


def test_timeout_bounds_a_hung_cluster_read(scenario):
    """The cluster never answers: the command still returns at its deadline, every check says what it waited
    for, and no thread keeps az alive."""
    sc = scenario("mi-healthy")
    sc.sim.faults = [Fault(DEPENDENCIES[1].pattern, status=0, delay=60)]
    result = sc.az("aks", "diagnose-pull", "run", *CLUSTER, "--acr", "myacr", "--timeout", "3", "-o", "json")
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    assert result.seconds < 3 + 6, result.seconds
    findings = result.json()
    unfinished = [f for f in findings if f["evidence"].get("reason") == "timeout"]
    assert unfinished and all(f["status"] == "Error" for f in unfinished)
    assert all("did not finish within 3 s" in f["message"] for f in unfinished)
    assert any("cluster rg1/aks1" in f["message"] for f in unfinished), unfinished[0]["message"]
    assert "could not reach a verdict" in result.stderr


def test_expired_sign_in_is_one_clear_error(scenario):
    """ARM rejects the token (401 ExpiredAuthenticationToken): one az error that says to sign in again."""
    sc = scenario("mi-healthy")
    sc.sim.faults = [Fault(r"^GET management\.azure\.com/", status=401, body={"error": {
        "code": "ExpiredAuthenticationToken", "message": "The access token expiry UTC time '3/1/2026 9:30:00 AM' "
                                                         "is earlier than current UTC time."}})]
    result = sc.az("aks", "diagnose-pull", "run", *CLUSTER, "--acr", "myacr")
    assert result.rc == 1 and "Traceback" not in result.stderr, result
    errors = error_lines(result)
    assert len(errors) == 1 and "ExpiredAuthenticationToken" in errors[0] and "az login" in errors[0], result
