"""Fleet scenarios: several clusters across subscriptions sharing registries, as a platform team runs them.

Both registries live in a shared-services subscription. `contosoacr` is public but allows selected networks only
(the egress IPs of the clusters); every cluster pulls from it. `contosoprivate` has public access disabled and a
private endpoint in the hub VNet, with the privatelink zone linked to the hub and to the spokes of the clusters
that pull from it. Management groups: production and staging under `contoso-workloads`, shared services under
`contoso-platform`, all under `contoso`.
"""
from datetime import datetime, timedelta, timezone

from .. import network_builders as nb
from ..world import SUBSCRIPTION, World, guid
from . import scenario

PROD = SUBSCRIPTION
STAGING = "2d036ef4-e00f-4b08-b78d-2c214625dded"
SHARED = "bbc2b64e-afa1-45e2-a4b2-7d5761938f95"
REGISTRY = "contosoacr"
PRIVATE_REGISTRY = "contosoprivate"
PE_IPS = {"contosoprivate.azurecr.io": "10.0.2.5", "contosoprivate.eastus.data.azurecr.io": "10.0.2.6"}

# name -> (subscription, resource group, what is wrong with it)
CLUSTERS = {
    "aks-prod-web": (PROD, "rg-prod", "healthy: pulls from contosoacr over the internet (its egress IP allowed) "
                                      "with AcrPull held by a group of node identities"),
    "aks-prod-api": (PROD, "rg-prod", "healthy: also pulls from contosoprivate through the private endpoint"),
    "aks-prod-edge": (PROD, "rg-edge", "the privatelink zone lost its link to the cluster's spoke (C3.S1)"),
    "aks-legacy": (PROD, "rg-legacy", "service principal cluster whose only secret expired (C1.S2); its pull role "
                                      "is inherited from the management group contoso"),
    "aks-stg-web": (STAGING, "rg-stg", "lost its pull role in a role clean-up (C1.S1)"),
    "aks-stg-batch": (STAGING, "rg-stg", "behind contosoacr's firewall without its egress IP (C3.S2)"),
}
# What fails where: cluster -> (check, registry)
BROKEN = {"aks-prod-edge": ("private-dns-link", PRIVATE_REGISTRY), "aks-legacy": ("sp-credential-expiry", None),
          "aks-stg-web": ("acr-role-assignment", REGISTRY), "aks-stg-batch": ("acr-network-rules", REGISTRY)}
HEALTHY = ("aks-prod-web", "aks-prod-api")


def kubelet_object_id(cluster):
    return cluster["properties"]["identityProfile"]["kubeletidentity"]["objectId"]


def egress_ip(w, cluster):
    ref = cluster["properties"]["networkProfile"]["loadBalancerProfile"]["effectiveOutboundIPs"][0]["id"]
    return w.arm[ref.lower()]["properties"]["ipAddress"]


def registry_id(name=REGISTRY):
    return "/subscriptions/{}/resourceGroups/rg-registry/providers/Microsoft.ContainerRegistry/registries/{}".format(
        SHARED, name)


def _private_cluster(w, name, rg, subscription, octet, hub, zone, link=True):
    spoke = nb.vnet(w, rg, name + "-vnet", ["10.{}.0.0/16".format(octet)],
                    [{"name": "nodes", "prefix": "10.{}.0.0/22".format(octet)}], subscription=subscription)
    nb.peer_both(w, spoke, hub)
    if link:
        nb.zone_link(w, zone, spoke)
    return w.cluster(name, rg, subscription=subscription,
                     pools=[{"name": "nodepool1", "vnetSubnetID": nb.subnet_id(spoke, "nodes")}])


@scenario("fleet-mixed", "Six clusters in two subscriptions share registries in a third: one lost its pull role, "
                         "one is behind the registry firewall without its egress IP, one lost its DNS link, one has "
                         "an expired service principal; the other two are healthy.")
def fleet_mixed():
    w = World("fleet-mixed")
    w.subs[STAGING] = "Contoso Staging"
    w.subs[SHARED] = "Contoso Shared Services"
    w.management_groups = {PROD: ["contoso-workloads", "contoso"], STAGING: ["contoso-workloads", "contoso"],
                           SHARED: ["contoso-platform", "contoso"]}
    hub = nb.vnet(w, "rg-hub", "hub-vnet", ["10.0.0.0/16"], [{"name": "pe-subnet", "prefix": "10.0.2.0/24"}],
                  subscription=SHARED)
    registry = w.registry(REGISTRY, "rg-registry", subscription=SHARED,
                          networkRuleSet={"defaultAction": "Deny", "ipRules": []})
    private = w.registry(PRIVATE_REGISTRY, "rg-registry", subscription=SHARED, publicNetworkAccess="Disabled",
                         networkRuleSet={"defaultAction": "Deny", "ipRules": []})
    nb.private_endpoint(w, private, nb.subnet_id(hub, "pe-subnet"), PE_IPS, rg="rg-hub")
    zone = nb.private_dns_zone(w, "rg-dns", subscription=SHARED)
    nb.zone_link(w, zone, hub)
    nb.registry_records(w, zone, private, PE_IPS)

    clusters = {
        "aks-prod-web": w.cluster("aks-prod-web", "rg-prod", subscription=PROD),
        "aks-prod-api": _private_cluster(w, "aks-prod-api", "rg-prod", PROD, 11, hub, zone),
        "aks-prod-edge": _private_cluster(w, "aks-prod-edge", "rg-edge", PROD, 12, hub, zone, link=False),
        "aks-stg-web": w.cluster("aks-stg-web", "rg-stg", subscription=STAGING),
        "aks-stg-batch": w.cluster("aks-stg-batch", "rg-stg", subscription=STAGING),
    }
    sp = w.service_principal("aks-legacy-sp", password_end=[datetime.now(timezone.utc) - timedelta(days=20)])
    clusters["aks-legacy"] = w.cluster("aks-legacy", "rg-legacy", identity="sp", sp=sp, subscription=PROD)
    # The legacy cluster's pull role comes from the management group that holds every subscription.
    w.assign("/providers/Microsoft.Management/managementGroups/contoso", "AcrPull", sp["objectId"])
    # The web cluster pulls through a group of node identities that holds AcrPull.
    pullers = {"id": guid("grp/fleet-web-pullers"), "displayName": "web-node-identities",
               "members": [kubelet_object_id(clusters["aks-prod-web"])]}
    w.graph.setdefault("groups", []).append(pullers)
    w.assign(registry["id"], "AcrPull", pullers["id"], principal_type="Group")
    for name, cluster in clusters.items():
        if name not in ("aks-stg-web", "aks-legacy", "aks-prod-web"):
            w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
        if name in ("aks-prod-api", "aks-prod-edge"):
            w.assign(private["id"], "AcrPull", kubelet_object_id(cluster))
        if name != "aks-stg-batch":
            registry["properties"]["networkRuleSet"]["ipRules"].append(
                {"action": "Allow", "value": egress_ip(w, cluster)})
    # What a real tenant has besides: roles on other scopes, a registry nobody pulls from.
    other = w.registry("contosoarchive", "rg-registry", subscription=SHARED)
    w.assign(other["id"], "AcrPush", "7d9c1e55-4b8a-4f0e-9c3d-2a6b8e1f0c4d", principal_type="User")
    w.assign("/subscriptions/{}/resourceGroups/rg-stg".format(STAGING), "Contributor",
             kubelet_object_id(clusters["aks-stg-web"]))
    return w


@scenario("fleet-shared-registry", "Four managed-identity clusters share one registry: two pull, one's kubelet "
                                   "identity was recreated and AcrPull stayed with its old principal (C1.S3), one "
                                   "simply has no pull role (C1.S1).")
def fleet_shared_registry():
    from .auth import recreate_kubelet_identity
    w = World("fleet-shared-registry")
    registry = w.registry("sharedacr", "rg-shared")
    clusters = {name: w.cluster(name, "rg-teams") for name in ("aks-team-a", "aks-team-b", "aks-team-c",
                                                               "aks-team-d")}
    for name in ("aks-team-a", "aks-team-b"):
        w.assign(registry["id"], "AcrPull", kubelet_object_id(clusters[name]))
    w.assign(registry["id"], "AcrPull", recreate_kubelet_identity(w, clusters["aks-team-c"]))
    return w
