"""Fleet's pure parts: Resource Graph's quota, role inheritance from bulk rows, and the simulated Resource Graph."""
import base64
import json
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azext_acrpull.diagnose.deadline import Deadline
from azext_acrpull.diagnose.facts.base import FactError
from azext_acrpull.diagnose.facts.fleet import FleetData, subscriptions_in
from azext_acrpull.diagnose.facts.resourcegraph import (
    UNREAD_FIELDS,
    Quota,
    ResourceGraph,
    _parse_resets_after,
    compact_row,
)
from tests.simulator import resourcegraph
from tests.simulator.server import Request
from tests.simulator.world import SUBSCRIPTION, World

OTHER = "2d036ef4-e00f-4b08-b78d-2c214625dded"


# -- the quota ------------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def headers(remaining, resets="00:00:05"):
    return {"x-ms-user-quota-remaining": str(remaining), "x-ms-user-quota-resets-after": resets}


def test_resets_after_is_read_as_seconds():
    assert _parse_resets_after("00:00:05") == 5
    assert _parse_resets_after("01:02:03") == 3723
    assert _parse_resets_after("soon") is None


def test_before_any_answer_the_default_limit_goes_at_once():
    quota = Quota(clock=Clock())
    for _ in range(Quota.DEFAULT_LIMIT):
        quota.acquire()          # none of these may block
    assert quota._sent == Quota.DEFAULT_LIMIT   # pylint: disable=protected-access


def _blocked(quota):
    done = threading.Event()
    thread = threading.Thread(target=lambda: (quota.acquire(), done.set()), daemon=True)
    thread.start()
    return done


def test_spent_quota_waits_for_the_reset():
    clock = Clock()
    quota = Quota(clock=clock)
    quota.acquire()
    quota.update(200, headers(0, "00:00:05"))
    done = _blocked(quota)
    assert not done.wait(0.2)
    clock.now += 5.0
    with quota._cond:          # pylint: disable=protected-access
        quota._cond.notify_all()   # pylint: disable=protected-access
    assert done.wait(2.0)


def test_answers_teach_the_limit_and_late_answers_do_not_inflate_it():
    clock = Clock()
    quota = Quota(clock=clock)
    for _ in range(3):
        quota.acquire()
    quota.update(200, headers(2))          # the first answer: 2 left after 1
    quota.update(429, headers(0))
    quota.update(200, headers(9))          # a large page that took long, with the remainder of its start
    assert quota.limit == 3
    assert quota._remaining == 0           # pylint: disable=protected-access
    assert quota.throttled == 1


def test_in_flight_requests_count_against_what_is_left():
    clock = Clock()
    quota = Quota(clock=clock)
    quota.acquire()
    quota.update(200, headers(2))
    quota.acquire()
    quota.acquire()
    done = _blocked(quota)                 # 2 left, 2 in flight
    assert not done.wait(0.2)
    quota.update(200, headers(1))          # one came back: 1 left, 1 in flight
    assert not done.wait(0.2)
    clock.now += 6                         # the window has reset: the next answer speaks of the new one
    quota.update(200, headers(3))
    assert done.wait(2.0)


# -- role assignments from bulk rows, as ARM's list_for_scope ------------------------------------------
REGISTRY = "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myacr".format(
    SUBSCRIPTION)
SCOPES = [
    "/", "/providers/Microsoft.Management/managementGroups/platform",
    "/providers/Microsoft.Management/managementGroups/elsewhere",
    "/subscriptions/" + SUBSCRIPTION, "/subscriptions/" + OTHER,
    "/subscriptions/{}/resourceGroups/rg1".format(SUBSCRIPTION),
    "/subscriptions/{}/resourceGroups/RG1".format(SUBSCRIPTION),
    "/subscriptions/{}/resourceGroups/rg10".format(SUBSCRIPTION),
    REGISTRY, REGISTRY.upper(), REGISTRY + "/scopeMaps/pullers",
    REGISTRY + "2", "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/st".format(
        SUBSCRIPTION),
]


def _data(world):
    rows = resourcegraph._rows(world)   # pylint: disable=protected-access
    data = FleetData(None, None, None)
    data._index_subscriptions([r for r in rows["resourcecontainers"]   # pylint: disable=protected-access
                               if r["type"] == "microsoft.resources/subscriptions"])
    data._index_assignments([r for r in rows["authorizationresources"]   # pylint: disable=protected-access
                             if r["type"] == "microsoft.authorization/roleassignments"])
    return data


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SCOPES), st.sampled_from(["p1", "p2", "p3"])), max_size=12),
       st.sampled_from([REGISTRY, REGISTRY.lower(), "/subscriptions/{}/resourceGroups/rg1".format(SUBSCRIPTION)]))
def test_inheritance_from_bulk_rows_is_list_for_scope(assignments, scope):
    world = World("t")
    world.subs[OTHER] = "Other"
    world.management_groups = {SUBSCRIPTION: ["platform", "root"], OTHER: ["elsewhere", "root"]}
    for where, principal in assignments:
        world.assign(where, "AcrPull", principal)
    expected = {a["id"].lower() for a in world.role_assignments_for(scope)}
    found = {a["id"].lower() for a in _data(world).assignments_for_scope(scope)}
    assert found == expected


def test_subscriptions_named_anywhere_in_a_resource():
    cluster = {"properties": {"agentPoolProfiles": [{"vnetSubnetID": "/subscriptions/{}/resourceGroups/n/providers/"
                                                                     "Microsoft.Network/virtualNetworks/v/subnets/s"
                                                                     .format(OTHER.upper())}],
                              "nodeResourceGroup": "MC_x"},
               "id": "/subscriptions/{}/resourcegroups/rg/providers/x/y/z".format(SUBSCRIPTION)}
    assert subscriptions_in(cluster) == {SUBSCRIPTION, OTHER}


# -- the simulated Resource Graph ----------------------------------------------------------------------
def _ask(world, body, token_claims=None):
    req = Request("POST", "management.azure.com", "/providers/Microsoft.ResourceGraph/resources", {}, {},
                  json.dumps(body).encode(), world)
    reply = resourcegraph.query(req, world)
    data = reply.body if reply.raw is None else json.loads(reply.raw)
    return reply.status, reply.headers, data


def _tenant(n):
    world = World("arg")
    world.arg_quota = [1000, 5.0]
    world.subs[OTHER] = "Other"
    for i in range(n):
        world.assign("/subscriptions/{}/resourceGroups/rg{}".format(SUBSCRIPTION if i % 2 else OTHER, i),
                     "Reader", "p{}".format(i))
    return world


def test_pages_of_a_thousand_follow_the_skip_token():
    world = _tenant(2300)
    query = "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | project id | " \
            "order by id asc"
    status, _, page = _ask(world, {"query": query})
    assert status == 200 and page["totalRecords"] == 2300 and page["count"] == 1000
    ids = [r["id"] for r in page["data"]]
    while page.get("$skipToken"):
        status, _, page = _ask(world, {"query": query, "options": {"$skipToken": page["$skipToken"]}})
        assert status == 200
        ids += [r["id"] for r in page["data"]]
    assert len(ids) == len(set(ids)) == 2300 and ids == sorted(ids)
    status, _, page = _ask(world, {"query": query, "options": {"$top": 10, "$skip": 5}})
    assert page["count"] == 10 and [r["id"] for r in page["data"]] == ids[5:15]
    other = base64.b64encode(json.dumps({"k": "someone-else", "o": 1000}).encode()).decode()
    assert _ask(world, {"query": query, "options": {"$skipToken": other}})[0] == 400
    assert _ask(world, {"query": query, "options": {"$top": 5000}})[0] == 400


def test_columns_scopes_and_what_the_caller_may_not_read():
    world = World("arg")
    world.subs[OTHER] = "Other"
    world.cluster("aks1", "rg1")
    world.registry("myacr", "rg1", subscription=OTHER)
    status, _, page = _ask(world, {"query": "resources | where type =~ 'Microsoft.ContainerRegistry/registries' | "
                                            "project id, type, resourceGroup, properties, sku"})
    assert status == 200
    row = page["data"][0]
    assert row["type"] == "microsoft.containerregistry/registries" and row["resourceGroup"] == "rg1"
    assert row["properties"]["loginServer"] == "myacr.azurecr.io" and row["sku"]["name"] == "Premium"
    assert "/resourceGroups/rg1/" in row["id"]          # ids as ARM wrote them
    scoped = _ask(world, {"query": "resources | project id", "subscriptions": [SUBSCRIPTION]})[2]["data"]
    assert scoped and all(SUBSCRIPTION in r["id"] for r in scoped)
    world.denied_scopes.append("/subscriptions/" + OTHER)
    hidden = _ask(world, {"query": "resources | where type =~ 'Microsoft.ContainerRegistry/registries' | project id"})
    assert hidden[2]["data"] == []
    subs = _ask(world, {"query": "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' | "
                                 "project subscriptionId"})[2]["data"]
    assert [s["subscriptionId"] for s in subs] == [SUBSCRIPTION]
    assert _ask(world, {"query": "resources | wherex"})[0] == 400


def test_quota_headers_and_429():
    world = World("arg")
    world.arg_quota = [2, 5.0]
    answers = [_ask(world, {"query": "resources | take 1"}) for _ in range(3)]
    assert [a[0] for a in answers] == [200, 200, 429]
    assert [a[1]["x-ms-user-quota-remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[2][1]["x-ms-user-quota-resets-after"].startswith("00:00:0")
    resourcegraph.reset_quota(world)
    assert _ask(world, {"query": "resources | take 1"})[0] == 200


def test_management_group_rows_come_back_only_when_asked_for_above():
    world = World("arg")
    world.management_groups = {SUBSCRIPTION: ["platform"]}
    world.assign("/providers/Microsoft.Management/managementGroups/platform", "AcrPull", "p1")
    query = {"query": "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | project id",
             "subscriptions": [SUBSCRIPTION]}
    assert _ask(world, query)[2]["data"] == []
    query["options"] = {"authorizationScopeFilter": "AtScopeAboveAndBelow"}
    assert len(_ask(world, query)[2]["data"]) == 1


def test_building_the_tables_of_a_large_tenant_is_quick():
    from bench.fleet_tenant import generate
    world = generate(200)
    started = time.time()
    status, _, page = _ask(world, {"query": "resources | where type =~ 'microsoft.containerservice/managedclusters' "
                                            "| project id | order by id asc"})
    assert status == 200 and page["totalRecords"] == 200
    assert time.time() - started < 20


# -- a registry shared by every cluster: each cluster's checks cost what its own facts cost ------------------------
def _fleet_data(world):
    """FleetData indexed from the simulated Resource Graph's rows, as ``load`` indexes its queries' answers."""
    from azext_acrpull.diagnose.facts import fleet as fleet_facts
    rows = resourcegraph._rows(world)   # pylint: disable=protected-access
    data = _data(world)
    resources = rows["resources"]
    data.clusters = [r for r in resources if r["type"] == fleet_facts.CLUSTER]
    data._index_registries([r for r in resources   # pylint: disable=protected-access
                            if r["type"] in (fleet_facts.REGISTRY, fleet_facts.REPLICATION)])
    for row in rows["authorizationresources"]:
        if row["type"] == "microsoft.authorization/roledefinitions":
            data.definitions[row["id"].rsplit("/", 1)[-1].lower()] = row
    for row in resources:
        if row["type"] == fleet_facts.VMSS:
            data.scale_sets.setdefault(fleet_facts.group_key(row["id"]), []).append(row)
        elif row["type"].startswith("microsoft.network/"):
            data.network[row["id"].lower()] = row
    data.network_scope = None
    return data


def test_a_shared_registry_costs_each_cluster_its_own_facts(monkeypatch):
    """The shared-registry tenant: the registry's assignment list is built and scanned once, each role definition
    is evaluated once per evaluation of a principal's roles, and the registry's IP rules are parsed once, however
    many clusters pull from it. Counts, not timings."""
    from azext_acrpull.diagnose import fleet, netpath, roles
    from azext_acrpull.diagnose.facts import fleet as fleet_facts
    from bench.fleet_tenant import generate_shared

    scans = []

    class Counted(roles.AssignmentList):
        def __iter__(self):
            scans.append(len(self))
            return super().__iter__()

    evaluations = []
    granting = roles._granting_pattern   # pylint: disable=protected-access

    def counted_pattern(permissions, action, data=False):
        evaluations.append(action)
        return granting(permissions, action, data)

    monkeypatch.setattr(fleet_facts, "AssignmentList", Counted)
    monkeypatch.setattr(roles, "_granting_pattern", counted_pattern)
    netpath._allowed_index.cache_clear()   # pylint: disable=protected-access
    clusters = 60
    data = _fleet_data(generate_shared(clusters))
    checks = fleet.fleet_checks(["acr-role-assignment", "acr-network-rules"])
    found = list(fleet.scan(data, checks, acr=("name", "contosoplatform")))

    by_check = {}
    for _, finding in found:
        by_check.setdefault((finding.check_id, finding.status), 0)
        by_check[(finding.check_id, finding.status)] += 1
    assert by_check[("acr-role-assignment", "Fail")] == clusters // 10       # one in ten lost its pull role
    assert by_check[("acr-network-rules", "Fail")] == clusters // 10         # one in ten is not allowed
    assert scans == [len(data.assignments_for_scope(next(iter(data.registries))))], \
        "the registry's assignments are scanned once for the whole fleet, not per cluster"
    assert len(evaluations) <= clusters, "one evaluation per role definition of a cluster's own assignments"
    assert netpath._allowed_index.cache_info().misses == 1   # pylint: disable=protected-access
    rules = [f for _, f in found if f.check_id == "acr-network-rules"]
    assert all(len(f.evidence["ipRules"]) <= 20 and f.evidence["ipRuleCount"] == clusters - clusters // 10
               for f in rules), "a finding names a bounded number of the registry's rules"


def test_role_definitions_are_evaluated_once_per_definition(monkeypatch):
    from azext_acrpull.diagnose import roles
    granting = roles._granting_pattern   # pylint: disable=protected-access
    calls = []
    monkeypatch.setattr(roles, "_granting_pattern", lambda *a, **k: calls.append(a[1]) or granting(*a, **k))
    world = World("t")
    principals = ["p{}".format(i) for i in range(300)]
    for i, principal in enumerate(principals):
        world.assign(REGISTRY, "AcrPull" if i % 3 else "Reader", principal)
    assignments = [a for k, a in world.arm.items() if "/roleassignments/" in k]
    grants = roles.pull_grants(assignments, {}, principals, REGISTRY, abac=False)
    assert len(grants) == 300 and len(calls) == 2   # Reader reads "*/read", pull/read among them
    indexed = roles.AssignmentList(assignments)
    assert roles.assignments_of(indexed, ["P7", "p8"]) == roles.assignments_of(list(assignments), ["p7", "P8"])
    assert [a["properties"]["principalId"] for a in indexed.of(["p8", "p7"])] == [
        a["properties"]["principalId"] for a in assignments if a["properties"]["principalId"] in ("p7", "p8")]


def test_streamed_findings_are_one_json_array():
    import io

    from azext_acrpull.custom import _JsonStream
    from azext_acrpull.diagnose.findings import Finding
    from azext_acrpull.diagnose.fleet import record

    found = [("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a",
              Finding("acr-role-assignment", "C1.S1", "t", "registry r", "Fail", "m", "fix", {"n": ["é", 1]})),
             ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/b",
              Finding("acr-network-rules", "C3.S2", "t", "registry r", "Pass", "m"))]
    for count in (0, 1, 2):
        out = io.StringIO()
        stream = _JsonStream(out)
        for cluster, finding in found[:count]:
            stream.write(cluster, finding)
        stream.close()
        assert json.loads(out.getvalue()) == [record(c, f) for c, f in found[:count]]
        assert out.getvalue().count("\n") == count + (2 if count else 1)   # one line per finding


# -- compact rows -----------------------------------------------------------------------------------
def _nsg_rule(name, direction):
    return {"name": name, "id": "/nsg/defaultSecurityRules/" + name, "etag": "W/\"1\"",
            "properties": {"direction": direction, "priority": 65000, "access": "Allow", "sourcePortRange": "*",
                           "destinationAddressPrefix": "VirtualNetwork"}}


def test_rows_are_compacted_as_a_page_is_parsed():
    """What no check reads is gone; what they read is equal; an NSG keeps its outbound default rules, the only ones
    a pull's path meets; equal strings of different rows are one object."""
    page = {"data": [
        {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/n", "etag": "x",
         "properties": {"resourceGuid": "g", "securityRules": [], "defaultSecurityRules": [
             _nsg_rule("AllowVnetInBound", "Inbound"), _nsg_rule("AllowInternetOutBound", "Outbound")]}},
        {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c",
         "location": "eastus", "properties": {"kubernetesVersion": "1.33", "nodeResourceGroup": "MC_g",
                                              "agentPoolProfiles": [{"name": "system", "vnetSubnetID": None}]}},
        {"id": "/subscriptions/s/resourceGroups/g2/providers/Microsoft.Compute/virtualMachineScaleSets/v",
         "location": "eastus", "properties": {"virtualMachineProfile": {"osProfile": {"adminUsername": "azureuser"}}}},
    ]}
    rows = json.loads(json.dumps(page).encode(), object_hook=compact_row)["data"]
    nsg, cluster, vmss = rows
    assert "etag" not in nsg and "resourceGuid" not in nsg["properties"]
    (rule,) = nsg["properties"]["defaultSecurityRules"]
    assert rule["name"] == "AllowInternetOutBound" and "etag" not in rule
    assert rule["properties"] == {"direction": "Outbound", "priority": 65000, "access": "Allow",
                                  "destinationAddressPrefix": "VirtualNetwork"}
    assert cluster["properties"] == {"nodeResourceGroup": "MC_g", "agentPoolProfiles": [{"name": "system",
                                                                                         "vnetSubnetID": None}]}
    assert vmss["properties"] == {"virtualMachineProfile": {}}
    assert cluster["location"] is vmss["location"]


def test_no_check_reads_a_field_compaction_drops():
    """A field on the list must not be named anywhere in the extension (a check that comes to read one takes it
    off the list)."""
    import pathlib
    import re
    root = pathlib.Path(__file__).resolve().parents[2] / "azext_acrpull"
    text = "\n".join(p.read_text(encoding="utf-8") for p in root.rglob("*.py")
                     if p.name != "resourcegraph.py")
    named = sorted(f for f in UNREAD_FIELDS if re.search(r"\b{}\b".format(re.escape(f)), text))
    assert not named, named


# -- cache rules and credential sets: ARM lists, once per registry the clusters pull from --------------------
@pytest.mark.parametrize("during_load", [True, False])
def test_cache_rules_are_listed_once_per_registry_the_clusters_pull_from(during_load):
    """Started by ``load`` as soon as the role assignments are indexed (or by the scan itself), overlapping the
    checks: one list per registry a cluster pulls from (service-principal clusters included), none of a registry
    nobody pulls from, credential sets only where rules exist, and an unreadable list is that registry's clusters'
    Error alone."""
    import collections

    from azext_acrpull.diagnose import fleet
    from azext_acrpull.diagnose.facts.resourcegraph import GraphBatch, ResourceGraph
    from bench.fleet_tenant import generate
    from tests.simulator.facts import InProcessRest
    from tests.simulator.registry_content import cache_rule, credential_set

    world = generate(40)
    regs = sorted((r for r in world.arm.values() if r.get("type") == "Microsoft.ContainerRegistry/registries"),
                  key=lambda r: r["id"])
    idle = world.registry("contosoidle", "rg-registries-0", subscription=fleet_subscription(regs[0]))
    hub = credential_set(world, regs[0], "dockerhub", "docker.io")
    cache_rule(world, regs[0], "dockerhub-library", "docker.io/library/*", "library/*", hub["id"])
    denied = regs[1]["id"] + "/cacheRules"
    rest = InProcessRest(world, {denied: (403, {"error": {"code": "AuthorizationFailed", "message": "Denied."}})})
    checks = fleet.fleet_checks(["artifact-cache-rule"])
    data = FleetData(ResourceGraph(rest), GraphBatch(rest), rest, wanted=fleet.facts_read(checks))
    facts_of = fleet.cluster_facts(data)
    try:
        data.load(pulled=(lambda: fleet.pulled_registries(data, facts_of)) if during_load else None)
        found = list(fleet.scan(data, checks))
    finally:
        data.close()

    reads = collections.Counter((e["path"].rsplit("/", 2)[-2].lower(), e["path"].rsplit("/", 1)[-1])
                                for e in rest.log if e["path"].endswith(("/cacheRules", "/credentialSets")))
    assert reads == collections.Counter({(r["name"], "cacheRules"): 1 for r in regs} | {
        (regs[0]["name"], "credentialSets"): 1}), reads
    assert idle["name"] not in {name for name, _ in reads}
    by_registry = collections.defaultdict(set)
    for cluster, finding in found:
        by_registry[regs[int(cluster.rsplit("-", 1)[-1]) % len(regs)]["name"]].add(finding.status)
    assert by_registry[regs[1]["name"]] == {"Error"}, by_registry
    assert all("Error" not in statuses for name, statuses in by_registry.items() if name != regs[1]["name"])
    assert len({c for c, _ in found}) == 40


def fleet_subscription(resource):
    return resource["id"].split("/")[2]


# -- a query that keeps failing does not starve the others -----------------------------------------------
class FakeRest:
    """Resource Graph's endpoint on a fake clock: ``answer(body)`` gives (status, headers, parsed); pauses move the
    clock."""
    arm, arm_resource = "https://management.azure.com", "https://management.azure.com/"

    def __init__(self, clock, answer, timeout=8):
        self.clock, self.answer = clock, answer
        self.deadline = Deadline(timeout, clock=clock)
        self.sent = []

    def send(self, method, url, resource, body=None, kind="arm", object_hook=None):
        self.sent.append(body["query"])
        return self.answer(body)

    def pause(self, seconds):
        self.clock.now += max(0.0, min(seconds, self.deadline.remaining()))


def _unavailable(body):
    return 503, {}, {"error": {"code": "ServiceUnavailable", "message": "The query could not be run."}}


def test_a_window_no_answer_spoke_of_still_resets():
    """Answers without the quota headers (a 503's) never say when the window ends: it ends after Resource Graph's
    window, and the next query goes instead of waiting for --timeout."""
    clock = Clock()
    quota = Quota(clock=clock, deadline=Deadline(8, clock=clock))
    quota.limit = 3                        # what the last window's answers taught
    for _ in range(3):
        quota.acquire()
        quota.update(503, {})
    clock.now += 5.0                       # Resource Graph's window
    done = _blocked(quota)
    assert done.wait(2.0)


def test_a_retry_yields_to_a_waiting_first_attempt():
    clock = Clock()
    quota = Quota(clock=clock, deadline=Deadline(8, clock=clock))
    quota.acquire()
    quota.update(200, headers(0, "00:00:05"))
    first = _blocked(quota)                # another query's first attempt waits for the reset
    assert _first_waiting(quota)
    assert quota.acquire(retry=True) is False
    clock.now += 5.0
    with quota._cond:                      # pylint: disable=protected-access
        quota._cond.notify_all()           # pylint: disable=protected-access
    assert first.wait(2.0)
    quota.update(200, headers(5))          # its answer: the new window has room
    assert quota.acquire(retry=True) is True   # and nobody waits now


def test_failing_query_gives_up_before_the_deadline_and_says_why():
    """Backoff pauses that would run into the reserve of --timeout end the retries: the query fails alone with its
    own answer, and the rest of the run keeps time and quota."""
    clock = Clock()
    rest = FakeRest(clock, _unavailable, timeout=8)
    arg = ResourceGraph(rest, Quota(clock=clock, deadline=rest.deadline))
    with pytest.raises(FactError) as err:
        arg.query("authorizationresources | project id", what="role assignments")
    assert "HTTP 503" in err.value.reason and "role assignments" in err.value.reason
    assert "could not be run" in err.value.reason and "given up after 4 tries" in err.value.reason
    assert len(rest.sent) == 4             # pauses 0.5, 1, 2 s; the next (4 s) would leave under 2 s of 8
    assert rest.deadline.remaining() >= 0.25 * 8
    assert arg.quota._in_flight == 0       # pylint: disable=protected-access


def test_without_timeout_a_failing_query_is_tried_every_time():
    clock = Clock()
    rest = FakeRest(clock, _unavailable, timeout=None)
    arg = ResourceGraph(rest, Quota(clock=clock, deadline=rest.deadline))
    with pytest.raises(FactError) as err:
        arg.query("resources | project id", what="clusters")
    assert len(rest.sent) == 6 and "HTTP 503" in err.value.reason and "given up" not in err.value.reason


def _first_waiting(quota, count=1):
    for _ in range(200):
        if quota._first_waiting == count:      # pylint: disable=protected-access
            return True
        time.sleep(0.01)
    return False


def test_a_failing_query_does_not_hold_the_quota_of_others():
    """A query fails with 503 (and the quota spent) while another query's first attempt waits for the window: the
    failing one gives up at once instead of waiting to take the next window from it; the other goes at the reset."""
    clock = Clock()
    rows, failed, other = [], [], []

    def answer(body):
        if "roleassignments" not in body["query"]:
            return 200, headers(14), {"data": [{"id": "x"}], "count": 1}
        other.append(threading.Thread(target=lambda: rows.extend(arg.query("resources", what="clusters")),
                                      daemon=True))
        other[0].start()                           # asked while this one is in flight: nothing left for it
        assert _first_waiting(quota)
        return 503, headers(0, "00:00:05"), {"error": {"code": "ServiceUnavailable", "message": "Try later."}}

    rest = FakeRest(clock, answer, timeout=60)
    quota = Quota(clock=clock, deadline=rest.deadline)
    arg = ResourceGraph(rest, quota)
    quota.acquire()
    quota.update(200, headers(1, "00:00:05"))      # one request left in this window

    def failing():
        try:
            arg.query("authorizationresources | where type =~ 'microsoft.authorization/roleassignments'",
                      what="role assignments")
        except FactError as err:
            failed.append(err.reason)

    thread = threading.Thread(target=failing, daemon=True)
    thread.start()
    thread.join(3.0)
    assert failed and "HTTP 503" in failed[0] and "given up after 1 try" in failed[0], failed
    assert rows == [] and rest.sent == [rest.sent[0]]
    clock.now += 5.0
    with quota._cond:                              # pylint: disable=protected-access
        quota._cond.notify_all()                   # pylint: disable=protected-access
    other[0].join(3.0)
    assert rows == [{"id": "x"}] and rest.sent[1:] == ["resources"]
