"""B.armaud, B.tenant and B.drift on plain facts: what each verdict rests on."""
import pytest

from azext_acrpull.diagnose.catalog import catalog
from azext_acrpull.diagnose.facts import FactError
from azext_acrpull.diagnose.facts.arm import foreign_tenant
from azext_acrpull.diagnose.request import DiagnoseRequest
from tests.simulator.facts import world_facts
from tests.simulator.pods import failing_pod, node_name, nodes, provisioned_node, pull_failure
from tests.simulator.pods import pod as sim_pod
from tests.simulator.registry_content import push
from tests.simulator.scenarios.foundation import kubelet_object_id
from tests.simulator.tenant import populate
from tests.simulator.world import World

SUB, SUB2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
HOME, OTHER = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"
RID = "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myacr"
KUBELET = "/subscriptions/{}/resourcegroups/MC_rg1_aks1_eastus/providers/Microsoft.ManagedIdentity/" \
    "userAssignedIdentities/aks1-agentpool".format(SUB)
OAUTH = ('Failed to pull image "myacr.azurecr.io/app:1": failed to pull and unpack image "myacr.azurecr.io/app:1": '
         "failed to resolve reference \"myacr.azurecr.io/app:1\": failed to authorize: failed to fetch oauth token: "
         "unexpected status: 401 Unauthorized")
ARM_MESSAGE = ("The access token is from the wrong issuer 'https://sts.windows.net/{}/'. It must match the tenant "
               "'https://sts.windows.net/{}/' associated with this subscription. Please use the authority (URL) "
               "'https://login.windows.net/{}' to get the token.".format(HOME, OTHER, OTHER))


def registry(status="enabled", sub=SUB):
    policies = {"exportPolicy": {"status": "enabled"}}
    if status is not None:
        policies["azureADAuthenticationAsArmPolicy"] = {"status": status}
    return {"id": RID.format(sub), "name": "myacr",
            "properties": {"loginServer": "myacr.azurecr.io", "policies": policies}}


class FakeFacts:
    def __init__(self, registries=(), pod=None, containers=(), events=(), tenants=None, kind="kubeletIdentity",
                 lookups=None, identity_resource="same"):
        self.request = DiagnoseRequest("rg1", "aks1", pod=pod)
        self._registries = list(registries)
        self._containers, self._events = list(containers), list(events)
        self._tenants = tenants or {SUB: HOME}
        self._lookups = lookups
        self.asked = []
        self._kind = kind
        self._identity_resource = identity_resource
        self.cluster_name, self.cluster_resource_group = "aks1", "rg1"

    def registries(self):
        return self._registries

    def registry_lookups(self):
        if self._lookups is not None:
            return self._lookups
        return [{"name": r["name"], "given": r["id"], "registry": r} for r in self._registries]

    def pull_identity(self):
        if self._kind == "kubeletIdentity":
            return {"kind": "kubeletIdentity", "objectId": "oid-1", "clientId": "cid-1", "resourceId": KUBELET,
                    "name": "aks1-agentpool"}
        return {"kind": "servicePrincipal", "clientId": "app-1", "objectId": "sp-1", "name": "aks1-sp",
                "exists": True}

    def cluster_subscription(self):
        return SUB

    def cluster(self):
        return {"id": "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/"
                      "aks1".format(SUB), "identity": {"type": "SystemAssigned"}, "properties": {}}

    def node_pools(self):
        return [{"name": "nodepool1", "type": "AvailabilitySet"}]

    def node_vmss(self):
        return []

    def prefetch(self, *reads):
        pass

    def subscription_tenant(self, sub):
        self.asked.append(sub)
        if sub not in self._tenants:
            raise FactError("unknown subscription")
        return self._tenants[sub]

    def user_assigned_identity(self, resource_id):
        if self._identity_resource is None:
            return None
        if self._identity_resource == "same":
            return {"id": resource_id, "properties": {"principalId": "OID-1", "clientId": "cid-1"}}
        return {"id": resource_id, "properties": {"principalId": "oid-2", "clientId": "cid-2"}}

    def diagnosed_pods(self):
        """The run's pods (the --pod here), as LiveFacts gives them."""
        pod = self.request.pod
        return [{"metadata": {"name": pod, "namespace": self.request.namespace}}] if pod else []

    def pod_containers(self, pod=None):
        return self._containers

    def pod_events(self, namespace, name):
        return self._events


def run(check_id, facts):
    chk = next(c for c in catalog() if c.check_id == check_id)
    return chk.func(chk, facts)


def waiting(image="myacr.azurecr.io/app:1", message=OAUTH):
    return {"name": "app", "kind": "container", "image": image, "imagePullPolicy": "IfNotPresent",
            "status": {"state": {"waiting": {"reason": "ImagePullBackOff", "message": message}}}}


# --- B.armaud ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, expected", [("enabled", "Pass"), ("Enabled", "Pass"), ("disabled", "Warning"),
                                              ("Disabled", "Warning"), (None, "Error"), ("", "Error")])
def test_arm_audience_without_a_pod(status, expected):
    (f,) = run("registry-arm-audience", FakeFacts([registry(status)]))
    assert f.status == expected, f.message
    if expected == "Warning":
        assert f.remediation == "az acr config authentication-as-arm update -r myacr --status enabled"


def test_arm_audience_disabled_fails_on_a_token_401_for_that_registry():
    facts = FakeFacts([registry("disabled")], pod="web", containers=[waiting()])
    (f,) = run("registry-arm-audience", facts)
    assert f.status == "Fail" and "oauth-token 401" in f.message
    assert f.evidence["failedPulls"][0]["token"] == "oauth"


def test_arm_audience_disabled_ignores_another_registrys_error_and_other_failures():
    for container in (waiting(image="other.azurecr.io/app:1"),
                      waiting(message='Failed to pull image "myacr.azurecr.io/app:1": failed to do request: Head '
                                      '"https://myacr.azurecr.io/v2/app/manifests/1": dial tcp 10.0.0.5:443: i/o '
                                      "timeout")):
        (f,) = run("registry-arm-audience", FakeFacts([registry("disabled")], pod="web", containers=[container]))
        assert f.status == "Warning", f.message


def test_arm_audience_in_another_subscription_names_it():
    (f,) = run("registry-arm-audience", FakeFacts([registry("disabled", SUB2)]))
    assert f.remediation.endswith("--status enabled --subscription " + SUB2)


# --- B.tenant ---------------------------------------------------------------------------------------------------

def test_same_subscription_passes_without_asking_for_tenants():
    facts = FakeFacts([registry()])
    (f,) = run("registry-tenant", facts)
    assert f.status == "Pass" and facts.asked == []


def test_another_subscription_of_the_same_tenant_passes():
    (f,) = run("registry-tenant", FakeFacts([registry(sub=SUB2)], tenants={SUB: HOME, SUB2: HOME}))
    assert f.status == "Pass" and "same" not in f.message and "another subscription" in f.message


@pytest.mark.parametrize("kind, status", [("kubeletIdentity", "Fail"), ("servicePrincipal", "Warning")])
def test_another_tenant_fails_only_for_a_managed_identity(kind, status):
    (f,) = run("registry-tenant", FakeFacts([registry(sub=SUB2)], tenants={SUB: HOME, SUB2: OTHER}, kind=kind))
    assert f.status == status and OTHER in f.message and HOME in f.message
    assert f.evidence["tenantFrom"] == "subscription"


def test_arms_refusal_names_the_tenant_of_a_registry_that_cannot_be_read():
    lookups = [{"name": "myacr", "given": RID.format(SUB2), "registry": None, "tenant": OTHER, "tokenTenant": HOME}]
    (f,) = run("registry-tenant", FakeFacts(lookups=lookups, tenants={SUB: HOME}))
    assert f.status == "Fail" and f.evidence["tenantFrom"] == "InvalidAuthenticationTokenTenant"
    assert "--docker-server myacr.azurecr.io" in f.remediation


def test_unknown_tenant_is_an_error_not_a_verdict():
    with pytest.raises(FactError):   # the runner reports it as Error with the reason
        run("registry-tenant", FakeFacts([registry(sub=SUB2)], tenants={SUB: HOME}))
    (f,) = run("registry-tenant", FakeFacts([registry(sub=SUB2)], tenants={SUB: HOME, SUB2: None}))
    assert f.status == "Error"


def test_foreign_tenant_reads_arms_message():
    err = FactError("reading registry myacr failed with HTTP 401: (InvalidAuthenticationTokenTenant) " + ARM_MESSAGE,
                    401, "InvalidAuthenticationTokenTenant")
    assert foreign_tenant(err) == (HOME, OTHER)
    assert foreign_tenant(FactError("x " + ARM_MESSAGE, 401, "InvalidAuthenticationToken")) is None
    assert foreign_tenant(FactError("x " + ARM_MESSAGE, 403, "InvalidAuthenticationTokenTenant")) is None


# --- B.drift ----------------------------------------------------------------------------------------------------

def test_identity_that_matches_the_profile_adds_no_finding():
    findings = run("kubelet-identity-vmss", FakeFacts([registry()]))
    assert [f.status for f in findings] == ["Skipped"]       # the availability-set pool; ids compare case-blind


def test_recreated_identity_names_both_principals_and_the_three_steps():
    findings = run("kubelet-identity-vmss", FakeFacts([registry()], identity_resource="recreated"))
    drift = findings[0]
    assert drift.status == "Fail" and drift.target == "kubelet identity aks1-agentpool"
    for value in ("oid-1", "cid-1", "oid-2", "cid-2"):
        assert value in drift.message
    steps = drift.remediation.split(" && ")
    assert "--assign-kubelet-identity " + KUBELET in steps[0] and "<user-assigned control plane" in steps[0]
    assert steps[1] == "az aks nodepool upgrade -g rg1 --cluster-name aks1 -n nodepool1 --node-image-only"
    assert steps[2] == "az aks update -g rg1 -n aks1 --attach-acr " + RID.format(SUB)


def test_deleted_identity_is_created_again_first():
    drift = run("kubelet-identity-vmss", FakeFacts([registry()], identity_resource=None))[0]
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
