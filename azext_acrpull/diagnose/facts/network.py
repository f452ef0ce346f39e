"""Network facts: the cluster's VNet and subnets, the registry's private endpoints, private DNS zones,
peerings, egress addresses, route tables and NSGs.

azure.mgmt.network is not part of azure-cli, so network resources are read through ARM's generic
resource API (plain GETs, see arm.py) with an explicit, stable API version per type; the
answer is the resource's REST JSON, the same shape Azure Resource Graph returns. Private DNS record
sets and virtual network links are plain GETs too, at azure.mgmt.privatedns's API version. See the
README's design notes for why not the network SDK or the CLI's generated network commands.
"""
from ..ids import id_name, parse_resource_id
from ..netpath import privatelink_zone
from .base import FactError

NETWORK_API = "2024-05-01"
NETWORK_TYPES = ("virtualnetworks", "privateendpoints", "networkinterfaces", "publicipaddresses",
                 "publicipprefixes", "loadbalancers", "natgateways", "routetables", "networksecuritygroups",
                 "azurefirewalls", "serviceendpointpolicies")
API_VERSIONS = {"microsoft.network/" + t: NETWORK_API for t in NETWORK_TYPES}
# Read per run only when a route leads to an Azure Firewall (not part of fleet's bulk network read).
FIREWALL_TYPES = ("firewallpolicies", "ipgroups")
API_VERSIONS.update({"microsoft.network/" + t: NETWORK_API for t in FIREWALL_TYPES})
# Types read from a listing of the node resource group when the cluster's VNet is AKS-managed (see _node_subnets).
NODE_RG_LISTS = {"microsoft.network/virtualnetworks": "node_resource_group_vnets",
                 "microsoft.network/networksecuritygroups": "node_resource_group_nsgs"}
WORDS = {"virtualnetworks": "virtual network", "privateendpoints": "private endpoint",
         "networkinterfaces": "network interface", "publicipaddresses": "public IP address",
         "publicipprefixes": "public IP prefix", "loadbalancers": "load balancer", "natgateways": "NAT gateway",
         "routetables": "route table", "networksecuritygroups": "network security group",
         "azurefirewalls": "Azure Firewall", "firewallpolicies": "firewall policy", "ipgroups": "IP group",
         "serviceendpointpolicies": "service endpoint policy"}
RESOURCES_API = "2024-11-01"   # the generic resource listing, as azure-mgmt-resource calls it
SUBSCRIPTIONS_API = "2022-12-01"
PRIVATE_DNS_API = "2018-09-01"   # as azure.mgmt.privatedns calls it


def vnet_of(subnet_id):
    """The VNet id of a subnet id."""
    low = (subnet_id or "").lower()
    cut = low.find("/subnets/")
    return subnet_id[:cut] if cut >= 0 else None


def _ref(obj, *path):
    for key in path:
        obj = (obj or {}).get(key)
    return (obj or {}).get("id") if isinstance(obj, dict) else None


class NetworkFacts:
    """Mixin for LiveFacts: network resources by id, read once each."""

    # -- raw reads ----------------------------------------------------------------------------
    def network_resource(self, resource_id):
        """A network resource by id as REST JSON; FactError (404 included) when it cannot be read."""
        return self.once(("network", resource_id.lower().rstrip("/")), lambda: self._get_network(resource_id))

    def _get_network(self, resource_id):
        rid = parse_resource_id(resource_id)
        kind = "{}/{}".format(rid.namespace, rid.type).lower() if rid else None
        if not rid or kind not in API_VERSIONS or rid.child:
            raise FactError("{} is not a network resource id this tool reads".format(resource_id))
        listed = self._listed_in_node_rg(rid, NODE_RG_LISTS[kind]) if kind in NODE_RG_LISTS else None
        if listed is not None:
            return listed
        return self._read("{} {}".format(WORDS.get(rid.type.lower(), rid.type), rid.name),   # plain GET: arm.py
                          "{}/{}/read".format(rid.namespace, rid.type),
                          lambda: self.arm_get(resource_id, API_VERSIONS[kind], rid.subscription))

    def node_resource_group_vnets(self):
        """The VNets of the node resource group, whole (the provider's list returns what a GET of each returns)."""
        return self.once("node_rg_vnets", lambda: self._list_node_rg("virtualNetworks", "virtual networks"))

    def node_resource_group_nsgs(self):
        """The NSGs of the node resource group, whole: an AKS-managed VNet's subnet has its NSG there."""
        return self.once("node_rg_nsgs", lambda: self._list_node_rg("networkSecurityGroups",
                                                                    "network security groups"))

    def _list_node_rg(self, kind, words):
        node_rg, sub = self.node_resource_group(), self.cluster_subscription()
        path = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/{}".format(sub, node_rg, kind)
        return self._read("the {} in node resource group {}".format(words, node_rg),   # plain GET: arm.py
                          "Microsoft.Network/{}/read".format(kind), lambda: self.arm_list(path, NETWORK_API, sub))

    def list_node_resource_group(self, *listings):
        """Start listings of the node resource group (``NODE_RG_LISTS``' values) and answer its VNets or NSGs from them
        from now on, instead of a GET each that would wait for whatever names them."""
        self.__dict__.setdefault("_node_rg_listed", set()).update(listings)
        self.prefetch(*[getattr(self, listing) for listing in listings])

    def _listed_in_node_rg(self, rid, listing):
        """A VNet or NSG of the node resource group from its listing, when one was started (else None)."""
        if listing not in getattr(self, "_node_rg_listed", ()) or \
                rid.resource_group.lower() != (self.node_resource_group() or "").lower() or \
                rid.subscription.lower() != (self.cluster_subscription() or "").lower():
            return None
        try:
            listed = getattr(self, listing)()
        except FactError:   # the resource's own GET says why
            return None
        return next((v for v in listed if (v.get("id") or "").lower() == rid.id.lower().rstrip("/")), None)

    def resources_of_type(self, subscription, resource_type, resource_group=None, name=None):
        """Generic listing (id, name, type, location) of one resource type, optionally by name."""
        key = ("resources_of_type", subscription.lower(), resource_type.lower(), (resource_group or "").lower(),
               (name or "").lower())
        return self.once(key, lambda: self._list_resources(subscription, resource_type, resource_group, name))

    def _list_resources(self, subscription, resource_type, resource_group, name):
        flt = "resourceType eq '{}'".format(resource_type) + (" and name eq '{}'".format(name) if name else "")
        where = "resource group {}".format(resource_group) if resource_group else "subscription {}".format(subscription)
        path = "/subscriptions/{}{}/resources".format(
            subscription, "/resourceGroups/{}".format(resource_group) if resource_group else "")
        return self._read("the {} in {}".format(resource_type, where), "{}/read".format(resource_type),   # arm.py
                          lambda: self.arm_list(path, RESOURCES_API, subscription, **{"$filter": flt}))

    def dns_zone_links(self, zone_id):
        """The virtual network links of a private DNS zone."""
        return self.once(("dns_links", zone_id.lower()), lambda: self._list_links(zone_id))

    def _list_links(self, zone_id):
        rid = parse_resource_id(zone_id)
        return self._read("the virtual network links of private DNS zone {}".format(rid.name),   # plain GET: arm.py
                          "Microsoft.Network/privateDnsZones/virtualNetworkLinks/read",
                          lambda: self.arm_list(rid.id + "/virtualNetworkLinks", PRIVATE_DNS_API, rid.subscription))

    def dns_record(self, zone_id, record_type, relative_name):
        """A record set of a private DNS zone, or None when it does not exist."""
        key = ("dns_record", zone_id.lower(), record_type.upper(), relative_name.lower())
        return self.once(key, lambda: self._get_record(zone_id, record_type, relative_name))

    def _get_record(self, zone_id, record_type, relative_name):
        rid = parse_resource_id(zone_id)
        try:   # plain GET: see arm.py
            return self._read("record {} {} in zone {}".format(record_type, relative_name, rid.name),
                              "Microsoft.Network/privateDnsZones/{}/read".format(record_type),
                              lambda: self.arm_get("{}/{}/{}".format(rid.id, record_type.upper(), relative_name),
                                                   PRIVATE_DNS_API, rid.subscription))
        except FactError as err:
            if err.status_code == 404:
                return None
            raise

    def registry_replications(self, registry):
        """The registry's replicas (each adds a data endpoint in its region)."""
        return self.once(("replications", registry["id"].lower()), lambda: self._list_replications(registry))

    def _list_replications(self, registry):
        from .arm import REGISTRY_API
        if ((registry.get("sku") or {}).get("name") or "").lower() != "premium":
            return []
        rid = parse_resource_id(registry["id"])
        return self._read("the replications of registry {}".format(rid.name),   # plain GET: see arm.py
                          "Microsoft.ContainerRegistry/registries/replications/read",
                          lambda: self.arm_list(rid.id + "/replications", REGISTRY_API, rid.subscription))

    def readable_subscriptions(self):
        """Enabled subscriptions the signed-in account can read in the current tenant (ARM's list, not az's
        cache, which holds only what existed at `az login`)."""
        return self.once("readable_subscriptions", self._readable_subscriptions)

    def _readable_subscriptions(self):
        from azure.cli.core._profile import Profile
        from azure.cli.core.commands.client_factory import get_subscription_id

        current = get_subscription_id(self.cli_ctx).lower()
        tenant = next((s.get("tenantId") for s in Profile(cli_ctx=self.cli_ctx).load_cached_subscriptions()
                       if s.get("id", "").lower() == current), None)
        listed = self._read("the subscriptions of the signed-in account",   # plain GET: see arm.py
                            "Microsoft.Resources/subscriptions/read",
                            lambda: self.arm_list("/subscriptions", SUBSCRIPTIONS_API))
        subs = [current, (self.cluster_subscription() or current).lower()]
        subs += [s["subscriptionId"].lower() for s in listed if s.get("state", "Enabled") == "Enabled"
                 and (tenant is None or s.get("tenantId") in (None, tenant))]
        return list(dict.fromkeys(subs))

    # -- derived facts ------------------------------------------------------------------------
    def private_dns_zones(self):
        """Every privatelink zone for registries that the account can list, in any subscription."""
        return self.once("private_dns_zones", self._private_dns_zones)

    def _private_dns_zones(self):
        zone_name = privatelink_zone(self.request.acr_suffix)

        def search(sub):
            return self.resources_of_type(sub, "Microsoft.Network/privateDnsZones", name=zone_name)
        # The subscriptions known without the list (the cluster's, the registries' private endpoints') are searched
        # while the list is read; of what the list adds, the rest after it. Only the listed ones' answers count.
        self.prefetch(*[lambda s=s: search(s) for s in self._zone_subscription_hints()])
        subs = self.readable_subscriptions()
        found = self.parallel(search, subs)
        zones, unreadable = [], []
        for sub, result in zip(subs, found, strict=True):
            if isinstance(result, FactError):
                unreadable.append({"subscription": sub, "reason": result.reason})
            else:
                zones.extend(z for z in result if z.get("name", "").lower() == zone_name)
        return {"name": zone_name, "zones": zones, "unreadable": unreadable}

    def _zone_subscription_hints(self):
        hints = []
        try:
            hints.append((self.cluster_subscription() or "").lower())
            for registry in self.registries():
                for conn in (registry.get("properties") or {}).get("privateEndpointConnections") or []:
                    endpoint = ((conn.get("properties") or {}).get("privateEndpoint") or {}).get("id")
                    rid = parse_resource_id(endpoint) if endpoint else None
                    if rid and rid.subscription:
                        hints.append(rid.subscription.lower())
        except FactError:
            pass   # the search waits for the list then; the fact that failed says why where it is used
        return [h for h in dict.fromkeys(hints) if h]

    def service_endpoint_policy(self, policy_id):
        """A service endpoint policy by id (one GET, read once)."""
        return self.network_resource(policy_id)

    def subnet(self, subnet_id):
        """A subnet as its VNet lists it (one read of the VNet serves all its subnets)."""
        vnet = self.network_resource(vnet_of(subnet_id))
        name = id_name(subnet_id).lower()
        for subnet in (vnet.get("properties") or {}).get("subnets") or []:
            if subnet.get("name", "").lower() == name:
                return subnet
        raise FactError("subnet {} was not found in virtual network {}".format(id_name(subnet_id), vnet.get("name")),
                        404)

    def node_subnets(self):
        """Each node pool's subnet: vnetSubnetID, else the subnet its scale set's NICs use, else the
        AKS-managed VNet in the node resource group."""
        return self.once("node_subnets", self._node_subnets)

    def _node_subnets(self):
        pools = self.node_pools()
        result, unknown = [], []
        for pool in pools:
            if pool.get("vnetSubnetID"):
                result.append({"pool": pool["name"], "subnetId": pool["vnetSubnetID"], "source": "vnetSubnetID"})
            else:
                unknown.append(pool)
        if unknown:
            # The AKS-managed VNet is in the node resource group: list that group's VNets (and the NSGs, which its
            # subnet uses) while the scale sets are read, so that reading the subnet's VNet and then its NSG does
            # not wait for them (two round trips less; _get_network).
            self.list_node_resource_group("node_resource_group_vnets", "node_resource_group_nsgs")
            scale_sets = self.node_vmss() if any((p.get("type") or "VirtualMachineScaleSets") ==
                                                 "VirtualMachineScaleSets" for p in unknown) else []
            managed = None
            for pool in unknown:
                subnet_id = _vmss_subnet(scale_sets, pool["name"])
                source = "scaleSet"
                if not subnet_id:
                    managed = managed or self._managed_subnet()
                    subnet_id, source = managed, "managedVnet"
                result.append({"pool": pool["name"], "subnetId": subnet_id, "source": source})
        return result

    def _managed_subnet(self):
        node_rg = self.node_resource_group()
        sub = self.cluster_subscription()
        vnets = self.resources_of_type(sub, "Microsoft.Network/virtualNetworks", resource_group=node_rg)
        if not vnets:
            raise FactError("no node pool names a subnet and node resource group {} holds no virtual network".format(
                node_rg))
        vnet = self.network_resource(vnets[0]["id"])
        subnets = (vnet.get("properties") or {}).get("subnets") or []
        if not subnets:
            raise FactError("the AKS-managed virtual network {} has no subnet".format(vnet.get("name")))
        return subnets[0]["id"]

    def cluster_vnet_ids(self):
        return list(dict.fromkeys(vnet_of(s["subnetId"]) for s in self.node_subnets()))

    def node_nic_nsgs(self):
        """NSG ids on the node pools' NICs (from their scale sets), by pool name."""
        pools = [p for p in self.node_pools() if (p.get("type") or "VirtualMachineScaleSets") ==
                 "VirtualMachineScaleSets"]
        scale_sets = self.node_vmss() if pools else []
        found = {}
        for pool in pools:
            vmss = _pool_vmss(scale_sets, pool["name"])
            for nic in _nic_configs(vmss):
                nsg = _ref(nic.get("properties"), "networkSecurityGroup")
                if nsg:
                    found.setdefault(pool["name"], []).append(nsg)
        return found

    def registry_endpoints(self, registry):
        """The registry's private endpoints: connection state, subnet, and the IPs each host maps to."""
        return self.once(("registry_endpoints", registry["id"].lower()), lambda: self._registry_endpoints(registry))

    def _registry_endpoints(self, registry):
        connections = (registry.get("properties") or {}).get("privateEndpointConnections") or []
        ids = [_ref(c.get("properties"), "privateEndpoint") for c in connections]
        endpoints = self.parallel(self.network_resource, [i for i in ids if i])
        by_id = dict(zip([i.lower() for i in ids if i], endpoints, strict=True))
        result = []
        for conn, pe_id in zip(connections, ids, strict=True):
            state = (conn.get("properties") or {}).get("privateLinkServiceConnectionState") or {}
            entry = {"connection": conn.get("name"), "status": state.get("status"),
                     "description": state.get("description"), "endpointId": pe_id, "addresses": {}}
            endpoint = by_id.get((pe_id or "").lower())
            if pe_id is None or isinstance(endpoint, FactError):
                entry["error"] = endpoint.reason if isinstance(endpoint, FactError) else "no private endpoint"
                result.append(entry)
                continue
            props = endpoint.get("properties") or {}
            entry["name"] = endpoint.get("name")
            entry["subnetId"] = _ref(props, "subnet")
            entry["vnetId"] = vnet_of(entry["subnetId"])
            addresses = {}
            for config in props.get("customDnsConfigs") or []:
                addresses.setdefault(config.get("fqdn", "").lower(), set()).update(config.get("ipAddresses") or [])
            if not addresses:
                nics = self.parallel(self.network_resource, [n["id"] for n in props.get("networkInterfaces") or []])
                for nic in nics:
                    if isinstance(nic, FactError):
                        entry["error"] = nic.reason
                        continue
                    for ipc in (nic.get("properties") or {}).get("ipConfigurations") or []:
                        ip_props = ipc.get("properties") or {}
                        for fqdn in (ip_props.get("privateLinkConnectionProperties") or {}).get("fqdns") or []:
                            addresses.setdefault(fqdn.lower(), set()).add(ip_props.get("privateIPAddress"))
            entry["addresses"] = {k: sorted(a for a in v if a) for k, v in sorted(addresses.items()) if k}
            result.append(entry)
        return result

    def cluster_egress(self):
        """The public addresses the nodes leave from, by outbound type.

        A NAT gateway on the node subnet wins over the load balancer's outbound rules (Azure's order);
        with userDefinedRouting the address is the firewall's or appliance's and cannot be known here."""
        return self.once("cluster_egress", self._cluster_egress)

    def _cluster_egress(self):
        profile = (self.cluster().get("properties") or {}).get("networkProfile") or {}
        outbound = profile.get("outboundType") or "loadBalancer"
        egress = {"outboundType": outbound, "known": True, "addresses": [], "sources": [], "note": ""}
        nat_ids = []
        if outbound in ("loadBalancer", "userAssignedNATGateway"):
            for entry in self.node_subnets():
                nat = _ref(self.subnet(entry["subnetId"]).get("properties"), "natGateway")
                if nat and nat.lower() not in [n.lower() for n in nat_ids]:
                    nat_ids.append(nat)
        if outbound == "userDefinedRouting":
            egress.update(known=False, note="outbound type userDefinedRouting: the nodes leave through the firewall "
                                            "or appliance their route table points to, so the egress address is the "
                                            "firewall's public IP and cannot be known from the cluster")
            return egress
        if outbound in ("none", "block"):
            egress.update(known=True, note="outbound type {}: the cluster has no outbound path to public "
                                           "endpoints".format(outbound))
            return egress
        if nat_ids:
            refs = []
            for nat in self.parallel(self.network_resource, nat_ids):
                if isinstance(nat, FactError):
                    raise nat
                props = nat.get("properties") or {}
                refs += [r["id"] for r in (props.get("publicIpAddresses") or []) + (props.get("publicIpPrefixes")
                                                                                    or [])]
                egress["sources"].append(nat["id"])
        elif outbound == "managedNATGateway":
            refs = [r["id"] for r in (profile.get("natGatewayProfile") or {}).get("effectiveOutboundIPs") or []]
            egress["sources"].append("natGatewayProfile.effectiveOutboundIPs")
        elif outbound == "loadBalancer":
            lb_profile = profile.get("loadBalancerProfile") or {}
            refs = [r["id"] for r in lb_profile.get("effectiveOutboundIPs") or []]
            egress["sources"].append("loadBalancerProfile.effectiveOutboundIPs")
            if not refs:
                refs = self._lb_outbound_refs()
                egress["sources"].append("load balancer kubernetes: outbound rules")
        else:
            egress.update(known=False, note="outbound type {} is not one this tool knows".format(outbound))
            return egress
        for found in self.parallel(self.network_resource, refs):
            if isinstance(found, FactError):
                raise found
            props = found.get("properties") or {}
            if props.get("ipAddress"):
                egress["addresses"].append({"address": props["ipAddress"], "resourceId": found["id"]})
            elif props.get("ipPrefix"):
                egress["addresses"].append({"address": props["ipPrefix"], "resourceId": found["id"]})
        public_pools = [p["name"] for p in self.node_pools() if p.get("enableNodePublicIP")]
        if public_pools:
            egress["note"] = ("node pool(s) {} give each node its own public IP, which is the egress address of "
                              "those nodes".format(", ".join(public_pools)))
            egress["nodePublicIPPools"] = public_pools
        if not egress["addresses"]:
            egress.update(known=False, note=egress["note"] or "no outbound public IP was found for the cluster")
        return egress

    def firewall_at(self, ip):
        """The Azure Firewall whose private address is ``ip`` (a route's next hop): id, name, its public IPs and
        whether it takes its rules from a firewall policy; None when it is not one or cannot be read. Searched in
        the VNets that hold the address among the cluster's VNet and its peers (a firewall lives in its VNet's
        resource group)."""
        return self.once(("firewall_at", ip), lambda: self._firewall_at(ip))

    def _firewall_at(self, ip):
        from ..netpath import contains
        vnets = []
        for vnet_id in self.cluster_vnet_ids():
            vnet = self.network_resource(vnet_id)
            props = vnet.get("properties") or {}
            if any(contains(p, ip) for p in (props.get("addressSpace") or {}).get("addressPrefixes") or []):
                vnets.append(vnet_id)
            for peering in props.get("virtualNetworkPeerings") or []:
                p = peering.get("properties") or {}
                if any(contains(prefix, ip) for prefix in (p.get("remoteAddressSpace") or {}).get("addressPrefixes")
                       or []):
                    vnets.append(_ref(p, "remoteVirtualNetwork"))
        for vnet_id in dict.fromkeys(v for v in vnets if v):
            rid = parse_resource_id(vnet_id)
            try:
                listed = self.resources_of_type(rid.subscription, "Microsoft.Network/azureFirewalls",
                                                resource_group=rid.resource_group)
            except FactError as err:
                if err.fault:   # not knowing whether a firewall is there decides nothing: the checks say Error
                    raise
                continue
            for firewall in self.parallel(self.network_resource, [f["id"] for f in listed]):
                if isinstance(firewall, FactError):
                    if firewall.fault:
                        raise firewall
                    continue
                props = firewall.get("properties") or {}
                configs = [c.get("properties") or {} for c in props.get("ipConfigurations") or []]
                if any(c.get("privateIPAddress") == ip for c in configs):
                    refs = [_ref(c, "publicIPAddress") for c in configs if _ref(c, "publicIPAddress")]
                    found = [p for p in self.parallel(self.network_resource, refs) if not isinstance(p, FactError)
                             or _raise_fault(p)]
                    return {"id": firewall["id"], "name": firewall["name"], "privateIp": ip,
                            "policy": _ref(props, "firewallPolicy"),
                            "publicIps": [(p.get("properties") or {}).get("ipAddress") for p in found
                                          if (p.get("properties") or {}).get("ipAddress")]}
        return None

    def firewall_rules(self, firewall):
        """What an Azure Firewall decides by: its policy chain (topmost base policy first, each with its rule
        collection groups), or its classic rule collections, and the addresses of every IP group they name."""
        return self.once(("firewall_rules", firewall["id"].lower()), lambda: self._firewall_rules(firewall))

    def _firewall_rules(self, firewall):
        chain, seen, policy_id = [], set(), firewall.get("policy")
        classic = None if policy_id else (self.network_resource(firewall["id"]).get("properties") or {})
        while policy_id and policy_id.lower() not in seen:
            seen.add(policy_id.lower())
            policy = self.network_resource(policy_id)
            chain.insert(0, {"id": policy["id"], "name": policy.get("name"),
                             "groups": self.firewall_rule_collection_groups(policy["id"])})
            policy_id = _ref(policy.get("properties"), "basePolicy")
        groups = set()
        rules = [r for p in chain for g in p["groups"] for c in (g.get("properties") or {}).get("ruleCollections")
                 or [] for r in c.get("rules") or []]
        rules += [r for f in ("applicationRuleCollections", "networkRuleCollections") for c in (classic or {}).get(f)
                  or [] for r in (c.get("properties") or {}).get("rules") or []]
        for rule in rules:
            groups.update(g for f in ("sourceIpGroups", "destinationIpGroups") for g in rule.get(f) or [])
        ip_groups = {}
        for group_id, found in zip(sorted(groups), self.parallel(self.network_resource, sorted(groups)), strict=True):
            ip_groups[group_id.lower()] = None if isinstance(found, FactError) else \
                list((found.get("properties") or {}).get("ipAddresses") or [])
        return {"policies": chain, "classic": classic, "ipGroups": ip_groups}

    def firewall_rule_collection_groups(self, policy_id):
        """The rule collection groups of a firewall policy (a child collection: one listing)."""
        rid = parse_resource_id(policy_id)
        return self._read("the rule collection groups of firewall policy {}".format(rid.name),   # plain GET: arm.py
                          "Microsoft.Network/firewallPolicies/ruleCollectionGroups/read",
                          lambda: self.arm_list(rid.id.rstrip("/") + "/ruleCollectionGroups", NETWORK_API,
                                                rid.subscription))

    def _lb_outbound_refs(self):
        lb_id = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/loadBalancers/kubernetes".format(
            self.cluster_subscription(), self.node_resource_group())
        try:
            lb = self.network_resource(lb_id)
        except FactError as err:
            if err.status_code == 404:
                return []
            raise
        props = lb.get("properties") or {}
        frontends = {f["id"].lower(): f for f in props.get("frontendIPConfigurations") or [] if f.get("id")}
        refs = []
        for rule in props.get("outboundRules") or []:
            for ref in (rule.get("properties") or {}).get("frontendIPConfigurations") or []:
                frontend = (frontends.get(ref.get("id", "").lower()) or {}).get("properties") or {}
                for key in ("publicIPAddress", "publicIPPrefix"):
                    if _ref(frontend, key):
                        refs.append(_ref(frontend, key))
        return list(dict.fromkeys(refs))


def _pool_vmss(scale_sets, pool_name):
    for vmss in scale_sets or []:
        tags = {k.lower(): v for k, v in (vmss.get("tags") or {}).items()}
        if tags.get("aks-managed-poolname", "").lower() == pool_name.lower():
            return vmss
    return None


def _nic_configs(vmss):
    profile = ((vmss or {}).get("properties") or {}).get("virtualMachineProfile") or {}
    return (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []


def _vmss_subnet(scale_sets, pool_name):
    for nic in _nic_configs(_pool_vmss(scale_sets, pool_name)):
        for ipc in (nic.get("properties") or {}).get("ipConfigurations") or []:
            subnet = _ref(ipc.get("properties"), "subnet")
            if subnet:
                return subnet
    return None


def _raise_fault(err):
    """Skip a resource that may not be read (an answer); raise a service's failure, which decides nothing."""
    if err.fault:
        raise err
    return False
