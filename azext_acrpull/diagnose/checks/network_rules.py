"""Cause 3 (C3.S2): the registry's firewall (public network access, IP and virtual network rules) against the
cluster's way in: a private endpoint, the node subnet, or its egress addresses. A decision per registry, worded by
reason in ``WORDS``."""
from ..common.network import (
    SHOWN_RULES,
    allowed_ips,
    cluster_egress,
    default_next_hop,
    private_path,
    props,
    rules_words,
    vnet_rules,
)
from ..common.registry import decided_per_registry, none_found
from ..findings import FAIL, PASS, WARNING, check, decided
from ..ids import id_name, parse_resource_id, same_id
from ..netpath import uncovered


@check("acr-network-rules", "C3.S2", "The registry's network rules let the cluster in",
       "When public access is Disabled or limited to selected networks and the cluster does not reach the registry "
       "through a private endpoint, checks that the cluster's egress IPs (load balancer outbound IPs and prefixes, "
       "NAT gateway) are in the registry's IP rules.", groups=("network",),
       needs=("cluster_egress", "cluster_vnet_ids", "dns_record", "dns_zone_links", "firewall_at", "network_resource",
              "node_subnets", "private_dns_zones", "registries", "registry_endpoints", "registry_lookups",
              "registry_replications", "subnet"))
def acr_network_rules(chk, facts):
    return decided_per_registry(chk, facts, decide, WORDS, none=none_found)


# -- the decision -----------------------------------------------------------------------------------------------------
def decide(facts, registry):
    """Does the cluster get in: through an open registry, a private endpoint, a virtual network rule, or an egress
    address in the IP rules; and when not, what is in the way."""
    name, p = registry["name"], props(registry)
    public = p.get("publicNetworkAccess") or "Enabled"
    rules = p.get("networkRuleSet") or {}
    default = rules.get("defaultAction") or "Allow"
    allowed = allowed_ips(rules)
    evidence = {"publicNetworkAccess": public, "defaultAction": default, "ipRules": allowed[:SHOWN_RULES]}
    if len(allowed) > SHOWN_RULES:
        evidence["ipRuleCount"] = len(allowed)
    if public == "Enabled" and default == "Allow":
        return decided(PASS, "open", evidence, name=name)
    path = private_path(facts, registry)
    if path.goes_private:
        return decided(PASS, "private", dict(privateEndpoint=path.endpoint["name"], **evidence), name=name,
                       endpoint=path.endpoint["name"], assumed=not path.resolver.vnet_id)
    common = {"name": name, "login": p.get("loginServer"), "endpoint": (path.endpoint or {}).get("name"),
              "allowed": allowed}
    subnets = [s["subnetId"] for s in facts.node_subnets()]
    by_vnet = vnet_rules(rules)
    if public == "Enabled" and any(same_id(v, s) for v in by_vnet for s in subnets):
        return decided(PASS, "vnet-rule", dict(virtualNetworkRules=by_vnet, **evidence), name=name)
    egress = cluster_egress(facts)
    evidence.update(outboundType=egress.outbound_type, egressAddresses=list(egress.addresses))
    common.update(egress=egress, vnet_id=facts.cluster_vnet_ids()[0])
    if public != "Enabled":
        return decided(FAIL, "disabled", evidence, ips=list(egress.addresses) if egress.known else [], **common)
    if egress.closed:
        return decided(FAIL, "no-egress", evidence, registry_id=registry["id"], subnet_id=subnets[0], **common)
    if not egress.known:
        hop = default_next_hop(facts)
        firewall = facts.firewall_at(hop) if hop else None
        evidence.update(nextHop=hop, firewall=firewall)
        if not (firewall and firewall["publicIps"]):
            return decided(WARNING, "egress-unknown", evidence, hop=hop, **common)
        missing = uncovered(firewall["publicIps"], allowed)
        if not missing:
            return decided(PASS, "firewall-allowed", evidence, hop=hop, firewall=firewall, **common)
        return decided(WARNING, "firewall-missing", dict(missing=missing, **evidence), hop=hop, firewall=firewall,
                       missing=missing, **common)
    missing = uncovered(list(egress.addresses), allowed)
    if missing:
        return decided(FAIL, "missing", dict(missing=missing, **evidence), missing=missing, **common)
    return decided(PASS, "allowed", evidence, name=name, egress=egress)


# -- the words, by reason ---------------------------------------------------------------------------------------------
def _why_public(login, endpoint):
    return (" It has a private endpoint, but the cluster's VNet does not resolve {} to it (see private-dns-link)."
            .format(login) if endpoint else "")


def _add_rules(name, ips):
    return " && ".join("az acr network-rule add --name {} --ip-address {}".format(name, ip) for ip in ips)


def _open(facts, name):
    return ("Registry {} accepts pulls from all networks (public network access Enabled, default action Allow)."
            .format(name)), ""


def _private(facts, name, endpoint, assumed):
    return ("The cluster reaches {} through private endpoint {}{}, so the registry's public network rules do not "
            "apply to it.".format(name, endpoint, " (assuming its custom DNS servers answer with the endpoint's "
                                  "address; see private-dns-link)" if assumed else "")), ""


def _vnet_rule(facts, name):
    return "The node subnet is allowed by a virtual network rule of {}.".format(name), ""


def _disabled(facts, name, login, endpoint, allowed, egress, vnet_id, ips):
    fix = "az acr update -n {} --public-network-enabled true --default-action Deny".format(name) + "".join(
        " && " + _add_rules(name, [ip]) for ip in ips)
    if endpoint:
        fix = "Make VNet {} resolve {} to private endpoint {} (see private-dns-link); or open selected networks: " \
              "{}".format(id_name(vnet_id), login, endpoint, fix)
    return ("Public network access to {} is Disabled and the cluster does not come through a private endpoint, so "
            "every pull is refused with 403 Forbidden.{}{}".format(
                name, _why_public(login, endpoint), "" if endpoint else " Switch public access to selected networks "
                "and allow the cluster's egress {}.".format(", ".join(ips) or "address")), fix)


def _no_egress(facts, name, login, endpoint, allowed, egress, vnet_id, registry_id, subnet_id):
    return ("The cluster has outbound type {} (no public egress) and does not reach {} through a private endpoint.{}"
            .format(egress.outbound_type, name, _why_public(login, endpoint)),
            "Give the cluster a private endpoint path to {}: az network private-endpoint create --connection-name {} "
            "--name {}-pe --private-connection-resource-id {} --group-id registry --vnet-name {} --subnet {} -g {}"
            .format(name, name, name, registry_id, id_name(vnet_id), id_name(subnet_id),
                    parse_resource_id(vnet_id).resource_group))


def _firewall_seen(hop, firewall):
    return "; the route table's next hop {} is Azure Firewall {}, whose public IP {} is the likely source".format(
        hop, firewall["name"], ", ".join(firewall["publicIps"]))


def _firewall_allowed(facts, name, login, endpoint, allowed, egress, vnet_id, hop, firewall):
    return ("Registry {} allows only selected networks ({}); {}{}, and it is allowed.".format(
        name, rules_words(allowed), egress.note, _firewall_seen(hop, firewall))), ""


def _firewall_missing(facts, name, login, endpoint, allowed, egress, vnet_id, hop, firewall, missing):
    return ("Registry {} allows only selected networks ({}), and {}{}, which is not allowed.{}".format(
        name, rules_words(allowed), egress.note, _firewall_seen(hop, firewall), _why_public(login, endpoint)),
        _add_rules(name, missing))


def _egress_unknown(facts, name, login, endpoint, allowed, egress, vnet_id, hop):
    return ("Registry {} allows only selected networks ({}), and {}{}; that address must be in the registry's IP "
            "rules.{}".format(name, rules_words(allowed), egress.note, " (the route table sends 0.0.0.0/0 to {})"
                              .format(hop) if hop else "", _why_public(login, endpoint)),
            "az acr network-rule add --name {} --ip-address <public IP of the firewall{}>".format(
                name, " at " + hop if hop else ""))


def _missing(facts, name, login, endpoint, allowed, egress, vnet_id, missing):
    return ("Registry {} allows only selected networks ({}) and the cluster's egress {} ({}) is not among them, so "
            "pulls are refused with 403 Forbidden.{}".format(name, rules_words(allowed), ", ".join(missing),
                                                              egress.words(), _why_public(login, endpoint)),
            _add_rules(name, missing))


def _allowed(facts, name, egress):
    return ("Registry {} allows only selected networks and the cluster's egress {} ({}) is allowed.".format(
        name, ", ".join(egress.addresses), egress.words())), ""


WORDS = {"open": _open, "private": _private, "vnet-rule": _vnet_rule, "disabled": _disabled, "no-egress": _no_egress,
         "firewall-allowed": _firewall_allowed, "firewall-missing": _firewall_missing,
         "egress-unknown": _egress_unknown, "missing": _missing, "allowed": _allowed}
