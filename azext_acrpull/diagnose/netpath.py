"""Pure network reasoning: prefixes, routes, NSG rules and registry DNS names. No I/O here, so the
network checks can be tested on plain data and run unchanged on facts read in bulk."""
import ipaddress
from functools import lru_cache

HTTPS = 443
AZURE_DNS = "168.63.129.16"

# What Azure puts in every NSG; used when a resource omits them (they never change).
DEFAULT_OUTBOUND_RULES = (
    {"name": "AllowVnetOutBound", "properties": {
        "protocol": "*", "sourceAddressPrefix": "VirtualNetwork", "destinationAddressPrefix": "VirtualNetwork",
        "destinationPortRange": "*", "access": "Allow", "priority": 65000, "direction": "Outbound"}},
    {"name": "AllowInternetOutBound", "properties": {
        "protocol": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "Internet",
        "destinationPortRange": "*", "access": "Allow", "priority": 65001, "direction": "Outbound"}},
    {"name": "DenyAllOutBound", "properties": {
        "protocol": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
        "destinationPortRange": "*", "access": "Deny", "priority": 65500, "direction": "Outbound"}},
)


# -- addresses ------------------------------------------------------------------------------------
def network(text):
    """An ip_network for '10.0.0.0/16' or '10.0.0.4', or None for anything else (service tags, '*')."""
    return _network(str(text).strip())


@lru_cache(maxsize=65536)
def _network(text):
    # Parsed once per text: a fleet's clusters compare their egress with the same registry rules.
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def is_private(ip):
    net = network(ip)
    return bool(net) and net.num_addresses == 1 and net.network_address.is_private


def contains(prefix, ip):
    outer, inner = network(prefix), network(ip)
    return bool(outer and inner) and inner.version == outer.version and inner.subnet_of(outer)


def uncovered(addresses, allowed):
    """The egress addresses or prefixes that the allowed values (IPs or CIDRs) do not cover whole."""
    hosts, ranges = _allowed_index(tuple(allowed))
    out = []
    for a in addresses:
        net = network(a)
        if net is None:
            out.append(a)
        elif net.num_addresses == 1 and net in hosts:
            continue
        elif not any(net.version == n.version and net.subnet_of(n) for n in ranges):
            out.append(a)
    return out


@lru_cache(maxsize=64)
def _allowed_index(allowed):
    """Single addresses as a set, ranges as a list: a registry may allow thousands of addresses, and a fleet asks
    about each of its clusters."""
    hosts, ranges = set(), []
    for value in allowed:
        net = network(value)
        if net is None:
            continue
        if net.num_addresses == 1:
            hosts.add(net)
        else:
            ranges.append(net)
    return frozenset(hosts), tuple(ranges)


# -- registry names -------------------------------------------------------------------------------
def privatelink_zone(acr_suffix=".azurecr.io"):
    return "privatelink" + acr_suffix


def data_endpoint(registry_name, region, acr_suffix=".azurecr.io"):
    return "{}.{}.data{}".format(registry_name.lower(), region.lower().replace(" ", ""), acr_suffix)


def registry_host_names(registry, acr_suffix, dedicated, replica_regions=()):
    """The login server and one data endpoint per region the registry lives in (home and ``replica_regions``), when
    it has ``dedicated`` data endpoints (private endpoints, or enabled; else blobs come from storage), and the data
    endpoints it names itself."""
    p = (registry or {}).get("properties") or {}
    hosts = [(p.get("loginServer") or "").lower()]
    if dedicated:
        regions = [registry.get("location") or ""] + list(replica_regions)
        hosts += [data_endpoint(registry["name"], r, acr_suffix) for r in regions if r]
    hosts += [h.lower() for h in p.get("dataEndpointHostNames") or []]
    return tuple(dict.fromkeys(h for h in hosts if h))


def record_name(fqdn, acr_suffix=".azurecr.io"):
    """The record set name of a registry host inside the privatelink zone: myacr, myacr.eastus.data."""
    fqdn = fqdn.lower().rstrip(".")
    return fqdn[: -len(acr_suffix)] if fqdn.endswith(acr_suffix) else fqdn


# -- routes ---------------------------------------------------------------------------------------
def _routes(route_table):
    return [r for r in ((route_table or {}).get("properties") or {}).get("routes") or []]


def route_for(ip, route_table):
    """The user-defined route that carries traffic to ``ip``: longest prefix wins."""
    best, best_len = None, -1
    for route in _routes(route_table):
        net = network((route.get("properties") or {}).get("addressPrefix"))
        if net and contains(str(net), ip) and net.prefixlen > best_len:
            best, best_len = route, net.prefixlen
    return best


def route_for_internet(route_table, tags=()):
    """The route for a public destination: a service-tag route for one of ``tags``, else 0.0.0.0/0."""
    wanted = {t.lower() for t in tags}
    default = None
    for route in _routes(route_table):
        prefix = str((route.get("properties") or {}).get("addressPrefix") or "")
        if prefix.lower() in wanted:
            return route
        if prefix == "0.0.0.0/0":
            default = route
    return default


def diverts(route):
    """Does a route send traffic somewhere other than Azure's own path (an appliance, or nowhere)?"""
    hop = ((route or {}).get("properties") or {}).get("nextHopType") or ""
    return hop in ("VirtualAppliance", "None")


# -- network security groups ----------------------------------------------------------------------
def _values(props, single, plural):
    values = list(props.get(plural) or [])
    if props.get(single) not in (None, ""):
        values.append(props[single])
    return [str(v) for v in values]


def _port_matches(props, port):
    for value in _values(props, "destinationPortRange", "destinationPortRanges"):
        if value == "*":
            return True
        low, _, high = value.partition("-")
        try:
            if int(low) <= port <= int(high or low):
                return True
        except ValueError:
            continue
    return False


def _source_matches(props, source_prefixes):
    if props.get("sourceApplicationSecurityGroups"):
        return False
    for value in _values(props, "sourceAddressPrefix", "sourceAddressPrefixes"):
        if value in ("*", "VirtualNetwork"):
            return True
        net = network(value)
        if net and any(network(s) and network(s).version == net.version and network(s).overlaps(net)
                       for s in source_prefixes):
            return True
    return False


def _destination_matches(props, destination):
    if props.get("destinationApplicationSecurityGroups"):
        return False
    ip, tags = destination.get("ip"), {t.lower() for t in destination.get("tags") or ()}
    for value in _values(props, "destinationAddressPrefix", "destinationAddressPrefixes"):
        if value == "*" or value.lower() in tags:
            return True
        if ip and network(value) and contains(value, ip):
            return True
        if not ip and value in ("0.0.0.0/0",):
            return True
    return False


def nsg_rule_for(nsg, destination, source_prefixes, port=HTTPS):
    """The NSG rule that decides outbound TCP ``port`` to ``destination`` from the node subnet.

    ``destination`` is ``{"ip": "10.1.0.5", "tags": ["VirtualNetwork"]}`` for a private address or
    ``{"tags": ["Internet", "AzureContainerRegistry", ...]}`` for a public service. Rules are taken by
    priority, first match decides (Azure's own order); rules with application security groups are
    not matched, since their members are not known here."""
    props = (nsg or {}).get("properties") or {}
    rules = list(props.get("securityRules") or []) + list(props.get("defaultSecurityRules") or DEFAULT_OUTBOUND_RULES)
    rules = [r for r in rules if ((r.get("properties") or {}).get("direction") or "").lower() == "outbound"]
    rules.sort(key=lambda r: int((r.get("properties") or {}).get("priority") or 65535))
    for rule in rules:
        p = rule.get("properties") or {}
        if (p.get("protocol") or "*").lower() not in ("*", "tcp"):
            continue
        if _port_matches(p, port) and _source_matches(p, source_prefixes) and _destination_matches(p, destination):
            return rule
    return None


def free_priority_below(nsg, priority):
    """The highest free priority below ``priority`` (an allow rule placed there is evaluated first)."""
    used = {int((r.get("properties") or {}).get("priority") or 0)
            for r in ((nsg or {}).get("properties") or {}).get("securityRules") or []}
    for candidate in range(int(priority) - 1, 99, -1):
        if candidate not in used:
            return candidate
    return 100


def public_tags(service, region):
    """Service tags an NSG or route may use for a public Azure service in a region."""
    names = ["Internet", "AzureCloud", "AzureCloud." + region, service, "{}.{}".format(service, region)]
    return names


# -- Azure Firewall rules -------------------------------------------------------------------------
# The FQDN tags Azure Firewall offers name Microsoft's own services (WindowsUpdate, AzureKubernetesService, ...); none
# holds a customer's registry or its storage, so an fqdnTags rule never lets a registry's traffic through.
ALLOWED = "allowed"
DENIED = "denied"
UNKNOWN = "unknown"


def firewall_collections(policies=(), classic=None):
    """Rule collections in Azure Firewall's processing order, as flat dicts.

    ``policies``: the policy chain from the topmost base policy down, each ``{"name", "groups"}`` with its rule
    collection groups as REST JSON (a parent's rules are processed before its child's, whatever the priorities);
    ``classic``: a firewall's own ``properties`` (applicationRuleCollections, networkRuleCollections)."""
    found = []
    for level, policy in enumerate(policies):
        groups = sorted(policy.get("groups") or [], key=lambda g: int(_p(g).get("priority") or 65000))
        for group in groups:
            collections = sorted(_p(group).get("ruleCollections") or [], key=lambda c: int(c.get("priority") or 65000))
            for coll in collections:
                if coll.get("ruleCollectionType") not in (None, "FirewallPolicyFilterRuleCollection"):
                    continue   # NAT collections translate inbound traffic
                for kind, wanted in (("network", "NetworkRule"), ("application", "ApplicationRule")):
                    rules = [r for r in coll.get("rules") or [] if r.get("ruleType") == wanted]
                    if rules:
                        found.append({"kind": kind, "level": level, "where": "rule collection group {} of firewall "
                                      "policy {}".format(group.get("name"), policy.get("name")),
                                      "collection": coll.get("name"), "priority": coll.get("priority"),
                                      "action": ((coll.get("action") or {}).get("type") or "Allow"), "rules": rules})
    if classic:
        for kind, field in (("network", "networkRuleCollections"), ("application", "applicationRuleCollections")):
            for coll in sorted(classic.get(field) or [], key=lambda c: int(_p(c).get("priority") or 65000)):
                found.append({"kind": kind, "level": 0, "where": "the firewall's classic rules",
                              "collection": coll.get("name"), "priority": _p(coll).get("priority"),
                              "action": ((_p(coll).get("action") or {}).get("type") or "Allow"),
                              "rules": _p(coll).get("rules") or []})
    return found


def _p(obj):
    return (obj or {}).get("properties") or {}


def fqdn_covers(pattern, host):
    """Does an Azure Firewall FQDN pattern (``*``, ``*.contoso.com``, ``*contoso.com``, exact) match ``host``?
    A wildcard host (``*.blob.core.windows.net``, any storage account) is covered only by a pattern that matches
    every name under it."""
    pattern, host = (pattern or "").lower().strip().rstrip("."), (host or "").lower().rstrip(".")
    if not pattern:
        return False
    if pattern == "*":
        return True
    if host.startswith("*."):
        base = host[1:]                     # ".blob.core.windows.net"
        if pattern.startswith("*."):
            return base.endswith(pattern[1:])
        return pattern.startswith("*") and base.endswith(pattern[1:])
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    if pattern.startswith("*"):
        return host.endswith(pattern[1:])
    return host == pattern


def _ports_443(values):
    for value in values or []:
        value = str(value).strip()
        if value == "*":
            return True
        low, _, high = value.partition("-")
        try:
            if int(low) <= HTTPS <= int(high or low):
                return True
        except ValueError:
            continue
    return False


def _addresses(values, ip_groups, groups):
    """The address values of a rule plus its IP groups' addresses; None when an IP group could not be read."""
    values = [str(v) for v in values or []]
    for group_id in groups or []:
        members = ip_groups.get(str(group_id).lower())
        if members is None:
            return None
        values += members
    return values


def _source_ok(rule, sources, ip_groups):
    values = _addresses(rule.get("sourceAddresses"), ip_groups, rule.get("sourceIpGroups"))
    if values is None:
        return None
    for value in values:
        if value == "*":
            return True
        net = network(value)
        if net and any(network(s) and network(s).version == net.version and network(s).overlaps(net)
                       for s in sources):
            return True
    return False


def _network_rule(rule, need, ip_groups):
    protocols = [str(p).upper() for p in (rule.get("ipProtocols") or rule.get("protocols") or [])]
    if not (set(protocols) & {"TCP", "ANY"}) or not _ports_443(rule.get("destinationPorts")):
        return False
    if any(fqdn_covers(f, need["host"]) for f in rule.get("destinationFqdns") or [] if not str(f).startswith("*")):
        return True
    tags = {t.lower() for t in need.get("tags") or ()}
    values = [str(v) for v in rule.get("destinationAddresses") or []]
    if any(v == "*" or v.lower() in tags for v in values):
        return True
    if need.get("ip") and any(contains(v, need["ip"]) for v in values):
        return True
    if rule.get("destinationIpGroups"):
        members = _addresses([], ip_groups, rule.get("destinationIpGroups"))
        if members is None or not need.get("ip"):
            return None       # an address list cannot be compared with a public host name without resolving it
        return any(contains(v, need["ip"]) for v in members) or any(v == "*" for v in members)
    return False


def _application_rule(rule, need):
    https = any((str(p.get("protocolType") or "").lower() == "https" and int(p.get("port") or HTTPS) == HTTPS)
                for p in rule.get("protocols") or [] if isinstance(p, dict))
    if not https:
        return False
    return any(fqdn_covers(f, need["host"]) for f in rule.get("targetFqdns") or [])


def firewall_decision(collections, need, sources, ip_groups=None):
    """(ALLOWED | DENIED | UNKNOWN, words) for one destination through Azure Firewall: network rules first, then
    application rules, each in processing order; the first rule that matches decides; no match is denied.

    ``need``: ``{"host": "myacr.azurecr.io", "ip": "10.0.2.5" or None, "tags": service tags that hold it}``;
    ``sources``: the node subnet's prefixes; ``ip_groups``: IP group id (lower case) -> addresses."""
    ip_groups = ip_groups or {}
    unsure, unsure_actions = None, set()
    for kind in ("network", "application"):
        for coll in (c for c in collections if c["kind"] == kind):
            for rule in coll["rules"]:
                source = _source_ok(rule, sources, ip_groups)
                if source is False:
                    continue
                matched = _network_rule(rule, need, ip_groups) if kind == "network" else _application_rule(rule, need)
                if matched is False:
                    continue
                words = "{} rule {} in collection {} ({}, {})".format(kind, rule.get("name"), coll["collection"],
                                                                       coll["action"], coll["where"])
                action = ALLOWED if coll["action"].lower() == "allow" else DENIED
                if source is None or matched is None:
                    unsure = unsure or words + " uses an IP group that cannot be compared with it"
                    unsure_actions.add(action)
                    continue
                if unsure_actions - {action}:
                    return UNKNOWN, unsure
                return action, words
    if unsure:
        return UNKNOWN, unsure
    return DENIED, "no rule allows it (Azure Firewall denies what no rule allows)"
