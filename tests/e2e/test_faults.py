"""Faults injected into every dependency: the run always finishes, the checks that needed the broken dependency
say Error and why, every other finding is unchanged, exit status 0, no traceback.

For each dependency (a row of DEPENDENCIES: a request pattern, a scenario that reads it, the arguments) the
simulated Azure answers every matching request with: 429 and Retry-After, 500, 503 (empty body, as a gateway
sends), an answer slower than --timeout (a hang), 403, 404, a broken JSON body, and a 503 once (which a retry must
absorb). Each faulted run is compared with the same run without the fault: no Fail comes from the fault, the checks
that needed the dependency say Error and name it, every other verdict is the same, and the run ends within the bound.

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
from tests.simulator.server import RESET, Fault

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
    names: str = ""                 # regex an Error the fault caused must match: the dependency, named
    sent: str = None                # regex on the request body too (Fault.sent): one token request among others
    sign_in: bool = None            # a refusal here is a refused sign-in, one az error (default: Entra ID rows)

    @property
    def refuses_sign_in(self):
        return self.shape == "entra" if self.sign_in is None else self.sign_in


ARM = r"^{} management\.azure\.com/[^ ]*"
TOKEN = r"^POST login\.microsoftonline\.com/[^ ]*/oauth2/v2\.0/token$"
REGISTRY_SCOPE = r"scope=https://containerregistry\.azure\.net/"
DEPENDENCIES = [
    # az's own login, asked afresh (its cached access tokens dropped): every token request of the run fails
    Dependency("Entra ID", TOKEN, "sp-healthy", shape="entra", fresh_tokens=True, names=r"Entra ID"),
    # only the token for the registry's audience: registry-health and the image checks need it, nothing else does
    Dependency("Entra ID registry token", TOKEN, "secrets-everywhere", SECRETS_ARGS, shape="entra", fresh_tokens=True,
               sent=REGISTRY_SCOPE, sign_in=False, names=r"Entra ID"),
    Dependency("ARM managed cluster", ARM.format("GET") + r"/managedclusters/aks1$", "mi-healthy", named=True,
               permission=r"managedClusters/read", names=r"cluster rg1/aks1"),
    Dependency("ARM cluster credentials", ARM.format("POST") + r"/listClusterUserCredential$", "secrets-everywhere",
               SECRETS_ARGS, permission=r"listClusterUserCredential/action", names=r"user credentials"),
    Dependency("ARM registries", ARM.format("GET") + r"/providers/microsoft\.containerregistry/registries",
               "mi-healthy", permission=r"Microsoft\.ContainerRegistry/registries/read", names=r"registr"),
    Dependency("ARM registry credentials", ARM.format("POST") + r"/listCredentials$", "secrets-everywhere",
               SECRETS_ARGS, permission=r"listCredentials", names=r"admin credentials"),
    Dependency("ARM role assignments", ARM.format("GET") + r"/providers/microsoft\.authorization/roleassignments$",
               "mi-healthy", permission=r"roleAssignments/read", names=r"role assignments"),
    Dependency("ARM role definitions", ARM.format("GET") + r"/providers/microsoft\.authorization/roledefinitions/",
               "mi-healthy", permission=r"roleDefinitions/read", names=r"role definition"),
    Dependency("ARM scale sets", ARM.format("GET") + r"/providers/microsoft\.compute/virtualmachinescalesets",
               "mi-healthy", permission=r"virtualMachineScaleSets/read", names=r"scale set"),
    # A 404 on the kubelet identity is B.drift's own verdict: the identity was deleted.
    Dependency("ARM managed identities", ARM.format("GET") + r"/providers/microsoft\.managedidentity/",
               "mi-healthy", permission=r"userAssignedIdentities/read", verdicts=("kubelet-identity-vmss",),
               names=r"managed identity"),
    Dependency("ARM networks", ARM.format("GET") + r"/providers/microsoft\.network/(?!privatednszones)",
               "net-hub-spoke-healthy", permission=r"Microsoft\.Network/",
               names=r"virtual network|subnet|network|peering|route|firewall|load balancer|NAT|address|endpoint"),
    Dependency("ARM private DNS", ARM.format("GET") + r"/providers/microsoft\.network/privatednszones",
               "net-hub-spoke-healthy", permission=r"privateDnsZones", names=r"privatelink|DNS|zone"),
    Dependency("AKS run command", ARM.format("POST") + r"/runCommand$", "net-private-cluster",
               ("--acr", "myacr", "--probe"), permission=r"runCommand", repeated_on=("429", "503"),
               names=r"run command"),
    Dependency("AKS run command results", ARM.format("GET") + r"/commandResults/[^/]+$", "net-private-cluster",
               ("--acr", "myacr", "--probe"), names=r"run command"),
    Dependency("Microsoft Graph", r"^(GET|POST) graph\.microsoft\.com/", "sp-healthy", shape="graph",
               permission=r"Application\.Read\.All", names=r"Microsoft Graph"),
    Dependency("Kubernetes API", r"^GET [^ /]*\.azmk8s\.io/", "secrets-everywhere", SECRETS_ARGS, shape="kube",
               named=True, permission=r"Kubernetes RBAC", names=r"Kubernetes"),
    # A refusal (403) from where az runs is registry-health's verdict about that machine; a fault is not.
    Dependency("registry data plane", r"^(GET|POST) myacr\.azurecr\.io/", "secrets-everywhere", SECRETS_ARGS,
               shape="acr", permission=r"AcrPull|firewall", verdicts=("registry-health",), names=r"registry myacr"),
    Dependency("registry token exchange", r"^POST myacr\.azurecr\.io/oauth2/exchange$", "secrets-everywhere",
               SECRETS_ARGS, shape="acr", permission=r"AcrPull|firewall|refused", verdicts=("registry-health",),
               names=r"registry myacr"),
]


def dependency(name):
    return next(d for d in DEPENDENCIES if d.name == name)


# Faults after which a check in ``verdicts`` may still judge: the dependency answered, and refused.
REFUSALS = ("403", "404")

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
        return Fault(dep.pattern, status=0, delay=SLOW, sent=dep.sent)
    if kind == "broken-json":
        return Fault(dep.pattern, status=200, raw=b'{"id": "/subscriptions/3f2b8c4e', headers={}, sent=dep.sent)
    if kind == "503-once":
        return Fault(dep.pattern, status=503, times=1, sent=dep.sent)
    status = int(kind)
    headers = {"Retry-After": "1"} if status == 429 else {}
    return Fault(dep.pattern, status=status, body=_bodies(dep.shape, status), headers=headers, sent=dep.sent)


def _matches(dep, entry):
    line = "{} {}{}".format(entry["method"], entry["host"], entry["path"])
    return re.search(dep.pattern, line, re.IGNORECASE) is not None and (
        dep.sent is None or re.search(dep.sent, "scope={}".format(entry.get("scope")), re.IGNORECASE) is not None)


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
    matching = [e for e in log if _matches(dep, e)]
    return findings, matching


def by_check(findings):
    out = collections.defaultdict(list)
    for f in findings:
        out[f["checkId"]].append((f["target"], f["status"]))
    return {k: sorted(v) for k, v in out.items()}


def _per_request(entries):
    """How often each request (method, host, path, query, body) was sent: POSTs to one URL with different bodies
    (two run commands, say) are different requests."""
    return collections.Counter((e["method"], e["host"], e["path"].lower(), str(sorted(e["query"].items())),
                                e.get("bodyDigest")) for e in entries)


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
    if dep.refuses_sign_in and kind in SIGN_IN_REFUSED:
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
        allowed = {"Error", "Fail", "Warning"} if check_id in dep.verdicts and kind in REFUSALS else {"Error"}
        if (dep.name, check_id) in KNOWN and not statuses <= allowed:
            known.append("{}: {}".format(check_id, KNOWN[(dep.name, check_id)]))
            continue
        assert statuses and statuses <= allowed, "{} changed to {} (was {}) under {} on {}".format(
            check_id, got.get(check_id), base.get(check_id), kind, dep.name)
    errors = [f for f in findings if f["checkId"] in affected and f["status"] == "Error"]
    words = dep.permission if kind == "403" else REASONS[kind.replace("-once", "")]
    if dep.shape == "entra" and kind != "slow":
        words = r"Entra ID"     # msal does not pass the HTTP status on
    if kind == "slow":
        words = r"timed out reading.* within {} s".format(TIMEOUT)
    for f in errors:
        assert re.search(words, f["message"], re.IGNORECASE), "{}: {!r} does not say {!r}".format(
            f["checkId"], f["message"], words)
        if dep.names and kind not in REFUSALS:
            assert re.search(dep.names, f["message"], re.IGNORECASE), "{}: {!r} does not name {}".format(
                f["checkId"], f["message"], dep.name)
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
    sc.sim.faults = [Fault(dependency("ARM managed cluster").pattern, status=0, delay=60)]
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


def test_default_timeout_bounds_a_hung_dependency(scenario):
    """Role definitions never answer and no --timeout is given: each request gives up well before the 60 s default,
    the findings are printed in time, the check that needed the role definitions says Error and names them, and
    nothing fails because of it. (The one run here that uses the default bound; the hang outlasts it.)"""
    sc = scenario("mi-healthy")
    base, _ = baseline(scenario, dependency("ARM role definitions"))
    sc.sim.faults = [Fault(ARM.format("GET") + r"/providers/microsoft\.authorization/roledefinitions/", status=0,
                           delay=90)]
    try:
        result = sc.az("aks", "diagnose-pull", "run", *CLUSTER, "--acr", "myacr", "-o", "json")
    finally:
        sc.sim.faults = []
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    assert result.seconds < 60 + 10, "no findings within the default bound ({:.1f} s)".format(result.seconds)
    findings = result.json()
    got = by_check(findings)
    assert set(got) == set(base), "every check still reports"
    changed = [f for f in findings if got[f["checkId"]] != base[f["checkId"]]]
    assert changed and all(f["status"] == "Error" for f in changed), changed
    assert all(re.search(r"timed out reading .*role definition", f["message"]) for f in changed), changed
    assert not [f for f in findings if f["status"] == "Fail"], "a hang became a Fail"
    assert [f for f in findings if f["status"] == "Pass"], "the other findings are printed"


def test_registry_token_exchange_hanging_is_no_registry_verdict(scenario):
    """The registry's token exchange never answers az's machine: registry-health cannot tell (Error, 'timed out'),
    which says nothing about whether the cluster can pull; no verdict that did not need the exchange changes."""
    sc = scenario("mi-healthy")
    args = ("--acr", "myacr", "--image", "myacr.azurecr.io/app:1.0", "--timeout", "5", "-o", "json")
    before = by_check(sc.az("aks", "diagnose-pull", "run", *CLUSTER, *args).json())
    sc.sim.faults = [Fault(r"^POST myacr\.azurecr\.io/oauth2/exchange$", status=0, delay=20)]
    try:
        result = sc.az("aks", "diagnose-pull", "run", *CLUSTER, *args)
    finally:
        sc.sim.faults = []
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    assert result.seconds < 5 + 8, result.seconds
    findings = result.json()
    health = [f for f in findings if f["checkId"] == "registry-health"]
    assert [f["status"] for f in health] == ["Error"], health
    assert "timed out reading" in health[0]["message"] and health[0]["remediation"] == "", health
    got = by_check(findings)
    for check_id, verdicts in got.items():
        if check_id not in ("registry-health", "image-manifest", "image-platform"):
            assert verdicts == before[check_id], (check_id, verdicts, before[check_id])
    assert all(f["status"] == "Error" for f in findings if got[f["checkId"]] != before[f["checkId"]])


def test_entra_id_failing_the_registry_token_is_not_a_registry_verdict(scenario):
    """az's own login cannot get a token for the registry (Entra ID answers 500 to that request only, after the
    cached tokens expired): registry-health and the image checks say Error and name Entra ID; nothing Fails."""
    sc = scenario("mi-healthy")
    args = ("--acr", "myacr", "--image", "myacr.azurecr.io/app:1.0", "--timeout", str(TIMEOUT), "-o", "json")
    drop_tokens(sc.env)
    before = by_check(sc.az("aks", "diagnose-pull", "run", *CLUSTER, *args).json())
    drop_tokens(sc.env)
    fault = Fault(TOKEN, status=500, body=_bodies("entra", 500), sent=REGISTRY_SCOPE)
    sc.sim.faults = [fault]
    try:
        result = sc.az("aks", "diagnose-pull", "run", *CLUSTER, *args)
    finally:
        sc.sim.faults = []
        drop_tokens(sc.env)
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    assert fault.hits > 1, "a 500 from Entra ID was not asked again"
    findings = result.json()
    health = next(f for f in findings if f["checkId"] == "registry-health")
    assert health["status"] == "Error" and "Entra ID" in health["message"], health
    assert "could not get an Entra ID token" not in health["message"]
    changed = [f for f in findings if by_check([f])[f["checkId"]][0] not in before.get(f["checkId"], [])]
    assert changed and all(f["status"] == "Error" and "Entra ID" in f["message"] for f in changed), changed


def test_entra_id_answering_500_once_is_absorbed(scenario):
    """One 500 from Entra ID (and msal's habit of replaying it for 5 s) must not turn anything into Error."""
    sc = scenario("mi-healthy")
    args = ("--acr", "myacr", "--image", "myacr.azurecr.io/app:1.0", "--timeout", str(TIMEOUT), "-o", "json")
    drop_tokens(sc.env)
    before = by_check(sc.az("aks", "diagnose-pull", "run", *CLUSTER, *args).json())
    drop_tokens(sc.env)
    fault = Fault(TOKEN, status=500, body=_bodies("entra", 500), times=1)
    sc.sim.faults = [fault]
    try:
        result = sc.az("aks", "diagnose-pull", "run", *CLUSTER, *args)
    finally:
        sc.sim.faults = []
        drop_tokens(sc.env)
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    assert fault.hits == 1
    assert by_check(result.json()) == before


@pytest.mark.parametrize("name", ["Entra ID", "ARM role assignments", "Microsoft Graph", "Kubernetes API",
                                  "registry data plane"])
def test_a_connection_reset_once_is_absorbed(scenario, name):
    """A connection dropped once without an answer (a reset on the way) is retried: every verdict is the one of the
    run without it."""
    dep = dependency(name)
    if dep.scenario not in SCENARIOS:
        pytest.skip("scenario {} does not exist yet".format(dep.scenario))
    base, matching = baseline(scenario, dep)
    if not matching:
        pytest.skip("no check reads {} in scenario {} yet".format(dep.name, dep.scenario))
    sc = scenario(dep.scenario)
    fault = Fault(dep.pattern, status=RESET, times=1, sent=dep.sent)
    if dep.fresh_tokens:
        drop_tokens(sc.env)
    sc.sim.faults = [fault]
    try:
        result = sc.az("aks", "diagnose-pull", "run", *CLUSTER, *dep.args, "--timeout", str(TIMEOUT), "-o", "json")
    finally:
        sc.sim.faults = []
        if dep.fresh_tokens:
            drop_tokens(sc.env)
    assert fault.hits == 1
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    assert by_check(result.json()) == base, "a reset was not absorbed by a retry"


@pytest.mark.parametrize("status", [403, 500])
def test_role_hint_failing_changes_nothing(scenario, status):
    """The Resource Graph query that only starts the role reads early (run --acr) is refused or fails: it is sent
    once, never retried, and every verdict and message is the one of the run without it."""
    sc = scenario("demo-broken")
    args = ("aks", "diagnose-pull", "run", *CLUSTER, "--acr", "myacr", "--timeout", str(TIMEOUT), "-o", "json")
    before = sc.az(*args)
    fault = Fault(r"^POST management\.azure\.com/providers/Microsoft\.ResourceGraph/resources$", status=status,
                  body=_bodies("arm", status), sent="authorizationresources")   # not the private path's query
    sc.sim.faults = [fault]
    try:
        result = sc.az(*args)
    finally:
        sc.sim.faults = []
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    assert fault.hits == 1
    messages = sorted((f["checkId"], f["target"], f["status"], f["message"]) for f in result.json())
    assert messages == sorted((f["checkId"], f["target"], f["status"], f["message"]) for f in before.json())
