"""What the network checks share: the registry's hosts, the cluster's egress and the registry's private path,
derived once per run (per registry) from the facts as frozen records, and the small judgements several checks make
from them (does the cluster go private, does the registry take its public path)."""
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Optional

from ..facts import FactError
from ..ids import parse_resource_id, same_id
from ..netpath import AZURE_DNS, contains, record_name, registry_host_names, route_for_internet, uncovered

APPROVED = "approved"
# IP rules named in a finding (evidence and words): a registry shared by a fleet may allow hundreds of addresses.
SHOWN_RULES = 20


def props(resource):
    return (resource or {}).get("properties") or {}


def raise_first(results):
    for result in results:
        if isinstance(result, FactError):
            raise result
    return results


def sub_flag(facts, resource_id):
    """' --subscription <id>' when a resource lives outside the cluster's subscription."""
    rid = parse_resource_id(resource_id)
    if rid and (facts.cluster_subscription() or "").lower() != rid.subscription.lower():
        return " --subscription {}".format(rid.subscription)
    return ""


def zone_rg_args(zone_id):
    rid = parse_resource_id(zone_id)
    return "-g {} -z {}".format(rid.resource_group, rid.name)


def _derived(facts, name, registry, compute):
    """A fact worked out from others, once per run and registry (its errors too)."""
    return facts.once(("derived", name, (registry or {}).get("id", "").lower()), compute)


# -- the registry's hosts ---------------------------------------------------------------------------------------------
def registry_hosts(facts, registry):
    """The login server and one data endpoint per region the registry lives in (home and replicas)."""
    return _derived(facts, "hosts", registry, lambda: _hosts(facts, registry))


def _hosts(facts, registry):
    dedicated = bool(facts.registry_endpoints(registry) or props(registry).get("dataEndpointEnabled"))
    regions = [r.get("location") or "" for r in facts.registry_replications(registry)] if dedicated else []
    return registry_host_names(registry, facts.request.acr_suffix, dedicated, regions)


def dedicated_data_endpoints(facts, registry):
    return bool(props(registry).get("dataEndpointEnabled") or facts.registry_endpoints(registry))


# -- the cluster's egress ---------------------------------------------------------------------------------------------
EGRESS_WORDS = {"loadBalancer": "load balancer outbound IPs", "managedNATGateway": "managed NAT gateway",
                "userAssignedNATGateway": "NAT gateway"}


@dataclass(frozen=True)
class Egress:
    """The public addresses the nodes leave from (``known`` is False when an appliance's address decides)."""
    outbound_type: str
    known: bool
    addresses: tuple
    sources: tuple
    note: str

    @property
    def closed(self):
        return self.outbound_type in ("none", "block")

    def words(self):
        return EGRESS_WORDS.get(self.outbound_type, self.outbound_type) + (
            " via NAT gateway on the node subnet" if self.outbound_type == "loadBalancer" and any(
                "/natgateways/" in s.lower() for s in self.sources) else "")


def cluster_egress(facts):
    return _derived(facts, "egress", None, lambda: _egress(facts.cluster_egress()))


def _egress(found):
    return Egress(found["outboundType"], found["known"], tuple(a["address"] for a in found["addresses"]),
                  tuple(found.get("sources") or ()), found.get("note") or "")


def default_next_hop(facts):
    """The next hop the node subnets' route tables give 0.0.0.0/0, when one names an address."""
    for entry in facts.node_subnets():
        table = props(facts.subnet(entry["subnetId"])).get("routeTable")
        if table:
            route = route_for_internet(facts.network_resource(table["id"]))
            if route and props(route).get("nextHopIpAddress"):
                return props(route)["nextHopIpAddress"]
    return None


# -- the registry's private path --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resolver:
    """Which VNet's DNS view the nodes get: their own VNet with Azure DNS, or the VNet that holds the custom DNS
    server (found through the peerings' remote address spaces); ``vnet_id`` None when unknown."""
    cluster_vnet_id: str
    dns_servers: tuple
    vnet_id: Optional[str]

    @property
    def custom_unseen(self):
        """Custom DNS servers outside the VNets seen here: what they answer cannot be read from Azure."""
        return bool(self.dns_servers) and not self.vnet_id


@dataclass(frozen=True)
class PrivatePath:
    """How the cluster's network reaches a registry privately: its endpoints (the approved ones), the privatelink
    zones and their links, the zone linked to the resolving VNet and its A records, and the endpoint in use.
    Only ``endpoints`` and ``approved`` are filled for a registry without private endpoints."""
    endpoints: tuple
    approved: tuple
    hosts: tuple = ()
    resolver: Optional[Resolver] = None
    zone_search: Mapping = field(default_factory=dict)
    links: Mapping = field(default_factory=dict)
    links_unreadable: tuple = ()
    zones: tuple = ()
    linked: Optional[Mapping] = None
    records: Mapping = field(default_factory=dict)
    endpoint: Optional[Mapping] = None

    @property
    def goes_private(self):
        """Does the cluster's DNS send the login server to an approved private endpoint?"""
        if not self.endpoint:
            return False
        if self.resolver.custom_unseen:
            return True   # custom DNS outside the VNets seen here: assume it forwards to the private zone
        login = self.hosts[0]
        return bool(self.linked) and self.records.get(login) == self.endpoint["addresses"].get(login)


def private_path(facts, registry):
    """The registry's private path, worked out once per run (the DNS checks, the firewall rules, peering, the egress
    path and the probe all judge from it)."""
    return _derived(facts, "private-path", registry, lambda: _private_path(facts, registry))


def _resolver(facts):
    vnet = facts.network_resource(facts.cluster_vnet_ids()[0])
    servers = tuple(s for s in ((props(vnet).get("dhcpOptions") or {}).get("dnsServers") or []) if s != AZURE_DNS)
    if not servers:
        return Resolver(vnet["id"], servers, vnet["id"])
    own = (props(vnet).get("addressSpace") or {}).get("addressPrefixes") or []
    if any(contains(p, servers[0]) for p in own):
        return Resolver(vnet["id"], servers, vnet["id"])
    for peering in props(vnet).get("virtualNetworkPeerings") or []:
        p = props(peering)
        remote = (p.get("remoteAddressSpace") or p.get("remoteVirtualNetworkAddressSpace") or {})
        if any(contains(prefix, servers[0]) for prefix in remote.get("addressPrefixes") or []):
            return Resolver(vnet["id"], servers, (p.get("remoteVirtualNetwork") or {}).get("id"))
    return Resolver(vnet["id"], servers, None)


def _private_path(facts, registry):
    if props(registry).get("privateEndpointConnections"):
        # The zone search, the resolving VNet and the replicas (their regions' data endpoints are among the hosts to
        # resolve) do not wait for the endpoints: start them while those are read.
        facts.prefetch(facts.private_dns_zones, lambda: _resolver(facts),
                       lambda: facts.registry_replications(registry))
    endpoints = tuple(facts.registry_endpoints(registry))
    approved = tuple(e for e in endpoints if (e.get("status") or "").lower() == APPROVED and not e.get("error"))
    if not endpoints:
        return PrivatePath(endpoints, approved)
    # The endpoints' VNets are read later (peerings, routes), after the DNS records: start them now.
    facts.prefetch(*[lambda v=e["vnetId"]: facts.network_resource(v) for e in approved if e.get("vnetId")])
    unreadable = [e for e in endpoints if e.get("error") and (e.get("status") or "").lower() == APPROVED]
    if unreadable:
        raise FactError(unreadable[0]["error"])
    hosts = registry_hosts(facts, registry)
    resolver = _resolver(facts)
    search = facts.private_dns_zones()
    # The A records do not wait for the links: read them for each zone found while its links are read.
    names = [record_name(h, facts.request.acr_suffix) for h in hosts]
    facts.prefetch(*[lambda z=z["id"], n=n: facts.dns_record(z, "A", n) for z in search["zones"] for n in names])
    found = facts.parallel(facts.dns_zone_links, [z["id"] for z in search["zones"]])
    links = {z["id"]: f for z, f in zip(search["zones"], found, strict=True) if not isinstance(f, FactError)}
    links_unreadable = tuple({"zone": z["id"], "reason": f.reason}
                             for z, f in zip(search["zones"], found, strict=True) if isinstance(f, FactError))
    zones = tuple(z for z in search["zones"] if z["id"] in links)
    linked = None
    if resolver.vnet_id:
        for zone in zones:
            for link in links[zone["id"]]:
                if same_id(((props(link).get("virtualNetwork")) or {}).get("id"), resolver.vnet_id):
                    linked = MappingProxyType({"zone": zone, "link": link})
    if linked is None and links_unreadable:
        # an unreadable zone may be the linked one: no verdict rather than a wrong "not linked"
        raise FactError(links_unreadable[0]["reason"])
    records = {}
    if linked:
        found = raise_first(facts.parallel(lambda n: facts.dns_record(linked["zone"]["id"], "A", n), names))
        records = {h: sorted(a.get("ipv4Address") for a in (props(r).get("aRecords") or [])) if r else None
                   for h, r in zip(hosts, found, strict=True)}
    path = PrivatePath(endpoints, approved, hosts, resolver, search, links, links_unreadable, zones, linked, records)
    return PrivatePath(endpoints, approved, hosts, resolver, search, links, links_unreadable, zones, linked, records,
                       _endpoint_in_use(facts, path))


def _endpoint_in_use(facts, path):
    """The approved endpoint the cluster should reach: the one its DNS points at, else one in its own VNet, else one
    in a peered VNet, else the first."""
    approved = [e for e in path.approved if e.get("addresses")]
    if not approved:
        return None
    login = path.hosts[0]
    for endpoint in approved:
        if path.records.get(login) and path.records[login] == endpoint["addresses"].get(login):
            return endpoint
    vnets = facts.cluster_vnet_ids()
    for endpoint in approved:
        if any(same_id(endpoint.get("vnetId"), v) for v in vnets):
            return endpoint
    peered = {(props(p).get("remoteVirtualNetwork") or {}).get("id", "").lower()
              for p in props(facts.network_resource(vnets[0])).get("virtualNetworkPeerings") or []}
    for endpoint in approved:
        if (endpoint.get("vnetId") or "").lower() in peered:
            return endpoint
    return approved[0]


# -- the registry's public path ---------------------------------------------------------------------------------------
def vnet_rules(rules):
    return [r.get("virtualNetworkResourceId") or r.get("id") for r in rules.get("virtualNetworkRules") or []]


def allowed_ips(rules):
    """The addresses and ranges a registry's network rule set allows (worked out once per rule list: a fleet's
    clusters share their registry's)."""
    listed = rules.get("ipRules") or []
    known = _ALLOWED.get(id(listed))
    if known is None or known[0] is not listed or known[1] != len(listed):
        if len(_ALLOWED) > 256:
            _ALLOWED.clear()
        values = tuple(r.get("value") for r in listed if (r.get("action") or "Allow") == "Allow")
        known = _ALLOWED[id(listed)] = (listed, len(listed), values)
    return known[2]


_ALLOWED = {}   # id(ipRules) -> (ipRules, its length, allowed values); the list is kept so its id is not reused


def rules_words(allowed):
    """The allowed addresses in words; a registry shared by many clusters may allow hundreds: then their number."""
    if len(allowed) > SHOWN_RULES:
        return "{} IP rules".format(len(allowed))
    return ", ".join(allowed) or "no IP rules"


def public_path(facts, registry):
    """Why the registry takes the cluster's pulls at its public endpoint, or None. A cluster that resolves the public
    address then still pulls: a private endpoint it does not use costs privacy, not pulls. None as well when the
    cluster's egress address cannot be known (userDefinedRouting): that case stays with acr-network-rules."""
    p = props(registry)
    if (p.get("publicNetworkAccess") or "Enabled") != "Enabled":
        return None
    rules = p.get("networkRuleSet") or {}
    if (rules.get("defaultAction") or "Allow") == "Allow":
        return "takes pulls from all networks (public network access Enabled, default action Allow)"
    try:
        subnets = [s["subnetId"] for s in facts.node_subnets()]
        egress = cluster_egress(facts)
    except FactError:
        return None   # unknown: judged as a closed path, as before this was asked
    if any(same_id(v, s) for v in vnet_rules(rules) for s in subnets):
        return "allows the node subnet by a virtual network rule"
    if not egress.known or not egress.addresses or egress.closed:
        return None
    if uncovered(list(egress.addresses), allowed_ips(rules)):
        return None
    return "allows the cluster's egress {} in its IP rules".format(", ".join(egress.addresses))


def public_consequence(registry, why_public):
    """What resolving the registry's public address does to a pull: refused or timed out, or, when the registry
    takes the cluster's public path (``why_public``, from ``public_path``), nothing yet but privacy."""
    if not why_public:
        return "the pull is refused (403) or times out"
    return ("registry {} {}, so pulls go to its public endpoint and this alone does not block them, but they bypass "
            "the private endpoint").format(registry["name"], why_public)


def peering_to(vnet, remote_id):
    """The peering of ``vnet`` whose remote is ``remote_id``, or None."""
    for peering in props(vnet).get("virtualNetworkPeerings") or []:
        if same_id((props(peering).get("remoteVirtualNetwork") or {}).get("id"), remote_id):
            return peering
    return None
