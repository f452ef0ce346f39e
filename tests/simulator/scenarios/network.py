"""Network scenarios: Causes 3 and 4 (403 Forbidden, i/o timeout) and the path out of the node subnet.

Hub and spoke as Azure's reference architecture draws it: a hub VNet (10.0.0.0/16) in a connectivity
subscription holds the firewall, the registry's private endpoint and the privatelink zone; the cluster's nodes
sit in a spoke VNet (10.1.0.0/16) in the workload subscription.
"""
from .. import network_builders as nb
from ..pods import failing_pod, node_name, nodes, pod, pull_failure
from ..registry_content import push
from ..world import SUBSCRIPTION, World
from . import scenario
from .auth import dockerconfig_secret

HUB_SUB = "9c1e4b7a-2f3d-4a5b-8c6d-7e8f9a0b1c2d"
PE_IPS = {"myacr.azurecr.io": "10.0.2.5", "myacr.eastus.data.azurecr.io": "10.0.2.6"}
FIREWALL_IP = "10.0.1.4"
FIREWALL_PUBLIC_IP = "52.160.40.7"
PRIVATE_PULL_PASSWORD = "sim-private-pull-pw-MARKER-5e1f"   # must never reach az's output


def kubelet_object_id(cluster):
    return cluster["properties"]["identityProfile"]["kubeletidentity"]["objectId"]


def _spoke(w, rg="rg1", subnet_kwargs=None):
    return nb.vnet(w, rg, "spoke-vnet", ["10.1.0.0/16"],
                   [dict({"name": "aks-nodes", "prefix": "10.1.0.0/22"}, **(subnet_kwargs or {}))])


def _hub(w, pe_policies="Disabled", policy=None):
    """The hub VNet with its Azure Firewall (10.0.1.4, public IP 52.160.40.7) and a subnet for private endpoints;
    ``policy``: a function of the world that makes the firewall policy and returns its id."""
    w.subs[HUB_SUB] = "Contoso Connectivity"
    hub = nb.vnet(w, "rg-hub", "hub-vnet", ["10.0.0.0/16"], [
        {"name": "AzureFirewallSubnet", "prefix": "10.0.1.0/26"},
        {"name": "pe-subnet", "prefix": "10.0.2.0/24", "private_endpoint_policies": pe_policies}],
        subscription=HUB_SUB)
    pip = nb.public_ip(w, "rg-hub", "hub-fw-pip", FIREWALL_PUBLIC_IP, subscription=HUB_SUB)
    nb.azure_firewall(w, "rg-hub", "hub-fw", nb.subnet_id(hub, "AzureFirewallSubnet"), FIREWALL_IP, pip["id"],
                      subscription=HUB_SUB, policy=policy(w) if policy else None)
    return hub


def _cluster(w, spoke, **kwargs):
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "vnetSubnetID": nb.subnet_id(spoke, "aks-nodes")}],
                        **kwargs)
    return cluster


def hub_and_spoke(name, link_spoke=True, peering=("Connected", "Connected"), skip_records=(), pe_policies="Disabled",
                  spoke_subnet=None, replica=None, public=None):
    """A private registry (public access Disabled; ``public`` "all" opens it to all networks as well, "selected" to
    the IP rules it is given) reached through a private endpoint in the hub."""
    w = World(name)
    hub = _hub(w, pe_policies)
    spoke = _spoke(w, subnet_kwargs=spoke_subnet(w) if spoke_subnet else None)
    if peering[0]:
        nb.peer(w, spoke, hub, peering[0])
    if peering[1]:
        nb.peer(w, hub, spoke, peering[1])
    cluster = _cluster(w, spoke)
    registry = w.registry("myacr", "rg1", publicNetworkAccess="Enabled" if public else "Disabled",
                          networkRuleSet={"defaultAction": "Allow" if public == "all" else "Deny", "ipRules": []})
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    addresses = dict(PE_IPS)
    if replica:
        replication(w, registry, replica)
        addresses["myacr.{}.data.azurecr.io".format(replica)] = "10.0.2.7"
    nb.private_endpoint(w, registry, nb.subnet_id(hub, "pe-subnet"), addresses, rg="rg-hub")
    zone = nb.private_dns_zone(w, "rg-dns", subscription=HUB_SUB)
    nb.zone_link(w, zone, hub)
    if link_spoke:
        nb.zone_link(w, zone, spoke)
    nb.registry_records(w, zone, registry, addresses, skip=skip_records)
    return w


def replication(w, registry, location):
    rid = "{}/replications/{}".format(registry["id"], location)
    return w.put({"id": rid, "name": location, "type": "Microsoft.ContainerRegistry/registries/replications",
                  "location": location, "tags": {}, "systemData": registry["systemData"],
                  "properties": {"provisioningState": "Succeeded", "status": {"displayStatus": "Ready"},
                                 "regionEndpointEnabled": True, "zoneRedundancy": "Disabled"}})


# -- C3.S1 private DNS, C4.S1 peering ---------------------------------------------------------------
@scenario("net-hub-spoke-healthy", "Private registry; endpoint and privatelink zone in the hub (another "
                                   "subscription), zone linked to the spoke, peered both ways, records right.")
def net_hub_spoke_healthy():
    return hub_and_spoke("net-hub-spoke-healthy")


@scenario("net-hub-spoke-no-link", "Hub and spoke; the privatelink zone is linked to the hub only, so the spoke "
                                   "resolves the registry publicly and gets 403 (C3.S1).")
def net_hub_spoke_no_link():
    return hub_and_spoke("net-hub-spoke-no-link", link_spoke=False)


@scenario("net-public-endpoint-elsewhere", "The registry is open to all networks and also has a private endpoint in "
                                           "the hub for other workloads; the spoke is neither linked to the zone nor "
                                           "peered, so it pulls publicly, and that works.")
def net_public_endpoint_elsewhere():
    return hub_and_spoke("net-public-endpoint-elsewhere", link_spoke=False, peering=(None, None), public="all")


def _selected_endpoint_elsewhere(name, allow_cluster):
    w = hub_and_spoke(name, link_spoke=False, peering=(None, None), public="selected")
    registry = next(r for k, r in w.arm.items() if k.endswith("/registries/myacr"))
    cluster = next(r for k, r in w.arm.items() if k.endswith("/managedclusters/aks1"))
    rules = registry["properties"]["networkRuleSet"]["ipRules"]
    rules.append({"action": "Allow", "value": "198.51.100.0/24"})
    if allow_cluster:
        rules.append({"action": "Allow", "value": lb_ip(w, cluster)})
    return w


@scenario("net-selected-endpoint-elsewhere", "The registry allows selected networks, the cluster's load balancer IP "
                                             "among them, and has a private endpoint in the hub the spoke does not "
                                             "use: it pulls publicly, and that works.")
def net_selected_endpoint_elsewhere():
    return _selected_endpoint_elsewhere("net-selected-endpoint-elsewhere", allow_cluster=True)


@scenario("net-selected-endpoint-unused", "As net-selected-endpoint-elsewhere, but the cluster's IP is not allowed: "
                                          "its public pulls get 403 and the endpoint is neither linked nor peered "
                                          "(C3.S1, C3.S2, C4.S1).")
def net_selected_endpoint_unused():
    return _selected_endpoint_elsewhere("net-selected-endpoint-unused", allow_cluster=False)


@scenario("net-data-record-missing", "Zone linked to the spoke, but the A record of the West Europe replica's data "
                                     "endpoint is missing (C3.S1).")
def net_data_record_missing():
    return hub_and_spoke("net-data-record-missing", replica="westeurope",
                         skip_records=("myacr.westeurope.data.azurecr.io",))


@scenario("net-peering-one-way", "The spoke is peered to the hub, but the hub has no peering back: state Initiated "
                                 "(C4.S1).")
def net_peering_one_way():
    return hub_and_spoke("net-peering-one-way", peering=("Initiated", None))


@scenario("net-peering-disconnected", "The hub's peering was deleted and recreated: the spoke's side is "
                                      "Disconnected (C4.S1).")
def net_peering_disconnected():
    return hub_and_spoke("net-peering-disconnected", peering=("Disconnected", "Initiated"))


# -- C4.S2 / M.fw route table, M.nsg --------------------------------------------------------------------
def _hub_firewall_routes(w, prefix):
    return nb.route_table(w, "rg1", "spoke-routes", [("to-firewall", prefix, "VirtualAppliance", FIREWALL_IP)])["id"]


@scenario("net-route-to-firewall", "Hub and spoke with Azure Firewall: the node subnet routes the hub's range to the "
                                   "firewall and the endpoint's subnet has route-table network policies on, so "
                                   "registry traffic goes through the firewall (C4.S2).")
def net_route_to_firewall():
    return hub_and_spoke("net-route-to-firewall", pe_policies="Enabled",
                         spoke_subnet=lambda w: {"route_table": _hub_firewall_routes(w, "10.0.0.0/16")})


@scenario("net-route-pe-policies-off", "Same route to the firewall, but the endpoint's subnet leaves network "
                                       "policies off, so the endpoint's /32 route wins and the firewall is bypassed.")
def net_route_pe_policies_off():
    return hub_and_spoke("net-route-pe-policies-off",
                         spoke_subnet=lambda w: {"route_table": _hub_firewall_routes(w, "10.0.0.0/16")})


@scenario("net-nsg-deny-443", "A public registry; the node subnet's NSG denies outbound 443 to the "
                              "AzureContainerRegistry service tag (M.nsg).")
def net_nsg_deny_443():
    w = World("net-nsg-deny-443")
    group = nb.nsg(w, "rg1", "aks-nodes-nsg", [
        {"name": "AllowVnetHttps", "priority": 200, "direction": "Outbound", "access": "Allow", "protocol": "Tcp",
         "destinationPortRange": "443", "destinationAddressPrefix": "VirtualNetwork"},
        {"name": "DenyRegistryOut", "priority": 300, "direction": "Outbound", "access": "Deny", "protocol": "Tcp",
         "destinationPortRange": "443", "destinationAddressPrefix": "AzureContainerRegistry"}])
    spoke = _spoke(w, subnet_kwargs={"nsg": group["id"]})
    cluster = _cluster(w, spoke)
    registry = w.registry("myacr", "rg1")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    return w


# -- C3.S2 the registry's firewall and the cluster's egress ---------------------------------------------
def _public_acl(name):
    w = World(name)
    cluster = w.cluster("aks1", "rg1")
    registry = w.registry("myacr", "rg1", networkRuleSet={"defaultAction": "Deny", "ipRules": [
        {"action": "Allow", "value": "198.51.100.0/24"}]})
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    return w, cluster, registry


def lb_ip(w, cluster):
    ref = cluster["properties"]["networkProfile"]["loadBalancerProfile"]["effectiveOutboundIPs"][0]["id"]
    return w.arm[ref.lower()]["properties"]["ipAddress"]


@scenario("net-acl-missing-lb-ip", "The registry allows selected networks only and the cluster's load balancer "
                                   "outbound IP is not among them (C3.S2).")
def net_acl_missing_lb_ip():
    return _public_acl("net-acl-missing-lb-ip")[0]


@scenario("net-acl-lb-ip-allowed", "The registry allows selected networks and the load balancer's outbound IP is one "
                                   "of them.")
def net_acl_lb_ip_allowed():
    w, cluster, registry = _public_acl("net-acl-lb-ip-allowed")
    registry["properties"]["networkRuleSet"]["ipRules"].append({"action": "Allow", "value": lb_ip(w, cluster)})
    return w


@scenario("net-nat-gateway", "Outbound through a user-assigned NAT gateway on the node subnet (a /30 public IP "
                             "prefix); the registry allows a /29 that holds it.")
def net_nat_gateway():
    w = World("net-nat-gateway")
    prefix = nb.public_ip_prefix(w, "rg1", "aks-egress-prefix", "20.61.17.0/30")
    nat = nb.nat_gateway(w, "rg1", "aks-nat", prefixes=[prefix["id"]])
    spoke = _spoke(w, subnet_kwargs={"nat_gateway": nat["id"]})
    cluster = _cluster(w, spoke)
    nb.outbound(w, cluster, "userAssignedNATGateway")
    registry = w.registry("myacr", "rg1", networkRuleSet={"defaultAction": "Deny", "ipRules": [
        {"action": "Allow", "value": "20.61.17.0/29"}]})
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    return w


@scenario("net-managed-nat-missing", "Outbound through an AKS-managed NAT gateway whose IP the registry's selected "
                                     "networks do not include (C3.S2).")
def net_managed_nat_missing():
    w, cluster, _ = _public_acl("net-managed-nat-missing")
    nb.outbound(w, cluster, "managedNATGateway")
    return w


@scenario("net-udr-firewall", "outboundType userDefinedRouting: 0.0.0.0/0 goes to the hub's Azure Firewall, whose "
                              "public IP the registry's selected networks do not include (C3.S2, C4.S2, X.tls).")
def net_udr_firewall():
    w = World("net-udr-firewall")
    hub = _hub(w)
    routes = nb.route_table(w, "rg1", "spoke-routes", [("default-to-firewall", "0.0.0.0/0", "VirtualAppliance",
                                                         FIREWALL_IP)])
    spoke = _spoke(w, subnet_kwargs={"route_table": routes["id"]})
    nb.peer_both(w, spoke, hub)
    cluster = _cluster(w, spoke)
    nb.outbound(w, cluster, "userDefinedRouting")
    registry = w.registry("myacr", "rg1", networkRuleSet={"defaultAction": "Deny", "ipRules": [
        {"action": "Allow", "value": "198.51.100.0/24"}]})
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    return w


# -- B.fqdn: the Azure Firewall's rules, B.proxy: the cluster's HTTP proxy --------------------------------
BLOB_EOF = ('rpc error: code = Unknown desc = failed to pull and unpack image "myacr.azurecr.io/app:1.0": failed to '
            "copy: httpReadSeeker: failed open: failed to do request: Get \"https://myacrstore.blob.core.windows.net/"
            'docker/registry/v2/blobs/sha256/ab/abcd/data?se=2026-12-05T22%3A00%3A00Z&sig=x": EOF')


def _udr_policy_world(name, policy, next_hop=FIREWALL_IP, pod_error=None):
    """A public registry behind the hub: the node subnet's 0.0.0.0/0 goes to ``next_hop`` (the Azure Firewall, which
    takes its rules from the policy ``policy(w)`` makes, or another appliance)."""
    w = World(name)
    hub = _hub(w, policy=policy)
    routes = nb.route_table(w, "rg1", "spoke-routes", [("default-to-firewall", "0.0.0.0/0", "VirtualAppliance",
                                                         next_hop)])
    spoke = _spoke(w, subnet_kwargs={"route_table": routes["id"]})
    nb.peer_both(w, spoke, hub)
    cluster = _cluster(w, spoke)
    nb.outbound(w, cluster, "userDefinedRouting")
    registry = w.registry("myacr", "rg1")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    if pod_error:
        app = pod(w, cluster, "app", [{"name": "app", "image": "myacr.azurecr.io/app:1.0"}], node="aks-nodepool1-0")
        pull_failure(w, cluster, app, "app", pod_error)
    return w


def _policy(name, *groups, base=None):
    def make(w):
        parent = base(w) if base else None
        return nb.firewall_policy(w, "rg-hub", name, groups, base=parent, subscription=HUB_SUB)["id"]
    return make


NODES = ("10.1.0.0/22",)


@scenario("net-fw-policy-login-only", "0.0.0.0/0 goes to the hub's Azure Firewall, whose policy allows the login "
                                      "server but not the registry's storage: tokens work, layer downloads end in EOF "
                                      "(B.fqdn).")
def net_fw_policy_login_only():
    return _udr_policy_world("net-fw-policy-login-only", _policy("hub-fw-policy", ("aks-egress", 300, [
        nb.filter_collection("aks-required", 200, "Allow", [
            nb.application_rule("aks-fqdn", [], NODES, fqdn_tags=["AzureKubernetesService"]),
            nb.application_rule("registry-login", ["myacr.azurecr.io"], NODES)])])), pod_error=BLOB_EOF)


@scenario("net-fw-policy-allows-both", "0.0.0.0/0 goes to the hub's Azure Firewall: its base policy allows the "
                                       "AzureContainerRegistry service tag on 443, the child policy *.blob.core."
                                       "windows.net over HTTPS; a deny collection for other storage comes later.")
def net_fw_policy_allows_both():
    base = _policy("org-base-policy", ("org-network", 100, [
        nb.filter_collection("registry-tag", 100, "Allow", [nb.network_rule("acr-tag", ["AzureContainerRegistry"],
                                                                            ["10.0.0.0/8"])])]))
    return _udr_policy_world("net-fw-policy-allows-both", _policy("hub-fw-policy", ("aks-egress", 300, [
        nb.filter_collection("storage", 200, "Allow", [nb.application_rule("blobs", ["*.blob.core.windows.net"],
                                                                           NODES)]),
        nb.filter_collection("deny-files", 300, "Deny", [nb.application_rule("files", ["*.file.core.windows.net"],
                                                                             ["*"])])]), base=base))


@scenario("net-appliance-third-party", "0.0.0.0/0 goes to a third-party appliance (10.0.1.100) whose rules Azure "
                                       "does not hold.")
def net_appliance_third_party():
    return _udr_policy_world("net-appliance-third-party", None, next_hop="10.0.1.100")


def _proxy(w, no_proxy, trusted_ca=None):
    cluster = next(r for k, r in w.arm.items() if k.endswith("/managedclusters/aks1"))
    config = {"httpProxy": "http://10.0.1.10:3128/", "httpsProxy": "http://10.0.1.10:3128/", "noProxy": no_proxy}
    if trusted_ca:
        config["trustedCa"] = trusted_ca
    cluster["properties"]["httpProxyConfig"] = config
    return w


@scenario("net-proxy-wildcard-no-proxy", "A private registry, and the cluster's HTTP proxy lists *.azurecr.io in "
                                         "noProxy: a wildcard AKS does not support, so the registry's hosts go to "
                                         "the proxy instead of the private endpoint (B.proxy).")
def net_proxy_wildcard_no_proxy():
    return _proxy(hub_and_spoke("net-proxy-wildcard-no-proxy"), ["localhost", "10.0.0.0/8", "*.azurecr.io"])


@scenario("net-proxy-no-proxy-right", "A private registry, and the cluster's HTTP proxy exempts azurecr.io and its "
                                      "subdomains.")
def net_proxy_no_proxy_right():
    return _proxy(hub_and_spoke("net-proxy-no-proxy-right"), ["localhost", "10.0.0.0/8", ".azurecr.io"])


@scenario("net-proxy-tls-untrusted", "A public registry pulled through a TLS-inspecting proxy the cluster has no "
                                     "trustedCa for: the pod fails with x509 unknown authority (B.proxy).")
def net_proxy_tls_untrusted():
    w = World("net-proxy-tls-untrusted")
    cluster = w.cluster("aks1", "rg1")
    registry = w.registry("myacr", "rg1")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    _proxy(w, ["localhost", "myacr.azurecr.io", ".blob.core.windows.net"])
    app = pod(w, cluster, "app", [{"name": "app", "image": "myacr.azurecr.io/app:1.0"}], node="aks-nodepool1-0")
    pull_failure(w, cluster, app, "app", 'rpc error: code = Unknown desc = failed to pull and unpack image '
                 '"myacr.azurecr.io/app:1.0": failed to resolve reference "myacr.azurecr.io/app:1.0": failed to do '
                 'request: Head "https://myacr.azurecr.io/v2/app/manifests/1.0": tls: failed to verify certificate: '
                 "x509: certificate signed by unknown authority")
    return w


# -- private cluster -----------------------------------------------------------------------------------
@scenario("net-private-cluster", "A private cluster (API server only inside its VNet) whose registry endpoint sits "
                                 "in the same VNet, but the privatelink zone is not linked to it; a pod fails with "
                                 "403 (C3.S1).")
def net_private_cluster():
    w = World("net-private-cluster")
    spoke = nb.vnet(w, "rg1", "aks-vnet", ["10.1.0.0/16"], [{"name": "aks-nodes", "prefix": "10.1.0.0/22"},
                                                             {"name": "endpoints", "prefix": "10.1.8.0/24"}])
    other = nb.vnet(w, "rg1", "jumpbox-vnet", ["10.9.0.0/16"], [{"name": "default", "prefix": "10.9.0.0/24"}])
    cluster = _cluster(w, spoke)
    nb.make_private(w, cluster, private_ip="10.1.0.4")
    registry = w.registry("myacr", "rg1", publicNetworkAccess="Disabled",
                          networkRuleSet={"defaultAction": "Deny", "ipRules": []})
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    addresses = {"myacr.azurecr.io": "10.1.8.4", "myacr.eastus.data.azurecr.io": "10.1.8.5"}
    nb.private_endpoint(w, registry, nb.subnet_id(spoke, "endpoints"), addresses)
    zone = nb.private_dns_zone(w, "rg1")
    nb.zone_link(w, zone, other)
    nb.registry_records(w, zone, registry, addresses)
    dockerconfig_secret(w, cluster, "acr-secret", "myacr.azurecr.io", "myacr", PRIVATE_PULL_PASSWORD)
    app = pod(w, cluster, "app", [{"name": "app", "image": "myacr.azurecr.io/app:1.0"}], node="aks-nodepool1-0",
              image_pull_secrets=("acr-secret",))
    pull_failure(w, cluster, app, "app", 'rpc error: code = Unknown desc = failed to pull and unpack image '
                 '"myacr.azurecr.io/app:1.0": failed to resolve reference "myacr.azurecr.io/app:1.0": failed to '
                 'authorize: failed to fetch anonymous token: unexpected status: 403 Forbidden')
    return w


@scenario("net-registry-dns-missing", "The login server does not resolve from the machine running az (registry-"
                                      "health).")
def net_registry_dns_missing():
    w = World("net-registry-dns-missing")
    cluster = w.cluster("aks1", "rg1")
    registry = w.registry("myacr", "rg1")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    w.addresses["myacr.azurecr.io"] = None
    return w



# -- B.sep a service endpoint policy on the node subnet -------------------------------------------------
SEP_IMAGE = "myacr.azurecr.io/web:1.4"
DATA_ACCOUNT = ("/subscriptions/{}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/"
                "contosodata".format(SUBSCRIPTION))


def _sep_world(name, on_nodes=True, registry_props=None):
    """A spoke whose node subnet reaches Azure Storage over a service endpoint (East US and its pair); the company's
    policy `sep-contoso-data` lets subnets reach only its own data account and a resource group of backups. It is
    attached to the subnet of the company's VMs and, with ``on_nodes``, to the node subnet too. The pod's pull error
    is the one the world gives its node's kubelet (``pods.kubelet_pull_error``)."""
    w = World(name)
    policy = nb.service_endpoint_policy(w, "rg-net", "sep-contoso-data", {
        "contoso-accounts": ("Microsoft.Storage", [DATA_ACCOUNT,
                                                  "/subscriptions/{}/resourceGroups/rg-backups".format(SUBSCRIPTION)])})
    storage = {"Microsoft.Storage": ["eastus", "westus"]}
    spoke = nb.vnet(w, "rg1", "spoke-vnet", ["10.1.0.0/16"], [
        dict({"name": "aks-nodes", "prefix": "10.1.0.0/22", "service_endpoints": storage},
             **({"service_endpoint_policies": [policy["id"]]} if on_nodes else {})),
        {"name": "vms", "prefix": "10.1.8.0/24", "service_endpoints": storage,
         "service_endpoint_policies": [policy["id"]]}])
    cluster = _cluster(w, spoke)
    registry = w.registry("myacr", "rg1", **(registry_props or {}))
    w.assign(registry["id"], "AcrPull", kubelet_object_id(cluster))
    push(w, registry, "web", "1.4", ["linux/amd64"])
    nodes(w, cluster)
    return w, cluster


@scenario("net-sep-storage-blocked", "The node subnet carries a Storage service endpoint policy that lists only the "
                                     "company's accounts: pod web's layer download gets 403 AuthorizationFailure "
                                     "from the registry's storage (B.sep).")
def net_sep_storage_blocked():
    w, cluster = _sep_world("net-sep-storage-blocked")
    failing_pod(w, cluster, "web", SEP_IMAGE, node_name(w, cluster, "nodepool1"))
    return w


@scenario("net-sep-other-subnet", "The company's Storage service endpoint policy is on its VMs' subnet only; the "
                                  "node subnet has the Storage service endpoint without a policy, and pulls work.")
def net_sep_other_subnet():
    w, _ = _sep_world("net-sep-other-subnet", on_nodes=False)
    return w


@scenario("net-sep-data-endpoints", "The same policy is on the node subnet, but the registry has dedicated data "
                                    "endpoints: layers come from myacr.eastus.data.azurecr.io, which it does not "
                                    "filter.")
def net_sep_data_endpoints():
    w, _ = _sep_world("net-sep-data-endpoints", registry_props={
        "dataEndpointEnabled": True, "dataEndpointHostNames": ["myacr.eastus.data.azurecr.io"]})
    return w
