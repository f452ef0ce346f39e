"""Causes 3 and 4: 403 Forbidden and i/o timeout. Private DNS, the registry's firewall, peering and
the path out of the node subnet, judged from Azure's own network facts; and, with --probe, one
look from inside the cluster."""
from ..classify import classify_pull_error
from ..common import firewall as firewall_judge
from ..common.registry import no_registry_found, registry_target
from ..facts import FactError
from ..findings import FAIL, PASS, SKIPPED, WARNING, check
from ..ids import id_name, parse_resource_id, same_id
from ..netpath import (
    ALLOWED,
    AZURE_DNS,
    DENIED,
    contains,
    data_endpoint,
    diverts,
    free_priority_below,
    is_private,
    network,
    nsg_rule_for,
    public_tags,
    record_name,
    route_for,
    route_for_internet,
    uncovered,
)

APPROVED = "approved"
# IP rules named in a finding (evidence and words): a registry shared by a fleet may allow hundreds of addresses.
SHOWN_RULES = 20


# -- shared reasoning (facts in, plain dicts out) -------------------------------------------------
def _props(resource):
    return (resource or {}).get("properties") or {}


def _raise_first(results):
    for result in results:
        if isinstance(result, FactError):
            raise result
    return results


def _sub_flag(facts, resource_id):
    """' --subscription <id>' when a resource lives outside the cluster's subscription."""
    rid = parse_resource_id(resource_id)
    if rid and (facts.cluster_subscription() or "").lower() != rid.subscription.lower():
        return " --subscription {}".format(rid.subscription)
    return ""


def registry_hosts(facts, registry):
    """The login server and one data endpoint per region the registry lives in (home and replicas)."""
    props = _props(registry)
    suffix = facts.request.acr_suffix
    hosts = [props.get("loginServer", "").lower()]
    if facts.registry_endpoints(registry) or props.get("dataEndpointEnabled"):
        # dedicated data endpoints exist with private endpoints or when enabled; else blobs come from storage
        regions = [registry.get("location") or ""]
        regions += [r.get("location") or "" for r in facts.registry_replications(registry)]
        hosts += [data_endpoint(registry["name"], r, suffix) for r in regions if r]
    hosts += [h.lower() for h in props.get("dataEndpointHostNames") or []]
    return list(dict.fromkeys(h for h in hosts if h))


def _resolver(facts):
    """Which VNet's DNS view the nodes get: their own VNet with Azure DNS, or the VNet that holds the
    custom DNS server (found through the peerings' remote address spaces), or None when unknown."""
    vnet_id = facts.cluster_vnet_ids()[0]
    vnet = facts.network_resource(vnet_id)
    servers = [s for s in ((_props(vnet).get("dhcpOptions") or {}).get("dnsServers") or []) if s != AZURE_DNS]
    view = {"clusterVnetId": vnet["id"], "dnsServers": servers, "vnetId": vnet["id"]}
    if not servers:
        return view
    own = (_props(vnet).get("addressSpace") or {}).get("addressPrefixes") or []
    if any(contains(p, servers[0]) for p in own):
        return view
    for peering in _props(vnet).get("virtualNetworkPeerings") or []:
        p = _props(peering)
        remote = (p.get("remoteAddressSpace") or p.get("remoteVirtualNetworkAddressSpace") or {})
        if any(contains(prefix, servers[0]) for prefix in remote.get("addressPrefixes") or []):
            view["vnetId"] = (p.get("remoteVirtualNetwork") or {}).get("id")
            return view
    view["vnetId"] = None
    return view


def private_view(facts, registry):
    """How the cluster's network reaches this registry privately: endpoints, the privatelink zone
    linked to the resolving VNet, its A records, and the endpoint the cluster ends up using."""
    if _props(registry).get("privateEndpointConnections"):
        # The zone search, the resolving VNet and the replicas (their regions' data endpoints are among the hosts to
        # resolve) do not wait for the endpoints: start them while those are read.
        facts.prefetch(facts.private_dns_zones, lambda: _resolver(facts),
                       lambda: facts.registry_replications(registry))
    endpoints = facts.registry_endpoints(registry)
    view = {"endpoints": endpoints, "approved": [e for e in endpoints if (e.get("status") or "").lower() == APPROVED
                                                 and not e.get("error")]}
    if not endpoints:
        return view
    # The endpoints' VNets are read later (peerings, routes), after the DNS records: start them now.
    facts.prefetch(*[lambda v=e["vnetId"]: facts.network_resource(v) for e in view["approved"] if e.get("vnetId")])
    unreadable = [e for e in endpoints if e.get("error") and (e.get("status") or "").lower() == APPROVED]
    if unreadable:
        raise FactError(unreadable[0]["error"])
    view["hosts"] = registry_hosts(facts, registry)
    view["resolver"] = _resolver(facts)
    zones = facts.private_dns_zones()
    view["zoneSearch"] = zones
    # The A records do not wait for the links: read them for each zone found while its links are read.
    names = [record_name(h, facts.request.acr_suffix) for h in view["hosts"]]
    facts.prefetch(*[lambda z=z["id"], n=n: facts.dns_record(z, "A", n) for z in zones["zones"] for n in names])
    links = facts.parallel(facts.dns_zone_links, [z["id"] for z in zones["zones"]])
    view["links"] = {z["id"]: found for z, found in zip(zones["zones"], links, strict=True)
                     if not isinstance(found, FactError)}
    view["linksUnreadable"] = [{"zone": z["id"], "reason": found.reason}
                               for z, found in zip(zones["zones"], links, strict=True) if isinstance(found, FactError)]
    view["zones"] = [z for z in zones["zones"] if z["id"] in view["links"]]
    linked = None
    if view["resolver"]["vnetId"]:
        for zone in view["zones"]:
            for link in view["links"][zone["id"]]:
                if same_id(((_props(link).get("virtualNetwork")) or {}).get("id"), view["resolver"]["vnetId"]):
                    linked = {"zone": zone, "link": link}
    if linked is None and view["linksUnreadable"]:
        # an unreadable zone may be the linked one: no verdict rather than a wrong "not linked"
        raise FactError(view["linksUnreadable"][0]["reason"])
    view["linked"] = linked
    view["records"] = {}
    if linked:
        found = _raise_first(facts.parallel(lambda n: facts.dns_record(linked["zone"]["id"], "A", n), names))
        view["records"] = {h: sorted(a.get("ipv4Address") for a in (_props(r).get("aRecords") or []))
                           if r else None for h, r in zip(view["hosts"], found, strict=True)}
    view["endpoint"] = _endpoint_in_use(facts, view)
    return view


def _endpoint_in_use(facts, view):
    """The approved endpoint the cluster should reach: the one its DNS points at, else one in its own
    VNet, else one in a peered VNet, else the first."""
    approved = [e for e in view["approved"] if e.get("addresses")]
    if not approved:
        return None
    login = view["hosts"][0]
    for endpoint in approved:
        if view["records"].get(login) and view["records"][login] == endpoint["addresses"].get(login):
            return endpoint
    vnets = facts.cluster_vnet_ids()
    for endpoint in approved:
        if any(same_id(endpoint.get("vnetId"), v) for v in vnets):
            return endpoint
    peered = {(_props(p).get("remoteVirtualNetwork") or {}).get("id", "").lower()
              for p in _props(facts.network_resource(vnets[0])).get("virtualNetworkPeerings") or []}
    for endpoint in approved:
        if (endpoint.get("vnetId") or "").lower() in peered:
            return endpoint
    return approved[0]


def goes_private(view):
    """Does the cluster's DNS send the login server to an approved private endpoint?"""
    endpoint = view.get("endpoint")
    if not endpoint:
        return False
    resolver = view.get("resolver") or {}
    if resolver.get("dnsServers") and not resolver.get("vnetId"):
        return True   # custom DNS outside the VNets seen here: assume it forwards to the private zone
    login = view["hosts"][0]
    return bool(view.get("linked")) and view["records"].get(login) == endpoint["addresses"].get(login)


def public_path(facts, registry):
    """Why the registry takes the cluster's pulls at its public endpoint, or None. A cluster that resolves the public
    address then still pulls: a private endpoint it does not use costs privacy, not pulls. None as well when the
    cluster's egress address cannot be known (userDefinedRouting): that case stays with acr-network-rules."""
    props = _props(registry)
    if (props.get("publicNetworkAccess") or "Enabled") != "Enabled":
        return None
    rules = props.get("networkRuleSet") or {}
    if (rules.get("defaultAction") or "Allow") == "Allow":
        return "takes pulls from all networks (public network access Enabled, default action Allow)"
    try:
        subnets = [s["subnetId"] for s in facts.node_subnets()]
        egress = facts.cluster_egress()
    except FactError:
        return None   # unknown: judged as a closed path, as before this was asked
    if any(same_id(v, s) for v in _vnet_rules(rules) for s in subnets):
        return "allows the node subnet by a virtual network rule"
    addresses = [a["address"] for a in egress["addresses"]]
    if not egress["known"] or not addresses or egress["outboundType"] in ("none", "block"):
        return None
    if uncovered(addresses, _allowed_ips(rules)):
        return None
    return "allows the cluster's egress {} in its IP rules".format(", ".join(addresses))


def _allowed_ips(rules):
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


def _rules_words(allowed):
    """The allowed addresses in words; a registry shared by many clusters may allow hundreds: then their number."""
    if len(allowed) > SHOWN_RULES:
        return "{} IP rules".format(len(allowed))
    return ", ".join(allowed) or "no IP rules"


def _vnet_rules(rules):
    return [r.get("virtualNetworkResourceId") or r.get("id") for r in rules.get("virtualNetworkRules") or []]


def _public_consequence(facts, registry, evidence):
    """What resolving the registry's public address does to a pull: refused or timed out, or, when the registry
    takes the cluster's public path, nothing yet but privacy (then ``evidence.publicPath`` is set)."""
    why = public_path(facts, registry)
    if not why:
        return "the pull is refused (403) or times out"
    evidence["publicPath"] = True
    return ("registry {} {}, so pulls go to its public endpoint and this alone does not block them, but they bypass "
            "the private endpoint").format(registry["name"], why)


def _zone_rg_args(zone_id):
    rid = parse_resource_id(zone_id)
    return "-g {} -z {}".format(rid.resource_group, rid.name)


# -- C3.S1: private DNS zone link and records ------------------------------------------------------
@check("private-dns-link", "C3.S1", "The registry's private DNS zone is linked to the cluster's VNet with the "
       "right records",
       "For a registry with private endpoints: finds the privatelink zone (any subscription the account can read), "
       "checks that it is linked to the VNet the nodes resolve names in, and that its A records for the login "
       "server and each data endpoint match the endpoint's IPs.", groups=("network",),
       needs=("cluster_egress", "cluster_subscription", "cluster_vnet_ids", "dns_record", "dns_zone_links",
              "network_resource", "node_subnets", "private_dns_zones", "registries", "registry_endpoints",
              "registry_lookups", "registry_replications"))
def private_dns_link(chk, facts):
    return _per_registry(chk, facts, _private_dns_one)


def _per_registry(chk, facts, judge):
    registries = facts.registries()
    if not registries:
        return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED, no_registry_found(facts))]
    return [judge(chk, facts, registry) for registry in registries]


def _private_dns_one(chk, facts, registry):
    target, name = registry_target(registry), registry["name"]
    view = private_view(facts, registry)
    if not view["endpoints"]:
        return chk.finding(target, SKIPPED, "Registry {} has no private endpoint; the cluster reaches it through its "
                                            "public endpoint (see acr-network-rules).".format(name))
    evidence = {"endpoints": [{k: e.get(k) for k in ("name", "connection", "status", "vnetId", "addresses")}
                              for e in view["endpoints"]]}
    if not view["approved"]:
        pending = [e for e in view["endpoints"] if (e.get("status") or "").lower() == "pending"]
        fix = " && ".join("az acr private-endpoint-connection approve -r {} -n {}{}".format(
            name, e["connection"], _sub_flag(facts, registry["id"])) for e in pending)
        return chk.finding(target, FAIL, "No private endpoint connection of {} is Approved ({}); the endpoints "
                           "carry no traffic to the registry.".format(name, ", ".join(
                               "{} {}".format(e["connection"], e.get("status")) for e in view["endpoints"])),
                           fix or "Recreate the private endpoint: az network private-endpoint create ... "
                           "--private-connection-resource-id {} --group-id registry".format(registry["id"]),
                           **evidence)
    endpoint, resolver, hosts = view["endpoint"], view["resolver"], view["hosts"]
    evidence.update(endpointInUse=endpoint["name"], expected={h: endpoint["addresses"].get(h) for h in hosts},
                    resolverVnetId=resolver["vnetId"], dnsServers=resolver["dnsServers"],
                    zones=[z["id"] for z in view["zones"]], unreadableSubscriptions=view["zoneSearch"]["unreadable"],
                    unreadableZones=view["linksUnreadable"])
    if resolver["dnsServers"] and not resolver["vnetId"]:
        return chk.finding(
            target, WARNING,
            "The cluster's VNet uses custom DNS servers {} outside the VNets seen here, so whether they answer "
            "{} with the private endpoint's address {} cannot be read from Azure.".format(
                ", ".join(resolver["dnsServers"]), hosts[0], ", ".join(endpoint["addresses"].get(hosts[0]) or [])),
            "Make the DNS servers {} forward {} to Azure DNS (168.63.129.16) from a VNet linked to zone {}, then "
            "check from a node with: az aks diagnose-pull run -g {} -n {} --acr {} --checks cluster-pull-probe "
            "--probe".format(", ".join(resolver["dnsServers"]), facts.request.acr_suffix.lstrip("."),
                             view["zoneSearch"]["name"], facts.cluster_resource_group, facts.cluster_name, name),
            **evidence)
    via = "" if same_id(resolver["vnetId"], resolver["clusterVnetId"]) else \
        " (the VNet of the cluster's custom DNS servers {})".format(", ".join(resolver["dnsServers"]))
    vnet_name = id_name(resolver["vnetId"])
    if not view["linked"]:
        zone = _zone_for_link(facts, view, endpoint)
        if zone is None:
            pe = parse_resource_id(endpoint["endpointId"])
            fix = ("az network private-dns zone create -g {rg} -n {zone}{sub} && az network private-dns link vnet "
                   "create -g {rg} -z {zone} -n {vnet}-link -v {vnet_id} -e false{sub} && az network private-endpoint "
                   "dns-zone-group create -g {rg} --endpoint-name {pe} -n default --private-dns-zone {zone} "
                   "--zone-name registry{sub}").format(rg=pe.resource_group, zone=view["zoneSearch"]["name"],
                                                      vnet=vnet_name, vnet_id=resolver["vnetId"], pe=pe.name,
                                                      sub=_sub_flag(facts, endpoint["endpointId"]))
            return chk.finding(target, FAIL, "No private DNS zone {} exists in the subscriptions the signed-in "
                               "account can read, so VNet {}{} resolves {} to the registry's public address and {}."
                               .format(view["zoneSearch"]["name"], vnet_name, via, hosts[0],
                                       _public_consequence(facts, registry, evidence)), fix, **evidence)
        linked_to = sorted(id_name((_props(link).get("virtualNetwork") or {}).get("id"))
                           for link in view["links"][zone["id"]])
        fix = "az network private-dns link vnet create {} -n {}-link -v {} -e false{}".format(
            _zone_rg_args(zone["id"]), vnet_name, resolver["vnetId"], _sub_flag(facts, zone["id"]))
        return chk.finding(
            target, FAIL,
            "Zone {} (resource group {}) holds the registry's records but has no virtual network link to the "
            "cluster's VNet {}{} (linked: {}). The nodes resolve {} to the public address instead of the private "
            "endpoint's {}, and {}.".format(
                zone["name"], parse_resource_id(zone["id"]).resource_group, vnet_name, via,
                ", ".join(linked_to) or "none", hosts[0], ", ".join(endpoint["addresses"].get(hosts[0]) or []),
                _public_consequence(facts, registry, evidence)),
            fix, zoneId=zone["id"], linkedVnets=linked_to, **evidence)
    zone = view["linked"]["zone"]
    state = _props(view["linked"]["link"]).get("virtualNetworkLinkState")
    evidence.update(zoneId=zone["id"], link=view["linked"]["link"].get("name"), records=view["records"])
    problems, fixes = [], []
    for host in hosts:
        want = endpoint["addresses"].get(host)
        have = view["records"].get(host)
        rname = record_name(host, facts.request.acr_suffix)
        args = "{} -n {}".format(_zone_rg_args(zone["id"]), rname) + _sub_flag(facts, zone["id"])
        if not want:
            problems.append("the private endpoint {} has no address for {}".format(endpoint["name"], host))
            continue
        if have is None:
            problems.append("no A record {} for {}".format(rname, host))
            fixes += ["az network private-dns record-set a add-record {} -a {}".format(args, ip) for ip in want]
        elif have != want:
            problems.append("A record {} is {} but the endpoint's address is {}".format(
                rname, ", ".join(have) or "empty", ", ".join(want)))
            fixes += ["az network private-dns record-set a remove-record {} -a {}".format(args, ip)
                      for ip in have if ip not in want]
            fixes += ["az network private-dns record-set a add-record {} -a {}".format(args, ip)
                      for ip in want if ip not in have]
    if state and state != "Completed":
        problems.append("the link {} is {}".format(view["linked"]["link"].get("name"), state))
    if problems:
        return chk.finding(
            target, FAIL, "Zone {} is linked to VNet {}{}, but {}. Pulls of the affected host fail to resolve or go "
            "to the wrong address.".format(zone["name"], vnet_name, via, "; ".join(problems)),
            " && ".join(fixes) or "Recreate the private endpoint's DNS configuration: az network private-endpoint "
            "dns-zone-group create -g {} --endpoint-name {} -n default --private-dns-zone {} "
            "--zone-name registry".format(parse_resource_id(endpoint["endpointId"]).resource_group, endpoint["name"],
                                          zone["id"]),
            problems=problems, **evidence)
    return chk.finding(target, PASS, "Zone {} is linked to VNet {}{} and its A records send {} to the private "
                       "endpoint {} ({}).".format(zone["name"], vnet_name, via, ", ".join(hosts), endpoint["name"],
                                                  ", ".join(sorted({ip for h in hosts for ip in
                                                                    endpoint["addresses"].get(h) or []}))),
                       **evidence)


def _zone_for_link(facts, view, endpoint):
    """The zone to link: the one whose login record points at the endpoint, else the only one."""
    zones = view["zones"]
    if len(zones) <= 1:
        return zones[0] if zones else None
    login = view["hosts"][0]
    name = record_name(login, facts.request.acr_suffix)
    records = _raise_first(facts.parallel(lambda z: facts.dns_record(z["id"], "A", name), zones))
    for zone, record in zip(zones, records, strict=True):
        ips = sorted(a.get("ipv4Address") for a in (_props(record).get("aRecords") or [])) if record else None
        if ips and ips == endpoint["addresses"].get(login):
            return zone
    return zones[0]


# -- C3.S2: the registry's firewall ---------------------------------------------------------------
@check("acr-network-rules", "C3.S2", "The registry's network rules let the cluster in",
       "When public access is Disabled or limited to selected networks and the cluster does not reach the registry "
       "through a private endpoint, checks that the cluster's egress IPs (load balancer outbound IPs and prefixes, "
       "NAT gateway) are in the registry's IP rules.", groups=("network",),
       needs=("cluster_egress", "cluster_vnet_ids", "dns_record", "dns_zone_links", "firewall_at", "network_resource",
              "node_subnets", "private_dns_zones", "registries", "registry_endpoints", "registry_lookups",
              "registry_replications", "subnet"))
def acr_network_rules(chk, facts):
    return _per_registry(chk, facts, _network_rules_one)


def _network_rules_one(chk, facts, registry):
    target, name = registry_target(registry), registry["name"]
    props = _props(registry)
    public = props.get("publicNetworkAccess") or "Enabled"
    rules = props.get("networkRuleSet") or {}
    default = rules.get("defaultAction") or "Allow"
    allowed = _allowed_ips(rules)
    evidence = {"publicNetworkAccess": public, "defaultAction": default, "ipRules": allowed[:SHOWN_RULES]}
    if len(allowed) > SHOWN_RULES:
        evidence["ipRuleCount"] = len(allowed)
    if public == "Enabled" and default == "Allow":
        return chk.finding(target, PASS, "Registry {} accepts pulls from all networks (public network access "
                                         "Enabled, default action Allow).".format(name), **evidence)
    view = private_view(facts, registry)
    if goes_private(view):
        assumed = " (assuming its custom DNS servers answer with the endpoint's address; see private-dns-link)" \
            if not view["resolver"]["vnetId"] else ""
        return chk.finding(target, PASS, "The cluster reaches {} through private endpoint {}{}, so the registry's "
                                         "public network rules do not apply to it.".format(
                                             name, view["endpoint"]["name"], assumed),
                           privateEndpoint=view["endpoint"]["name"], **evidence)
    why_public = (" It has a private endpoint, but the cluster's VNet does not resolve {} to it (see "
                  "private-dns-link).".format(props.get("loginServer")) if view.get("endpoint") else "")
    subnets = [s["subnetId"] for s in facts.node_subnets()]
    vnet_rules = _vnet_rules(rules)
    if public == "Enabled" and any(same_id(v, s) for v in vnet_rules for s in subnets):
        return chk.finding(target, PASS, "The node subnet is allowed by a virtual network rule of {}.".format(name),
                           virtualNetworkRules=vnet_rules, **evidence)
    egress = facts.cluster_egress()
    evidence.update(outboundType=egress["outboundType"], egressAddresses=[a["address"] for a in egress["addresses"]])
    if public != "Enabled":
        ips = [a["address"] for a in egress["addresses"]] if egress["known"] else []
        fix = "az acr update -n {} --public-network-enabled true --default-action Deny".format(name) + "".join(
            " && az acr network-rule add --name {} --ip-address {}".format(name, ip) for ip in ips)
        if view.get("endpoint"):
            fix = "Make VNet {} resolve {} to private endpoint {} (see private-dns-link); or open selected " \
                  "networks: {}".format(id_name(facts.cluster_vnet_ids()[0]), props.get("loginServer"),
                                        view["endpoint"]["name"], fix)
        return chk.finding(target, FAIL, "Public network access to {} is Disabled and the cluster does not come "
                           "through a private endpoint, so every pull is refused with 403 Forbidden.{}{}".format(
                               name, why_public, "" if view.get("endpoint") else " Switch public access to selected "
                               "networks and allow the cluster's egress {}.".format(", ".join(ips) or "address")),
                           fix, **evidence)
    if egress["outboundType"] in ("none", "block"):
        return chk.finding(target, FAIL, "The cluster has outbound type {} (no public egress) and does not reach {} "
                           "through a private endpoint.{}".format(egress["outboundType"], name, why_public),
                           "Give the cluster a private endpoint path to {}: az network private-endpoint create "
                           "--connection-name {} --name {}-pe --private-connection-resource-id {} --group-id registry "
                           "--vnet-name {} --subnet {} -g {}".format(
                               name, name, name, registry["id"], id_name(facts.cluster_vnet_ids()[0]),
                               id_name(subnets[0]), parse_resource_id(facts.cluster_vnet_ids()[0]).resource_group),
                           **evidence)
    if not egress["known"]:
        hop = _default_next_hop(facts)
        firewall = facts.firewall_at(hop) if hop else None
        evidence.update(nextHop=hop, firewall=firewall)
        rules_words = _rules_words(allowed)
        if firewall and firewall["publicIps"]:
            missing = uncovered(firewall["publicIps"], allowed)
            seen = "; the route table's next hop {} is Azure Firewall {}, whose public IP {} is the likely " \
                   "source".format(hop, firewall["name"], ", ".join(firewall["publicIps"]))
            if not missing:
                return chk.finding(target, PASS, "Registry {} allows only selected networks ({}); {}{}, and it is "
                                   "allowed.".format(name, rules_words, egress["note"], seen), **evidence)
            return chk.finding(target, WARNING, "Registry {} allows only selected networks ({}), and {}{}, which is "
                               "not allowed.{}".format(name, rules_words, egress["note"], seen, why_public),
                               " && ".join("az acr network-rule add --name {} --ip-address {}".format(name, ip)
                                           for ip in missing), missing=missing, **evidence)
        return chk.finding(target, WARNING, "Registry {} allows only selected networks ({}), and {}{}; that "
                           "address must be in the registry's IP rules.{}".format(
                               name, rules_words, egress["note"],
                               " (the route table sends 0.0.0.0/0 to {})".format(hop) if hop else "", why_public),
                           "az acr network-rule add --name {} --ip-address <public IP of the firewall{}>".format(
                               name, " at " + hop if hop else ""), **evidence)
    missing = uncovered([a["address"] for a in egress["addresses"]], allowed)
    if missing:
        return chk.finding(target, FAIL, "Registry {} allows only selected networks ({}) and the cluster's egress "
                           "{} ({}) is not among them, so pulls are refused with 403 Forbidden.{}".format(
                               name, _rules_words(allowed), ", ".join(missing),
                               _egress_words(egress), why_public),
                           " && ".join("az acr network-rule add --name {} --ip-address {}".format(name, ip)
                                       for ip in missing), missing=missing, **evidence)
    return chk.finding(target, PASS, "Registry {} allows only selected networks and the cluster's egress {} ({}) is "
                       "allowed.".format(name, ", ".join(a["address"] for a in egress["addresses"]),
                                         _egress_words(egress)), **evidence)


def _egress_words(egress):
    return {"loadBalancer": "load balancer outbound IPs", "managedNATGateway": "managed NAT gateway",
            "userAssignedNATGateway": "NAT gateway"}.get(egress["outboundType"], egress["outboundType"]) + (
        " via NAT gateway on the node subnet" if egress["outboundType"] == "loadBalancer" and any(
            "/natgateways/" in s.lower() for s in egress["sources"]) else "")


def _default_next_hop(facts):
    for entry in facts.node_subnets():
        table = _props(facts.subnet(entry["subnetId"])).get("routeTable")
        if table:
            route = route_for_internet(facts.network_resource(table["id"]))
            if route and _props(route).get("nextHopIpAddress"):
                return _props(route)["nextHopIpAddress"]
    return None


# -- C4.S1: peering ------------------------------------------------------------------------------
@check("vnet-peering", "C4.S1", "The private endpoint's VNet is peered with the cluster's VNet both ways",
       "When the registry's private endpoint sits in another VNet than the nodes, checks that the two VNets are "
       "peered in both directions with state Connected and allow VNet access.", groups=("network",),
       needs=("cluster_egress", "cluster_subscription", "cluster_vnet_ids", "dns_record", "dns_zone_links",
              "network_resource", "node_subnets", "private_dns_zones", "registries", "registry_endpoints",
              "registry_lookups", "registry_replications", "subnet"))
def vnet_peering(chk, facts):
    return _per_registry(chk, facts, _peering_one)


def _peering(vnet, remote_id):
    for peering in _props(vnet).get("virtualNetworkPeerings") or []:
        if same_id((_props(peering).get("remoteVirtualNetwork") or {}).get("id"), remote_id):
            return peering
    return None


def _peering_fix(facts, vnet_id, remote_id):
    rid = parse_resource_id(vnet_id)
    return ("az network vnet peering create -g {} --vnet-name {} -n {}-to-{} --remote-vnet {} --allow-vnet-access"
            "{}").format(rid.resource_group, rid.name, rid.name, id_name(remote_id), remote_id,
                         _sub_flag(facts, vnet_id))


def _peering_one(chk, facts, registry):
    target, name = registry_target(registry), registry["name"]
    view = private_view(facts, registry)
    endpoint = view.get("endpoint")
    if not endpoint:
        return chk.finding(target, SKIPPED, "Registry {} has no approved private endpoint, so no peering is "
                                            "needed.".format(name))
    cluster_vnet_id = facts.cluster_vnet_ids()[0]
    pe_vnet_id = endpoint["vnetId"]
    evidence = {"clusterVnetId": cluster_vnet_id, "endpointVnetId": pe_vnet_id, "privateEndpoint": endpoint["name"]}
    if same_id(cluster_vnet_id, pe_vnet_id):
        return chk.finding(target, PASS, "Private endpoint {} is in the cluster's own VNet {}; no peering is "
                                         "needed.".format(endpoint["name"], id_name(pe_vnet_id)), **evidence)
    cluster_vnet = facts.network_resource(cluster_vnet_id)
    try:
        pe_vnet = facts.network_resource(pe_vnet_id)
    except FactError as err:
        pe_vnet, evidence["endpointVnetUnreadable"] = None, err.reason
    ours, theirs = _peering(cluster_vnet, pe_vnet_id), _peering(pe_vnet, cluster_vnet_id) if pe_vnet else None
    sides = [(cluster_vnet_id, pe_vnet_id, ours, True), (pe_vnet_id, cluster_vnet_id, theirs, pe_vnet is not None)]
    evidence["peerings"] = [{"vnet": id_name(v), "remote": id_name(r), "name": (p or {}).get("name"),
                             "peeringState": _props(p).get("peeringState"),
                             "allowVirtualNetworkAccess": _props(p).get("allowVirtualNetworkAccess")}
                            for v, r, p, readable in sides if readable]
    problems, fixes = [], []
    for vnet_id, remote_id, peering, readable in sides:
        if not readable:
            continue
        rid = parse_resource_id(vnet_id)
        if peering is None:
            problems.append("VNet {} has no peering to {}".format(rid.name, id_name(remote_id)))
            fixes.append(_peering_fix(facts, vnet_id, remote_id))
            continue
        state = _props(peering).get("peeringState")
        if state != "Connected":
            problems.append("the peering {} on VNet {} is {}".format(peering.get("name"), rid.name, state))
            if state == "Disconnected":
                fixes.append("az network vnet peering delete -g {} --vnet-name {} -n {}{}".format(
                    rid.resource_group, rid.name, peering.get("name"), _sub_flag(facts, vnet_id)))
                fixes.append(_peering_fix(facts, vnet_id, remote_id))
        if _props(peering).get("allowVirtualNetworkAccess") is False:
            problems.append("the peering {} on VNet {} does not allow VNet access".format(peering.get("name"),
                                                                                        rid.name))
            fixes.append("az network vnet peering update -g {} --vnet-name {} -n {} --set "
                         "allowVirtualNetworkAccess=true{}".format(rid.resource_group, rid.name, peering.get("name"),
                                                                    _sub_flag(facts, vnet_id)))
    if not problems:
        unread = " (VNet {} could not be read; its side is judged from {}'s state)".format(
            id_name(pe_vnet_id), id_name(cluster_vnet_id)) if pe_vnet is None else ""
        return chk.finding(target, PASS, "VNets {} and {} are peered both ways and Connected{}.".format(
            id_name(cluster_vnet_id), id_name(pe_vnet_id), unread), **evidence)
    if any("Disconnected" in p for p in problems):
        fixes = _disconnected_fixes(facts, sides) or fixes
    appliance = _appliance_route(facts, endpoint)
    if appliance and ours is None:
        evidence["route"] = appliance
        return chk.finding(target, WARNING, "VNets {} and {} are not peered directly ({}); the node subnet's route "
                           "{} sends {} to the appliance at {}, which must forward it to the private endpoint and "
                           "be in a VNet peered with {}.".format(
                               id_name(cluster_vnet_id), id_name(pe_vnet_id), "; ".join(problems), appliance["route"],
                               appliance["prefix"], appliance["nextHop"], id_name(pe_vnet_id)),
                           " && ".join(fixes), **evidence)
    ip = (endpoint["addresses"].get(view["hosts"][0]) or ["<endpoint ip>"])[0]
    outcome = "Pulls time out (dial tcp {}:443: i/o timeout).".format(ip)
    if not goes_private(view):
        outcome = ("The nodes do not resolve {} to the endpoint yet (see private-dns-link), and {}. Once they do, "
                   "pulls will time out (dial tcp {}:443: i/o timeout).").format(
                       view["hosts"][0], _public_consequence(facts, registry, evidence), ip)
    return chk.finding(target, FAIL, "The private endpoint {} is in VNet {} and the nodes in VNet {}, but {}. "
                       "{}".format(endpoint["name"], id_name(pe_vnet_id), id_name(cluster_vnet_id),
                                   "; ".join(problems), outcome),
                       " && ".join(dict.fromkeys(fixes)), problems=problems, **evidence)


def _disconnected_fixes(facts, sides):
    """A Disconnected peering is deleted on both VNets and recreated (the article's fix)."""
    fixes = []
    for vnet_id, _, peering, readable in sides:
        if readable and peering is not None:
            rid = parse_resource_id(vnet_id)
            fixes.append("az network vnet peering delete -g {} --vnet-name {} -n {}{}".format(
                rid.resource_group, rid.name, peering.get("name"), _sub_flag(facts, vnet_id)))
    for vnet_id, remote_id, _, readable in sides:
        if readable:
            fixes.append(_peering_fix(facts, vnet_id, remote_id))
    return fixes


def _appliance_route(facts, endpoint):
    ip = next(iter(next(iter(endpoint["addresses"].values()), [])), None)
    for entry in facts.node_subnets():
        table = _props(facts.subnet(entry["subnetId"])).get("routeTable")
        route = route_for(ip, facts.network_resource(table["id"])) if table and ip else None
        if route and _props(route).get("nextHopType") == "VirtualAppliance":
            return {"route": route.get("name"), "prefix": _props(route).get("addressPrefix"),
                    "nextHop": _props(route).get("nextHopIpAddress")}
    return None


# -- C4.S2 / X.tls / M.nsg / M.fw: the path out of the node subnet --------------------------------
@check("egress-path", "C4.S2,X.tls,M.nsg,M.fw,B.fqdn,B.proxy", "Nothing on the node subnet's path blocks the registry",
       "Reads the node subnet's route table and the NSGs on the subnet and the node NICs. Fails when an NSG rule "
       "denies outbound TCP 443 to the registry's addresses before any allow, or when an Azure Firewall on the route "
       "(its firewall policy's rule collection groups, base policies and IP groups, or its classic rules) refuses the "
       "login server or the data path (the data endpoints of every region, or *.blob.core.windows.net); warns when the "
       "route goes to an appliance whose rules cannot be read, and when the cluster's HTTP proxy (httpProxyConfig) "
       "would carry traffic meant for a private endpoint, uses *. wildcards in noProxy, or meets a TLS error without "
       "trustedCa; names what must be allowed.", groups=("network",),
       needs=("cluster", "cluster_subscription", "cluster_vnet_ids", "dns_record", "dns_zone_links", "firewall_at",
              "firewall_rules", "network_resource", "node_nic_nsgs", "node_subnets", "private_dns_zones", "registries",
              "registry_endpoints", "registry_lookups", "registry_replications", "subnet"),
       optional=("pod_containers", "pod_events"))
def egress_path(chk, facts):
    registries = facts.registries()
    if not registries:
        return _per_registry(chk, facts, None)
    subnets = {}
    for entry in facts.node_subnets():
        subnets.setdefault(entry["subnetId"].lower(), {"subnetId": entry["subnetId"], "pools": []})["pools"].append(
            entry["pool"])
    nic_nsgs = facts.node_nic_nsgs()
    # The subnets' route tables and NSGs do not wait for the registry's private view (DNS): start them now.
    facts.prefetch(*[lambda e=entry: _read_path(facts, e, nic_nsgs) for entry in subnets.values()])
    findings = []
    for registry in registries:
        view = private_view(facts, registry)
        for entry in subnets.values():
            findings.append(_egress_one(chk, facts, registry, view, entry, nic_nsgs))
    return findings


def _read_path(facts, entry, nic_nsgs):
    """Read what _egress_one reads for a node subnet: its route table and NSGs (the subnet's and the NICs')."""
    sp = _props(facts.subnet(entry["subnetId"]))
    ids = [(sp.get("routeTable") or {}).get("id"), (sp.get("networkSecurityGroup") or {}).get("id")]
    ids += [n for pool in entry["pools"] for n in nic_nsgs.get(pool, [])]
    facts.parallel(facts.network_resource, list(dict.fromkeys(i for i in ids if i)))


def _dedicated_data_endpoints(facts, registry):
    return bool(_props(registry).get("dataEndpointEnabled") or facts.registry_endpoints(registry))


def _must_allow(facts, registry, view, private):
    hosts = view.get("hosts") or registry_hosts(facts, registry)
    if private:
        ips = sorted({ip for h in hosts for ip in view["endpoint"]["addresses"].get(h) or []})
        return "TCP 443 to {} ({})".format(", ".join(ips), ", ".join(hosts))
    extra = "" if _dedicated_data_endpoints(facts, registry) else ", *.blob.core.windows.net (registry without " \
        "dedicated data endpoints)"
    return "HTTPS to {}{}".format(", ".join(hosts), extra)


def _egress_one(chk, facts, registry, view, entry, nic_nsgs):
    subnet = facts.subnet(entry["subnetId"])
    sp = _props(subnet)
    target = "subnet {} (pools {}) to registry {}".format(subnet.get("name"), ", ".join(entry["pools"]),
                                                         registry["name"])
    private = goes_private(view)
    region = (registry.get("location") or "").lower()
    prefixes = list(sp.get("addressPrefixes") or []) + ([sp["addressPrefix"]] if sp.get("addressPrefix") else [])
    allow = _must_allow(facts, registry, view, private)
    evidence = {"subnetId": subnet.get("id"), "path": "privateEndpoint" if private else "public", "mustAllow": allow}
    fails, warns, fixes, passes = [], [], [], []
    table_ref = sp.get("routeTable")
    if table_ref:
        table = facts.network_resource(table_ref["id"])
        evidence["routeTable"] = table["id"]
        for route, dest in _routes_in_use(facts, view, table, private, region):
            _judge_route(facts, registry, view, private, region, prefixes, allow, table, route, dest, evidence,
                         (fails, warns, fixes, passes))
    nsg_ids = [(sp.get("networkSecurityGroup") or {}).get("id")]
    nsg_ids += [n for pool in entry["pools"] for n in nic_nsgs.get(pool, [])]
    nsg_ids = list(dict.fromkeys(n for n in nsg_ids if n))
    nsgs = _raise_first(facts.parallel(facts.network_resource, nsg_ids))
    evidence["networkSecurityGroups"] = nsg_ids
    for nsg in nsgs:
        denied, first = [], None
        for dest, words in _destinations(facts, registry, view, private, region):
            rule = nsg_rule_for(nsg, dest, prefixes)
            if rule and (_props(rule).get("access") or "").lower() == "deny":
                # the first matching rule by priority decides, so no allow rule comes before this deny
                fails.append("NSG {} rule {} (priority {}) denies outbound TCP 443 to {}".format(
                    nsg["name"], rule.get("name"), _props(rule).get("priority"), words))
                denied.append(dest.get("ip") or dest["service"])
                first = min(first or 4097, int(_props(rule).get("priority") or 4096))
                evidence.setdefault("deniedBy", []).append({"nsg": nsg["id"], "rule": rule.get("name"),
                                                            "priority": _props(rule).get("priority")})
        if denied:
            rid = parse_resource_id(nsg["id"])
            fixes.append("az network nsg rule create -g {} --nsg-name {} -n AllowContainerRegistry443 --priority {} "
                         "--direction Outbound --access Allow --protocol Tcp --destination-port-ranges 443 "
                         "--destination-address-prefixes {}{}".format(
                             rid.resource_group, nsg["name"], free_priority_below(nsg, first), " ".join(denied),
                             _sub_flag(facts, nsg["id"])))
    _judge_proxy(facts, registry, view, private, allow, evidence, warns, fixes)
    if fails or warns:
        problems = fails + warns
        commands = " && ".join(dict.fromkeys(f for f in fixes if f.startswith("az ")))
        steps = [f for f in dict.fromkeys(fixes) if not f.startswith("az ")]
        status = FAIL if fails else WARNING
        if passes:
            problems = problems + passes
        return chk.finding(target, status, "{}{}. The registry's traffic must get through: {}.".format(
            problems[0][0].upper(), "; ".join(problems)[1:], allow), "; then ".join(([commands] if commands else [])
                                                                                     + steps),
            problems=fails + warns, **evidence)
    return chk.finding(target, PASS, "No route, NSG or proxy on subnet {} stands between the nodes and {} "
                       "({}){}.".format(subnet.get("name"), registry["name"], allow,
                                        "; " + "; ".join(passes) if passes else ""), **evidence)


def _judge_route(facts, registry, view, private, region, prefixes, allow, table, route, dest, evidence, out):
    """A user-defined route that diverts the registry's traffic: to nowhere (Warning), to an Azure Firewall whose rules
    decide (Fail when they refuse the login server or the data path, B.fqdn; nothing when they allow both), or to
    another appliance whose rules cannot be read (Warning naming the hosts to allow)."""
    fails, warns, fixes, passes = out
    p = _props(route)
    hop_ip = p.get("nextHopIpAddress")
    firewall = facts.firewall_at(hop_ip) if p.get("nextHopType") == "VirtualAppliance" and hop_ip else None
    where = "route table {} sends {} (route {}, {}) to".format(table["name"], dest, route.get("name"),
                                                              p.get("addressPrefix"))
    if p.get("nextHopType") != "VirtualAppliance":
        warns.append("{} nowhere (next hop None drops it)".format(where))
        fixes.append("az network route-table route delete -g {} --route-table-name {} -n {}{}".format(
            parse_resource_id(table["id"]).resource_group, table["name"], route.get("name"),
            _sub_flag(facts, table["id"])))
        return
    if not firewall:
        warns.append("{} a virtual appliance at {}, whose rules cannot be read".format(where, hop_ip))
        fixes.append("Allow {} from {} on the firewall or appliance at {}".format(allow, ", ".join(prefixes), hop_ip))
        return
    evidence.setdefault("firewalls", []).append(firewall["id"])
    private_addresses = None
    if private:
        private_addresses = {}
        for host, ips in view["endpoint"]["addresses"].items():
            routed = [ip for ip in ips if (route_for(ip, table) or {}).get("name") == route.get("name")]
            if routed:
                private_addresses[host] = routed
    regions = [region] + [(r.get("location") or "").lower() for r in facts.registry_replications(registry)]
    wanted = firewall_judge.needs(registry, view.get("hosts") or registry_hosts(facts, registry),
                                  _dedicated_data_endpoints(facts, registry), private_addresses, region,
                                  [r for r in dict.fromkeys(regions) if r])
    result = firewall_judge.judge(facts, firewall, wanted, prefixes)
    evidence.setdefault("firewallDecisions", []).extend(result.get("decisions") or [])
    if result["status"] == ALLOWED:
        passes.append("{} Azure Firewall {} at {}, whose rules allow {}".format(
            where, firewall["name"], hop_ip, ", ".join(result["allowed"])))
        return
    if result["status"] == DENIED:
        evidence["firewallDenied"] = result["denied"]
        fails.append("{} {}".format(where, firewall_judge.words(firewall, result)))
        if firewall.get("policy"):
            fixes.append(firewall_judge.fix(facts, firewall, registry, result, prefixes, private)
                         + _sub_flag(facts, firewall["policy"]))
        else:
            fixes.append(_appliance_fix(facts, registry, view, private, firewall, hop_ip, prefixes, allow,
                                        hosts=result["denied"]))
        return
    warns.append("{} Azure Firewall {} at {}: {}".format(where, firewall["name"], hop_ip, result["reason"]))
    fixes.append("Allow {} from {} in {}".format(allow, ", ".join(prefixes), firewall_judge.policy_words(firewall)))


def _no_proxy_covers(entry, host):
    """Go's NO_PROXY matching as containerd uses it: ``contoso.com`` and ``.contoso.com`` cover the name and its
    subdomains (the first also the name itself); ``*.`` wildcards are not supported by AKS and match nothing."""
    entry, host = (entry or "").strip().lower(), host.lower()
    if not entry or entry.startswith("*"):
        return entry == "*"
    if entry.startswith("."):
        return host.endswith(entry)
    return host == entry or host.endswith("." + entry)


def _judge_proxy(facts, registry, view, private, allow, evidence, warns, fixes):
    """B.proxy: the cluster's httpProxyConfig in the registry's way."""
    proxy = _props(facts.cluster()).get("httpProxyConfig") or {}
    via = proxy.get("httpsProxy") or proxy.get("httpProxy")
    if not via:
        return
    no_proxy = [n for n in proxy.get("noProxy") or [] if n]
    login = (_props(registry).get("loginServer") or "").lower()
    hosts = view.get("hosts") or registry_hosts(facts, registry)
    evidence["httpProxy"] = _redact(via)
    wildcards = [n for n in no_proxy if n.strip().startswith("*.")]
    if wildcards:
        evidence["noProxyWildcards"] = wildcards
        warns.append("the cluster's noProxy uses {} (wildcards like *. are not supported: such an entry exempts "
                     "nothing)".format(", ".join(wildcards)))
        fixes.append("Write the noProxy entries without the wildcard ({}) in the cluster's httpProxyConfig (az aks "
                     "update -g {} -n {} --http-proxy-config <file>)".format(
                         ", ".join(w.strip()[1:] for w in wildcards), facts.cluster_resource_group,
                         facts.cluster_name))
    missing = [h for h in hosts if not any(_no_proxy_covers(n, h) for n in no_proxy)]
    if private and missing:
        evidence["noProxyMissing"] = missing
        warns.append("the nodes send {} to the HTTP proxy {} instead of the private endpoint (not in noProxy)".format(
            ", ".join(missing), _redact(via)))
        fixes.append("Add {} to noProxy in the cluster's httpProxyConfig (az aks update -g {} -n {} "
                     "--http-proxy-config <file>)".format(", ".join(missing), facts.cluster_resource_group,
                                                          facts.cluster_name))
    elif login in missing:
        warns.append("the nodes pull through the HTTP proxy {}".format(_redact(via)))
        fixes.append("Allow {} on the proxy {}, or add {} to the cluster's noProxy list".format(
            allow, _redact(via), login))
    if not proxy.get("trustedCa") and _tls_error_seen(facts):
        evidence["tlsErrorBehindProxy"] = True
        warns.append("a pull failed with x509: certificate signed by unknown authority while the proxy {} has no "
                     "trustedCa in the cluster's httpProxyConfig (a TLS-inspecting proxy re-signs the registry's "
                     "certificate)".format(_redact(via)))
        fixes.append("Add the proxy's CA certificate as trustedCa to the cluster's httpProxyConfig (az aks update -g "
                     "{} -n {} --http-proxy-config <file>)".format(facts.cluster_resource_group, facts.cluster_name))


def _tls_error_seen(facts):
    """Does a pull error of the diagnosed pod say the registry's certificate was signed by an unknown authority?"""
    if not facts.request.pod:
        return False
    try:
        texts = [(c["status"].get("state") or {}).get("waiting", {}).get("message") or ""
                 for c in facts.pod_containers()]
        texts += [e.get("message") or "" for e in facts.pod_events(facts.request.namespace, facts.request.pod)]
    except FactError:
        return False
    return any(classify_pull_error(t).cause == "X.tls" and "unknown authority" in t for t in texts if t)


def _appliance_fix(facts, registry, view, private, firewall, hop, sources, allow, hosts=None):
    """The firewall rule that lets the registry's traffic through: a ready command for a classic Azure Firewall,
    a precise step for one run by a firewall policy or for another appliance."""
    if not firewall or firewall.get("policy"):
        where = "firewall policy {} of Azure Firewall {}".format(id_name(firewall["policy"]), firewall["name"]) \
            if firewall else "the firewall or appliance at {}".format(hop)
        return "Allow {} from {} in {}".format(allow, ", ".join(sources), where)
    rid = parse_resource_id(firewall["id"])
    common = "-g {} -f {} --collection-name allow-container-registry --priority 200 --action Allow " \
             "--source-addresses {}".format(rid.resource_group, rid.name, " ".join(sources))
    if private:
        ips = sorted({ip for ips in view["endpoint"]["addresses"].values() for ip in ips})
        return "az network firewall network-rule create {} -n {}-443 --protocols TCP --destination-addresses {} " \
               "--destination-ports 443{}".format(common, registry["name"], " ".join(ips), _sub_flag(facts, rid.id))
    if hosts is None:
        hosts = list(view.get("hosts") or registry_hosts(facts, registry))
        if not _dedicated_data_endpoints(facts, registry):
            hosts.append("*.blob.core.windows.net")
    return "az network firewall application-rule create {} -n {}-https --protocols Https=443 --target-fqdns {}" \
           "{}".format(common, registry["name"], " ".join(hosts), _sub_flag(facts, rid.id))


def _redact(url):
    import re
    return re.sub(r"//[^@/]*@", "//", url or "")


def _routes_in_use(facts, view, table, private, region):
    """(route, destination words) for each user-defined route that diverts the registry's traffic."""
    found = []
    if private:
        endpoint = view["endpoint"]
        pe_subnet = {}
        try:
            pe_subnet = _props(facts.subnet(endpoint["subnetId"]))
        except FactError as err:
            if err.fault:   # a refusal leaves Azure's default (policies Disabled); a failed read decides nothing
                raise
        direct = _directly_routed(facts, endpoint)
        policies = (pe_subnet.get("privateEndpointNetworkPolicies") or "Disabled")
        for ip in sorted({ip for ips in endpoint["addresses"].values() for ip in ips}):
            route = route_for(ip, table)
            if not route or not diverts(route):
                continue
            prefix = network(_props(route).get("addressPrefix"))
            if direct and prefix and prefix.prefixlen < 32 and policies not in ("Enabled", "RouteTableEnabled"):
                continue   # the endpoint's own /32 system route is more specific and wins
            found.append((route, ip))
    else:
        route = route_for_internet(table, public_tags("AzureContainerRegistry", region))
        if route and diverts(route):
            found.append((route, "internet traffic (the registry's public endpoint)"))
    unique = {}
    for route, what in found:
        unique.setdefault(route.get("name"), (route, []))[1].append(what)
    return [(route, what[0] if not private else "the private endpoint address{} {}".format(
        "es" if len(what) > 1 else "", ", ".join(what))) for route, what in unique.values()]


def _directly_routed(facts, endpoint):
    """Does the nodes' VNet hold the endpoint's /32 system route (same VNet or a Connected peering)?"""
    vnet_id = facts.cluster_vnet_ids()[0]
    if same_id(vnet_id, endpoint.get("vnetId")):
        return True
    peering = _peering(facts.network_resource(vnet_id), endpoint.get("vnetId"))
    return bool(peering) and _props(peering).get("peeringState") == "Connected"


def _destinations(facts, registry, view, private, region):
    if private:
        ips = sorted({ip for ips in view["endpoint"]["addresses"].values() for ip in ips})
        return [({"ip": ip, "tags": ["VirtualNetwork"] if is_private(ip) else []},
                 "{} (private endpoint)".format(ip)) for ip in ips]
    dests = [({"tags": public_tags("AzureContainerRegistry", region), "service": "AzureContainerRegistry"},
              "the registry (AzureContainerRegistry)")]
    if not _dedicated_data_endpoints(facts, registry):
        dests.append(({"tags": public_tags("Storage", region), "service": "Storage"},
                      "the registry's blob storage (Storage)"))
    return dests


# -- S0.checkacr: from inside the cluster ---------------------------------------------------------
@check("cluster-pull-probe", "S0.checkacr", "From inside the cluster, the registry resolves and answers on 443",
       "Only with --probe: through AKS run command (works for private clusters, needs no kubectl and no privileged "
       "pod) resolves the login server and data endpoints from a pod, opens TCP 443 to each address, and compares "
       "the answers with the private endpoint's IPs.", groups=("network",),
       needs=("cluster_egress", "cluster_probe", "cluster_vnet_ids", "dns_record", "dns_zone_links", "network_resource",
              "node_subnets", "private_api_server", "private_dns_zones", "probe_enabled", "registries",
              "registry_endpoints", "registry_lookups", "registry_replications"))
def cluster_pull_probe(chk, facts):
    if not facts.probe_enabled():
        return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED,
                            "The probe starts a pod in the cluster through AKS run command, so it runs only when "
                            "asked: az aks diagnose-pull run -g {} -n {} --checks cluster-pull-probe --probe".format(
                                facts.cluster_resource_group, facts.cluster_name))]
    return _per_registry(chk, facts, _probe_one)


def _probe_one(chk, facts, registry):
    target, name = registry_target(registry), registry["name"]
    view = private_view(facts, registry)
    hosts = view.get("hosts") or registry_hosts(facts, registry)
    login = hosts[0]
    probe = facts.cluster_probe(login, hosts)
    answers = probe["answers"]
    endpoint = view.get("endpoint")
    private_note = " The cluster's API server is private; run command reaches the cluster through ARM." \
        if facts.private_api_server() else ""
    evidence = {"runCommandId": probe["run"]["id"], "exitCode": probe["run"]["exitCode"], "command": probe["script"],
                "answers": answers, "expected": {h: endpoint["addresses"].get(h) for h in hosts} if endpoint else None}
    problems, fixes, resolved_public = [], [], False
    for host in hosts:
        got = answers["dns"].get(host)
        want = endpoint["addresses"].get(host) if endpoint else None
        if not got:
            problems.append("{} does not resolve".format(host))
            continue
        if want and sorted(got) != sorted(want):
            kind = "public" if not any(is_private(ip) for ip in got) else "other"
            resolved_public = resolved_public or kind == "public"
            problems.append("{} resolves to {} ({} address) instead of the private endpoint's {}".format(
                host, ", ".join(got), kind, ", ".join(want)))
        closed = [ip for ip, state in answers["tcp"].get(host, {}).items() if state == "closed"]
        if closed:
            problems.append("TCP 443 to {} ({}) does not open".format(", ".join(closed), host))
    http = answers["http"].get(login) or {}
    refused = http.get("status") == "403"
    if refused:
        client = http.get("clientIp")
        problems.append("{}/v2/ answers 403 Forbidden{}".format(
            login, " to client IP {}".format(client) if client else ""))
        if client and not endpoint:
            fixes.append("az acr network-rule add --name {} --ip-address {}".format(name, client))
    if problems:
        fixes = fixes or ["az aks diagnose-pull check-network -g {} -n {} --acr {}{}".format(
            facts.cluster_resource_group, facts.cluster_name, name,
            " --checks private-dns-link vnet-peering egress-path" if endpoint else "")]
        # A registry that takes the cluster's public path takes a pull that went to its public address.
        consequence = " ({})".format(_public_consequence(facts, registry, evidence)) \
            if resolved_public and not refused and public_path(facts, registry) else ""
        return chk.finding(target, FAIL, "From a pod in the cluster (AKS run command {}): {}{}.{}".format(
            probe["run"]["id"], "; ".join(problems), consequence, private_note), " && ".join(fixes),
            problems=problems, **evidence)
    return chk.finding(target, PASS, "From a pod in the cluster (AKS run command {}): {} resolve{} to {} and TCP "
                       "443 opens{}.{}".format(probe["run"]["id"], ", ".join(hosts), "" if len(hosts) > 1 else "s",
                                               ", ".join(sorted(
                           {ip for h in hosts for ip in answers["dns"].get(h) or []})),
                           ", matching private endpoint " + endpoint["name"] if endpoint else "", private_note),
                       **evidence)
