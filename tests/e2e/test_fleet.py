"""`fleet` against the simulated Azure: the same verdicts as `run` on every cluster, in a number of requests that
grows with Resource Graph's result pages, not with the clusters."""
import collections
import re

import pytest

from azext_acrpull.diagnose.catalog import CATALOG_ORDER
from tests.simulator import resourcegraph
from tests.simulator.scenarios import build
from tests.simulator.scenarios.fleet import (
    BROKEN,
    CLUSTERS,
    HEALTHY,
    PRIVATE_REGISTRY,
    REGISTRY,
    SHARED,
    STAGING,
    registry_id,
)
from tests.simulator.server import Fault
from tests.simulator.world import SUBSCRIPTION, World

FLEET_CHECKS = ("registry-lookup", "acr-role-assignment", "sp-credential-expiry", "sp-role-principal",
                "kubelet-identity-vmss", "acr-network-rules", "private-dns-link", "vnet-peering", "egress-path",
                "registry-arm-audience", "registry-tenant", "artifact-cache-rule", "subnet-endpoint-policy")
KEYS = ("checkId", "target", "status", "message", "remediation")
ARG_PATH = "/providers/Microsoft.ResourceGraph/resources"


@pytest.fixture(scope="module")
def fleet_world(azenv):
    """The fleet-mixed tenant, with az's subscription list refreshed so that `run --subscription` knows all three
    subscriptions; restored to the default world's list afterwards."""
    world = azenv.load(build("fleet-mixed"))
    azenv.run_ok("account", "list", "--refresh")
    azenv.run_ok("account", "set", "--subscription", SUBSCRIPTION)
    yield world
    azenv.load(World())
    azenv.run_ok("account", "list", "--refresh")
    azenv.run_ok("account", "set", "--subscription", SUBSCRIPTION)


@pytest.fixture
def fleet_env(azenv, fleet_world):
    azenv.load(fleet_world)
    return azenv, fleet_world


def fleet(env, *args, clear=True):
    """`fleet -o json` as one command run by a person: with Resource Graph's quota window fresh (the tests run
    fleets back to back, faster than a window resets)."""
    if clear:
        env.sim.clear_log()
    resourcegraph.reset_quota(env.sim.world)
    result = env.run("aks", "diagnose-pull", "fleet", *args, "-o", "json")
    assert result.rc == 0, result
    assert "Traceback" not in result.stderr, result
    return result.json(), result


def by_cluster(findings):
    grouped = collections.defaultdict(list)
    for f in findings:
        grouped[f["cluster"].rsplit("/", 1)[-1]].append(f)
    return grouped


def project(findings):
    return sorted(tuple(f[k] for k in KEYS) for f in findings)


def assert_safe(env):
    assert not env.sim.writes(), env.sim.writes()
    assert not env.sim.unknown(), env.sim.unknown()


def statuses(findings, status):
    return [(f["checkId"], f["target"]) for f in findings if f["status"] == status]


@pytest.mark.parametrize("registry", [REGISTRY, PRIVATE_REGISTRY])
def test_fleet_gives_the_verdicts_of_run_on_every_cluster(fleet_env, registry):
    env, _ = fleet_env
    findings, result = fleet(env, "--acr", registry_id(registry))
    assert_safe(env)
    grouped = by_cluster(findings)
    assert sorted(grouped) == sorted(CLUSTERS)
    for name, (sub, rg, _) in CLUSTERS.items():
        run = env.run("aks", "diagnose-pull", "run", "-g", rg, "-n", name, "--acr", registry_id(registry),
                      "--subscription", sub, "--checks", *FLEET_CHECKS, "-o", "json")
        assert run.rc == 0, run
        assert project(grouped[name]) == project(run.json()), name


def test_fleet_finds_what_broke_and_no_false_alarm(fleet_env):
    env, _ = fleet_env
    findings, result = fleet(env)
    assert_safe(env)
    grouped = by_cluster(findings)
    for name in HEALTHY:
        bad = [f for f in grouped[name] if f["status"] in ("Fail", "Warning", "Error")]
        assert not bad, (name, bad)
    for name, (check_id, registry) in BROKEN.items():
        failed = [f for f in grouped[name] if f["status"] == "Fail"]
        if name == "aks-stg-web":
            # Its only pull role is gone, so without --acr there is no registry to check it against.
            assert not failed
            skipped = [f for f in grouped[name] if f["checkId"] == "acr-role-assignment"]
            assert [f["status"] for f in skipped] == ["Skipped"]
            assert "holds no role of its own on any registry" in skipped[0]["message"]
            continue
        assert (check_id, registry) in [(f["checkId"], f["target"].rsplit(" ", 1)[-1] if registry else None)
                                       for f in failed], (name, failed)
    # Every finding names its cluster; sorted by cluster, then in catalog order.
    order = [f["cluster"].lower() for f in findings]
    assert order == sorted(order)
    for name, items in grouped.items():
        ids = [f["checkId"] for f in items]
        assert ids == sorted(ids, key=CATALOG_ORDER.index), name
    assert "Scanned 6 cluster(s) in 2 subscription(s): 3 failing" in result.stderr, result.stderr
    assert "Not run in fleet mode" in result.stderr and "pod-pull-events" in result.stderr, result.stderr


def test_fleet_with_acr_catches_the_lost_role(fleet_env):
    env, _ = fleet_env
    findings, _ = fleet(env, "--acr", REGISTRY)
    grouped = by_cluster(findings)
    failed = {name: sorted({f["checkId"] for f in items if f["status"] == "Fail"}) for name, items in grouped.items()}
    assert {name: checks for name, checks in failed.items() if name not in ("aks-stg-web",)} == {
        "aks-prod-web": [], "aks-prod-api": [], "aks-prod-edge": [], "aks-legacy": ["sp-credential-expiry"],
        "aks-stg-batch": ["acr-network-rules"]}, failed
    # Without a role of its own, the other principals' pull roles on the shared registry (the legacy cluster's
    # service principal among them) are what sp-role-principal weighs: `run` says the same.
    assert "acr-role-assignment" in failed["aks-stg-web"], failed
    lost = next(f for f in grouped["aks-stg-web"] if f["checkId"] == "acr-role-assignment")
    assert lost["remediation"] == "az aks update -n aks-stg-web -g rg-stg --attach-acr {}".format(registry_id())


def test_requests_grow_with_pages_not_clusters(fleet_env):
    env, _ = fleet_env
    fleet(env)
    log = env.sim.log
    arg = [e for e in log if e["path"] == ARG_PATH]
    assert all(e["method"] == "POST" and e["status"] == 200 for e in arg), arg
    # A handful of queries, one page each here; nothing read per cluster.
    assert len(arg) <= 9, [e["path"] for e in log]
    children = [e["path"].lower() for e in log if e["path"].lower().endswith(("/cacherules", "/credentialsets"))]
    per_cluster = [e for e in log if e["host"] == "management.azure.com" and e["path"] != ARG_PATH
                   and "/privatednszones/" not in e["path"].lower() and e["path"] != "/subscriptions"
                   and e["path"].lower() not in children]
    assert not per_cluster, per_cluster
    # Cache rules are not in Resource Graph: one ARM LIST per registry the clusters pull from (five clusters pull
    # from contosoacr, two from contosoprivate; none from contosoarchive), credential sets only where rules exist.
    assert sorted(children) == sorted(registry_id(r).lower() + "/cacherules" for r in (REGISTRY, PRIVATE_REGISTRY))
    dns = [e for e in log if "/privatednszones/" in e["path"].lower()]
    assert len(dns) <= 1, dns            # record sets: once per zone
    graph = [e for e in log if e["host"] == "graph.microsoft.com"]
    # Service principals and applications in one $batch, group memberships in another; nothing per cluster.
    assert sorted(e["path"] for e in graph) == ["/v1.0/$batch", "/v1.0/$batch"], graph
    cluster_reads = [e for e in log if "/managedclusters/" in e["path"].lower()]
    assert not cluster_reads


def test_twice_the_clusters_same_requests(azenv):
    """Resource Graph pages hold 1,000 rows: three times the clusters add rows, not requests (Microsoft Graph look-ups
    go in batches of 20)."""
    from bench.fleet_tenant import generate
    counts = []
    for n in (10, 30):
        azenv.load(generate(n, registries=10, role_assignments=8 * n, subscriptions=3))
        azenv.sim.clear_log()
        result = azenv.run("aks", "diagnose-pull", "fleet", "-o", "json")
        assert result.rc == 0, result
        assert len({f["cluster"] for f in result.json()}) == n
        counts.append(collections.Counter(e["host"] + (" ARG" if e["path"] == ARG_PATH else "")
                                          for e in azenv.sim.log if e["host"] != "login.microsoftonline.com"))
    # Resource Graph pages and ARM reads do not grow; Microsoft Graph grows by $batch requests of 20 look-ups.
    arm = [{k: v for k, v in c.items() if k.startswith("management")} for c in counts]
    assert arm[0] == arm[1], counts
    assert counts[1]["graph.microsoft.com"] <= 2 * (30 // 20 + 1), counts


def test_unreadable_subscriptions_are_reported(fleet_env):
    env, world = fleet_env
    unknown = "00000000-1111-2222-3333-444444444444"
    findings, result = fleet(env, "--subscriptions", STAGING, unknown, "Contoso Nowhere")
    assert {f["cluster"].rsplit("/", 1)[-1] for f in findings} == {"aks-stg-web", "aks-stg-batch"}
    assert "2 subscription(s) could not be read" in result.stderr, result.stderr
    assert unknown in result.stderr and "Contoso Nowhere" in result.stderr
    # Access to staging revoked after sign-in: az still lists it, Resource Graph no longer shows it.
    world.denied_scopes.append("/subscriptions/" + STAGING)
    try:
        findings, result = fleet(env)
    finally:
        world.denied_scopes.remove("/subscriptions/" + STAGING)
        resourcegraph.invalidate(world)
    assert "aks-stg-web" not in {f["cluster"].rsplit("/", 1)[-1] for f in findings}
    assert "1 subscription(s) could not be read" in result.stderr and STAGING in result.stderr, result.stderr


def test_unreadable_node_resource_group_is_an_error_not_a_failure(fleet_env):
    env, world = fleet_env
    cluster = world.arm[("/subscriptions/{}/resourcegroups/rg-prod/providers/microsoft.containerservice/"
                         "managedclusters/aks-prod-web").format(SUBSCRIPTION)]
    node_rg = "/subscriptions/{}/resourceGroups/{}".format(SUBSCRIPTION, cluster["properties"]["nodeResourceGroup"])
    world.denied_scopes.append(node_rg)
    try:
        findings, _ = fleet(env, "--checks", "kubelet-identity-vmss")
    finally:
        world.denied_scopes.remove(node_rg)
        resourcegraph.invalidate(world)
    mine = [f for f in findings if f["cluster"].endswith("/aks-prod-web")]
    assert [f["status"] for f in mine] == ["Error"], mine
    assert "may not read the scale sets in node resource group" in mine[0]["message"]
    others = [f for f in findings if not f["cluster"].endswith("/aks-prod-web")]
    assert others and all(f["status"] in ("Pass", "Skipped") for f in others), others


def test_a_failed_resource_group_look_up_is_an_error_of_the_clusters_that_need_it(fleet_env):
    """Resource Graph fails the query that tells whether a node resource group with no scale set is hidden: the scan
    goes on, the cluster whose scale sets it was about says Error and names Resource Graph, nothing Fails, and the
    other clusters' verdicts are those of the run without the fault."""
    env, world = fleet_env
    cluster = world.arm[("/subscriptions/{}/resourcegroups/rg-prod/providers/microsoft.containerservice/"
                         "managedclusters/aks-prod-web").format(SUBSCRIPTION)]
    node_rg = "/subscriptions/{}/resourceGroups/{}".format(SUBSCRIPTION, cluster["properties"]["nodeResourceGroup"])
    world.denied_scopes.append(node_rg)
    resourcegraph.invalidate(world)
    fault = Fault(r"^POST management\.azure\.com/providers/Microsoft\.ResourceGraph/resources$", status=400,
                  sent=r"microsoft\.resources/subscriptions/resourcegroups",
                  body={"error": {"code": "BadRequest", "message": "The query could not be run."}})
    try:
        reference, _ = fleet(env, "--checks", "kubelet-identity-vmss")
        env.sim.faults = [fault]
        findings, _ = fleet(env, "--checks", "kubelet-identity-vmss")
    finally:
        env.sim.faults = []
        world.denied_scopes.remove(node_rg)
        resourcegraph.invalidate(world)
    assert fault.hits >= 1
    mine = [f for f in findings if f["cluster"].endswith("/aks-prod-web")]
    assert [f["status"] for f in mine] == ["Error"], mine
    assert re.search(r"Resource ?Graph", mine[0]["message"]) and "resource groups" in mine[0]["message"], mine
    assert project([f for f in findings if f not in mine]) == \
        project([f for f in reference if not f["cluster"].endswith("/aks-prod-web")])
    assert_safe(env)


def test_management_group_scope(fleet_env):
    env, _ = fleet_env
    findings, result = fleet(env, "--management-group", "contoso-workloads", "--checks", "registry-lookup")
    assert {f["cluster"].split("/")[2] for f in findings} == {SUBSCRIPTION, STAGING}
    findings, _ = fleet(env, "--management-group", "contoso-platform", "--checks", "registry-lookup")
    assert findings == []
    arg = [e for e in env.sim.log if e["path"] == ARG_PATH]
    assert arg and all(e["status"] in (200, 429) for e in arg)   # two scans in a row may meet the quota


def test_throttling_is_waited_out(fleet_env):
    env, world = fleet_env
    reference, _ = fleet(env)
    pages = len([e for e in env.sim.log if e["path"] == ARG_PATH])
    world.arg_quota = [3, 2.0]
    resourcegraph.reset_quota(world)
    try:
        findings, result = fleet(env)
    finally:
        world.arg_quota = [15, 5.0]
        resourcegraph.reset_quota(world)
    assert project(findings) == project(reference)
    arg = [e for e in env.sim.log if e["path"] == ARG_PATH]
    throttled = [e for e in arg if e["status"] == 429]
    assert len([e for e in arg if e["status"] == 200]) == pages
    # Only the first queries, sent before any answer told the quota, can meet a 429 (in the first window); after
    # that the client keeps to what the answers say is left and waits for the reset instead of retrying blind.
    assert 0 < len(throttled) <= 8, throttled
    first = min(e["time"] for e in arg)
    assert all(e["time"] < first + 2.0 for e in throttled), [(round(e["time"] - first, 2), e["status"]) for e in arg]
    assert result.seconds > 2.0      # it did wait for the window to reset


def test_timeout_bounds_a_hung_bulk_read(fleet_env):
    """Microsoft Graph never answers: fleet returns at --timeout with exit 0. The checks that needed Graph say
    Error and why; so may those whose reads came after the deadline (nothing is asked past it); no other verdict
    changes."""
    env, _ = fleet_env
    reference, _ = fleet(env, "--timeout", "8")
    env.sim.faults = [Fault(r"^POST graph\.microsoft\.com/", status=0, delay=30)]
    try:
        findings, result = fleet(env, "--timeout", "5")
    finally:
        env.sim.faults = []
    assert result.seconds < 5 + 8, result.seconds
    before = {(f["cluster"], f["checkId"], f["target"]): f["status"] for f in reference}
    changed = [f for f in findings if before.get((f["cluster"], f["checkId"], f["target"])) != f["status"]]
    assert changed and all(f["status"] == "Error" for f in changed), changed
    assert {"sp-credential-expiry", "sp-role-principal"} <= {f["checkId"] for f in changed}
    assert all("within 5 s (--timeout)" in f["message"] for f in changed), [f["message"] for f in changed]
    assert {f["cluster"] for f in findings} == {f["cluster"] for f in reference}   # every cluster still reported
    assert_safe(env)


def test_timeout_on_the_inventory_is_one_clear_error(fleet_env):
    env, _ = fleet_env
    env.sim.faults = [Fault(r"^POST management\.azure\.com/providers/Microsoft\.ResourceGraph/", status=0, delay=30)]
    resourcegraph.reset_quota(env.sim.world)
    try:
        result = env.run("aks", "diagnose-pull", "fleet", "--timeout", "4", "-o", "json")
    finally:
        env.sim.faults = []
    assert result.rc == 1 and result.seconds < 4 + 8, result
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "Cannot read the fleet" in errors[0] and "within 4 s (--timeout)" in errors[0], errors
    assert "Traceback" not in result.stderr


def test_table_and_bad_arguments(fleet_env):
    env, _ = fleet_env
    table = env.run("aks", "diagnose-pull", "fleet", "--checks", "acr-role-assignment", "-o", "table")
    assert table.rc == 0, table
    header = table.stdout.splitlines()[0].split()
    assert header[:3] == ["Cluster", "Status", "Check"], table.stdout
    assert "aks-stg-web" in table.stdout
    bad = env.run("aks", "diagnose-pull", "fleet", "--checks", "pod-pull-events")
    assert bad.rc == 2 and "fleet does not run it" in bad.stderr, bad
    both = env.run("aks", "diagnose-pull", "fleet", "--subscriptions", STAGING, "--management-group", "contoso")
    # Exclusive arguments are a usage error: exit 2 and one line, before any request (issue 22).
    assert both.rc == 2 and "not both" in both.stderr, both
    assert [line for line in both.stderr.splitlines() if line.startswith("ERROR:")] == \
        [line for line in both.stderr.splitlines() if not line.startswith("WARNING:")], both
    timeout = env.run("aks", "diagnose-pull", "fleet", "--timeout", "0")
    assert timeout.rc == 2 and "fleet's default is 600" in timeout.stderr, timeout
    missing = env.run("aks", "diagnose-pull", "fleet", "--acr", "nosuchregistry1")
    assert missing.rc == 3 and "was not found" in missing.stderr, missing
    assert "Traceback" not in bad.stderr + both.stderr + missing.stderr
    helped = env.run("aks", "diagnose-pull", "fleet", "--help")
    assert helped.rc == 0 and "--management-group" in helped.stdout and "Examples" in helped.stdout, helped


def test_shared_subscription_scanned_for_facts_not_clusters(fleet_env):
    env, _ = fleet_env
    findings, _ = fleet(env, "--subscriptions", SHARED)
    assert findings == []


def test_shared_registry_blames_only_the_cluster_tied_to_an_old_principal(azenv):
    """A registry shared by four clusters in a noisy tenant: only the cluster whose recreated kubelet identity left
    AcrPull with its old principal fails sp-role-principal, naming the scale set that records it; the one that
    simply has no role fails acr-role-assignment only; the other clusters' kubelet identities, the CI service
    principal, the operator and the orphaned assignment are no cluster's old principals, and no remediation
    deletes their assignments. One getByIds look-up for the registry's principals, not one per cluster."""
    azenv.load(build("fleet-shared-registry"))
    try:
        findings, _ = fleet(azenv, "--acr", "sharedacr", "--checks", "acr-role-assignment", "sp-role-principal")
    finally:
        azenv.load(World())
    status = {(f["cluster"].rsplit("/", 1)[-1], f["checkId"]): f for f in findings}
    assert {k: f["status"] for k, f in status.items()} == {
        ("aks-team-a", "acr-role-assignment"): "Pass", ("aks-team-a", "sp-role-principal"): "Skipped",
        ("aks-team-b", "acr-role-assignment"): "Pass", ("aks-team-b", "sp-role-principal"): "Skipped",
        ("aks-team-c", "acr-role-assignment"): "Fail", ("aks-team-c", "sp-role-principal"): "Fail",
        ("aks-team-d", "acr-role-assignment"): "Fail", ("aks-team-d", "sp-role-principal"): "Skipped"}, status
    tied = status[("aks-team-c", "sp-role-principal")]
    (stale,) = tied["evidence"]["stalePrincipals"]
    assert [t["kind"] for t in tied["evidence"]["stalePrincipals"][0]["ties"]] == ["recordedForKubeletIdentity"]
    assert "kubelet identity was deleted and recreated" in tied["message"]
    clean = status[("aks-team-d", "sp-role-principal")]
    assert clean["evidence"]["stalePrincipals"] == [] and clean["remediation"] == ""
    for f in findings:
        deletes = f["message"].count("role assignment delete") + f["remediation"].count("role assignment delete")
        assert deletes == (1 if f is tied else 0), f
        assert stale["roleAssignmentId"] not in f["message"] or f is tied
    lookups = [e for e in azenv.sim.log if e["path"] == "/v1.0/directoryObjects/getByIds"]
    assert len(lookups) <= 1, lookups


def test_cache_rules_of_a_shared_registry_are_listed_once_for_every_cluster(azenv):
    """Cache rules and credential sets are not in Resource Graph: fleet lists them through ARM once per registry
    the clusters pull from (four clusters here), and judges every cluster's rules from that one list."""
    from tests.simulator.registry_content import cache_rule, credential_set
    world = build("fleet-shared-registry")
    registry = next(r for k, r in world.arm.items() if k.endswith("/registries/sharedacr"))
    unhealthy = credential_set(world, registry, "dockerhub", "docker.io", health="Unhealthy",
                               error=("KeyVaultSecretRetrievalFailed", "The secret was not found."))
    cache_rule(world, registry, "dockerhub-library", "docker.io/library/*", "library/*", unhealthy["id"])
    azenv.load(world)
    try:
        findings, _ = fleet(azenv, "--acr", "sharedacr", "--checks", "artifact-cache-rule")
        assert_safe(azenv)
        reads = collections.Counter((e["method"], e["path"].rsplit("/", 1)[-1]) for e in azenv.sim.log
                                    if e["path"].lower().endswith(("/cacherules", "/credentialsets")))
    finally:
        azenv.load(World())
    rules = [f for f in findings if f["checkId"] == "artifact-cache-rule"]
    assert sorted(f["cluster"].rsplit("/", 1)[-1] for f in rules) == ["aks-team-a", "aks-team-b", "aks-team-c",
                                                                       "aks-team-d"]
    assert {(f["target"], f["status"]) for f in rules} == {("registry sharedacr (cache rule dockerhub-library)",
                                                            "Warning")}, rules
    assert all("dockerhub is Unhealthy" in f["message"] for f in rules)
    assert reads == {("GET", "cacheRules"): 1, ("GET", "credentialSets"): 1}, reads


@pytest.mark.parametrize("kind", ["429", "500", "503", "403", "broken-json", "slow"])
def test_a_resource_graph_fault_is_no_verdict(fleet_env, kind):
    """Resource Graph fails the query for role assignments only (the simulator matches the query text): the checks
    that needed the assignments say Error and name Resource Graph, nothing Fails because of it, every other verdict
    is unchanged, every other query is answered as without the fault, and the scan ends within its bound."""
    env, _ = fleet_env
    reference, _ = fleet(env, "--timeout", "8")
    asked = collections.Counter(e["bodyDigest"] for e in env.sim.log if e["path"] == ARG_PATH)
    pattern, query = r"^POST management\.azure\.com/providers/Microsoft\.ResourceGraph/resources$", \
        r"type =~ 'microsoft\.authorization/roleassignments'"
    if kind == "slow":
        fault = Fault(pattern, status=0, delay=20, sent=query)
    elif kind == "broken-json":
        fault = Fault(pattern, status=200, raw=b'{"totalRecords": 3, "data": [', sent=query)
    else:
        fault = Fault(pattern, status=int(kind), sent=query, headers={"Retry-After": "1"} if kind == "429" else {},
                      body={"error": {"code": "AuthorizationFailed" if kind == "403" else "ServiceUnavailable",
                                      "message": "The query could not be run."}})
    env.sim.faults = [fault]
    try:
        findings, result = fleet(env, "--timeout", "8")
    finally:
        env.sim.faults = []
    assert 1 <= fault.hits <= 6, fault.hits
    assert result.seconds < 8 + 8, result.seconds
    # The faulted query's retries took nothing from the others: each was asked as often as in the reference and
    # answered, none throttled or cut off by --timeout. (A "slow" answer is logged only when it ends, after the run.)
    faulted = {e["bodyDigest"] for e in env.sim.log if e["path"] == ARG_PATH and e["fault"]}
    others = [e for e in env.sim.log if e["path"] == ARG_PATH and not e["fault"]]
    seen = collections.Counter(e["bodyDigest"] for e in others)
    missing = set(asked) - set(seen)
    assert len(missing) == 1 and faulted <= missing, (missing, faulted)
    assert seen == collections.Counter({k: n for k, n in asked.items() if k not in missing}), others
    assert {e["status"] for e in others} == {200}, others
    before = {(f["cluster"], f["checkId"], f["target"]): f["status"] for f in reference}
    assert {f["cluster"] for f in findings} == {f["cluster"] for f in reference}, "every cluster still reported"
    # A finding whose verdict (or target: registries come from the assignments) changed says Error; none Fails.
    changed = [f for f in findings if before.get((f["cluster"], f["checkId"], f["target"])) != f["status"]]
    assert changed and all(f["status"] == "Error" for f in changed), changed
    assert all(re.search(r"Resource ?Graph", f["message"]) for f in changed), [f["message"] for f in changed]
    assert_safe(env)
