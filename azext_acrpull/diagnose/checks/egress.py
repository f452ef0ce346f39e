"""Cause 4 (C4.S2) and what stands on the node subnet's way out: user-defined routes, NSGs (M.nsg), an Azure
Firewall or another appliance on the route (M.fw, B.fqdn), and the cluster's HTTP proxy (B.proxy, X.tls)."""
import re

from ..classify import classify_pull_error
from ..common import firewall as firewall_judge
from ..common.network import (
    dedicated_data_endpoints,
    peering_to,
    private_path,
    props,
    raise_first,
    registry_hosts,
    sub_flag,
)
from ..common.registry import none_found
from ..facts import FactError
from ..findings import FAIL, PASS, WARNING, check
from ..ids import id_name, parse_resource_id, same_id
from ..netpath import (
    ALLOWED,
    DENIED,
    diverts,
    free_priority_below,
    is_private,
    network,
    nsg_rule_for,
    public_tags,
    route_for,
    route_for_internet,
)


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
        return none_found(chk, facts)
    subnets = {}
    for entry in facts.node_subnets():
        subnets.setdefault(entry["subnetId"].lower(), {"subnetId": entry["subnetId"], "pools": []})["pools"].append(
            entry["pool"])
    nic_nsgs = facts.node_nic_nsgs()
    # The subnets' route tables and NSGs do not wait for the registry's private path (DNS): start them now.
    facts.prefetch(*[lambda e=entry: _read_path(facts, e, nic_nsgs) for entry in subnets.values()])
    findings = []
    for registry in registries:
        view = private_path(facts, registry)
        for entry in subnets.values():
            findings.append(_egress_one(chk, facts, registry, view, entry, nic_nsgs))
    return findings


def _read_path(facts, entry, nic_nsgs):
    """Read what _egress_one reads for a node subnet: its route table and NSGs (the subnet's and the NICs')."""
    sp = props(facts.subnet(entry["subnetId"]))
    ids = [(sp.get("routeTable") or {}).get("id"), (sp.get("networkSecurityGroup") or {}).get("id")]
    ids += [n for pool in entry["pools"] for n in nic_nsgs.get(pool, [])]
    facts.parallel(facts.network_resource, list(dict.fromkeys(i for i in ids if i)))


def _must_allow(facts, registry, view, private):
    hosts = view.hosts or registry_hosts(facts, registry)
    if private:
        ips = sorted({ip for h in hosts for ip in view.endpoint["addresses"].get(h) or []})
        return "TCP 443 to {} ({})".format(", ".join(ips), ", ".join(hosts))
    extra = "" if dedicated_data_endpoints(facts, registry) else ", *.blob.core.windows.net (registry without " \
        "dedicated data endpoints)"
    return "HTTPS to {}{}".format(", ".join(hosts), extra)


def _egress_one(chk, facts, registry, view, entry, nic_nsgs):
    subnet = facts.subnet(entry["subnetId"])
    sp = props(subnet)
    target = "subnet {} (pools {}) to registry {}".format(subnet.get("name"), ", ".join(entry["pools"]),
                                                         registry["name"])
    private = view.goes_private
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
    _judge_nsgs(facts, registry, view, private, region, sp, entry, nic_nsgs, prefixes, evidence, fails, fixes)
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


def _judge_nsgs(facts, registry, view, private, region, sp, entry, nic_nsgs, prefixes, evidence, fails, fixes):
    """M.nsg: the NSGs on the subnet and the node NICs, each judged by its first rule matching the registry's
    destinations (an NSG's first matching rule by priority decides)."""
    nsg_ids = [(sp.get("networkSecurityGroup") or {}).get("id")]
    nsg_ids += [n for pool in entry["pools"] for n in nic_nsgs.get(pool, [])]
    nsg_ids = list(dict.fromkeys(n for n in nsg_ids if n))
    nsgs = raise_first(facts.parallel(facts.network_resource, nsg_ids))
    evidence["networkSecurityGroups"] = nsg_ids
    for nsg in nsgs:
        denied, first = [], None
        for dest, words in _destinations(facts, registry, view, private, region):
            rule = nsg_rule_for(nsg, dest, prefixes)
            if rule and (props(rule).get("access") or "").lower() == "deny":
                # the first matching rule by priority decides, so no allow rule comes before this deny
                fails.append("NSG {} rule {} (priority {}) denies outbound TCP 443 to {}".format(
                    nsg["name"], rule.get("name"), props(rule).get("priority"), words))
                denied.append(dest.get("ip") or dest["service"])
                first = min(first or 4097, int(props(rule).get("priority") or 4096))
                evidence.setdefault("deniedBy", []).append({"nsg": nsg["id"], "rule": rule.get("name"),
                                                            "priority": props(rule).get("priority")})
        if denied:
            rid = parse_resource_id(nsg["id"])
            fixes.append("az network nsg rule create -g {} --nsg-name {} -n AllowContainerRegistry443 --priority {} "
                         "--direction Outbound --access Allow --protocol Tcp --destination-port-ranges 443 "
                         "--destination-address-prefixes {}{}".format(
                             rid.resource_group, nsg["name"], free_priority_below(nsg, first), " ".join(denied),
                             sub_flag(facts, nsg["id"])))


def _judge_route(facts, registry, view, private, region, prefixes, allow, table, route, dest, evidence, out):
    """A user-defined route that diverts the registry's traffic: to nowhere (Warning), to an Azure Firewall whose rules
    decide (Fail when they refuse the login server or the data path, B.fqdn; nothing when they allow both), or to
    another appliance whose rules cannot be read (Warning naming the hosts to allow)."""
    fails, warns, fixes, passes = out
    p = props(route)
    hop_ip = p.get("nextHopIpAddress")
    firewall = facts.firewall_at(hop_ip) if p.get("nextHopType") == "VirtualAppliance" and hop_ip else None
    where = "route table {} sends {} (route {}, {}) to".format(table["name"], dest, route.get("name"),
                                                              p.get("addressPrefix"))
    if p.get("nextHopType") != "VirtualAppliance":
        warns.append("{} nowhere (next hop None drops it)".format(where))
        fixes.append("az network route-table route delete -g {} --route-table-name {} -n {}{}".format(
            parse_resource_id(table["id"]).resource_group, table["name"], route.get("name"),
            sub_flag(facts, table["id"])))
        return
    if not firewall:
        warns.append("{} a virtual appliance at {}, whose rules cannot be read".format(where, hop_ip))
        fixes.append("Allow {} from {} on the firewall or appliance at {}".format(allow, ", ".join(prefixes), hop_ip))
        return
    evidence.setdefault("firewalls", []).append(firewall["id"])
    private_addresses = None
    if private:
        private_addresses = {}
        for host, ips in view.endpoint["addresses"].items():
            routed = [ip for ip in ips if (route_for(ip, table) or {}).get("name") == route.get("name")]
            if routed:
                private_addresses[host] = routed
    regions = [region] + [(r.get("location") or "").lower() for r in facts.registry_replications(registry)]
    wanted = firewall_judge.needs(registry, view.hosts or registry_hosts(facts, registry),
                                  dedicated_data_endpoints(facts, registry), private_addresses, region,
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
                         + sub_flag(facts, firewall["policy"]))
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
    proxy = props(facts.cluster()).get("httpProxyConfig") or {}
    via = proxy.get("httpsProxy") or proxy.get("httpProxy")
    if not via:
        return
    no_proxy = [n for n in proxy.get("noProxy") or [] if n]
    login = (props(registry).get("loginServer") or "").lower()
    hosts = view.hosts or registry_hosts(facts, registry)
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
        ips = sorted({ip for ips in view.endpoint["addresses"].values() for ip in ips})
        return "az network firewall network-rule create {} -n {}-443 --protocols TCP --destination-addresses {} " \
               "--destination-ports 443{}".format(common, registry["name"], " ".join(ips), sub_flag(facts, rid.id))
    if hosts is None:
        hosts = list(view.hosts or registry_hosts(facts, registry))
        if not dedicated_data_endpoints(facts, registry):
            hosts.append("*.blob.core.windows.net")
    return "az network firewall application-rule create {} -n {}-https --protocols Https=443 --target-fqdns {}" \
           "{}".format(common, registry["name"], " ".join(hosts), sub_flag(facts, rid.id))


def _redact(url):
    return re.sub(r"//[^@/]*@", "//", url or "")


def _routes_in_use(facts, view, table, private, region):
    """(route, destination words) for each user-defined route that diverts the registry's traffic."""
    found = []
    if private:
        endpoint = view.endpoint
        pe_subnet = {}
        try:
            pe_subnet = props(facts.subnet(endpoint["subnetId"]))
        except FactError as err:
            if err.fault:   # a refusal leaves Azure's default (policies Disabled); a failed read decides nothing
                raise
        direct = _directly_routed(facts, endpoint)
        policies = (pe_subnet.get("privateEndpointNetworkPolicies") or "Disabled")
        for ip in sorted({ip for ips in endpoint["addresses"].values() for ip in ips}):
            route = route_for(ip, table)
            if not route or not diverts(route):
                continue
            prefix = network(props(route).get("addressPrefix"))
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
    peering = peering_to(facts.network_resource(vnet_id), endpoint.get("vnetId"))
    return bool(peering) and props(peering).get("peeringState") == "Connected"


def _destinations(facts, registry, view, private, region):
    if private:
        ips = sorted({ip for ips in view.endpoint["addresses"].values() for ip in ips})
        return [({"ip": ip, "tags": ["VirtualNetwork"] if is_private(ip) else []},
                 "{} (private endpoint)".format(ip)) for ip in ips]
    dests = [({"tags": public_tags("AzureContainerRegistry", region), "service": "AzureContainerRegistry"},
              "the registry (AzureContainerRegistry)")]
    if not dedicated_data_endpoints(facts, registry):
        dests.append(({"tags": public_tags("Storage", region), "service": "Storage"},
                      "the registry's blob storage (Storage)"))
    return dests


