"""B.armaud, B.tenant, B.drift and B.nap: what each verdict rests on, read from simulated worlds (ARM's answers about
another tenant's subscriptions too, which Resource Graph does not show)."""
from datetime import timedelta

import pytest

from azext_acrpull.diagnose.catalog import catalog
from azext_acrpull.diagnose.facts import FactError
from azext_acrpull.diagnose.facts.arm import foreign_tenant
from tests.simulator.facts import world_facts
from tests.simulator.pods import failing_pod, node_name, nodes, provisioned_node, pull_failure
from tests.simulator.pods import pod as sim_pod
from tests.simulator.registry_content import push
from tests.simulator.scenarios.foundation import kubelet_object_id
from tests.simulator.tenant import populate
from tests.simulator.world import SUBSCRIPTION, World

SUB2 = "22222222-2222-2222-2222-222222222222"
HOME, OTHER = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"
OAUTH = ('Failed to pull image "myacr.azurecr.io/app:1": failed to pull and unpack image "myacr.azurecr.io/app:1": '
         "failed to resolve reference \"myacr.azurecr.io/app:1\": failed to authorize: failed to fetch oauth token: "
         "unexpected status: 401 Unauthorized")
ARM_MESSAGE = ("The access token is from the wrong issuer 'https://sts.windows.net/{}/'. It must match the tenant "
               "'https://sts.windows.net/{}/' associated with this subscription. Please use the authority (URL) "
               "'https://login.windows.net/{}' to get the token.".format(HOME, OTHER, OTHER))


ARMAUD_IMAGE = "myacr.azurecr.io/web:1.4"


def run(check_id, facts):
    chk = next(c for c in catalog() if c.check_id == check_id)
    return chk.func(chk, facts)


def _armaud_world(status="enabled", sub=SUBSCRIPTION, pod=None, image=ARMAUD_IMAGE, error=None):
    """The beyond-armaud-disabled scenario's world (the e2e tests' own), changed as each case says: the registry's
    ARM-audience policy (None: the registry does not report it), its subscription, and the --pod with its image and
    pull error (by default the one its node gets)."""
    w = World("unit-armaud")
    w.subs.setdefault(sub, "Other")
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "mode": "System"}])
    registry = w.registry("myacr", "rg1", subscription=sub)
    push(w, registry, "web", "1.4", ["linux/amd64"])
    nodes(w, cluster)
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    policies = registry["properties"]["policies"]
    if status is None:
        policies.pop("azureADAuthenticationAsArmPolicy", None)
    else:
        policies["azureADAuthenticationAsArmPolicy"]["status"] = status
    if pod and error is None:
        failing_pod(w, cluster, pod, image, node_name(w, cluster, "nodepool1"))
    elif pod:
        obj = sim_pod(w, cluster, pod, [{"name": "app", "image": image}], node=node_name(w, cluster, "nodepool1"),
                      deployment=pod)
        pull_failure(w, cluster, obj, "app", error)
    return world_facts(populate(w), pod=pod, registry=("name", "myacr"))


@pytest.mark.parametrize("status, expected", [("enabled", "Pass"), ("Enabled", "Pass"), ("disabled", "Warning"),
                                              ("Disabled", "Warning"), (None, "Error"), ("", "Error")])
def test_arm_audience_without_a_pod(status, expected):
    (f,) = run("registry-arm-audience", _armaud_world(status))
    assert f.status == expected, f.message
    if expected == "Warning":
        assert f.remediation == "az acr config authentication-as-arm update -r myacr --status enabled"


def test_arm_audience_disabled_fails_on_a_token_401_for_that_registry():
    (f,) = run("registry-arm-audience", _armaud_world("disabled", pod="web", error=NAP_OAUTH))
    assert f.status == "Fail" and "oauth-token 401" in f.message
    assert f.evidence["failedPulls"][0]["token"] == "oauth"


def test_arm_audience_disabled_ignores_another_registrys_error_and_other_failures():
    other = "other.azurecr.io/app:1"
    for image, error in ((other, OAUTH.split(": ", 1)[1].replace("myacr.azurecr.io/app:1", other)),
                         (ARMAUD_IMAGE, 'failed to do request: Head "https://myacr.azurecr.io/v2/web/manifests/1.4": '
                                        "dial tcp 10.0.0.5:443: i/o timeout")):
        (f,) = run("registry-arm-audience", _armaud_world("disabled", pod="web", image=image, error=error))
        assert f.status == "Warning", f.message


def test_arm_audience_in_another_subscription_names_it():
    (f,) = run("registry-arm-audience", _armaud_world("disabled", sub=SUB2))
    assert f.remediation.endswith("--status enabled --subscription " + SUB2)


# --- B.tenant ---------------------------------------------------------------------------------------------------

def _tenant_world(sub=SUBSCRIPTION, tenant=None, kind="kubeletIdentity"):
    """A cluster and registry myacr in ``sub``, whose Entra tenant is ``tenant`` (the world's own by default); the
    cluster runs as a kubelet identity or as a service principal. The test's login is signed in to ``tenant`` too,
    and names the registry by id: Resource Graph does not show another tenant's subscriptions, ARM is read."""
    w = World("unit-tenant")
    w.subs.setdefault(sub, "Other")
    if tenant:
        w.sub_tenants[sub.lower()] = tenant
    if kind == "kubeletIdentity":
        cluster = w.cluster("aks1", "rg1")
    else:
        cluster = w.cluster("aks1", "rg1", identity="sp", sp=w.service_principal("aks1-sp", password_end=[
            w.created + timedelta(days=365)]))
    registry = w.registry("myacr", "rg1", subscription=sub)
    assert cluster
    if tenant:
        return world_facts(populate(w), registry=("id", registry["id"]), tenants=(tenant,))
    return world_facts(populate(w), registry=("name", "myacr"))


def _partner_world(signed_in=False, faults=None):
    """The beyond-tenant-other scenario's world: registry partneracr in subscription PARTNER_SUB of another Entra
    tenant, named by id; the test's login signed in to that tenant too when ``signed_in``; ``faults``: ARM answers
    injected by path."""
    from tests.simulator.scenarios import build
    from tests.simulator.scenarios.beyond import PARTNER_TENANT
    w = build("beyond-tenant-other")
    rid = next(r["id"] for r in w.arm.values() if r.get("name") == "partneracr")
    return world_facts(w, registry=("id", rid), tenants=(PARTNER_TENANT,) if signed_in else (), faults=faults)


def _asking(facts):
    """Record the subscriptions whose tenant a check asks for."""
    asked, tenant_of = [], facts.subscription_tenant

    def subscription_tenant(subscription):
        asked.append(subscription)
        return tenant_of(subscription)
    facts.subscription_tenant = subscription_tenant
    return facts, asked


def test_same_subscription_passes_without_asking_for_tenants():
    facts, asked = _asking(_tenant_world())
    (f,) = run("registry-tenant", facts)
    assert f.status == "Pass" and asked == []


def test_another_subscription_of_the_same_tenant_passes():
    (f,) = run("registry-tenant", _tenant_world(sub=SUB2))
    assert f.status == "Pass" and "same" not in f.message and "another subscription" in f.message


@pytest.mark.parametrize("kind, status", [("kubeletIdentity", "Fail"), ("servicePrincipal", "Warning")])
def test_another_tenant_fails_only_for_a_managed_identity(kind, status):
    # Resource Graph shows no subscription of another tenant: the registry and its subscription are ARM's answers.
    facts = _tenant_world(sub=SUB2, tenant=OTHER, kind=kind)
    (f,) = run("registry-tenant", facts)
    assert f.status == status and OTHER in f.message and facts.world.tenant_id in f.message
    assert f.evidence["tenantFrom"] == "subscription"
    arm = [(e["path"].lower(), e["status"]) for e in facts.data.rest.log if SUB2 in e["path"]]
    assert arm == [(facts.registries()[0]["id"].lower(), 200), ("/subscriptions/" + SUB2, 200)], arm


def test_arms_refusal_names_the_tenant_of_a_registry_that_cannot_be_read():
    from tests.simulator.scenarios.beyond import PARTNER_TENANT
    facts = _partner_world()
    (f,) = run("registry-tenant", facts)
    assert f.status == "Fail" and f.evidence["tenantFrom"] == "InvalidAuthenticationTokenTenant"
    assert f.evidence["registryTenant"] == PARTNER_TENANT
    assert "--docker-server partneracr.azurecr.io" in f.remediation
    refused = [e for e in facts.data.rest.log if e["status"] == 401]
    assert len(refused) == 1 and refused[0]["path"].lower().endswith("/registries/partneracr"), refused


def test_unknown_tenant_is_an_error_not_a_verdict():
    from tests.simulator.scenarios.beyond import PARTNER_SUB
    path = "/subscriptions/" + PARTNER_SUB
    busy = {"error": {"code": "ServerBusy", "message": "The server is currently unable to handle the request."}}
    with pytest.raises(FactError):   # the runner reports it as Error with the reason
        run("registry-tenant", _partner_world(signed_in=True, faults={path: (503, busy)}))
    # ARM answers the subscription without its tenant.
    facts = _partner_world(signed_in=True, faults={path: (200, {"id": path, "subscriptionId": PARTNER_SUB,
                                                                 "displayName": "Fabrikam Shared Registry",
                                                                 "state": "Enabled"})})
    (f,) = run("registry-tenant", facts)
    assert f.status == "Error"


def test_foreign_tenant_reads_arms_message():
    err = FactError("reading registry myacr failed with HTTP 401: (InvalidAuthenticationTokenTenant) " + ARM_MESSAGE,
                    401, "InvalidAuthenticationTokenTenant")
    assert foreign_tenant(err) == (HOME, OTHER)
    assert foreign_tenant(FactError("x " + ARM_MESSAGE, 401, "InvalidAuthenticationToken")) is None
    assert foreign_tenant(FactError("x " + ARM_MESSAGE, 403, "InvalidAuthenticationTokenTenant")) is None


# --- B.drift ----------------------------------------------------------------------------------------------------

def _drift_world(change=None):
    """A kubelet-identity cluster with one availability-set pool and registry myacr; ``change`` the kubelet identity
    as someone did: "recreated" (same name, new principal), "deleted", or "upper" (its principal id read back in
    upper case)."""
    w = World("unit-drift")
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "type": "AvailabilitySet"}])
    registry = w.registry("myacr", "rg1")
    kubelet = cluster["properties"]["identityProfile"]["kubeletidentity"]
    if change == "recreated":
        w.recreate_identity(kubelet["resourceId"])
    elif change == "deleted":
        w.delete_identity(kubelet["resourceId"])
    elif change == "upper":
        props = w.arm[kubelet["resourceId"].lower()]["properties"]
        props["principalId"] = props["principalId"].upper()
    return world_facts(populate(w), registry=("name", "myacr")), dict(kubelet), registry, w


def test_identity_that_matches_the_profile_adds_no_finding():
    findings = run("kubelet-identity-vmss", _drift_world("upper")[0])
    assert [f.status for f in findings] == ["Skipped"]       # the availability-set pool; ids compare case-blind


def test_recreated_identity_names_both_principals_and_the_three_steps():
    facts, kubelet, registry, world = _drift_world("recreated")
    findings = run("kubelet-identity-vmss", facts)
    new = world.arm[kubelet["resourceId"].lower()]["properties"]
    drift = findings[0]
    assert drift.status == "Fail" and drift.target == "kubelet identity aks1-agentpool"
    for value in (kubelet["objectId"], kubelet["clientId"], new["principalId"], new["clientId"]):
        assert value in drift.message
    steps = drift.remediation.split(" && ")
    assert "--assign-kubelet-identity " + kubelet["resourceId"] in steps[0]
    assert "<user-assigned control plane" in steps[0]
    assert steps[1] == "az aks nodepool upgrade -g rg1 --cluster-name aks1 -n nodepool1 --node-image-only"
    assert steps[2] == "az aks update -g rg1 -n aks1 --attach-acr " + registry["id"]


def test_deleted_identity_is_created_again_first():
    drift = run("kubelet-identity-vmss", _drift_world("deleted")[0])[0]
    assert drift.status == "Fail" and "no longer exists" in drift.message
    assert drift.remediation.startswith("az identity create -g MC_rg1_aks1_eastus -n aks1-agentpool && ")


# --- B.nap ------------------------------------------------------------------------------------------------------

def _nap_world(mode="Auto", may_pull=True, pod="web", error=None):
    """The beyond-nap scenario's world (the e2e tests' own), changed as each case says: the node provisioning mode,
    whether the kubelet identity holds AcrPull, and pod web's pull error when it is not the one its node gets."""
    w = World("unit-nap")
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "mode": "System"}])
    registry = w.registry("myacr", "rg1")
    push(w, registry, "web", "1.4", ["linux/amd64"])
    nodes(w, cluster)
    if mode:
        cluster["properties"]["nodeProvisioningProfile"] = {"mode": mode, "defaultNodePools": "Auto"}
    provisioned_node(w, cluster, "aks-default-x7k2p")
    if may_pull:
        w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    if error is None:
        failing_pod(w, cluster, "web", NAP_IMAGE, "aks-default-x7k2p")
    else:
        web = sim_pod(w, cluster, "web", [{"name": "app", "image": NAP_IMAGE}], node="aks-default-x7k2p",
                      deployment="web")
        pull_failure(w, cluster, web, "app", error)
    sim_pod(w, cluster, "api", [{"name": "app", "image": NAP_IMAGE}], node=node_name(w, cluster, "nodepool1"),
            deployment="api")
    return world_facts(populate(w), pod=pod)


NAP_IMAGE = "myacr.azurecr.io/web:1.4"
NAP_OAUTH = ('failed to pull and unpack image "{0}": failed to resolve reference "{0}": failed to authorize: failed '
             "to fetch oauth token: unexpected status: 401 Unauthorized".format(NAP_IMAGE))


@pytest.mark.parametrize("case, status, words", [
    ({}, "Fail", "node pool default"),
    ({"may_pull": False}, "Warning", "holds no pull role"),
    ({"error": NAP_OAUTH}, "Pass", "no pull error of the pod says it offered no credential"),
    ({"pod": "api"}, "Pass", "scale set node of pool nodepool1"),
    ({"mode": "Manual"}, "Skipped", "mode is Manual"),
    ({"mode": None}, "Skipped", "mode is not set"),
])
def test_node_provisioning_identity(case, status, words):
    (f,) = run("node-provisioning-identity", _nap_world(**case))
    assert f.status == status and words in f.message, f.message
