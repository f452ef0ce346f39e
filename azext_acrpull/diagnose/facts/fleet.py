"""Facts for every cluster of a tenant at once, read in bulk from Azure Resource Graph.

``FleetData`` runs a handful of Resource Graph queries per fleet run (clusters, subscriptions, registries, role
definitions and assignments, scale sets, network resources, private DNS zones and links), indexes the rows, and is
shared by one ``FleetFacts`` per cluster. ``FleetFacts`` answers the same fact methods as ``LiveFacts`` from that
data, so the checks run unchanged: one implementation per check, two ways of gathering its facts. What Resource
Graph does not hold is read directly and in bulk: service principals and applications (Microsoft Graph `$batch`)
while the queries page on; group memberships of the pull identities whose registries have a role held by a group
(`$batch`), directory objects (`getByIds`) and private DNS record sets (once per zone) when first needed.

Resource Graph rows are ARM's REST shapes, except that `type` (and the `resourceGroup` column) is lower case and
that only what the caller may read is there. So: ids are compared case-insensitively; a resource group Resource
Graph does not show is reported as unreadable (``FactError``), never as empty; and role assignments are inherited
by scope as ARM's ``list_for_scope`` does (at, above and below the scope; management groups through the
subscription's ancestors).
"""
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from knack.log import get_logger

from ..ids import id_name, parse_resource_id
from ..netpath import privatelink_zone
from ..roles import AssignmentList
from .base import FactError, Facts
from .graph import GraphFacts
from .network import NETWORK_TYPES, NetworkFacts

logger = get_logger(__name__)

CLUSTER = "microsoft.containerservice/managedclusters"
REGISTRY = "microsoft.containerregistry/registries"
REPLICATION = "microsoft.containerregistry/registries/replications"
# A registry's cache rules and credential sets are not in Resource Graph (its `resources` table lists a registry's
# replications, webhooks and tasks, not these): they are ARM child collections, listed once per registry.
REGISTRY_CHILDREN = {"cacheRules": "cache rules", "credentialSets": "credential sets"}
# Registries whose children are listed at once: one LIST each (about a round trip), overlapping the bulk reads'
# last pages and the checks; as many as the session keeps connections for.
CHILD_READERS = 32
VMSS = "microsoft.compute/virtualmachinescalesets"
IDENTITY = "microsoft.managedidentity/userassignedidentities"
ZONE = "microsoft.network/privatednszones"
ZONE_LINK = "microsoft.network/privatednszones/virtualnetworklinks"
DNS_API = "2018-09-01"
_SUBSCRIPTION_IN_ID = re.compile(r"/subscriptions/([0-9a-fA-F-]{36})", re.IGNORECASE)
_COLUMNS = "id, name, type, location, resourceGroup, subscriptionId, tags, sku, identity, properties"

QUERIES = {
    "clusters": "resources\n| where type =~ '{}'\n| project {}\n| order by id asc".format(CLUSTER, _COLUMNS),
    "subscriptions": "resourcecontainers\n| where type =~ 'microsoft.resources/subscriptions'\n"
                     "| project id, name, subscriptionId, tenantId, properties\n| order by id asc",
    "registries": "resources\n| where type in~ ('{}', '{}')\n| project {}\n| order by id asc".format(
        REGISTRY, REPLICATION, _COLUMNS),
    "role definitions": "authorizationresources\n| where type =~ 'microsoft.authorization/roledefinitions'\n"
                        "| project id, name, type, properties\n| order by id asc",
    # Only scopes that can hold a registry matter: the root, management groups, subscriptions, resource groups,
    # and registries (and below them); assignments on other resources are left in Resource Graph.
    "role assignments": "authorizationresources\n| where type =~ 'microsoft.authorization/roleassignments'\n"
                        "| extend scope = tolower(tostring(properties.scope))\n"
                        "| where scope !contains '/providers/' or scope startswith "
                        "'/providers/microsoft.management/managementgroups/' or scope contains "
                        "'/providers/microsoft.containerregistry/registries/'\n"
                        "| project id, name, type, properties\n| order by id asc",
    # The kubelet identities (B.drift) come with the scale sets: both live in the clusters' node resource groups.
    "scale sets": "resources\n| where type in~ ('{}', '{}')\n| project {}\n| order by id asc".format(
        VMSS, IDENTITY, _COLUMNS),
    "private DNS zones": "resources\n| where type in~ ('{}', '{}')\n| where tolower(id) contains "
                         "'/privatednszones/{{zone}}'\n| project {}\n| order by id asc".format(ZONE, ZONE_LINK,
                                                                                             _COLUMNS),
    "resource groups": "resourcecontainers\n| where type =~ 'microsoft.resources/subscriptions/resourcegroups'\n"
                       "| where tolower(id) in ({ids})\n| project id, name, subscriptionId\n| order by id asc",
}


# Network resources come in two concurrent queries of about equal size (shorter chains of pages); load balancers
# only when a check needs one (a cluster whose profile lists no outbound IPs).
NETWORK_GROUPS = {
    "VNets and private endpoints": ("virtualnetworks", "privateendpoints", "networkinterfaces", "routetables",
                                    "natgateways", "azurefirewalls", "publicipprefixes"),
    "public IPs and NSGs": ("publicipaddresses", "networksecuritygroups"),
}
LAZY_NETWORK = tuple(t for t in NETWORK_TYPES if not any(t in g for g in NETWORK_GROUPS.values()))


def network_query(types):
    """Network resources of these types; of network interfaces only private endpoints' (a VM's NICs are many and
    never needed)."""
    return ("resources\n| where type in~ ({})\n| where type !~ 'microsoft.network/networkinterfaces' or "
            "isnotempty(properties.privateEndpoint)\n| project {}, zones\n| order by id asc".format(
                ", ".join("'microsoft.network/{}'".format(t) for t in types), _COLUMNS))


def _low(text):
    return (text or "").lower().rstrip("/")


def _sub_of(resource_id):
    m = _SUBSCRIPTION_IN_ID.match(resource_id or "")
    return m.group(1).lower() if m else None


def group_key(resource_id):
    parts = (resource_id or "").split("/")
    if len(parts) > 4 and parts[1].lower() == "subscriptions" and parts[3].lower() == "resourcegroups":
        return "/subscriptions/{}/resourcegroups/{}".format(parts[2], parts[4]).lower()
    return None


def subscriptions_in(obj, found=None):
    """Every subscription id named anywhere in a resource's JSON (references to VNets, IPs, endpoints...)."""
    found = set() if found is None else found
    if isinstance(obj, dict):
        for value in obj.values():
            subscriptions_in(value, found)
    elif isinstance(obj, list):
        for value in obj:
            subscriptions_in(value, found)
    elif isinstance(obj, str) and "/subscriptions/" in obj.lower():
        found.update(m.lower() for m in _SUBSCRIPTION_IN_ID.findall(obj))
    return found


def _quote(value):
    return "'{}'".format(str(value).replace("\\", "\\\\").replace("'", "\\'"))


# Bulk reads whose failure (throttled, 5xx, refused, unreadable, timed out) costs only the checks that need them:
# those say Error with the reason, every other verdict stands. The inventory (clusters, registries, subscriptions)
# is not among them: without it nothing can be judged, or it would be judged wrong.
ISOLATED = ("role definitions", "role assignments", "scale sets", "private DNS zones", "network")


# The facts (facts/contract.py) each optional bulk read holds: a run reads it only when its checks ask for one of them.
# The node pools' subnets, NIC NSGs and egress are worked out from their scale sets too.
BULK_READS = {
    "network": frozenset({"network_resource", "subnet", "node_subnets", "cluster_vnet_ids", "node_nic_nsgs",
                          "cluster_egress", "registry_endpoints", "private_dns_zones", "dns_zone_links", "dns_record",
                          "firewall_at", "firewall_rules", "service_endpoint_policy"}),
    "scale sets": frozenset({"node_vmss", "user_assigned_identity", "node_subnets", "node_nic_nsgs",
                             "cluster_vnet_ids", "cluster_egress"}),
}


class FleetData:
    """The bulk facts of one fleet run: read once, indexed, shared by every cluster's facts."""

    def __init__(self, arg, graph, rest, acr_suffix=".azurecr.io", wanted=None):
        """``wanted``: the facts the run's checks may ask for (every fact when None)."""
        self.arg, self.graph, self.rest = arg, graph, rest
        self.acr_suffix = acr_suffix
        self.want_network, self.want_scale_sets = (wanted is None or bool(wanted & BULK_READS[read])
                                                   for read in ("network", "scale sets"))
        self._locks = {}
        self._guard = threading.Lock()
        self._groups_lock = threading.Lock()
        self._done = {}
        self.clusters = []
        self.subscriptions = {}          # subscription id (lower) -> resourcecontainers row
        self.registries = {}             # id (lower) -> row
        self.registries_by_name = {}     # name (lower) -> [rows]
        self.replications = {}           # registry id (lower) -> [rows]
        self.definitions = {}            # role definition guid (lower) -> row
        self.assignments = []
        self.assignments_by_scope = {}   # scope (lower) -> [rows]
        self.assignments_by_principal = {}
        self.scale_sets = {}             # resource group key -> [rows]
        self.identities = {}             # user-assigned identity id (lower) -> row
        self.network = {}                # id (lower) -> row
        self.network_subscriptions = set()   # read whole (every type) after the bulk read
        self.network_scope = []              # what the bulk read covered: subscriptions, or None for the tenant
        self.zones, self.zone_links = [], {}
        self.readable_groups = {}        # resource group key -> True/False (or the look-up's FactError), in bulk
        self._below = {}
        self._for_scope = {}
        self._app_ids = None
        self.unread = {}                 # a bulk read that failed (ISOLATED) -> its FactError, raised where used
        self.memberships = {}            # principal id (lower) -> {group id: name}, or the FactError
        self.cluster_scope = (None, [])  # what the clusters query covered: (subscriptions or None, management groups)
        self._children = None            # the pool listing registries' cache rules and credential sets, once started
        self._closed = False

    # -- loading ------------------------------------------------------------------------------------
    def load(self, subscriptions=None, management_groups=None, pulled=None):
        """The inventory and the facts in concurrent queries, each started as soon as what scopes it is known:
        role assignments in the registries' subscriptions (with what is inherited from above); scale sets and
        network resources in the clusters' subscriptions and every subscription they or the registries reference
        (the whole tenant at once when the scan is the tenant's). Service principals and private DNS records,
        which Resource Graph does not hold, are read in bulk meanwhile. ``pulled``: when given, a callable that
        yields the registries the clusters pull from, worked out (``read_registry_children``) as soon as the
        clusters, registries and role assignments are indexed: their cache rules are listed while the network and
        scale set pages still come in, and go on while the clusters are judged."""
        tenant = not subscriptions and not management_groups
        self.cluster_scope = (None if tenant else [s.lower() for s in subscriptions or []],
                              [g.lower() for g in management_groups or []])
        query = self.arg.query
        with ThreadPoolExecutor(max_workers=10, thread_name_prefix="acrpull-arg") as pool:
            pending = {
                "clusters": pool.submit(query, QUERIES["clusters"], subscriptions, management_groups,
                                        what="clusters"),
                "registries": pool.submit(query, QUERIES["registries"], what="registries"),
                "subscriptions": pool.submit(query, QUERIES["subscriptions"], what="subscriptions"),
                "role definitions": pool.submit(query, QUERIES["role definitions"], what="role definitions"),
            }
            if self.want_network:
                zone = privatelink_zone(self.acr_suffix).lower()
                pending["private DNS zones"] = pool.submit(query, QUERIES["private DNS zones"].replace(
                    "{zone}", zone), what="private DNS zones")
            if tenant:
                self._start_scoped(pool, pending, None, None)
            self._index_registries(pending.pop("registries").result())
            registry_subs = sorted({_sub_of(r) for r in self.registries} - {None})
            if registry_subs:
                pending["role assignments"] = pool.submit(
                    query, QUERIES["role assignments"], registry_subs, authorization_scope="AtScopeAboveAndBelow",
                    what="role assignments")
            self.clusters = pending.pop("clusters").result()
            app_ids = self.service_principal_app_ids()
            if app_ids:
                pool.submit(self._quietly, lambda: self.graph_objects(app_ids))
            self._index_subscriptions(pending.pop("subscriptions").result())
            if "private DNS zones" in pending:
                self._index_zones(self._rows(pending.pop("private DNS zones"), "private DNS zones"))
            if not tenant:
                cluster_subs = sorted({_sub_of(c["id"]) for c in self.clusters} - {None})
                self._start_scoped(pool, pending, cluster_subs, self._referenced_subscriptions())
            if self.want_network and any((r.get("properties") or {}).get("privateEndpointConnections")
                                         for r in self.registries.values()):
                for zone_row in self.zones:
                    pool.submit(self._quietly, lambda z=zone_row: self.record_sets(z["id"], "A"))
            for row in self._rows(pending.pop("role definitions"), "role definitions"):
                self.definitions[id_name(row["id"]).lower()] = row
            self._index_assignments(self._rows(pending.pop("role assignments"), "role assignments")
                                    if "role assignments" in pending else [])
            if pulled is not None:
                self.read_registry_children(pulled)
            for what, future in pending.items():
                if what == "scale sets":
                    for row in self._rows(future, what):
                        if (row.get("type") or "").lower() == IDENTITY:
                            self.identities[_low(row["id"])] = row
                        else:
                            self.scale_sets.setdefault(group_key(row["id"]), []).append(row)
                else:
                    self._index_network(self._rows(future, "network"))

    def _rows(self, future, what):
        """A bulk read's rows; for an ISOLATED one that failed, none, and its error kept for ``require``."""
        try:
            return future.result()
        except FactError as err:
            if what not in ISOLATED:
                raise
            self.unread.setdefault(what, err)
            return []

    def require(self, what):
        """Raise the error of the bulk read ``what`` if it failed: a fact it would hold is not known."""
        err = self.unread.get(what)
        if err is not None:
            raise FactError(err.reason, err.status_code, err.code, fault=err.fault)

    def _start_scoped(self, pool, pending, cluster_subs, network_subs):
        """Scale sets and network resources: the tenant's (``None``), or these subscriptions'."""
        if self.want_scale_sets and cluster_subs != []:
            pending["scale sets"] = pool.submit(self.arg.query, QUERIES["scale sets"], cluster_subs,
                                                what="scale sets")
        if self.want_network and network_subs != []:
            self.network_scope = network_subs
            for what, types in NETWORK_GROUPS.items():
                pending[what] = pool.submit(self.arg.query, network_query(types), network_subs, what=what)

    @staticmethod
    def _quietly(read):
        """A read done ahead of need: its error is cached (``once``) and reported where the fact is used."""
        try:
            read()
        except FactError:
            pass

    def service_principal_app_ids(self):
        """App ids of every service-principal cluster (read once, in $batch requests, for all of them)."""
        if self._app_ids is None:
            ids = [((c.get("properties") or {}).get("servicePrincipalProfile") or {}).get("clientId")
                   for c in self.clusters]
            self._app_ids = sorted({a.lower() for a in ids if a and a.lower() != "msi"})
        return list(self._app_ids)

    def _index_registries(self, rows):
        for row in rows:
            kind = (row.get("type") or "").lower()
            if kind == REPLICATION:
                self.replications.setdefault(_low(row["id"].split("/replications/")[0]), []).append(row)
            else:
                self.registries[_low(row["id"])] = row
                self.registries_by_name.setdefault(row["name"].lower(), []).append(row)

    def _index_subscriptions(self, rows):
        for row in rows:
            self.subscriptions[(row.get("subscriptionId") or id_name(row["id"])).lower()] = row

    def _index_zones(self, rows):
        for row in rows:
            if (row.get("type") or "").lower() == ZONE:
                if row["name"].lower() == privatelink_zone(self.acr_suffix):
                    self.zones.append(row)
            else:
                zone_id = _low(re.split("/virtualnetworklinks/", row["id"], flags=re.IGNORECASE)[0])
                self.zone_links.setdefault(zone_id, []).append(row)

    def _index_assignments(self, rows):
        self.assignments = rows
        for row in rows:
            props = row.get("properties") or {}
            self.assignments_by_scope.setdefault(_low(props.get("scope")) or "/", []).append(row)
            self.assignments_by_principal.setdefault((props.get("principalId") or "").lower(), []).append(row)

    def _index_network(self, rows):
        for row in rows:
            self.network[_low(row["id"])] = row

    def _referenced_subscriptions(self):
        subs = set()
        for row in self.clusters:
            subscriptions_in(row, subs)
        for row in self.registries.values():
            subscriptions_in(row, subs)
        for zone in self.zones:
            subs.add(_sub_of(zone["id"]))
        return sorted(s for s in subs - {None} if s in self.subscriptions)

    def once(self, key, fetch):
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._done:
                try:
                    self._done[key] = (True, fetch())
                except FactError as err:
                    self._done[key] = (False, err)
        ok, value = self._done[key]
        if not ok:
            raise value
        return value

    # -- readability --------------------------------------------------------------------------------
    def subscription_readable(self, subscription_id):
        return (subscription_id or "").lower() in self.subscriptions

    def check_groups(self, resource_ids):
        """Look up, in one query, whether Resource Graph shows these resource groups to the caller (one look-up at a
        time: the background reads of registry children may ask for a registry's group while the scan asks)."""
        with self._groups_lock:
            self._check_groups(resource_ids)

    def _check_groups(self, resource_ids):
        keys = sorted({group_key(r) for r in resource_ids} - {None} - set(self.readable_groups))
        if not keys:
            return
        subs = sorted({_sub_of(k) for k in keys} & set(self.subscriptions))
        seen, failed = set(), {}
        for start in range(0, len(keys), 200):
            chunk = keys[start:start + 200]
            chunk_subs = sorted({_sub_of(k) for k in chunk} & set(subs))
            if chunk_subs:
                try:
                    rows = self.arg.query(QUERIES["resource groups"].replace("{ids}", ", ".join(map(_quote, chunk))),
                                          chunk_subs, what="resource groups")
                except FactError as err:   # unknown, not unreadable: the facts that asked say Error and why
                    failed.update(dict.fromkeys(chunk, err))
                    continue
                seen.update(_low(r["id"]) for r in rows)
        for key in keys:
            self.readable_groups[key] = failed.get(key) or key in seen

    def group_readable(self, resource_id):
        key = group_key(resource_id)
        if key is None:
            return False
        if key not in self.readable_groups:
            self.once(("groups", key), lambda: self.check_groups([resource_id]))
        readable = self.readable_groups.get(key, False)
        if isinstance(readable, FactError):   # the look-up failed: whether it is readable is not known
            raise readable
        return readable

    # -- role assignments, as ARM's list_for_scope ----------------------------------------------------
    def management_groups_of(self, subscription_id):
        row = self.subscriptions.get((subscription_id or "").lower()) or {}
        chain = (row.get("properties") or {}).get("managementGroupAncestorsChain") or []
        return [(g.get("name") or "").lower() for g in chain if isinstance(g, dict)]

    def assignments_for_scope(self, scope):
        """Role assignments at, above and below ``scope``, as ``role_assignments.list_for_scope`` returns them
        (worked out once per scope: every cluster that pulls from a registry asks for the same list, and gets that
        very list, indexed by principal on first use; readers do not change it)."""
        self.require("role assignments")
        low = _low(scope)
        found = self._for_scope.get(low)
        if found is None:
            found = self._for_scope[low] = AssignmentList(self._assignments_for_scope(low))
        return found

    def _assignments_for_scope(self, low):
        parts = low.split("/")
        found = list(self.assignments_by_scope.get("/", []))
        for end in range(3, len(parts) + 1):
            found.extend(self.assignments_by_scope.get("/".join(parts[:end]), []))
        for mg in self.management_groups_of(_sub_of(low)):
            found.extend(self.assignments_by_scope.get("/providers/microsoft.management/managementgroups/" + mg, []))
        found.extend(self._assignments_below(low))
        seen, unique = set(), []
        for row in found:
            key = _low(row.get("id"))
            if key not in seen:
                seen.add(key)
                unique.append(row)
        return unique

    def _assignments_below(self, low):
        with self._guard:
            if low not in self._below:
                self._below[low] = [r for s, rows in self.assignments_by_scope.items() if s.startswith(low + "/")
                                    for r in rows]
            return self._below[low]

    # -- Microsoft Graph, in bulk on first use ---------------------------------------------------------
    def graph_objects(self, app_ids):
        """{appId (lower): (service principal or None, application or None)} for every service-principal cluster,
        read in $batch requests the first time any cluster asks."""
        return self.once("graph_objects", lambda: self._graph_objects(app_ids))

    def _graph_objects(self, app_ids):
        from .resourcegraph import graph_value
        paths = {}
        for app_id in sorted({a.lower() for a in app_ids}):
            paths[app_id] = ("/servicePrincipals?$filter=appId eq '{}'".format(app_id),
                             "/applications?$filter=appId eq '{}'".format(app_id))
        answers = self.graph.get_many([p for pair in paths.values() for p in pair])
        found = {}
        for app_id, (sp_path, app_path) in paths.items():
            sps = graph_value(*answers.get(sp_path, (0, None)), "service principal {} in Microsoft Graph".format(
                app_id))
            apps = graph_value(*answers.get(app_path, (0, None)), "application {} in Microsoft Graph".format(app_id))
            found[app_id] = (sps[0] if sps else None, apps[0] if apps else None)
        return found

    def directory_objects(self, object_ids):
        """Directory objects of every principal that holds a role at a registry (service principals, groups, users),
        read once in getByIds batches of 1,000."""
        everyone = self.once("directory_objects", self._all_principals)
        missing = [i.lower() for i in object_ids if i and i.lower() not in everyone[1]]
        if missing:   # a principal seen only now (should not happen): read it alone
            everyone[0].update(self.graph.directory_objects(missing))
            everyone[1].update(missing)
        return {i.lower(): everyone[0][i.lower()] for i in object_ids if i and i.lower() in everyone[0]}

    def _all_principals(self):
        ids = set()
        for registry_id in self.registries:
            for row in self.assignments_for_scope(registry_id):
                ids.add(((row.get("properties") or {}).get("principalId") or "").lower())
        ids.discard("")
        return self.graph.directory_objects(sorted(ids)), ids

    def prefetch_member_groups(self, object_ids):
        """The groups (transitively) of these principals, in $batch requests: a role held by a group applies to its
        members, so checks ask for them when a group holds a role at a registry."""
        from .resourcegraph import graph_value
        wanted = sorted({i.lower() for i in object_ids if i} - set(self.memberships))
        if not wanted:
            return
        paths = {i: "/servicePrincipals/{}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName".format(i)
                 for i in wanted}
        try:
            answers = self.graph.get_many(list(paths.values()))
        except FactError as err:   # Graph down or --timeout: the checks that ask say Error with the reason
            for object_id in paths:
                self.memberships[object_id] = err
            return
        for object_id, path in paths.items():
            status, body = answers.get(path, (0, None))
            try:
                groups = {g["id"].lower(): g.get("displayName") for g in graph_value(
                    status, body, "the group memberships of principal {}".format(object_id))
                          if isinstance(g, dict) and g.get("id")}
                link = (body or {}).get("@odata.nextLink")
                while link:   # more than a page of groups: the rest one page at a time
                    more_status, _, more = self.rest.send("GET", link, self.rest.graph_resource, kind="graph")
                    groups.update({g["id"].lower(): g.get("displayName") for g in graph_value(
                        more_status, more, "the group memberships of principal {}".format(object_id))
                        if isinstance(g, dict) and g.get("id")})
                    link = (more or {}).get("@odata.nextLink")
                self.memberships[object_id] = groups
            except FactError as err:
                self.memberships[object_id] = err

    def member_groups(self, object_id):
        key = (object_id or "").lower()
        if key not in self.memberships:
            self.once(("member_groups", key), lambda: self.prefetch_member_groups([key]))
        found = self.memberships[key]
        if isinstance(found, FactError):
            raise found
        return dict(found)

    def recent_group_joins(self, since):
        """{member id (lower): [{"groupId", "groupName", "at"}]}: every 'Add member to group' of the tenant since
        ``since``, from the Microsoft Entra audit log in one paged read for the whole scan (not one per cluster),
        the first time a cluster's pull role comes through a group with an older assignment (B.recent)."""
        return self.once("recent_group_joins", lambda: self._recent_group_joins(since))

    def _recent_group_joins(self, since):
        from .graph import AUDIT_READ, group_joins_of, join_filter
        from .resourcegraph import _error_message
        what = "the Microsoft Entra audit log (when principals joined groups)"
        status, body = self.graph.get_many(["/auditLogs/directoryAudits?$filter=" + join_filter(since)]).popitem()[1]
        entries = []
        while True:
            if status in (401, 403):
                raise FactError("the signed-in account may not read {} (needs {}): {}".format(
                    what, AUDIT_READ, _error_message(body, status)), status)
            if status != 200 or not isinstance(body, dict):
                raise FactError("reading {} failed with HTTP {}: {}".format(what, status, _error_message(body, status)),
                                status)
            entries += body.get("value") or []
            link = body.get("@odata.nextLink")
            if not link:
                return group_joins_of(entries)
            status, _, body = self.rest.send("GET", link, self.rest.graph_resource, kind="graph")

    def group_assignments_at(self, registry_id):
        """Does a group hold a role that applies at this registry?"""
        return self.assignments_for_scope(registry_id).any_group()

    # -- a registry's cache rules and credential sets, once per registry ------------------------------------------
    def registry_children(self, registry_id, child):
        """A registry's ``cacheRules`` or ``credentialSets`` (ARM's list, paged), read once for the whole scan
        however many clusters pull from the registry."""
        return self.once(("registry children", _low(registry_id), child),
                         lambda: self._registry_children(registry_id, child))

    def _registry_children(self, registry_id, child):
        from .arm import REGISTRY_API
        url = "{}{}/{}?api-version={}".format(self.rest.arm, registry_id, child, REGISTRY_API)
        rows = []
        while url:
            status, _, body = self.rest.send("GET", url, self.rest.arm_resource, kind="arm")
            if status != 200 or not isinstance(body, dict):
                from .sdk import explain
                raise explain(_HttpStatus(status, body), "the {} of registry {}".format(
                    REGISTRY_CHILDREN[child], id_name(registry_id)),
                    "Microsoft.ContainerRegistry/registries/{}/read".format(child))
            rows += body.get("value") or []
            url = body.get("nextLink")
        return rows

    def read_registry_children(self, pulled):
        """Start listing, in the background, the cache rules of each registry ``pulled()`` yields, as it yields
        them, and a registry's credential sets right when its list shows rules: one LIST of each per registry,
        never per cluster. Once per run; the reads are ``once``'s, so a check that asks first reads it itself, one
        that asks meanwhile waits for it, and an error is the checks' to report. ``close`` ends the pool."""
        with self._guard:
            if self._children is not None or self._closed:
                return
            self._children = pool = ThreadPoolExecutor(max_workers=CHILD_READERS, thread_name_prefix="acrpull-arm")

        def feed():
            for registry_id in pulled():
                if self._closed:
                    return
                pool.submit(self._read_children, registry_id)
        pool.submit(feed)

    def _read_children(self, registry_id):
        if self._closed:
            return
        try:
            if self.registry_children(registry_id, "cacheRules"):
                self.registry_children(registry_id, "credentialSets")
        except FactError:
            pass

    def close(self):
        """The background reads that have not started are dropped; those under way end (bounded by --timeout)."""
        with self._guard:
            self._closed = True
            pool, self._children = self._children, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- private DNS record sets, once per zone and type ------------------------------------------------
    def record_sets(self, zone_id, record_type):
        return self.once(("records", _low(zone_id), record_type.upper()),
                         lambda: self._record_sets(zone_id, record_type))

    def _record_sets(self, zone_id, record_type):
        url = "{}{}/{}?api-version={}".format(self.rest.arm, zone_id, record_type.upper(), DNS_API)
        found = {}
        while url:
            status, _, body = self.rest.send("GET", url, self.rest.arm_resource, kind="dns")
            if status != 200 or not isinstance(body, dict):
                from .sdk import explain
                raise explain(_HttpStatus(status, body), "the {} records of private DNS zone {}".format(
                    record_type.upper(), id_name(zone_id)),
                    "Microsoft.Network/privateDnsZones/{}/read".format(record_type.upper()))
            for record in body.get("value") or []:
                found[(record.get("name") or "").lower()] = record
            url = body.get("nextLink")
        return found

    def covered(self, subscription):
        """Did the bulk read of network resources cover this subscription?"""
        sub = (subscription or "").lower()
        return sub in self.network_subscriptions or (
            self.network_scope is None or sub in self.network_scope) and sub in self.subscriptions

    def ensure_network(self, subscription):
        """Network resources of a subscription the bulk read did not cover (a hub referenced only from a peering):
        read whole, every type, once."""
        sub = (subscription or "").lower()
        if not sub or sub not in self.subscriptions or self.covered(sub):
            return

        def fill():
            rows = self.arg.query(network_query(NETWORK_TYPES), [sub], what="network resources")
            with self._guard:
                self._index_network(rows)
                self.network_subscriptions.add(sub)
            return True
        self.once(("network", sub), fill)

    def network_resource(self, resource_id):
        """A network resource from the bulk read, or None. A type the bulk read leaves out (load balancers) is
        read for the whole scope the first time a check needs one."""
        self.require("network")
        sub = _sub_of(resource_id)
        self.ensure_network(sub)
        kind = (parse_resource_id(resource_id).type if parse_resource_id(resource_id) else "").lower()
        if kind in LAZY_NETWORK and sub not in self.network_subscriptions:
            def fill():
                rows = self.arg.query(network_query((kind,)), self.network_scope, what="network resources ({})".format(
                    kind))
                with self._guard:
                    self._index_network(rows)
                return True
            self.once(("network type", kind), fill)
        return self.network.get(_low(resource_id))


class _HttpStatus(Exception):
    def __init__(self, status, body):
        from .resourcegraph import _error_message
        self.status_code = status
        self.message = _error_message(body, status)
        super().__init__(self.message)


class FleetFacts(NetworkFacts, GraphFacts, Facts):
    """One cluster's facts, answered from the run's ``FleetData``."""

    def __init__(self, data, cluster, request):
        super().__init__(request, max_workers=1)
        self.data = data
        self.prime("cluster", cluster)

    def unavailable_reason(self, name):
        return ("a fleet scan reads Azure Resource Graph, not the cluster's Kubernetes API, an image or the "
                "registry's data plane ({}); run `az aks diagnose-pull run` on the cluster".format(name))

    def once(self, key, fetch):
        """As ``Facts.once``, without the per-key locks: a cluster's checks run one after another in one thread
        (the shared bulk reads have their own ``FleetData.once``)."""
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = (True, fetch())
            except FactError as err:
                cached = (False, err)
            self._cache[key] = cached
        if not cached[0]:
            raise cached[1]
        return cached[1]

    def shared_once(self, key, fetch):
        """Facts the same for every cluster of the scan (a registry's pull role holders) are worked out once."""
        return self.data.once(("shared",) + (key if isinstance(key, tuple) else (key,)), fetch)

    def parallel(self, func, items):
        """Facts are in memory (or read in bulk on first use): no threads needed."""
        from .base import _capture
        return [_capture(func, i) for i in items]

    def prefetch(self, *reads):
        """Nothing to move earlier: a fact is a look-up in the run's bulk data."""

    # -- cluster ------------------------------------------------------------------------------------
    def cluster(self):
        return self.once("cluster", lambda: None)

    def node_vmss(self):
        return self.once("node_vmss", self._node_vmss)

    def _node_vmss(self):
        node_rg = self.node_resource_group()
        if not node_rg:
            raise FactError("the cluster reports no node resource group")
        group = "/subscriptions/{}/resourceGroups/{}".format(self.cluster_subscription(), node_rg)
        self.data.require("scale sets")
        rows = self.data.scale_sets.get(group_key(group), [])
        if not rows and not self.data.group_readable(group):
            raise FactError("the signed-in account may not read the scale sets in node resource group {} (needs "
                            "Microsoft.Compute/virtualMachineScaleSets/read): Azure Resource Graph shows no "
                            "resource group of that name in subscription {}".format(
                                node_rg, self.cluster_subscription()), 403)
        return rows

    def subscription_tenant(self, subscription_id):
        row = self.data.subscriptions.get((subscription_id or "").lower())
        if row is None or not row.get("tenantId"):
            raise FactError("subscription {} is not among those Azure Resource Graph shows the signed-in account, so "
                            "its Microsoft Entra tenant is not known".format(subscription_id))
        return row["tenantId"].lower()

    def user_assigned_identity(self, resource_id):
        """The identity's row, or None when Resource Graph shows its resource group but not the identity (gone)."""
        row = self.data.identities.get(_low(resource_id))
        if row is not None:
            return row
        self.data.require("scale sets")   # identities come with the scale sets' query
        tenant = self.data.cluster_scope == (None, [])   # else the scale set query covered the clusters' subscriptions
        covered = tenant or _sub_of(resource_id) in {_sub_of(c["id"]) for c in self.data.clusters}
        if not self.data.want_scale_sets or not covered or not self.data.group_readable(resource_id):
            raise FactError("managed identity {} is outside what this fleet scan read (its subscription or resource "
                            "group); run `az aks diagnose-pull check-auth` on the cluster to read it".format(
                                id_name(resource_id)))
        return None

    # -- registries ---------------------------------------------------------------------------------
    def registries_in_subscription(self, subscription_id=None):
        sub = (subscription_id or self.cluster_subscription() or "").lower()
        return [r for r in self.data.registries.values() if _sub_of(r["id"]) == sub]

    def registry_by_id(self, registry_id):
        found = self.data.registries.get(_low(registry_id))
        if found is None:
            sub = _sub_of(registry_id)
            if not self.data.subscription_readable(sub):
                raise FactError("the signed-in account may not read registry {} (needs "
                                "Microsoft.ContainerRegistry/registries/read): Azure Resource Graph shows no "
                                "subscription {}".format(id_name(registry_id), sub), 403)
            if not self.data.group_readable(registry_id):
                raise FactError("the signed-in account may not read registry {} (needs "
                                "Microsoft.ContainerRegistry/registries/read): Azure Resource Graph shows no "
                                "resource group {}".format(id_name(registry_id),
                                                           parse_resource_id(registry_id).resource_group), 403)
        return found

    def registry_by_name(self, name):
        """A registry of this name anywhere the caller can read (registry names are unique in a cloud)."""
        found = self.data.registries_by_name.get(name.lower()) or []
        return found[0] if found else None

    def registry_names_from_images(self):
        return []

    def image_entries(self):
        """A fleet scan names no image: image-level checks judge registries instead."""
        return []

    def registry_cache_rules(self, registry):
        """The registry's cache rules: ARM's list, read once per registry for the whole scan (not in Resource
        Graph)."""
        return list(self.data.registry_children(registry["id"], "cacheRules"))

    def registry_credential_sets(self, registry):
        return list(self.data.registry_children(registry["id"], "credentialSets"))

    def registry_replications(self, registry):
        if ((registry.get("sku") or {}).get("name") or "").lower() != "premium":
            return []
        return list(self.data.replications.get(_low(registry["id"]), []))

    # -- roles --------------------------------------------------------------------------------------
    def role_assignments(self, scope):
        return self.data.assignments_for_scope(scope)

    def principal_role_assignments(self, object_id):
        self.data.require("role assignments")
        return list(self.data.assignments_by_principal.get((object_id or "").lower(), []))

    def role_definition(self, role_definition_id):
        from ..roles import BUILTIN_ROLE_DEFINITIONS
        guid = id_name(role_definition_id).lower()
        found = self.data.definitions.get(guid) or BUILTIN_ROLE_DEFINITIONS.get(guid)
        if found is None:
            self.data.require("role definitions")
            raise FactError("role definition {} was not found: Azure Resource Graph does not show it".format(
                role_definition_id), 404)
        return found

    # -- Microsoft Graph ----------------------------------------------------------------------------
    def _graph_pair(self, app_id):
        pairs = self.data.graph_objects(self.data.service_principal_app_ids() + [app_id.lower()])
        if app_id.lower() not in pairs:
            pairs.update(self.data._graph_objects([app_id]))  # pylint: disable=protected-access
        return pairs[app_id.lower()]

    def service_principal(self, app_id):
        return self._graph_pair(app_id)[0]

    def application(self, app_id):
        return self._graph_pair(app_id)[1]

    def directory_objects(self, object_ids):
        return self.data.directory_objects(object_ids)

    def member_groups(self, object_id):
        return self.data.member_groups(object_id)

    def group_joins(self, principal_id, since):
        return list(self.data.recent_group_joins(since).get(principal_id.lower(), []))

    # -- network ------------------------------------------------------------------------------------
    def network_resource(self, resource_id):
        from .network import API_VERSIONS
        rid = parse_resource_id(resource_id)
        kind = "{}/{}".format(rid.namespace, rid.type).lower() if rid else None
        if not rid or kind not in API_VERSIONS or rid.child:
            raise FactError("{} is not a network resource id this tool reads".format(resource_id))
        found = self.data.network_resource(resource_id)
        if found is not None:
            return found
        words = "{} {}".format(rid.type[0].lower() + rid.type[1:-1], rid.name)
        if not self.data.subscription_readable(rid.subscription):
            raise FactError("the signed-in account may not read {} (needs {}/{}/read): Azure Resource Graph shows "
                            "no subscription {}".format(words, rid.namespace, rid.type, rid.subscription), 403)
        raise FactError("{} was not found: Azure Resource Graph does not show it".format(words), 404)

    def firewall_rules(self, firewall):
        """Classic rules come with the firewall in the bulk read; a firewall policy's rule collection groups do not."""
        if firewall.get("policy"):
            raise FactError("the rules of firewall policy {} (its rule collection groups) are not read in a fleet "
                            "scan; run az aks diagnose-pull check-network on the cluster to judge them".format(
                                id_name(firewall["policy"])))
        return super().firewall_rules(firewall)

    def resources_of_type(self, subscription, resource_type, resource_group=None, name=None):
        low_type = resource_type.lower()
        if low_type == ZONE:
            self.data.require("private DNS zones")
            rows = self.data.zones
        else:
            self.data.require("network")
            self.data.ensure_network(subscription)
            rows = [r for r in self.data.network.values() if (r.get("type") or "").lower() == low_type]
        out = []
        for row in rows:
            if _sub_of(row["id"]) != subscription.lower():
                continue
            if resource_group and (row.get("resourceGroup") or "").lower() != resource_group.lower():
                continue
            if name and row["name"].lower() != name.lower():
                continue
            out.append({"id": row["id"], "name": row["name"], "type": resource_type,
                        "location": row.get("location"), "tags": row.get("tags") or {}})
        return out

    def readable_subscriptions(self):
        return sorted(self.data.subscriptions)

    def clusters_in_subscription(self, subscription_id):
        """From the scan's clusters query; a subscription outside the scan is one whose clusters were not read."""
        sub = subscription_id.lower()
        subs, groups = self.data.cluster_scope
        if subs is not None and sub not in subs and not set(groups) & set(self.data.management_groups_of(sub)):
            raise FactError("subscription {} is outside this fleet scan".format(sub))
        return [c for c in self.data.clusters if _sub_of(c["id"]) == sub]

    def dns_zone_links(self, zone_id):
        self.data.require("private DNS zones")   # the links come with the zones' query
        return list(self.data.zone_links.get(_low(zone_id), []))

    def dns_record(self, zone_id, record_type, relative_name):
        return self.data.record_sets(zone_id, record_type).get(relative_name.lower())
