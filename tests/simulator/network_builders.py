"""Network resources for the simulated world: VNets and subnets, peerings, private endpoints and their NICs,
private DNS zones with links and A records, public IPs and prefixes, load balancers, NAT gateways, route tables,
NSGs and Azure Firewalls.

Shapes follow the Network REST API spec's example responses (2024-05-01: VirtualNetworkGet, VirtualNetworkPeeringGet,
PrivateEndpointGet, NetworkInterfaceGet, RouteTableGet, NetworkSecurityGroupGet, LoadBalancerGet...) and the Private
DNS ones (2024-06-01: PrivateZoneGet, VirtualNetworkLinkList, RecordSetAGet). Every builder stores the resource in
``world.arm`` under its id, so the generic ARM routes serve it by id and in its collections; child resources that
Azure returns inline (subnets and peerings in their VNet) are the same objects stored under their own ids too.
"""
from .world import SUBSCRIPTION, guid

NET = "Microsoft.Network"
ZONE = "privatelink.azurecr.io"
DEFAULT_OUTBOUND = [
    ("AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", "VirtualNetwork", "VirtualNetwork", "Allow",
     65000, "Inbound"),
    ("AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer", "AzureLoadBalancer", "*",
     "Allow", 65001, "Inbound"),
    ("DenyAllInBound", "Deny all inbound traffic", "*", "*", "Deny", 65500, "Inbound"),
    ("AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET", "VirtualNetwork", "VirtualNetwork",
     "Allow", 65000, "Outbound"),
    ("AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet", "*", "Internet", "Allow", 65001,
     "Outbound"),
    ("DenyAllOutBound", "Deny all outbound traffic", "*", "*", "Deny", 65500, "Outbound"),
]


def rid(kind, rg, name, subscription=SUBSCRIPTION):
    return "/subscriptions/{}/resourceGroups/{}/providers/{}/{}/{}".format(subscription, rg, NET, kind, name)


def _etag(seed):
    return 'W/"{}"'.format(guid("etag/" + seed))


def _sub_of(resource_id):
    return resource_id.split("/")[2]


def _rg_of(resource_id):
    return resource_id.split("/")[4]


def public_address(seed):
    """A stable public IPv4 address for a name (in 20.0.0.0/8, where many Azure addresses live)."""
    g = guid("pip/" + seed)
    return "20.{}.{}.{}".format(int(g[0:2], 16) % 200 + 20, int(g[2:4], 16), int(g[4:6], 16) % 250 + 2)


# -- VNets, subnets, peerings -----------------------------------------------------------------------
def vnet(world, rg, name, prefixes, subnets, location="eastus", subscription=SUBSCRIPTION, dns_servers=None):
    """``subnets``: list of dicts name, prefix, and optionally nsg, route_table, nat_gateway (ids),
    private_endpoint_policies ("Disabled" by default)."""
    world.resource_group(rg, location, subscription)
    vid = rid("virtualNetworks", rg, name, subscription)
    resource = {"name": name, "id": vid, "etag": _etag(vid), "type": NET + "/virtualNetworks", "location": location,
                "tags": {}, "properties": {
                    "provisioningState": "Succeeded", "resourceGuid": guid("vnet/" + vid),
                    "addressSpace": {"addressPrefixes": list(prefixes)},
                    "dhcpOptions": {"dnsServers": list(dns_servers or [])},
                    "subnets": [], "virtualNetworkPeerings": [], "enableDdosProtection": False}}
    world.put(resource)
    for spec in subnets:
        subnet(world, resource, **spec)
    return resource


def subnet(world, vnet_resource, name, prefix, nsg=None, route_table=None, nat_gateway=None,
           private_endpoint_policies="Disabled", service_endpoints=None, service_endpoint_policies=()):
    """``service_endpoints``: {service: [locations]}; ``service_endpoint_policies``: policy ids (Azure allows a
    policy only on a subnet with a service endpoint for its service)."""
    sid = vnet_resource["id"] + "/subnets/" + name
    props = {"provisioningState": "Succeeded", "addressPrefix": prefix, "ipConfigurations": [], "delegations": [],
             "privateEndpointNetworkPolicies": private_endpoint_policies,
             "privateLinkServiceNetworkPolicies": "Enabled"}
    if service_endpoints:
        props["serviceEndpoints"] = [{"provisioningState": "Succeeded", "service": service, "locations": locations}
                                     for service, locations in service_endpoints.items()]
    if service_endpoint_policies:
        props["serviceEndpointPolicies"] = [{"id": policy} for policy in service_endpoint_policies]
        for policy in service_endpoint_policies:
            _attach(world, policy, "subnets", sid)
    if nsg:
        props["networkSecurityGroup"] = {"id": nsg}
        _attach(world, nsg, "subnets", sid)
    if route_table:
        props["routeTable"] = {"id": route_table}
        _attach(world, route_table, "subnets", sid)
    if nat_gateway:
        props["natGateway"] = {"id": nat_gateway}
        _attach(world, nat_gateway, "subnets", sid)
    resource = {"name": name, "id": sid, "etag": _etag(sid), "type": NET + "/virtualNetworks/subnets",
                "properties": props}
    vnet_resource["properties"]["subnets"].append(resource)
    world.put(resource)
    return resource


def _attach(world, resource_id, field, ref_id):
    """Record the back-reference Azure keeps (an NSG's subnets, a route table's subnets...)."""
    target = world.arm.get(resource_id.lower())
    if target is not None:
        refs = target["properties"].setdefault(field, [])
        if ref_id.lower() not in [r["id"].lower() for r in refs]:
            refs.append({"id": ref_id})


def service_endpoint_policy(world, rg, name, definitions, location="eastus", subscription=SUBSCRIPTION):
    """A service endpoint policy as ARM returns it; ``definitions``: {name: (service, [serviceResources])}."""
    world.resource_group(rg, location, subscription)
    pid = rid("serviceEndpointPolicies", rg, name, subscription)
    return world.put({"name": name, "id": pid, "etag": _etag(pid), "type": NET + "/serviceEndpointPolicies",
                      "location": location, "kind": "", "tags": {}, "properties": {
                          "provisioningState": "Succeeded", "resourceGuid": guid("sep/" + pid).upper(),
                          "serviceEndpointPolicyDefinitions": [
                              {"name": dname, "id": "{}/serviceEndpointPolicyDefinitions/{}".format(pid, dname),
                               "etag": _etag(pid + dname),
                               "type": NET + "/serviceEndpointPolicies/serviceEndpointPolicyDefinitions",
                               "properties": {"provisioningState": "Succeeded", "service": service,
                                              "serviceResources": list(resources)}}
                              for dname, (service, resources) in definitions.items()],
                          "subnets": []}})


def storage_admitted(world, subnet_resource, storage_id, region):
    """Does the subnet let its machines reach the storage account ``storage_id`` in ``region``? Over a Storage
    service endpoint covering that region, a subnet with policies reaches only the storage their Microsoft.Storage
    definitions list (a subscription, a resource group or the account); elsewhere policies do not filter."""
    props = subnet_resource.get("properties") or {}
    regions = {loc.replace(" ", "").lower() for e in props.get("serviceEndpoints") or []
               if e["service"].lower() in ("microsoft.storage", "microsoft.storage.global")
               for loc in e.get("locations") or ["*"]}
    if not ("*" in regions or region.lower() in regions):
        return True
    definitions = [d for ref in props.get("serviceEndpointPolicies") or []
                   for d in world.arm[ref["id"].lower()]["properties"]["serviceEndpointPolicyDefinitions"]
                   if d["properties"]["service"].lower() == "microsoft.storage"]
    if not definitions:
        return True
    low = storage_id.lower()
    return any(low == r.lower() or low.startswith(r.lower().rstrip("/") + "/")
               for d in definitions for r in d["properties"]["serviceResources"])


def subnet_id(vnet_resource, name):
    return vnet_resource["id"] + "/subnets/" + name


def peer(world, local, remote, state="Connected", name=None, allow_access=True):
    """One side of a peering: ``local`` -> ``remote`` with ``state`` (Connected, Initiated, Disconnected)."""
    name = name or "{}-to-{}".format(local["name"], remote["name"])
    pid = local["id"] + "/virtualNetworkPeerings/" + name
    prefixes = {"addressPrefixes": list(remote["properties"]["addressSpace"]["addressPrefixes"])}
    resource = {"name": name, "id": pid, "etag": _etag(pid), "type": NET + "/virtualNetworks/virtualNetworkPeerings",
                "properties": {"provisioningState": "Succeeded", "peeringState": state,
                               "peeringSyncLevel": "FullyInSync" if state == "Connected" else "RemoteNotInSync",
                               "remoteVirtualNetwork": {"id": remote["id"]},
                               "allowVirtualNetworkAccess": allow_access, "allowForwardedTraffic": True,
                               "allowGatewayTransit": False, "useRemoteGateways": False,
                               "remoteAddressSpace": prefixes, "remoteVirtualNetworkAddressSpace": prefixes,
                               "resourceGuid": guid("peer/" + pid)}}
    local["properties"]["virtualNetworkPeerings"].append(resource)
    world.put(resource)
    return resource


def peer_both(world, a, b, state_ab="Connected", state_ba="Connected"):
    return peer(world, a, b, state_ab), peer(world, b, a, state_ba)


# -- public addresses, load balancer, NAT gateway -----------------------------------------------------
def public_ip(world, rg, name, address=None, location="eastus", subscription=SUBSCRIPTION):
    pid = rid("publicIPAddresses", rg, name, subscription)
    return world.put({"name": name, "id": pid, "etag": _etag(pid), "type": NET + "/publicIPAddresses",
                      "location": location, "tags": {}, "sku": {"name": "Standard", "tier": "Regional"},
                      "properties": {"provisioningState": "Succeeded", "resourceGuid": guid("pipg/" + pid),
                                     "ipAddress": address or public_address(pid), "publicIPAddressVersion": "IPv4",
                                     "publicIPAllocationMethod": "Static", "idleTimeoutInMinutes": 4,
                                     "ipTags": []}})


def public_ip_prefix(world, rg, name, prefix, location="eastus", subscription=SUBSCRIPTION):
    pid = rid("publicIPPrefixes", rg, name, subscription)
    return world.put({"name": name, "id": pid, "etag": _etag(pid), "type": NET + "/publicIPPrefixes",
                      "location": location, "tags": {}, "sku": {"name": "Standard", "tier": "Regional"},
                      "properties": {"provisioningState": "Succeeded", "resourceGuid": guid("pfx/" + pid),
                                     "ipPrefix": prefix, "prefixLength": int(prefix.split("/")[1]),
                                     "publicIPAddressVersion": "IPv4", "ipTags": [], "publicIPAddresses": []}})


def load_balancer(world, rg, outbound_refs, name="kubernetes", location="eastus", subscription=SUBSCRIPTION):
    """AKS's `kubernetes` load balancer with one outbound rule over ``outbound_refs`` (public IP or prefix ids)."""
    lid = rid("loadBalancers", rg, name, subscription)
    rule_id = lid + "/outboundRules/aksOutboundRule"
    frontends = []
    for ref in outbound_refs:
        fid = lid + "/frontendIPConfigurations/" + guid("fe/" + ref)
        key = "publicIPPrefix" if "/publicipprefixes/" in ref.lower() else "publicIPAddress"
        frontends.append({"name": fid.rsplit("/", 1)[-1], "id": fid, "etag": _etag(fid),
                          "type": NET + "/loadBalancers/frontendIPConfigurations",
                          "properties": {"provisioningState": "Succeeded", "privateIPAllocationMethod": "Dynamic",
                                         key: {"id": ref}, "outboundRules": [{"id": rule_id}]}})
        target = world.arm.get(ref.lower())
        if target is not None and key == "publicIPAddress":
            target["properties"]["ipConfiguration"] = {"id": fid}
    pools = [{"name": n, "id": lid + "/backendAddressPools/" + n, "etag": _etag(lid + n),
              "properties": {"provisioningState": "Succeeded", "loadBalancerBackendAddresses": []}}
             for n in ("kubernetes", "aksOutboundBackendPool")]
    return world.put({"name": name, "id": lid, "etag": _etag(lid), "type": NET + "/loadBalancers",
                      "location": location, "tags": {}, "sku": {"name": "Standard", "tier": "Regional"},
                      "properties": {"provisioningState": "Succeeded", "resourceGuid": guid("lb/" + lid),
                                     "frontendIPConfigurations": frontends, "backendAddressPools": pools,
                                     "loadBalancingRules": [], "probes": [], "inboundNatRules": [],
                                     "inboundNatPools": [], "outboundRules": [{
                                         "name": "aksOutboundRule", "id": rule_id, "etag": _etag(rule_id),
                                         "type": NET + "/loadBalancers/outboundRules",
                                         "properties": {"provisioningState": "Succeeded",
                                                        "allocatedOutboundPorts": 0, "protocol": "All",
                                                        "enableTcpReset": True, "idleTimeoutInMinutes": 30,
                                                        "backendAddressPool": {"id": pools[1]["id"]},
                                                        "frontendIPConfigurations": [{"id": f["id"]}
                                                                                     for f in frontends]}}]}})


def nat_gateway(world, rg, name, public_ips=(), prefixes=(), location="eastus", subscription=SUBSCRIPTION):
    nid = rid("natGateways", rg, name, subscription)
    return world.put({"name": name, "id": nid, "etag": _etag(nid), "type": NET + "/natGateways",
                      "location": location, "tags": {}, "sku": {"name": "Standard"},
                      "properties": {"provisioningState": "Succeeded", "resourceGuid": guid("nat/" + nid),
                                     "idleTimeoutInMinutes": 4,
                                     "publicIpAddresses": [{"id": p} for p in public_ips],
                                     "publicIpPrefixes": [{"id": p} for p in prefixes], "subnets": []}})


# -- routes, NSGs, firewalls -------------------------------------------------------------------------
def route_table(world, rg, name, routes, location="eastus", subscription=SUBSCRIPTION):
    """``routes``: (name, addressPrefix, nextHopType, nextHopIpAddress or None)."""
    tid = rid("routeTables", rg, name, subscription)
    items = []
    for route_name, prefix, hop, hop_ip in routes:
        props = {"provisioningState": "Succeeded", "addressPrefix": prefix, "nextHopType": hop,
                 "hasBgpOverride": False}
        if hop_ip:
            props["nextHopIpAddress"] = hop_ip
        items.append({"name": route_name, "id": tid + "/routes/" + route_name, "etag": _etag(tid + route_name),
                      "type": NET + "/routeTables/routes", "properties": props})
    return world.put({"name": name, "id": tid, "etag": _etag(tid), "type": NET + "/routeTables",
                      "location": location, "tags": {},
                      "properties": {"provisioningState": "Succeeded", "resourceGuid": guid("rt/" + tid),
                                     "disableBgpRoutePropagation": False, "routes": items, "subnets": []}})


def nsg(world, rg, name, rules=(), location="eastus", subscription=SUBSCRIPTION):
    """``rules``: dicts with name, priority, access, direction and the prefix/port fields of a security rule."""
    gid = rid("networkSecurityGroups", rg, name, subscription)

    def rule(kind, spec):
        props = {"provisioningState": "Succeeded", "protocol": "*", "sourcePortRange": "*",
                 "destinationPortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
                 "sourceAddressPrefixes": [], "destinationAddressPrefixes": [], "sourcePortRanges": [],
                 "destinationPortRanges": []}
        props.update({k: v for k, v in spec.items() if k != "name"})
        rule_id = "{}/{}/{}".format(gid, kind, spec["name"])
        return {"name": spec["name"], "id": rule_id, "etag": _etag(rule_id), "type": NET + "/networkSecurityGroups/"
                + kind, "properties": props}

    defaults = [rule("defaultSecurityRules", {"name": n, "description": d, "sourceAddressPrefix": s,
                                              "destinationAddressPrefix": t, "access": a, "priority": p,
                                              "direction": di}) for n, d, s, t, a, p, di in DEFAULT_OUTBOUND]
    return world.put({"name": name, "id": gid, "etag": _etag(gid), "type": NET + "/networkSecurityGroups",
                      "location": location, "tags": {},
                      "properties": {"provisioningState": "Succeeded", "resourceGuid": guid("nsg/" + gid),
                                     "securityRules": [rule("securityRules", r) for r in rules],
                                     "defaultSecurityRules": defaults, "subnets": [], "networkInterfaces": []}})


def azure_firewall(world, rg, name, subnet, private_ip, public_ip_id, location="eastus", subscription=SUBSCRIPTION,
                   policy=None):
    """An Azure Firewall: its private address is where routes send traffic, its public IP is what the registry sees;
    with ``policy`` (a firewall policy id) it takes its rules from that policy instead of classic collections."""
    fid = rid("azureFirewalls", rg, name, subscription)
    extra = {"firewallPolicy": {"id": policy}} if policy else {}
    if policy:
        world.arm[policy.lower()]["properties"]["firewalls"].append({"id": fid})
    return world.put({"name": name, "id": fid, "etag": _etag(fid), "type": NET + "/azureFirewalls",
                      "location": location, "tags": {},
                      "properties": {"provisioningState": "Succeeded", "threatIntelMode": "Alert",
                                     "sku": {"name": "AZFW_VNet", "tier": "Standard"},
                                     "ipConfigurations": [{"name": "azureFirewallIpConfiguration",
                                                           "id": fid + "/azureFirewallIpConfigurations/"
                                                                       "azureFirewallIpConfiguration",
                                                           "properties": {"privateIPAddress": private_ip,
                                                                          "subnet": {"id": subnet},
                                                                          "publicIPAddress": {"id": public_ip_id},
                                                                          "provisioningState": "Succeeded"}}],
                                     "applicationRuleCollections": [], "networkRuleCollections": [],
                                     "natRuleCollections": [], **extra}})


def firewall_policy(world, rg, name, groups=(), base=None, location="eastus", subscription=SUBSCRIPTION):
    """A firewall policy and its rule collection groups (child resources, listed under the policy).

    ``groups``: (name, priority, rule collections as REST JSON); ``base``: the parent policy's id."""
    pid = rid("firewallPolicies", rg, name, subscription)
    props = {"provisioningState": "Succeeded", "threatIntelMode": "Alert", "sku": {"tier": "Standard"},
             "ruleCollectionGroups": [], "firewalls": [], "childPolicies": []}
    if base:
        props["basePolicy"] = {"id": base}
        world.arm[base.lower()]["properties"]["childPolicies"].append({"id": pid})
    policy = world.put({"name": name, "id": pid, "etag": _etag(pid), "type": NET + "/firewallPolicies",
                        "location": location, "tags": {}, "properties": props})
    for group_name, priority, collections in groups:
        gid = pid + "/ruleCollectionGroups/" + group_name
        props["ruleCollectionGroups"].append({"id": gid})
        world.put({"name": group_name, "id": gid, "etag": _etag(gid),
                   "type": NET + "/firewallPolicies/ruleCollectionGroups",
                   "properties": {"provisioningState": "Succeeded", "priority": priority,
                                  "ruleCollections": list(collections)}})
    return policy


def filter_collection(name, priority, action, rules):
    """A FirewallPolicyFilterRuleCollection."""
    return {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": name, "priority": priority,
            "action": {"type": action}, "rules": list(rules)}


def application_rule(name, fqdns, sources, fqdn_tags=()):
    return {"ruleType": "ApplicationRule", "name": name, "protocols": [{"protocolType": "Https", "port": 443}],
            "fqdnTags": list(fqdn_tags), "webCategories": [], "targetFqdns": list(fqdns), "targetUrls": [],
            "terminateTLS": False, "sourceAddresses": list(sources), "destinationAddresses": [],
            "sourceIpGroups": []}


def network_rule(name, destinations, sources=(), ports=("443",), source_ip_groups=(), destination_ip_groups=()):
    return {"ruleType": "NetworkRule", "name": name, "ipProtocols": ["TCP"], "sourceAddresses": list(sources),
            "sourceIpGroups": list(source_ip_groups), "destinationAddresses": list(destinations),
            "destinationIpGroups": list(destination_ip_groups), "destinationFqdns": [],
            "destinationPorts": list(ports)}


def ip_group(world, rg, name, addresses, location="eastus", subscription=SUBSCRIPTION):
    gid = rid("ipGroups", rg, name, subscription)
    return world.put({"name": name, "id": gid, "etag": _etag(gid), "type": NET + "/ipGroups", "location": location,
                      "tags": {}, "properties": {"provisioningState": "Succeeded", "ipAddresses": list(addresses),
                                                "firewalls": [], "firewallPolicies": []}})


# -- private endpoints and private DNS ---------------------------------------------------------------
def private_endpoint(world, registry, subnet_resource_id, addresses, name=None, rg=None, status="Approved",
                     location="eastus", subscription=None):
    """A private endpoint of ``registry`` in a subnet, with ``addresses`` = {fqdn: ip}; its NIC carries one IP
    configuration per FQDN, and the registry lists the connection with ``status``."""
    name = name or registry["name"] + "-pe"
    subscription = subscription or _sub_of(subnet_resource_id)
    rg = rg or _rg_of(subnet_resource_id)
    world.resource_group(rg, location, subscription)
    pid = rid("privateEndpoints", rg, name, subscription)
    nic_id = rid("networkInterfaces", rg, "{}.nic.{}".format(name, guid("nic/" + pid)), subscription)
    conn_name = "{}.{}".format(name, guid("conn/" + pid)[:8])
    state = {"status": status, "description": "Auto-Approved" if status == "Approved" else status,
             "actionsRequired": "None"}
    login = registry["properties"]["loginServer"]
    ip_configs = []
    for fqdn, ip in addresses.items():
        member = "registry" if fqdn == login else "registry_data_" + fqdn.split(".")[1]
        cid = nic_id + "/ipConfigurations/privateEndpointIpConfig." + guid("ipc/" + pid + fqdn)
        ip_configs.append({"name": cid.rsplit("/", 1)[-1], "id": cid, "etag": _etag(cid),
                           "type": NET + "/networkInterfaces/ipConfigurations",
                           "properties": {"provisioningState": "Succeeded", "privateIPAddress": ip,
                                          "privateIPAllocationMethod": "Dynamic",
                                          "subnet": {"id": subnet_resource_id}, "primary": not ip_configs,
                                          "privateIPAddressVersion": "IPv4",
                                          "privateLinkConnectionProperties": {
                                              "groupId": "registry", "requiredMemberName": member, "fqdns": [fqdn]}}})
    world.put({"name": nic_id.rsplit("/", 1)[-1], "id": nic_id, "etag": _etag(nic_id),
               "type": NET + "/networkInterfaces", "location": location, "tags": {},
               "properties": {"provisioningState": "Succeeded", "resourceGuid": guid("nicg/" + nic_id),
                              "ipConfigurations": ip_configs, "dnsSettings": {"dnsServers": [],
                                                                              "appliedDnsServers": []},
                              "enableAcceleratedNetworking": False, "enableIPForwarding": False,
                              "privateEndpoint": {"id": pid}, "nicType": "Standard", "vnetEncryptionSupported": False,
                              "disableTcpStateTracking": False}})
    endpoint = world.put({
        "name": name, "id": pid, "etag": _etag(pid), "type": NET + "/privateEndpoints", "location": location,
        "tags": {}, "properties": {
            "provisioningState": "Succeeded", "resourceGuid": guid("peg/" + pid),
            "privateLinkServiceConnections": [{
                "name": conn_name, "id": pid + "/privateLinkServiceConnections/" + conn_name, "etag": _etag(conn_name),
                "type": NET + "/privateEndpoints/privateLinkServiceConnections",
                "properties": {"provisioningState": "Succeeded", "privateLinkServiceId": registry["id"],
                               "groupIds": ["registry"], "privateLinkServiceConnectionState": state}}],
            "manualPrivateLinkServiceConnections": [], "subnet": {"id": subnet_resource_id},
            "networkInterfaces": [{"id": nic_id}], "ipConfigurations": [], "applicationSecurityGroups": [],
            "customNetworkInterfaceName": "",
            "customDnsConfigs": [{"fqdn": fqdn, "ipAddresses": [ip]} for fqdn, ip in addresses.items()]}})
    registry["properties"].setdefault("privateEndpointConnections", []).append({
        "id": registry["id"] + "/privateEndpointConnections/" + conn_name, "name": conn_name,
        "type": "Microsoft.ContainerRegistry/registries/privateEndpointConnections",
        "properties": {"privateEndpoint": {"id": pid}, "privateLinkServiceConnectionState": state,
                       "provisioningState": "Succeeded"}})
    return endpoint


def private_dns_zone(world, rg, name=ZONE, subscription=SUBSCRIPTION):
    world.resource_group(rg, "eastus", subscription)
    zid = rid("privateDnsZones", rg, name, subscription)
    return world.put({"id": zid, "name": name, "type": NET + "/privateDnsZones", "location": "global",
                      "etag": guid("zone/" + zid), "tags": {},
                      "properties": {"maxNumberOfRecordSets": 25000, "numberOfRecordSets": 1,
                                     "maxNumberOfVirtualNetworkLinks": 1000, "numberOfVirtualNetworkLinks": 0,
                                     "maxNumberOfVirtualNetworkLinksWithRegistration": 100,
                                     "numberOfVirtualNetworkLinksWithRegistration": 0,
                                     "provisioningState": "Succeeded", "internalId": guid("zint/" + zid)}})


def zone_link(world, zone, vnet_resource, name=None, state="Completed"):
    name = name or vnet_resource["name"] + "-link"
    lid = zone["id"] + "/virtualNetworkLinks/" + name
    zone["properties"]["numberOfVirtualNetworkLinks"] += 1
    return world.put({"id": lid, "name": name, "type": NET + "/privateDnsZones/virtualNetworkLinks",
                      "location": "global", "etag": guid("link/" + lid), "tags": {},
                      "properties": {"virtualNetwork": {"id": vnet_resource["id"]}, "registrationEnabled": False,
                                     "virtualNetworkLinkState": state, "provisioningState": "Succeeded",
                                     "resolutionPolicy": "Default"}})


def a_record(world, zone, name, ips, ttl=10):
    record_id = zone["id"] + "/A/" + name.lower()
    zone["properties"]["numberOfRecordSets"] += 1
    return world.put({"id": record_id, "name": name.lower(), "type": NET + "/privateDnsZones/A",
                      "etag": guid("rec/" + record_id),
                      "properties": {"metadata": {}, "ttl": ttl, "fqdn": "{}.{}.".format(name.lower(), zone["name"]),
                                     "isAutoRegistered": False, "aRecords": [{"ipv4Address": ip} for ip in ips]}})


def registry_records(world, zone, registry, addresses, skip=()):
    """A records for every host of a private endpoint (what a DNS zone group writes), except ``skip``."""
    for fqdn, ip in addresses.items():
        if fqdn not in skip:
            a_record(world, zone, fqdn[: -len(".azurecr.io")], [ip])


# -- what AKS creates in the node resource group -----------------------------------------------------
def cluster_network(world, cluster):
    """The network AKS makes for a cluster: without vnetSubnetID an AKS-managed VNet (aks-vnet-<n>, subnet
    aks-subnet, with the agent pool NSG on it); with one, the NSG on the scale sets' NICs; and for outbound type
    loadBalancer the `kubernetes` load balancer with one managed outbound public IP, reported in the cluster's
    loadBalancerProfile.effectiveOutboundIPs. Also registers the run command action on the world."""
    from .runcommand import run_command
    world.post_handlers["runcommand"] = run_command
    props = cluster["properties"]
    node_rg, location = props["nodeResourceGroup"], cluster["location"]
    sub = _sub_of(cluster["id"])
    digits = guid("net/" + cluster["id"])[:8].translate(str.maketrans("abcdef", "123456"))
    group_nsg = nsg(world, node_rg, "aks-agentpool-{}-nsg".format(digits), location=location, subscription=sub)
    scale_sets = [r for k, r in world.arm.items() if k.startswith("/subscriptions/{}/resourcegroups/{}/providers/"
                                                                  "microsoft.compute/virtualmachinescalesets/".format(
                                                                      sub.lower(), node_rg.lower()))]
    managed = None
    if any(not p.get("vnetSubnetID") for p in props["agentPoolProfiles"]):
        managed = vnet(world, node_rg, "aks-vnet-" + digits, ["10.224.0.0/12"],
                       [{"name": "aks-subnet", "prefix": "10.224.0.0/16", "nsg": group_nsg["id"]}], location, sub)
    for vmss in scale_sets:
        pool = vmss["tags"].get("aks-managed-poolName")
        spec = next((p for p in props["agentPoolProfiles"] if p["name"] == pool), {})
        for nic in vmss["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]:
            for ipc in nic["properties"]["ipConfigurations"]:
                if spec.get("vnetSubnetID"):
                    ipc["properties"]["subnet"] = {"id": spec["vnetSubnetID"]}
                else:
                    ipc["properties"]["subnet"] = {"id": subnet_id(managed, "aks-subnet")}
            if spec.get("vnetSubnetID"):
                nic["properties"]["networkSecurityGroup"] = {"id": group_nsg["id"]}
    if props["networkProfile"].get("outboundType", "loadBalancer") == "loadBalancer":
        pip = public_ip(world, node_rg, guid("outbound/" + cluster["id"]), location=location, subscription=sub)
        load_balancer(world, node_rg, [pip["id"]], location=location, subscription=sub)
        props["networkProfile"]["loadBalancerProfile"] = {
            "managedOutboundIPs": {"count": 1}, "effectiveOutboundIPs": [{"id": pip["id"]}],
            "allocatedOutboundPorts": 0, "idleTimeoutInMinutes": 30, "backendPoolType": "NodeIPConfiguration"}
    return managed


def outbound(world, cluster, outbound_type, nat=None):
    """Switch a cluster's outbound type as AKS reports it: the load balancer profile goes for NAT gateway and
    userDefinedRouting; a managed NAT gateway gets an outbound IP in the node resource group."""
    profile = cluster["properties"]["networkProfile"]
    profile["outboundType"] = outbound_type
    profile.pop("loadBalancerProfile", None)
    if outbound_type == "managedNATGateway":
        node_rg = cluster["properties"]["nodeResourceGroup"]
        pip = public_ip(world, node_rg, guid("natip/" + cluster["id"]), location=cluster["location"],
                        subscription=_sub_of(cluster["id"]))
        nat = nat or nat_gateway(world, node_rg, "aks-natgateway", [pip["id"]], subscription=_sub_of(cluster["id"]))
        profile["natGatewayProfile"] = {"managedOutboundIPProfile": {"count": 1},
                                        "effectiveOutboundIPs": [{"id": pip["id"]}], "idleTimeoutInMinutes": 4}
    return cluster


def make_private(world, cluster, private_ip="10.224.0.4"):
    """A private cluster: its API server answers only inside the VNet. Its FQDN still resolves (to a private
    address, as with the default public FQDN), so from the test machine the connection fails at once."""
    props = cluster["properties"]
    props["apiServerAccessProfile"] = {"enablePrivateCluster": True, "enablePrivateClusterPublicFQDN": True,
                                       "privateDNSZone": "system", "disableRunCommand": False}
    props["privateFQDN"] = "{}-{}.{}.privatelink.{}.azmk8s.io".format(
        props["dnsPrefix"], guid("pfqdn/" + cluster["id"])[:8], guid("pz/" + cluster["id"]), cluster["location"])
    world.addresses[props["fqdn"].lower()] = private_ip
    return cluster
