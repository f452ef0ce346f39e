"""Beyond the article (B.*): identities, tokens and registry policy. Each pod's pull error is the one the world
gives its node's kubelet (``pods.kubelet_pull_error``), never written by hand."""
from ..pods import failing_pod, node_name, nodes, provisioned_node
from ..registry_content import push
from ..world import World
from . import scenario
from .foundation import kubelet_object_id

IMAGE = "myacr.azurecr.io/web:1.4"


def _mi(name):
    w = World(name)
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "mode": "System"}])
    registry = w.registry("myacr", "rg1")
    # The pod's image exists: its pull fails for the reason each scenario names, not for a missing image (which the
    # operator, Owner of the subscription in the default tenant, can see).
    push(w, registry, "web", "1.4", ["linux/amd64"])
    nodes(w, cluster)
    return w, cluster, registry


@scenario("beyond-armaud-disabled", "The registry refuses ARM-audience tokens (azureADAuthenticationAsArmPolicy "
                                    "disabled, as an Azure Policy with effect Modify sets it); the kubelet identity "
                                    "holds AcrPull, yet pod web cannot pull (B.armaud).")
def armaud_disabled():
    w, cluster, registry = _mi("beyond-armaud-disabled")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    registry["properties"]["policies"]["azureADAuthenticationAsArmPolicy"]["status"] = "disabled"
    failing_pod(w, cluster, "web", IMAGE, node_name(w, cluster, "nodepool1"))
    return w


@scenario("beyond-armaud-role-missing", "The registry accepts ARM-audience tokens but the kubelet identity holds no "
                                        "pull role: pod web's pull is refused with an oauth-token 401.")
def armaud_role_missing():
    w, cluster, _ = _mi("beyond-armaud-role-missing")
    failing_pod(w, cluster, "web", IMAGE, node_name(w, cluster, "nodepool1"))
    return w


def _kubelet_id(cluster):
    return cluster["properties"]["identityProfile"]["kubeletidentity"]["resourceId"]


@scenario("beyond-drift-recreated", "Someone deleted the kubelet identity and created it again with the same name: "
                                    "the cluster's profile, the scale set and AcrPull keep the old principal "
                                    "(B.drift).")
def drift_recreated():
    w, cluster, registry = _mi("beyond-drift-recreated")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    w.recreate_identity(_kubelet_id(cluster))
    failing_pod(w, cluster, "web", IMAGE, node_name(w, cluster, "nodepool1"))
    return w


@scenario("beyond-drift-deleted", "Someone deleted the kubelet identity; the cluster's profile still names it "
                                  "(B.drift).")
def drift_deleted():
    w, cluster, registry = _mi("beyond-drift-deleted")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    w.delete_identity(_kubelet_id(cluster))
    failing_pod(w, cluster, "web", IMAGE, node_name(w, cluster, "nodepool1"))
    return w


PARTNER_SUB = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"
PARTNER_TENANT = "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b"


@scenario("beyond-tenant-other", "The registry partneracr lives in a subscription of another Entra tenant; the "
                                 "managed-identity cluster cannot be granted a role there (B.tenant).")
def tenant_other():
    w, cluster, _ = _mi("beyond-tenant-other")
    w.subs[PARTNER_SUB] = "Fabrikam Shared Registry"
    w.sub_tenants[PARTNER_SUB.lower()] = PARTNER_TENANT
    w.registry("partneracr", "rg-registry", subscription=PARTNER_SUB)
    failing_pod(w, cluster, "web", "partneracr.azurecr.io/web:1.4", node_name(w, cluster, "nodepool1"))
    return w


@scenario("beyond-wi", "AcrPull was granted to the workload identity named on pod web's service account, not to the "
                       "kubelet identity (B.wi).")
def workload_identity():
    w, cluster, registry = _mi("beyond-wi")
    _workload_account(w, cluster, registry)
    failing_pod(w, cluster, "web", IMAGE, node_name(w, cluster, "nodepool1"), service_account="web")
    return w


def _workload_account(w, cluster, registry, name="web"):
    """A workload identity with AcrPull on the registry, named on service account ``name`` (azure.workload.identity)."""
    workload = w.user_assigned_identity("rg1", name + "-wi")
    w.assign(registry["id"], "AcrPull", workload["properties"]["principalId"])
    w.kube_object(cluster, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
        "name": name, "namespace": "default", "labels": {"azure.workload.identity/use": "true"},
        "annotations": {"azure.workload.identity/client-id": workload["properties"]["clientId"]}}})
    return workload


@scenario("beyond-wi-attached", "The workload identity on pod web's service account and the kubelet identity both "
                                "hold AcrPull; the pod fails because the registry refuses ARM-audience tokens "
                                "(B.wi passes).")
def workload_identity_attached():
    w, cluster, registry = _mi("beyond-wi-attached")
    _workload_account(w, cluster, registry)
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    registry["properties"]["policies"]["azureADAuthenticationAsArmPolicy"]["status"] = "disabled"
    failing_pod(w, cluster, "web", IMAGE, node_name(w, cluster, "nodepool1"), service_account="web")
    return w


def _nap(name):
    w, cluster, registry = _mi(name)
    cluster["properties"]["nodeProvisioningProfile"] = {"mode": "Auto", "defaultNodePools": "Auto"}
    provisioned_node(w, cluster, "aks-default-x7k2p")
    return w, cluster, registry


@scenario("beyond-nap", "Node auto-provisioning made node aks-default-x7k2p, which presents no identity: pod web on it "
                        "cannot pull although the kubelet identity holds AcrPull, while pod api on a scale set node "
                        "pulls fine (B.nap).")
def nap():
    w, cluster, registry = _nap("beyond-nap")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    failing_pod(w, cluster, "web", IMAGE, "aks-default-x7k2p")
    from ..pods import pod
    pod(w, cluster, "api", [{"name": "app", "image": IMAGE}], node=node_name(w, cluster, "nodepool1"),
        deployment="api")
    return w
