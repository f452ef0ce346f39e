"""Network reads started a round trip early: what a private registry's path needs, found by one Resource Graph
query sent beside the cluster's GET, and the node resource group's NSGs listed beside the scale sets.

Without them the hub-and-spoke private path is three dependent round trips: the registry names its private endpoint,
whose GET names the endpoint's VNet; the zone search names the privatelink zones, whose links and A records come
next; the scale sets name the NICs' NSG. Resource Graph knows the endpoint's subnet, the zones and the registry's
replicas before any of that, so the same ARM reads the checks make (``once``: the same keys) start as soon as the
cluster and the registry are known. The query only decides what starts early: every finding still comes from the
ARM reads, the query's failure is logged at --debug and costs only time, and a read it starts that no check makes
is never waited for.
"""
from knack.log import get_logger

from ..netpath import privatelink_zone, record_name, registry_host_names
from .base import FactError
from .network import vnet_of

logger = get_logger(__name__)

ZONE = "microsoft.network/privatednszones"
ENDPOINT = "microsoft.network/privateendpoints"
REPLICATION = "microsoft.containerregistry/registries/replications"
REGISTRY_PATH = "/providers/microsoft.containerregistry/registries/"
# Checks that work out a registry's private path (its endpoints' VNets, the privatelink zones, their links and A
# records: common/network.private_path) whenever the registry has private endpoints. acr-network-rules does only for
# a registry not open to all networks, cluster-pull-probe only with --probe.
PRIVATE_PATH_CHECKS = frozenset(("private-dns-link", "vnet-peering", "egress-path"))
HINTS = "the registry's private endpoints, replicas and privatelink zones (to read ahead)"


def may_read_private_path(check_ids, probe):
    """Whether a selected check may work out a registry's private path (before the registry is known)."""
    ids = set(check_ids)
    return bool(ids & PRIVATE_PATH_CHECKS) or "acr-network-rules" in ids or (probe and "cluster-pull-probe" in ids)


def reads_private_path(check_ids, registry, probe):
    """Whether a selected check works out this registry's private path."""
    p = (registry or {}).get("properties") or {}
    if not p.get("privateEndpointConnections"):
        return False   # private_path stops at the endpoints
    ids = set(check_ids)
    if ids & PRIVATE_PATH_CHECKS or (probe and "cluster-pull-probe" in ids):
        return True
    rules = p.get("networkRuleSet") or {}
    open_to_all = (p.get("publicNetworkAccess") or "Enabled") == "Enabled" and \
        (rules.get("defaultAction") or "Allow") == "Allow"
    return "acr-network-rules" in ids and not open_to_all


def _quote(value):
    return "'{}'".format(str(value).replace("\\", "\\\\").replace("'", "\\'"))


def hints_query(registry_name, acr_suffix):
    """KQL for the privatelink zones, and the private endpoints and replicas of the registry (names are globally
    unique): one row each with its id, type, location and (an endpoint's) subnet. Endpoints of other registries whose
    names begin alike may come too: only those the registry names are used."""
    target = _quote(REGISTRY_PATH + registry_name.lower())
    return ("resources\n"
            "| where (type =~ '{zone_type}' and name =~ {zone})"
            " or (type =~ '{endpoint}'"
            " and (tolower(tostring(properties.privateLinkServiceConnections)) contains {target}"
            " or tolower(tostring(properties.manualPrivateLinkServiceConnections)) contains {target}))"
            " or (type =~ '{replication}' and tolower(id) contains {target})\n"
            "| project id, type, location, subnet = tostring(properties.subnet.id)\n"
            "| order by id asc").format(zone_type=ZONE, zone=_quote(privatelink_zone(acr_suffix)), endpoint=ENDPOINT,
                                        target=target, replication=REPLICATION)


def plan(rows, registry, acr_suffix):
    """What to read ahead for a registry with private endpoints, from the query's rows: the VNets of its approved
    endpoints (private_path reads them), the privatelink zones (their links), and the A record names of its hosts in
    them: the login server and the data endpoints of its home region and of the replicas the rows show."""
    zone_name = privatelink_zone(acr_suffix)
    by_type = {}
    for row in rows or []:
        if isinstance(row, dict) and row.get("id"):
            by_type.setdefault((row.get("type") or "").lower(), []).append(row)
    subnets = {r["id"].lower(): r.get("subnet") for r in by_type.get(ENDPOINT, [])}
    vnets = []
    for conn in ((registry.get("properties") or {}).get("privateEndpointConnections") or []):
        props = conn.get("properties") or {}
        status = (props.get("privateLinkServiceConnectionState") or {}).get("status") or ""
        endpoint = ((props.get("privateEndpoint") or {}).get("id") or "").lower()
        if status.lower() == "approved" and vnet_of(subnets.get(endpoint)):
            vnets.append(vnet_of(subnets[endpoint]))
    prefix = registry["id"].lower() + "/replications/"
    regions = [r.get("location") or "" for r in by_type.get(REPLICATION, []) if r["id"].lower().startswith(prefix)]
    names = [record_name(h, acr_suffix) for h in registry_host_names(registry, acr_suffix, True, regions)]
    zones = [r["id"] for r in by_type.get(ZONE, []) if (r["id"].rsplit("/", 1)[-1]).lower() == zone_name]
    return {"vnets": list(dict.fromkeys(vnets)), "zones": zones, "names": list(dict.fromkeys(names))}


def _scale_set_pools(pools):
    return [p for p in pools if (p.get("type") or "VirtualMachineScaleSets") == "VirtualMachineScaleSets"]


class NetworkAhead:
    """Mixin for LiveFacts: the network part of ``read_ahead``."""

    def read_network_ahead(self, check_ids):
        """Start the Resource Graph query now (only with --acr: the registry's name scopes it), then, once the cluster
        and the registry are known, the reads it names; and for ``egress-path`` the node resource group's NSGs."""
        probe = self.probe_enabled()
        if self.request.registry is not None and may_read_private_path(check_ids, probe):
            self.prefetch(self.network_hints, lambda: self._read_private_path_ahead(check_ids, probe))
        if "egress-path" in check_ids:
            self.prefetch(self._list_node_nsgs_ahead)

    def network_hints(self):
        """The rows of ``hints_query`` for the registry of --acr (FactError when Resource Graph does not answer)."""
        return self.once("network_hints", self._query_network_hints)

    def _query_network_hints(self):
        kind, value = self.request.registry
        name = value.rstrip("/").rsplit("/", 1)[-1] if kind == "id" else value
        # ARM's token once for the run (_warm_token): the query's own look-up then finds it in az's cache.
        self._warm_token()
        return self.resource_graph().query(hints_query(name, self.request.acr_suffix), what=HINTS)

    def _read_private_path_ahead(self, check_ids, probe):
        try:
            rows = self.network_hints()
            registries = self.registries()
        except FactError as err:
            logger.debug("no private path read ahead: %s", err.reason)
            return
        for registry in registries:
            if not reads_private_path(check_ids, registry, probe):
                continue
            ahead = plan(rows, registry, self.request.acr_suffix)
            reads = [lambda v=v: self.network_resource(v) for v in ahead["vnets"]]
            reads += [lambda z=z: self.dns_zone_links(z) for z in ahead["zones"]]
            reads += [lambda z=z, n=n: self.dns_record(z, "A", n) for z in ahead["zones"] for n in ahead["names"]]
            logger.debug("reading ahead for registry %s: %s", registry.get("name"), ahead)
            self.prefetch(*reads)

    def _list_node_nsgs_ahead(self):
        """egress-path judges the NSG AKS puts on the node pools' NICs, in the node resource group, which the scale
        sets name: its GET would wait for them. The group's NSGs are listed beside them instead (an AKS-managed VNet's
        pools have them listed already: network._node_subnets)."""
        try:
            pools = self.node_pools()
        except FactError:
            return
        if _scale_set_pools(pools) and self.node_resource_group():
            self.list_node_resource_group("node_resource_group_nsgs")
