# What ties a principal to a cluster (C1.S3). Facts pinned down here and where they were confirmed:
# - `az aks create` without --service-principal (azure-cli acs/_graph.py, ensure_aks_service_principal and
#   build_service_principal) makes an application named after the cluster with identifierUris and web.homePageUrl
#   https://<6 hex salt>.<dns prefix>.<location>.cloudapp.azure.com; its service principal's servicePrincipalNames
#   carry the identifier URI and the appId.
# - A user-assigned managed identity's service principal has servicePrincipalType ManagedIdentity and
#   alternativeNames ["isExplicit=True", "<resource id>"] (Microsoft Graph servicePrincipal resource).
# - A VMSS records principalId and clientId for each user-assigned identity (identity.userAssignedIdentities).
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from azext_acrpull.diagnose.catalog import catalog
from azext_acrpull.diagnose.facts import Facts
from azext_acrpull.diagnose.request import DiagnoseRequest
from azext_acrpull.diagnose.roles import BUILTIN_ROLE_DEFINITIONS
from azext_acrpull.diagnose.ties import (
    begins_with_cluster,
    credential_starts,
    name_keys,
    name_tie,
    recorded_principals,
    recorded_tie,
    replaced,
    ties,
    uri_keys,
    uri_tie,
)

KUBELET = "/subscriptions/s/resourcegroups/MC_rg1_aks1_eastus/providers/Microsoft.ManagedIdentity/" \
          "userAssignedIdentities/aks1-agentpool"
CLUSTER = {"name": "aks1", "dnsPrefix": "aks1-dns", "location": "eastus"}
MI = {"kind": "kubeletIdentity", "objectId": "new-oid", "resourceId": KUBELET}
SP = {"kind": "servicePrincipal", "objectId": "current-oid"}
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def sp(name, uris=(), homepage=None, creds=(), kind="Application", alternative=()):
    return {"@odata.type": "#microsoft.graph.servicePrincipal", "id": "oid-" + name, "appId": "app-" + name,
            "displayName": name, "servicePrincipalType": kind, "servicePrincipalNames": list(uris),
            "homepage": homepage, "alternativeNames": list(alternative), "passwordCredentials": list(creds),
            "keyCredentials": []}


def cred(start):
    return {"startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "endDateTime": None}


def test_az_aks_create_names_tie_by_display_name_and_identifier_uri():
    uri = "https://3f9a1c.aks1-dns.eastus.cloudapp.azure.com"
    found = ties(sp("aks1", uris=[uri], homepage=uri), CLUSTER, SP)
    assert [t["kind"] for t in found] == ["identifierUri", "displayName"]
    assert found[0]["detail"] == uri


def test_identifier_uri_of_another_cluster_or_location_does_not_tie():
    assert uri_tie(sp("x", uris=["https://3f9a1c.aks2-dns.eastus.cloudapp.azure.com"]), "aks1-dns", "eastus") is None
    assert uri_tie(sp("x", uris=["https://3f9a1c.aks1-dns.westus.cloudapp.azure.com"]), "aks1-dns", "eastus") is None
    assert uri_tie(sp("x", uris=["api://aks1-dns"]), "aks1-dns") is None
    assert uri_tie(sp("x", uris=["app-x"]), "aks1-dns") is None        # an appId as a service principal name


def test_display_names_that_tie():
    for name in ("aks1", "AKS1", "aks1-sp", "aks1_spn", "aks1-sp-2024", "aks1 sp old", "aks1-identity-v2",
                 "aks1-2024-05"):
        assert name_tie(name, "aks1"), name


def test_display_names_that_do_not_tie():
    for name in ("aks10", "aks1-deployer", "contoso-ci-pipeline", "my-aks1-sp", "aks1-agentpool", "aks", ""):
        assert not name_tie(name, "aks1"), name
    assert not name_tie("aks1-sp", "")


def test_a_prefixed_name_ties_only_with_credentials_the_current_one_replaced():
    old = sp("aks1-build", creds=[cred(T0)])
    assert ties(old, CLUSTER, SP, current_starts=[T0 + timedelta(days=30)]) == [
        {"kind": "replacedCredentials", "detail": "aks1-build"}]
    # Renewed after the cluster's current service principal got its secret: still in use by something else.
    assert ties(dict(old, passwordCredentials=[cred(T0 + timedelta(days=60))]), CLUSTER, SP,
                current_starts=[T0 + timedelta(days=30)]) == []
    # Nothing to compare with: no tie.
    assert ties(old, CLUSTER, SP, current_starts=[]) == []
    # The application's credentials count too.
    app_only = dict(sp("aks1-build"), application={"passwordCredentials": [cred(T0)]})
    assert ties(app_only, CLUSTER, SP, current_starts=[T0 + timedelta(days=1)])
    # A managed-identity cluster has no current service principal whose credentials could replace it.
    assert ties(old, CLUSTER, MI, current_starts=[T0 + timedelta(days=30)]) == []


def test_managed_identities_tie_only_through_the_kubelet_identitys_resource_id():
    former = sp("aks1-agentpool", kind="ManagedIdentity", alternative=["isExplicit=True", KUBELET.upper()])
    assert ties(former, CLUSTER, MI) == [{"kind": "formerKubeletIdentity", "detail": KUBELET.upper()}]
    assert ties(dict(former, id="new-oid"), CLUSTER, MI) == []             # the current one
    other = sp("aks-payments-agentpool", kind="ManagedIdentity",
               alternative=["isExplicit=True", KUBELET.replace("aks1", "aks-payments")])
    assert ties(other, CLUSTER, MI) == []
    # A managed identity named like the cluster is still not its service principal.
    assert ties(sp("aks1", kind="ManagedIdentity", alternative=["isExplicit=True", "/subscriptions/x"]),
                CLUSTER, MI) == []
    # A service-principal cluster has no kubelet identity to have had before.
    assert ties(former, CLUSTER, SP) == []


def test_former_service_principal_of_a_managed_identity_cluster():
    assert [t["kind"] for t in ties(sp("aks1-sp"), CLUSTER, MI)] == ["displayName"]


def test_scale_set_records():
    vmss = [{"id": "vmss1", "identity": {"userAssignedIdentities": {KUBELET.lower(): {"principalId": "OLD-OID"}}}},
            {"id": "vmss2", "identity": {"type": "None"}},
            {"id": "vmss3", "identity": {"userAssignedIdentities": {"/other": {"principalId": "x"}}}}]
    recorded = recorded_principals(vmss, KUBELET)
    assert recorded == {"old-oid": "vmss1"}
    assert recorded_tie("old-oid", recorded, MI) == "vmss1"
    assert recorded_tie("new-oid", {"new-oid": "vmss1"}, MI) is None      # the scale set agrees with the profile
    assert recorded_tie("old-oid", recorded, SP) is None
    assert recorded_tie("x", recorded, MI) is None


def test_index_keys_find_what_the_rules_accept():
    assert name_keys("aks1-sp-2024") == {"aks1", "aks1-sp", "aks1-sp-2024"}
    assert name_keys("") == set()
    assert uri_keys(sp("x", uris=["https://3f9a1c.aks1-dns.eastus.cloudapp.azure.com", "app-x"])) == {"aks1-dns"}


def test_replaced_and_starts():
    assert credential_starts([cred(T0), {"startDateTime": None}, "junk"], None) == [T0]
    assert replaced([T0], [T0 + timedelta(seconds=1)]) and not replaced([T0], [T0]) and not replaced([], [T0])


NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
SEP = st.sampled_from("-_. ")


@given(NAME, NAME, SEP)
def test_every_name_that_ties_is_found_by_the_index(cluster, rest, sep):
    """The fleet looks candidates up by the cluster's name among name_keys: every tie must be reachable."""
    for name in (cluster, cluster + sep + rest, cluster + sep + "sp" + sep + rest):
        if name_tie(name, cluster) or begins_with_cluster(name, cluster):
            assert cluster.lower() in name_keys(name)


@given(NAME, st.text(max_size=16))
def test_a_tied_name_is_the_cluster_name_or_continues_it_after_a_separator(cluster, name):
    """Never a name that merely contains the cluster's name, or continues it as another word (aks1 in aks10)."""
    for candidate in (name, cluster + name, name + cluster):
        if name_tie(candidate, cluster) or begins_with_cluster(candidate, cluster):
            low = candidate.strip().lower()
            assert low == cluster or (low.startswith(cluster) and low[len(cluster)] in "-_. "), candidate


# --- the property: a noisy tenant never makes the check Fail -------------------------------------------------------

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
REG = SUB + "/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myacr"
ROLE = {d["properties"]["roleName"]: d["id"] for d in BUILTIN_ROLE_DEFINITIONS.values()}


class RoleFacts(Facts):
    """One managed-identity (or service-principal) cluster aks1 and registry myacr, from dicts: only for the property
    test, which draws a new tenant per example (a simulated world costs about 0.25 s to build and read, a hundred
    examples half a minute); the examples read the scenarios' worlds (``world_role_principal``)."""

    def __init__(self, holders, managed=True):
        super().__init__(DiagnoseRequest("rg1", "aks1"))
        self.holders, self.managed = holders, managed

    def cluster(self):
        props = {"dnsPrefix": "aks1-dns", "nodeResourceGroup": "MC_rg1_aks1_eastus"}
        if self.managed:
            props["identityProfile"] = {"kubeletidentity": {"resourceId": KUBELET, "objectId": "new-oid",
                                                            "clientId": "new-cid"}}
        else:
            props["servicePrincipalProfile"] = {"clientId": "app-current"}
        return {"id": SUB + "/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/aks1",
                "name": "aks1", "location": "eastus", "properties": props}

    def registries(self):
        return [{"id": REG, "name": "myacr", "properties": {"loginServer": "myacr.azurecr.io"}}]

    def role_assignments(self, scope):
        return [{"id": "{}/providers/Microsoft.Authorization/roleAssignments/ra-{}".format(h["scope"], i),
                 "properties": {"principalId": h["id"], "principalType": h.get("type", "ServicePrincipal"),
                                "roleDefinitionId": ROLE[h["role"]], "scope": h["scope"]}}
                for i, h in enumerate(self.holders)]

    def role_definition(self, role_definition_id):
        return BUILTIN_ROLE_DEFINITIONS[role_definition_id.rsplit("/", 1)[-1]]

    def directory_objects(self, object_ids):
        return {h["id"].lower(): h["object"] for h in self.holders if h.get("object")}

    def member_groups(self, object_id):
        return {}

    def node_vmss(self):
        return []

    def service_principal(self, app_id):
        return {"id": "current-oid", "appId": app_id, "displayName": "aks1-current", "passwordCredentials": []}

    def application(self, app_id):
        return {"appId": app_id, "passwordCredentials": [cred(T0 + timedelta(days=10))]}

    def readable_subscriptions(self):
        return [SUB.rsplit("/", 1)[-1]]

    def clusters_in_subscription(self, subscription_id):
        return []


def sp_role_principal(facts):
    chk = next(c for c in catalog() if c.check_id == "sp-role-principal")
    (finding,) = chk.func(chk, facts)
    return finding


def holder(name, role="AcrPull", scope=REG, kind="Application", alternative=(), exists=True, principal_type=None):
    obj = sp(name, kind=kind, alternative=alternative) if exists else None
    return {"id": "oid-" + name, "role": role, "scope": scope, "object": obj,
            "type": principal_type or "ServicePrincipal"}


UNRELATED = st.sampled_from([
    holder("platform-automation", "Owner", SUB), holder("contoso-ci-pipeline", "AcrPush"),
    holder("id-orders-web", kind="ManagedIdentity", alternative=["isExplicit=True", SUB + "/resourcegroups/rg-web/"
                                                                  "providers/Microsoft.ManagedIdentity/"
                                                                  "userAssignedIdentities/id-orders-web"]),
    holder("aks-payments-agentpool", kind="ManagedIdentity",
           alternative=["isExplicit=True", KUBELET.replace("aks1", "aks-payments")]),
    holder("deleted-1", exists=False), holder("aks10", "Reader", SUB + "/resourceGroups/rg1"),
    holder("platform-engineers", "Contributor", SUB + "/resourceGroups/rg1", principal_type="Group"),
    holder("my-aks1-sp"), holder("aks1-deployer-ci", "AcrPush")])


@settings(deadline=None)   # the first example imports the checks
@given(st.lists(UNRELATED, max_size=9, unique_by=lambda h: h["id"]), st.booleans())
def test_unrelated_holders_never_fail_and_are_never_deleted(holders, managed):
    f = sp_role_principal(RoleFacts(holders, managed))
    assert f.status == ("Skipped" if managed else "Pass"), f.message
    assert "role assignment delete" not in f.message + (f.remediation or "")
    assert not f.evidence["stalePrincipals"]


# --- the check on the scenarios' worlds --------------------------------------------------------------------------

def world_role_principal(name, spy=None):
    """sp-role-principal on registry myacr of an end-to-end scenario's world, read through the in-memory reader;
    ``spy`` collects the fact methods the check calls."""
    from tests.simulator.facts import world_facts
    from tests.simulator.scenarios import build
    facts = world_facts(build(name), registry=("name", "myacr"))
    if spy is not None:
        directory_objects = facts.directory_objects
        facts.directory_objects = lambda ids: spy.append(("directory_objects", len(ids))) or directory_objects(ids)
    return sp_role_principal(facts)


def test_tied_holders_fail_and_only_theirs_may_be_deleted():
    # Service-principal cluster; AcrPull stayed with aks1-sp-2024; the tenant's noise (CI service principal, other
    # clusters' identities, an orphaned assignment of a deleted principal) stays out.
    f = world_role_principal("auth-sp-old-principal")
    (stale,) = f.evidence["stalePrincipals"]
    assert f.status == "Fail" and [t["kind"] for t in stale["ties"]] == ["displayName"]
    assert stale["displayName"] == "aks1-sp-2024"
    assert f.message.count("role assignment delete") == 1 and stale["roleAssignmentId"] + "`" in f.message
    assert "Housekeeping, not the cause" in f.message and f.remediation.startswith("az aks update -n aks1")
    # The kubelet identity was recreated: its deleted former principal is tied by the scale set's record.
    f = world_role_principal("auth-mi-kubelet-recreated")
    assert f.status == "Fail" and "scale set aks-nodepool1-59856254-vmss still records it" in f.message
    # A deleted principal no scale set records is housekeeping.
    f = world_role_principal("mi-acrpull-missing")
    assert f.status == "Skipped" and "Housekeeping" in f.message


def test_current_identity_holding_the_role_needs_no_graph():
    asked = []
    assert world_role_principal("mi-healthy", spy=asked).status == "Skipped" and asked == []
