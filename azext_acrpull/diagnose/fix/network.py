"""Remedies for Cause 3 (403 Forbidden): the cluster's egress IPs in the registry's IP rules, and the private DNS
zone's missing VNet link or A records. Peering, firewalls and routes are never changed: they are printed as steps."""
import ipaddress

from knack.log import get_logger

from ..common.registry import registry_target
from ..ids import id_name, parse_resource_id
from ..netpath import record_name
from .changes import Change, ChangeFailed, remedy, write_error

logger = get_logger(__name__)

REGISTRY_PERMISSION = "Microsoft.ContainerRegistry/registries/write, e.g. Contributor on the registry"
DNS_PERMISSION = "write access to the private DNS zone, e.g. Private DNS Zone Contributor"
RECORD_TTL = 3600     # what `az network private-dns record-set a add-record` gives a new record set


def _registry(ctx, finding):
    """The registry of a finding, as the diagnosis read it."""
    for registry in ctx.facts.registries():
        if registry_target(registry) == finding.target:
            return registry
    return None


def _sub_flag(ctx, resource_id):
    rid = parse_resource_id(resource_id)
    if rid and rid.subscription.lower() != (ctx.facts.cluster_subscription() or "").lower():
        return " --subscription {}".format(rid.subscription)
    return ""


def _wait(ctx, poller, message):
    if ctx.show_progress:
        from azure.cli.core.commands import LongRunningOperation
        return LongRunningOperation(ctx.cli_ctx, start_msg=message)(poller)
    return poller.result()


def _same_ip(a, b):
    try:
        return ipaddress.ip_network(a, strict=False) == ipaddress.ip_network(b, strict=False)
    except ValueError:
        return a == b


# -- C3.S2: the registry's IP rules ---------------------------------------------------------------
@remedy("acr-network-rules")
def allow_egress(finding, ctx):
    """Add the cluster's missing egress IPs to the registry's IP rules; when public access is Disabled, switch it
    to selected networks first (the plan says so). Never for a registry with private endpoints, where the private
    path is what is broken (see private-dns-link), nor for a firewall or appliance whose address is unknown."""
    decision = finding.decision
    if decision is None or decision.reason not in ("disabled", "missing"):
        return None
    registry = _registry(ctx, finding)
    if registry is None or (registry.get("sku") or {}).get("name") != "Premium":
        return None     # IP rules need the Premium SKU: a person decides on an upgrade
    props = registry.get("properties") or {}
    disabled = decision.reason == "disabled"
    if disabled:
        if props.get("privateEndpointConnections"):
            return None
        ips = list(decision.params["egress"].addresses)
    else:
        ips = list(decision.params["missing"])
    if not ips:
        return None
    name, rid = registry["name"], parse_resource_id(registry["id"])
    sub = _sub_flag(ctx, registry["id"])
    adds = " && ".join("az acr network-rule add --name {} --ip-address {}{}".format(name, ip, sub) for ip in ips)
    stored = [r.get("value") for r in (props.get("networkRuleSet") or {}).get("ipRules") or []]
    if disabled:
        command = "az acr update -n {} --public-network-enabled true --default-action Deny{} && {}".format(
            name, sub, adds)
        summary = ("Switch public network access of registry {} from Disabled to Enabled, for selected networks only "
                   "(default action Deny): this opens its public endpoint, to the cluster's egress IP(s) {}{} only."
                   .format(name, ", ".join(ips), " and the {} IP rule(s) it already stores ({})".format(
                       len(stored), ", ".join(stored)) if stored else ""))
    else:
        command = adds
        summary = "Allow the cluster's egress IP(s) {} in the IP rules of registry {}.".format(", ".join(ips), name)

    def apply(ctx):
        return _add_ip_rules(ctx, rid, ips, disabled)
    return Change(("ip-rules", registry["id"].lower()), command, summary, apply)


def _add_ip_rules(ctx, rid, ips, enable_public):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.containerregistry.models import IPRule, NetworkRuleSet, RegistryUpdateParameters

    from ..._client_factory import cf_container_registry
    client = ctx.client(cf_container_registry, rid.subscription)
    try:
        # Read the rules again right before writing, as `az acr network-rule add` does: the list is replaced whole.
        current = client.registries.get(rid.resource_group, rid.name)
        rules = current.network_rule_set or NetworkRuleSet(default_action="Allow")
        kept = list(rules.ip_rules or [])
        new = [ip for ip in ips if not any(_same_ip(ip, r.ip_address_or_range) for r in kept)]
        rules.ip_rules = kept + [IPRule(ip_address_or_range=ip, action="Allow") for ip in new]
        parameters = RegistryUpdateParameters(network_rule_set=rules)
        if enable_public:
            rules.default_action = "Deny"
            parameters.public_network_access = "Enabled"
        _wait(ctx, client.registries.begin_update(rid.resource_group, rid.name, parameters),
              "Updating the network rules of {}".format(rid.name))
    except HttpResponseError as err:
        raise ChangeFailed(write_error(err, "update the network rules of registry {}".format(rid.name),
                                       REGISTRY_PERMISSION)) from None
    done = "Allowed {} in the IP rules of registry {}".format(", ".join(new) or "nothing new", rid.name)
    if enable_public:
        done = "Enabled public network access of registry {} for selected networks (default action Deny); {}".format(
            rid.name, done[0].lower() + done[1:])
    return done + "."


# -- C3.S1: the private DNS zone -----------------------------------------------------------------
@remedy("private-dns-link")
def link_or_records(finding, ctx):
    """Link the zone that holds the registry's records to the VNet the nodes resolve names in (registration
    disabled), or create its missing A records. A zone that does not exist, records that point elsewhere, endpoints
    waiting for approval: printed as steps."""
    decision = finding.decision
    if decision is None:
        return None
    if decision.reason == "not-linked":
        vnet_id = decision.params["resolver"].vnet_id
        return _link_change(ctx, decision.params["zone"]["id"], vnet_id) if vnet_id else None
    if decision.reason != "records" or not decision.params["missing"] or not decision.params["only_missing"]:
        return None     # wrong records or a broken link: a person looks at who else relies on them
    return _records_change(ctx, decision.params["zone"]["id"], dict(decision.params["missing"]))


def _link_change(ctx, zone_id, vnet_id):
    zone = parse_resource_id(zone_id)
    link = "{}-link".format(id_name(vnet_id))
    command = "az network private-dns link vnet create -g {} -z {} -n {} -v {} -e false{}".format(
        zone.resource_group, zone.name, link, vnet_id, _sub_flag(ctx, zone_id))
    summary = ("Link private DNS zone {} (resource group {}) to VNet {} as {}, with auto-registration disabled, so "
               "the nodes resolve the registry to its private endpoint.".format(
                   zone.name, zone.resource_group, id_name(vnet_id), link))

    def apply(ctx):
        return _create_link(ctx, zone, link, vnet_id)
    return Change(("dns-link", zone_id.lower(), vnet_id.lower()), command, summary, apply)


def _create_link(ctx, zone, link, vnet_id):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.privatedns.models import SubResource, VirtualNetworkLink

    from ..._client_factory import cf_private_dns
    client = ctx.client(cf_private_dns, zone.subscription)
    parameters = VirtualNetworkLink(location="global", virtual_network=SubResource(id=vnet_id),
                                    registration_enabled=False)
    try:
        # If-None-Match: * as az does: never replace a link of the same name that points at another VNet.
        _wait(ctx, client.virtual_network_links.begin_create_or_update(
            zone.resource_group, zone.name, link, parameters, if_none_match="*"),
            "Linking {} to {}".format(zone.name, id_name(vnet_id)))
    except HttpResponseError as err:
        if getattr(err, "status_code", None) == 412:
            raise ChangeFailed("Zone {} already has a link named {}; link VNet {} under another name with `az network "
                               "private-dns link vnet create`.".format(zone.name, link, id_name(vnet_id))) from None
        raise ChangeFailed(write_error(err, "link private DNS zone {}".format(zone.name), DNS_PERMISSION)) from None
    return "Linked private DNS zone {} to VNet {} ({}, auto-registration disabled).".format(
        zone.name, id_name(vnet_id), link)


def _records_change(ctx, zone_id, missing):
    zone = parse_resource_id(zone_id)
    suffix = ctx.request.acr_suffix
    names = {host: record_name(host, suffix) for host in missing}
    command = " && ".join("az network private-dns record-set a add-record -g {} -z {} -n {}{} -a {}".format(
        zone.resource_group, zone.name, names[h], _sub_flag(ctx, zone_id), ip) for h in missing for ip in missing[h])
    summary = "Create the missing A record(s) in private DNS zone {}: {}.".format(zone.name, "; ".join(
        "{} -> {}".format(names[h], ", ".join(missing[h])) for h in missing))

    def apply(ctx):
        return _create_records(ctx, zone, names, missing)
    return Change(("dns-records", zone_id.lower()) + tuple(sorted(names.values())), command, summary, apply)


def _create_records(ctx, zone, names, missing):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.privatedns.models import ARecord, RecordSet

    from ..._client_factory import cf_private_dns
    client = ctx.client(cf_private_dns, zone.subscription)
    created = []
    for host, ips in missing.items():
        record = RecordSet(ttl=RECORD_TTL, a_records=[ARecord(ipv4_address=ip) for ip in ips])
        try:
            client.record_sets.create_or_update(zone.resource_group, zone.name, "A", names[host], record,
                                                if_none_match="*")
        except HttpResponseError as err:
            done = " (created: {})".format(", ".join(created)) if created else ""
            if getattr(err, "status_code", None) == 412:
                raise ChangeFailed("A record set {} appeared in zone {} since the diagnosis; run the checks again"
                                   "{}.".format(names[host], zone.name, done)) from None
            raise ChangeFailed(write_error(err, "create A records in private DNS zone {}".format(zone.name),
                                           DNS_PERMISSION) + done) from None
        created.append("{} -> {}".format(names[host], ", ".join(ips)))
    return "Created A record(s) in private DNS zone {}: {}.".format(zone.name, "; ".join(created))
