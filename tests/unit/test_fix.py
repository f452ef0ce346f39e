"""The fix engine and its remedies on plain findings: what is planned, shared, applied, printed only."""
import json
import shlex
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose import fix
from azext_acrpull.diagnose.common.network import Egress, Resolver
from azext_acrpull.diagnose.findings import ERROR, FAIL, PASS, SKIPPED, WARNING, Finding, decided
from azext_acrpull.diagnose.request import DiagnoseRequest

SUB = "3f2b8c4e-1d6a-4e9b-8c7f-5a4d3e2b1c0a"
OTHER_SUB = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
REGISTRY_ID = "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myacr".format(SUB)
KUBELET_OID = "6d01599a-0000-4000-8000-000000000001"
ZONE_ID = "/subscriptions/{}/resourceGroups/dns-rg/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io" \
    .format(OTHER_SUB)
VNET_ID = "/subscriptions/{}/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/aks-vnet".format(SUB)


class StubFacts:
    """Just what remedies read from the diagnosis' facts."""

    def __init__(self, registry=None, identity=None, assignments=()):
        self._assignments = list(assignments)
        self.request = DiagnoseRequest(resource_group="rg1", name="aks1")
        self.cluster_resource_group, self.cluster_name = "rg1", "aks1"
        self._registry = registry or registry_dict()
        self._identity = identity or {"kind": "kubeletIdentity", "objectId": KUBELET_OID, "name": "aks1-agentpool"}

    def registries(self):
        return [self._registry]

    def role_assignments(self, scope):
        return self._assignments

    def pull_identity(self):
        return self._identity

    def cluster_subscription(self):
        return SUB


def registry_dict(mode="AzureRoleAssignments", sku="Premium", **props):
    return {"id": REGISTRY_ID, "name": "myacr", "sku": {"name": sku},
            "properties": dict({"roleAssignmentMode": mode}, **props)}


def ctx_for(**kwargs):
    return fix.FixContext(None, StubFacts(**kwargs))


def finding(check_id, status, target="registry myacr", remediation="do it", **evidence):
    return Finding(check_id, "X", "title", target, status, "what was found", remediation, evidence)


def decided_finding(check_id, reason, remediation="do it", evidence=None, target="registry myacr", **params):
    """A finding as a split check words it: the decision (status, reason, parameters) travels with it to ``fix``."""
    decision = decided(FAIL, reason, evidence, **params)
    return Finding(check_id, "X", "title", target, FAIL, "what was found", remediation, decision.evidence, decision)


def role_finding(roleAssignmentMode="AzureRoleAssignments", uncoveredRepositories=None):
    """acr-role-assignment's decision for the kubelet identity without a pull role (on an ABAC registry, none at all
    or none for ``uncoveredRepositories``)."""
    abac = roleAssignmentMode == "AbacRepositoryPermissions"
    reason = "abac-uncovered" if uncoveredRepositories else "abac-no-role" if abac else "no-role"
    return decided_finding("acr-role-assignment", reason, remediation="az aks update --attach-acr ...",
                           principal_id=KUBELET_OID, registry=registry_dict(roleAssignmentMode),
                           uncovered=uncoveredRepositories)


# -- the engine ---------------------------------------------------------------------------------------------
def test_only_fail_and_warning_become_items_and_warnings_are_never_applied():
    findings = [finding("registry-lookup", PASS), role_finding(), finding("acr-role-assignment", WARNING,
                                                                          principalId=KUBELET_OID,
                                                                          registryId=REGISTRY_ID),
                finding("vnet-peering", FAIL, remediation="az network vnet peering create ..."),
                finding("egress-path", ERROR), finding("pull-secret-sp", SKIPPED)]
    items = fix.plan(findings, ctx_for())
    assert [(i.check_id, i.action, i.status) for i in items] == [
        ("acr-role-assignment", "apply", "Planned"), ("acr-role-assignment", "manual", "Manual"),
        ("vnet-peering", "manual", "Manual")]
    assert items[2].command == "az network vnet peering create ..."
    assert [i.to_dict()["checkId"] for i in items] == ["acr-role-assignment"] * 2 + ["vnet-peering"]


def test_one_change_for_findings_that_need_the_same_write():
    pools = [decided_finding("kubelet-identity-vmss", "lost", target="node pool {} (aks-{}-vmss)".format(p, p),
                             kubelet="/subscriptions/s/resourceGroups/mc/providers/Microsoft.ManagedIdentity/"
                                     "userAssignedIdentities/aks1-agentpool") for p in ("a", "b")]
    items = fix.plan(pools, ctx_for())
    assert items[0].change is items[1].change
    assert items[0].command == "az aks update -g rg1 -n aks1"
    assert fix.plan_text(items).startswith("Plan: 1 change(s) to apply, 0 step(s) to do by hand.")


def test_a_failing_change_does_not_stop_the_others():
    calls = []

    def ok(ctx):
        calls.append("ok")
        return "fine"

    def refused(ctx):
        calls.append("refused")
        raise fix.ChangeFailed("no permission")

    def broken(ctx):
        raise RuntimeError("boom")
    items = [fix.Item("a", "t1", fix.APPLY, "c1", "m", fix.PLANNED, change=fix.Change(("1",), "c1", "s1", refused)),
             fix.Item("b", "t2", fix.APPLY, "c2", "m", fix.PLANNED, change=fix.Change(("2",), "c2", "s2", broken)),
             fix.Item("c", "t3", fix.APPLY, "c3", "m", fix.PLANNED, change=fix.Change(("3",), "c3", "s3", ok)),
             fix.Item("d", "t4", fix.MANUAL, "c4", "m", fix.MANUAL_STATUS)]
    fix.apply_plan(items, None)
    assert [(i.status, i.message) for i in items] == [
        ("Failed", "no permission"), ("Failed", "Could not make this change: boom"), ("Applied", "fine"),
        ("Manual", "m")]
    assert calls == ["refused", "ok"]
    assert fix.rechecked_ids(items) == ["a", "b", "c"]
    assert "Applied 1 of 3 change(s); 2 failed (no permission)" in fix.result_text(items)


def test_declined_plan_applies_nothing():
    items = fix.plan([role_finding()], ctx_for())
    fix.decline(items)
    assert items[0].status == "Planned" and items[0].message.startswith("Not applied (declined).")


def test_status_after_by_target_else_worst_of_the_check():
    items = [fix.Item("kubelet-identity-vmss", "node pool a (x)", fix.APPLY, "c", "m", fix.APPLIED),
             fix.Item("kubelet-identity-vmss", "node pool gone", fix.APPLY, "c", "m", fix.APPLIED),
             fix.Item("vnet-peering", "registry myacr", fix.MANUAL, "c", "m", fix.MANUAL_STATUS)]
    after = [finding("kubelet-identity-vmss", PASS, target="node pool a (x)"),
             finding("kubelet-identity-vmss", FAIL, target="node pool b (y)")]
    fix.record_after(items, after)
    assert [i.status_after for i in items] == ["Pass", "Fail", ""]


@given(st.lists(st.tuples(st.sampled_from([PASS, FAIL, WARNING, SKIPPED, ERROR]),
                          st.sampled_from(["acr-role-assignment", "kubelet-identity-vmss", "vnet-peering",
                                           "image-manifest"]),
                          st.sampled_from(["a", "b"])), max_size=12))
def test_one_item_per_failed_finding_in_order(rows):
    reasons = {"acr-role-assignment": "no-role", "kubelet-identity-vmss": "lost"}
    findings = [Finding(c, "X", "title", "node pool {}".format(t), s, "what was found", "do it", {},
                        decided(s, reasons.get(c, "other"), kubelet="/x/y", principal_id=KUBELET_OID,
                                registry=registry_dict())) for s, c, t in rows]
    items = fix.plan(findings, ctx_for())
    wanted = [f for f in findings if f.status in (FAIL, WARNING)]
    assert [(i.check_id, i.target) for i in items] == [(f.check_id, f.target) for f in wanted]
    assert all(i.action == "manual" for i, f in zip(items, wanted, strict=True) if f.status == WARNING)
    changes = fix.changes_of(items)
    assert len(changes) == len({c.key for c in changes}) <= 2


# -- remedies -----------------------------------------------------------------------------------------------
def test_role_remedy_grants_acrpull_to_the_pull_identity():
    [item] = fix.plan([role_finding()], ctx_for())
    assert item.command == ('az role assignment create --assignee-object-id {} --assignee-principal-type '
                            'ServicePrincipal --role "AcrPull" --scope {}'.format(KUBELET_OID, REGISTRY_ID))
    assert "kubelet identity aks1-agentpool" in item.message


def test_role_remedy_on_abac_registry_grants_repository_reader_for_uncovered_repositories():
    ctx = ctx_for(registry=registry_dict("AbacRepositoryPermissions"))
    [whole] = fix.plan([role_finding(roleAssignmentMode="AbacRepositoryPermissions")], ctx)
    assert '--role "Container Registry Repository Reader"' in whole.command and "--condition" not in whole.command
    [some] = fix.plan([role_finding(roleAssignmentMode="AbacRepositoryPermissions",
                                    uncoveredRepositories=["team/app"])], ctx)
    assert "--condition" in some.command and "StringEqualsIgnoreCase 'team/app'" in some.command
    assert "for repositories team/app" in some.message


def test_role_held_with_a_narrower_condition_is_widened_not_assigned_twice():
    old = "((!(ActionMatches{'a'})) OR (@Request[x] StringStartsWithIgnoreCase 'backend/'))"
    held = {"id": REGISTRY_ID + "/providers/Microsoft.Authorization/roleAssignments/ra1", "name": "ra1",
            "properties": {"principalId": KUBELET_OID, "scope": REGISTRY_ID, "condition": old,
                           "roleDefinitionId": "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/"
                                               "b93aa761-3e63-49ed-ac28-beffa264f7ac".format(SUB)}}
    ctx = ctx_for(registry=registry_dict("AbacRepositoryPermissions"), assignments=[held])
    [item] = fix.plan([role_finding(roleAssignmentMode="AbacRepositoryPermissions",
                                    uncoveredRepositories=["team/app"])], ctx)
    args = shlex.split(item.command)
    assert args[:5] == ["az", "role", "assignment", "update", "--role-assignment"]
    body = json.loads(args[5])
    assert (body["name"], body["scope"], body["conditionVersion"]) == ("ra1", REGISTRY_ID, "2.0")
    assert body["condition"].startswith("(" + old + ") OR (") and "'team/app'" in body["condition"]
    assert "Widen the condition" in item.message


def test_role_remedy_needs_an_existing_principal():
    [item] = fix.plan([decided_finding("acr-role-assignment", "no-principal",
                                       remediation="az aks update-credentials ...", client_id="app",
                                       registry=registry_dict())], ctx_for())
    assert (item.action, item.command) == ("manual", "az aks update-credentials ...")


def test_stale_principal_and_missing_role_share_one_assignment():
    stale = decided_finding("sp-role-principal", "stale", principal_id=KUBELET_OID, registry=registry_dict())
    items = fix.plan([role_finding(), stale], ctx_for())
    assert items[0].change is items[1].change and len(fix.changes_of(items)) == 1


def _rules_finding(reason, **params):
    return decided_finding("acr-network-rules", reason, remediation="az acr network-rule add ...", **params)


def _egress(*addresses):
    return Egress("loadBalancer", True, addresses, (), "")


def test_network_rules_remedy_adds_missing_egress_ips():
    [item] = fix.plan([_rules_finding("missing", missing=["20.1.2.3", "20.1.2.4"], egress=_egress("20.1.2.5"))],
                      ctx_for())
    assert item.command == ("az acr network-rule add --name myacr --ip-address 20.1.2.3 && "
                            "az acr network-rule add --name myacr --ip-address 20.1.2.4")
    assert "Disabled" not in item.message


def test_network_rules_remedy_says_it_enables_public_access():
    registry = registry_dict(publicNetworkAccess="Disabled", networkRuleSet={"ipRules": [{"value": "9.9.9.9"}]})
    [item] = fix.plan([_rules_finding("disabled", egress=_egress("20.1.2.3"), ips=["20.1.2.3"])],
                      ctx_for(registry=registry))
    assert item.command.startswith("az acr update -n myacr --public-network-enabled true --default-action Deny && ")
    assert "from Disabled to Enabled" in item.message and "opens its public endpoint" in item.message
    assert "9.9.9.9" in item.message


def test_network_rules_remedy_leaves_what_it_cannot_do_safely_to_a_person():
    cases = [(registry_dict(publicNetworkAccess="Disabled", privateEndpointConnections=[{"id": "pe"}]),
              ("disabled", {"egress": _egress("20.1.2.3"), "ips": ["20.1.2.3"]})),     # the private path is broken
             (registry_dict(sku="Standard"), ("missing", {"missing": ["20.1.2.3"]})),
             (registry_dict(), ("disabled", {"egress": _egress(), "ips": []})),     # egress unknown
             (registry_dict(), ("egress-unknown", {"hop": "10.0.0.4"}))]          # an appliance's address decides
    for registry, (reason, params) in cases:
        [item] = fix.plan([_rules_finding(reason, **params)], ctx_for(registry=registry))
        assert item.action == "manual", (registry, reason)


ZONE = {"id": ZONE_ID, "name": "privatelink.azurecr.io"}


def test_dns_remedy_links_the_zone_to_the_resolving_vnet():
    [item] = fix.plan([decided_finding("private-dns-link", "not-linked", zone=ZONE, linked_to=["hub-vnet"],
                                       resolver=Resolver(VNET_ID, (), VNET_ID))], ctx_for())
    assert item.command == ("az network private-dns link vnet create -g dns-rg -z privatelink.azurecr.io -n "
                            "aks-vnet-link -v {} -e false --subscription {}".format(VNET_ID, OTHER_SUB))


def test_dns_remedy_creates_only_missing_records():
    missing = {"myacr.eastus.data.azurecr.io": ["10.1.0.6"]}
    [item] = fix.plan([decided_finding("private-dns-link", "records", zone=ZONE, missing=missing, wrong={},
                                       problems=["no A record myacr.eastus.data"], only_missing=True)], ctx_for())
    assert item.command == ("az network private-dns record-set a add-record -g dns-rg -z privatelink.azurecr.io -n "
                            "myacr.eastus.data --subscription {} -a 10.1.0.6".format(OTHER_SUB))
    [wrong] = fix.plan([decided_finding("private-dns-link", "records", zone=ZONE, missing=missing,
                                        wrong={"myacr.azurecr.io": (["10.9.9.9"], ["10.1.0.5"])},
                                        problems=["A record myacr is 10.9.9.9", "no A record myacr.eastus.data"],
                                        only_missing=False)], ctx_for())
    assert wrong.action == "manual"
    [no_zone] = fix.plan([decided_finding("private-dns-link", "no-zone", resolver=Resolver(VNET_ID, (), VNET_ID))],
                         ctx_for())
    assert no_zone.action == "manual"


def test_a_remedy_that_cannot_read_its_finding_leaves_it_to_a_person():
    [item] = fix.plan([finding("kubelet-identity-vmss", FAIL, remediation="az aks update -g rg1 -n aks1")],
                      fix.FixContext(None, SimpleNamespace(request=None)))    # facts it cannot use
    assert (item.action, item.command) == ("manual", "az aks update -g rg1 -n aks1")


def test_write_errors_say_what_is_missing():
    class Forbidden(Exception):
        status_code = 403
        message = "The client does not have authorization\nmore lines"
    text = fix.write_error(Forbidden(), "create role assignments on registry myacr", "roleAssignments/write")
    assert text == ("The signed-in account may not create role assignments on registry myacr (needs "
                    "roleAssignments/write): The client does not have authorization")
