"""Cause 4 (C4.S1): the private endpoint's VNet and the nodes' VNet, peered both ways. A decision per registry,
worded by reason in ``WORDS``."""
from ..common.network import (
    peering_to,
    private_path,
    props,
    public_consequence,
    public_path,
    sub_flag,
)
from ..common.registry import decided_per_registry, none_found
from ..facts import FactError
from ..findings import FAIL, PASS, SKIPPED, WARNING, check, decided
from ..ids import id_name, parse_resource_id, same_id
from ..netpath import route_for


@check("vnet-peering", "C4.S1", "The private endpoint's VNet is peered with the cluster's VNet both ways",
       "When the registry's private endpoint sits in another VNet than the nodes, checks that the two VNets are "
       "peered in both directions with state Connected and allow VNet access.", groups=("network",),
       needs=("cluster_egress", "cluster_subscription", "cluster_vnet_ids", "dns_record", "dns_zone_links",
              "network_resource", "node_subnets", "private_dns_zones", "registries", "registry_endpoints",
              "registry_lookups", "registry_replications", "subnet"))
def vnet_peering(chk, facts):
    return decided_per_registry(chk, facts, decide, WORDS, none=none_found)


# -- the decision -----------------------------------------------------------------------------------------------------
def decide(facts, registry):
    """Are the two VNets peered both ways, Connected and open to each other; when not, is an appliance meant to
    carry the traffic instead (Warning), else the pulls time out (Fail)."""
    name, path = registry["name"], private_path(facts, registry)
    endpoint = path.endpoint
    if not endpoint:
        return decided(SKIPPED, "no-endpoint", name=name)
    cluster_vnet_id, pe_vnet_id = facts.cluster_vnet_ids()[0], endpoint["vnetId"]
    evidence = {"clusterVnetId": cluster_vnet_id, "endpointVnetId": pe_vnet_id, "privateEndpoint": endpoint["name"]}
    common = {"cluster_vnet_id": cluster_vnet_id, "pe_vnet_id": pe_vnet_id}
    if same_id(cluster_vnet_id, pe_vnet_id):
        return decided(PASS, "same-vnet", evidence, endpoint=endpoint["name"], **common)
    cluster_vnet = facts.network_resource(cluster_vnet_id)
    try:
        pe_vnet = facts.network_resource(pe_vnet_id)
    except FactError as err:
        pe_vnet, evidence["endpointVnetUnreadable"] = None, err.reason
    ours, theirs = peering_to(cluster_vnet, pe_vnet_id), peering_to(pe_vnet, cluster_vnet_id) if pe_vnet else None
    sides = ((cluster_vnet_id, pe_vnet_id, ours, True), (pe_vnet_id, cluster_vnet_id, theirs, pe_vnet is not None))
    evidence["peerings"] = [{"vnet": id_name(v), "remote": id_name(r), "name": (p or {}).get("name"),
                             "peeringState": props(p).get("peeringState"),
                             "allowVirtualNetworkAccess": props(p).get("allowVirtualNetworkAccess")}
                            for v, r, p, readable in sides if readable]
    issues = [issue for side in sides if side[3] for issue in _issues(*side[:3])]
    if not issues:
        return decided(PASS, "peered", evidence, unread=pe_vnet is None, **common)
    problems = [_problem(*issue) for issue in issues]
    common.update(sides=sides, issues=issues, problems=problems)
    appliance = _appliance_route(facts, endpoint)
    if appliance and ours is None:
        evidence["route"] = appliance
        return decided(WARNING, "appliance", evidence, appliance=appliance, **common)
    why_public = public_path(facts, registry) if not path.goes_private else None
    if why_public:
        evidence["publicPath"] = True
    return decided(FAIL, "not-peered", dict(problems=problems, **evidence), endpoint=endpoint["name"],
                   ip=(endpoint["addresses"].get(path.hosts[0]) or ["<endpoint ip>"])[0], login=path.hosts[0],
                   private=path.goes_private, why_public=why_public, registry=registry, **common)


def _issues(vnet_id, remote_id, peering):
    """What is wrong with one side's peering: (kind, vnet, remote, peering name, state) for each problem."""
    if peering is None:
        return [("missing", vnet_id, remote_id, None, None)]
    found, state = [], props(peering).get("peeringState")
    if state != "Connected":
        found.append(("state", vnet_id, remote_id, peering.get("name"), state))
    if props(peering).get("allowVirtualNetworkAccess") is False:
        found.append(("no-access", vnet_id, remote_id, peering.get("name"), state))
    return found


def _appliance_route(facts, endpoint):
    ip = next(iter(next(iter(endpoint["addresses"].values()), [])), None)
    for entry in facts.node_subnets():
        table = props(facts.subnet(entry["subnetId"])).get("routeTable")
        route = route_for(ip, facts.network_resource(table["id"])) if table and ip else None
        if route and props(route).get("nextHopType") == "VirtualAppliance":
            return {"route": route.get("name"), "prefix": props(route).get("addressPrefix"),
                    "nextHop": props(route).get("nextHopIpAddress")}
    return None


# -- the words, by reason ---------------------------------------------------------------------------------------------
def _problem(kind, vnet_id, remote_id, peering, state):
    vnet = parse_resource_id(vnet_id).name
    if kind == "missing":
        return "VNet {} has no peering to {}".format(vnet, id_name(remote_id))
    if kind == "state":
        return "the peering {} on VNet {} is {}".format(peering, vnet, state)
    return "the peering {} on VNet {} does not allow VNet access".format(peering, vnet)


def _create(facts, vnet_id, remote_id):
    rid = parse_resource_id(vnet_id)
    return ("az network vnet peering create -g {} --vnet-name {} -n {}-to-{} --remote-vnet {} --allow-vnet-access"
            "{}").format(rid.resource_group, rid.name, rid.name, id_name(remote_id), remote_id,
                         sub_flag(facts, vnet_id))


def _delete(facts, vnet_id, peering):
    rid = parse_resource_id(vnet_id)
    return "az network vnet peering delete -g {} --vnet-name {} -n {}{}".format(
        rid.resource_group, rid.name, peering, sub_flag(facts, vnet_id))


def _fixes(facts, sides, issues):
    """A Disconnected peering is deleted on both VNets and recreated (the article's fix); otherwise each problem has
    its own command."""
    if any(kind == "state" and state == "Disconnected" for kind, _, _, _, state in issues):
        return ([_delete(facts, v, p.get("name")) for v, _, p, readable in sides if readable and p is not None]
                + [_create(facts, v, r) for v, r, _, readable in sides if readable])
    fixes = []
    for kind, vnet_id, remote_id, peering, _ in issues:
        rid = parse_resource_id(vnet_id)
        if kind == "missing":
            fixes.append(_create(facts, vnet_id, remote_id))
        elif kind == "no-access":
            fixes.append("az network vnet peering update -g {} --vnet-name {} -n {} --set allowVirtualNetworkAccess="
                         "true{}".format(rid.resource_group, rid.name, peering, sub_flag(facts, vnet_id)))
    return fixes


def _no_endpoint(facts, name):
    return "Registry {} has no approved private endpoint, so no peering is needed.".format(name), ""


def _same_vnet(facts, cluster_vnet_id, pe_vnet_id, endpoint):
    return ("Private endpoint {} is in the cluster's own VNet {}; no peering is needed.".format(
        endpoint, id_name(pe_vnet_id))), ""


def _peered(facts, cluster_vnet_id, pe_vnet_id, unread):
    return ("VNets {} and {} are peered both ways and Connected{}.".format(
        id_name(cluster_vnet_id), id_name(pe_vnet_id), " (VNet {} could not be read; its side is judged from {}'s "
        "state)".format(id_name(pe_vnet_id), id_name(cluster_vnet_id)) if unread else "")), ""


def _appliance(facts, cluster_vnet_id, pe_vnet_id, sides, issues, problems, appliance):
    return ("VNets {} and {} are not peered directly ({}); the node subnet's route {} sends {} to the appliance at {}, "
            "which must forward it to the private endpoint and be in a VNet peered with {}.".format(
                id_name(cluster_vnet_id), id_name(pe_vnet_id), "; ".join(problems), appliance["route"],
                appliance["prefix"], appliance["nextHop"], id_name(pe_vnet_id)),
            " && ".join(_fixes(facts, sides, issues)))


def _not_peered(facts, cluster_vnet_id, pe_vnet_id, sides, issues, problems, endpoint, ip, login, private,
                why_public, registry):
    outcome = "Pulls time out (dial tcp {}:443: i/o timeout).".format(ip)
    if not private:
        outcome = ("The nodes do not resolve {} to the endpoint yet (see private-dns-link), and {}. Once they do, "
                   "pulls will time out (dial tcp {}:443: i/o timeout).").format(
                       login, public_consequence(registry, why_public), ip)
    return ("The private endpoint {} is in VNet {} and the nodes in VNet {}, but {}. {}".format(
        endpoint, id_name(pe_vnet_id), id_name(cluster_vnet_id), "; ".join(problems), outcome),
        " && ".join(dict.fromkeys(_fixes(facts, sides, issues))))


WORDS = {"no-endpoint": _no_endpoint, "same-vnet": _same_vnet, "peered": _peered, "appliance": _appliance,
         "not-peered": _not_peered}
