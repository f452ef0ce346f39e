"""Cause 3 (C3.S1): the registry's private DNS zone, linked to the VNet the nodes resolve names in, with A records
that match the private endpoint. A decision per registry, worded by reason in ``WORDS``."""
from ..common.network import (
    private_path,
    props,
    public_consequence,
    public_path,
    raise_first,
    sub_flag,
    zone_rg_args,
)
from ..common.registry import decided_per_registry, none_found
from ..findings import FAIL, PASS, SKIPPED, WARNING, check, decided
from ..ids import id_name, parse_resource_id, same_id
from ..netpath import record_name


@check("private-dns-link", "C3.S1", "The registry's private DNS zone is linked to the cluster's VNet with the "
       "right records",
       "For a registry with private endpoints: finds the privatelink zone (any subscription the account can read), "
       "checks that it is linked to the VNet the nodes resolve names in, and that its A records for the login "
       "server and each data endpoint match the endpoint's IPs.", groups=("network",),
       needs=("cluster_egress", "cluster_subscription", "cluster_vnet_ids", "dns_record", "dns_zone_links",
              "network_resource", "node_subnets", "private_dns_zones", "registries", "registry_endpoints",
              "registry_lookups", "registry_replications"))
def private_dns_link(chk, facts):
    return decided_per_registry(chk, facts, decide, WORDS, none=none_found)


# -- the decision -----------------------------------------------------------------------------------------------------
def decide(facts, registry):
    """Which of the zone's problems stands in the way, if any: no approved endpoint, custom DNS that cannot be read,
    no zone, no link to the resolving VNet, or records that do not match the endpoint."""
    name, path = registry["name"], private_path(facts, registry)
    if not path.endpoints:
        return decided(SKIPPED, "no-endpoint", name=name)
    evidence = {"endpoints": [{k: e.get(k) for k in ("name", "connection", "status", "vnetId", "addresses")}
                              for e in path.endpoints]}
    if not path.approved:
        return decided(FAIL, "none-approved", evidence, name=name, registry_id=registry["id"],
                       endpoints=path.endpoints)
    endpoint, resolver, hosts = path.endpoint, path.resolver, path.hosts
    evidence.update(endpointInUse=endpoint["name"], expected={h: endpoint["addresses"].get(h) for h in hosts},
                    resolverVnetId=resolver.vnet_id, dnsServers=resolver.dns_servers,
                    zones=[z["id"] for z in path.zones], unreadableSubscriptions=path.zone_search["unreadable"],
                    unreadableZones=path.links_unreadable)
    common = dict(name=name, endpoint=endpoint, hosts=hosts, resolver=resolver, zone_name=path.zone_search["name"])
    if resolver.custom_unseen:
        return decided(WARNING, "custom-dns", evidence, **common)
    if not path.linked:
        return _unlinked(facts, registry, path, evidence, common)
    zone, link = path.linked["zone"], path.linked["link"]
    evidence.update(zoneId=zone["id"], link=link.get("name"), records=path.records)
    missing, wrong, problems = {}, {}, []
    for host in hosts:
        want, have = endpoint["addresses"].get(host), path.records.get(host)
        rname = record_name(host, facts.request.acr_suffix)
        if not want:
            problems.append("the private endpoint {} has no address for {}".format(endpoint["name"], host))
        elif have is None:
            missing[host] = list(want)
            problems.append("no A record {} for {}".format(rname, host))
        elif have != want:
            wrong[host] = (list(have), list(want))
            problems.append("A record {} is {} but the endpoint's address is {}".format(
                rname, ", ".join(have) or "empty", ", ".join(want)))
    state = props(link).get("virtualNetworkLinkState")
    if state and state != "Completed":
        problems.append("the link {} is {}".format(link.get("name"), state))
    common.update(zone=zone)
    if problems:
        return decided(FAIL, "records", dict(problems=problems, **evidence), missing=missing, wrong=wrong,
                       problems=problems, only_missing=len(problems) == len(missing), **common)
    return decided(PASS, "linked", evidence, **common)


def _unlinked(facts, registry, path, evidence, common):
    """No zone linked to the resolving VNet: none exists, or the one holding the records lacks the link."""
    why_public = public_path(facts, registry)
    if why_public:
        evidence["publicPath"] = True
    common.update(why_public=why_public, registry=registry)
    zone = _zone_for_link(facts, path, common["endpoint"])
    if zone is None:
        return decided(FAIL, "no-zone", evidence, **common)
    linked_to = sorted(id_name((props(link).get("virtualNetwork") or {}).get("id")) for link in path.links[zone["id"]])
    evidence = dict(zoneId=zone["id"], linkedVnets=linked_to, **evidence)
    return decided(FAIL, "not-linked", evidence, zone=zone, linked_to=linked_to, **common)


def _zone_for_link(facts, path, endpoint):
    """The zone to link: the one whose login record points at the endpoint, else the only one."""
    zones = path.zones
    if len(zones) <= 1:
        return zones[0] if zones else None
    login = path.hosts[0]
    name = record_name(login, facts.request.acr_suffix)
    records = raise_first(facts.parallel(lambda z: facts.dns_record(z["id"], "A", name), zones))
    for zone, record in zip(zones, records, strict=True):
        ips = sorted(a.get("ipv4Address") for a in (props(record).get("aRecords") or [])) if record else None
        if ips and ips == endpoint["addresses"].get(login):
            return zone
    return zones[0]


# -- the words, by reason ---------------------------------------------------------------------------------------------
def _no_endpoint(facts, name):
    return ("Registry {} has no private endpoint; the cluster reaches it through its public endpoint (see "
            "acr-network-rules).".format(name)), ""


def _none_approved(facts, name, registry_id, endpoints):
    pending = [e for e in endpoints if (e.get("status") or "").lower() == "pending"]
    fix = " && ".join("az acr private-endpoint-connection approve -r {} -n {}{}".format(
        name, e["connection"], sub_flag(facts, registry_id)) for e in pending)
    return ("No private endpoint connection of {} is Approved ({}); the endpoints carry no traffic to the registry."
            .format(name, ", ".join("{} {}".format(e["connection"], e.get("status")) for e in endpoints)),
            fix or "Recreate the private endpoint: az network private-endpoint create ... "
            "--private-connection-resource-id {} --group-id registry".format(registry_id))


def _custom_dns(facts, name, endpoint, hosts, resolver, zone_name):
    servers = ", ".join(resolver.dns_servers)
    return ("The cluster's VNet uses custom DNS servers {} outside the VNets seen here, so whether they answer {} with "
            "the private endpoint's address {} cannot be read from Azure.".format(
                servers, hosts[0], ", ".join(endpoint["addresses"].get(hosts[0]) or [])),
            "Make the DNS servers {} forward {} to Azure DNS (168.63.129.16) from a VNet linked to zone {}, then check "
            "from a node with: az aks diagnose-pull run -g {} -n {} --acr {} --checks cluster-pull-probe "
            "--probe".format(servers, facts.request.acr_suffix.lstrip("."), zone_name, facts.cluster_resource_group,
                             facts.cluster_name, name))


def _via(resolver):
    return "" if same_id(resolver.vnet_id, resolver.cluster_vnet_id) else \
        " (the VNet of the cluster's custom DNS servers {})".format(", ".join(resolver.dns_servers))


def _no_zone(facts, name, endpoint, hosts, resolver, zone_name, why_public, registry):
    pe, vnet_name = parse_resource_id(endpoint["endpointId"]), id_name(resolver.vnet_id)
    fix = ("az network private-dns zone create -g {rg} -n {zone}{sub} && az network private-dns link vnet create "
           "-g {rg} -z {zone} -n {vnet}-link -v {vnet_id} -e false{sub} && az network private-endpoint dns-zone-group "
           "create -g {rg} --endpoint-name {pe} -n default --private-dns-zone {zone} --zone-name registry{sub}").format(
               rg=pe.resource_group, zone=zone_name, vnet=vnet_name, vnet_id=resolver.vnet_id, pe=pe.name,
               sub=sub_flag(facts, endpoint["endpointId"]))
    return ("No private DNS zone {} exists in the subscriptions the signed-in account can read, so VNet {}{} resolves "
            "{} to the registry's public address and {}.".format(zone_name, vnet_name, _via(resolver), hosts[0],
                                                                 public_consequence(registry, why_public)), fix)


def _not_linked(facts, name, endpoint, hosts, resolver, zone_name, why_public, registry, zone, linked_to):
    vnet_name = id_name(resolver.vnet_id)
    return ("Zone {} (resource group {}) holds the registry's records but has no virtual network link to the "
            "cluster's VNet {}{} (linked: {}). The nodes resolve {} to the public address instead of the private "
            "endpoint's {}, and {}.".format(
                zone["name"], parse_resource_id(zone["id"]).resource_group, vnet_name, _via(resolver),
                ", ".join(linked_to) or "none", hosts[0], ", ".join(endpoint["addresses"].get(hosts[0]) or []),
                public_consequence(registry, why_public)),
            "az network private-dns link vnet create {} -n {}-link -v {} -e false{}".format(
                zone_rg_args(zone["id"]), vnet_name, resolver.vnet_id, sub_flag(facts, zone["id"])))


def _records(facts, name, endpoint, hosts, resolver, zone_name, zone, missing, wrong, problems, only_missing):
    fixes = []
    for host in hosts:
        args = "{} -n {}".format(zone_rg_args(zone["id"]), record_name(host, facts.request.acr_suffix)) + \
            sub_flag(facts, zone["id"])
        if host in missing:
            fixes += ["az network private-dns record-set a add-record {} -a {}".format(args, ip)
                      for ip in missing[host]]
        elif host in wrong:
            have, want = wrong[host]
            fixes += ["az network private-dns record-set a remove-record {} -a {}".format(args, ip)
                      for ip in have if ip not in want]
            fixes += ["az network private-dns record-set a add-record {} -a {}".format(args, ip)
                      for ip in want if ip not in have]
    return ("Zone {} is linked to VNet {}{}, but {}. Pulls of the affected host fail to resolve or go to the wrong "
            "address.".format(zone["name"], id_name(resolver.vnet_id), _via(resolver), "; ".join(problems)),
            " && ".join(fixes) or "Recreate the private endpoint's DNS configuration: az network private-endpoint "
            "dns-zone-group create -g {} --endpoint-name {} -n default --private-dns-zone {} --zone-name registry"
            .format(parse_resource_id(endpoint["endpointId"]).resource_group, endpoint["name"], zone["id"]))


def _linked(facts, name, endpoint, hosts, resolver, zone_name, zone):
    return ("Zone {} is linked to VNet {}{} and its A records send {} to the private endpoint {} ({}).".format(
        zone["name"], id_name(resolver.vnet_id), _via(resolver), ", ".join(hosts), endpoint["name"],
        ", ".join(sorted({ip for h in hosts for ip in endpoint["addresses"].get(h) or []})))), ""


WORDS = {"no-endpoint": _no_endpoint, "none-approved": _none_approved, "custom-dns": _custom_dns,
         "no-zone": _no_zone, "not-linked": _not_linked, "records": _records, "linked": _linked}
