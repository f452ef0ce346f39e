"""B.sep: a service endpoint policy on the node subnet limits Azure Storage to the accounts it lists.

A registry without dedicated data endpoints serves layers from storage accounts that ACR manages
(``*.blob.core.windows.net``, answered after a 307 from the login server). Nodes in a subnet with a
``Microsoft.Storage`` service endpoint reach those accounts over it, and once a service endpoint policy is on that
subnet only the storage resources the policy lists may be reached: the layer download gets 403
``AuthorizationFailure``. No documented service alias covers a registry's storage. With dedicated data endpoints,
or a private endpoint (which enables them), layers come from ``<registry>.<region>.data.azurecr.io`` instead, and
the policy does not filter them. Policies filter only in the regions the subnet's service endpoint covers.

The subnet is this cluster's; the policy may be shared by other subnets, so the remediation detaches it from the
node subnet and never deletes it.
"""
import re

from ..classify import classify_pull_error
from ..common.pods import registry_pull_errors
from ..common.registry import per_registry, registry_target
from ..facts import FactError
from ..findings import ERROR, FAIL, PASS, SKIPPED, WARNING, check, decided
from ..ids import id_name

STORAGE = "microsoft.storage"
STORAGE_ENDPOINTS = (STORAGE, "microsoft.storage.global")
CAUSE = "B.sep"
_SAS = re.compile(r"\?[^\s\"'\]]*")   # a blob URL's query may hold a shared access signature: never shown


def _p(resource):
    return (resource or {}).get("properties") or {}


def _region(name):
    return (name or "").replace(" ", "").lower()


def storage_endpoint_regions(subnet):
    """The regions in which the subnet reaches Azure Storage over a service endpoint ({"*"} for all), or an empty
    set when it has no Storage service endpoint (then no policy can apply to Storage)."""
    regions = set()
    for endpoint in _p(subnet).get("serviceEndpoints") or []:
        if (endpoint.get("service") or "").lower() in STORAGE_ENDPOINTS:
            regions.update(_region(r) for r in endpoint.get("locations") or ["*"])
    return regions


def storage_definitions(policy):
    """The policy's definitions for Microsoft.Storage: each limits storage to its serviceResources."""
    return [d for d in _p(policy).get("serviceEndpointPolicyDefinitions") or []
            if (_p(d).get("service") or "").lower() == STORAGE]


def allowed_resources(policy):
    """Every storage scope a policy lets the subnet reach (subscriptions, resource groups, accounts), and the service
    aliases it names (``/services/Azure/...``: storage that named Azure services manage, none of them ACR)."""
    found = [r for d in storage_definitions(policy) for r in _p(d).get("serviceResources") or []]
    aliases = [r for d in _p(policy).get("serviceEndpointPolicyDefinitions") or []
               for r in _p(d).get("serviceResources") or [] if r.lower().startswith("/services/")]
    if _p(policy).get("serviceAlias"):
        aliases.append(_p(policy)["serviceAlias"])
    return list(dict.fromkeys(found)), list(dict.fromkeys(aliases))


def data_endpoints(registry):
    """Why the registry's layers do not come from Azure Storage, or None when they do."""
    props = _p(registry)
    if props.get("privateEndpointConnections"):
        return "it has a private endpoint, which gives it dedicated data endpoints"
    if props.get("dataEndpointEnabled"):
        return "its dedicated data endpoints are enabled"
    return None


def restricting_policies(subnet, policies, regions):
    """The policies (the subnet's, read) that limit which storage the subnet reaches in one of ``regions``: those with
    Microsoft.Storage definitions, when the subnet's Storage service endpoint covers such a region. Elsewhere storage
    is not reached over the endpoint and no policy filters it."""
    covered = storage_endpoint_regions(subnet)
    if not ("*" in covered or covered & {_region(r) for r in regions}):
        return []
    return [p for p in policies if storage_definitions(p)]


def storage_regions(facts, registry):
    """Where the registry keeps layers: its home region and every replica's."""
    return [_region(registry.get("location"))] + [_region(r.get("location"))
                                                  for r in facts.registry_replications(registry)]


# -- deciding ---------------------------------------------------------------------------------------------------------
def _node_subnets(facts):
    found = {}
    for entry in facts.node_subnets():
        found.setdefault(entry["subnetId"].lower(), {"subnetId": entry["subnetId"], "pools": []})["pools"].append(
            entry["pool"])
    return list(found.values())


def _restricting(facts, registry):
    """Each node subnet whose Storage service endpoint covers a region of the registry's storage and carries a
    policy with Microsoft.Storage definitions: [{"subnetId", "pools", "attached": [ids], "policies": [...]}]."""
    regions = None
    found = []
    for entry in _node_subnets(facts):
        subnet = facts.subnet(entry["subnetId"])
        attached = [ref["id"] for ref in _p(subnet).get("serviceEndpointPolicies") or [] if ref.get("id")]
        if not attached or not storage_endpoint_regions(subnet):
            continue
        policies = facts.parallel(facts.service_endpoint_policy, attached)
        for policy in policies:
            if isinstance(policy, FactError):
                raise policy
        regions = regions or storage_regions(facts, registry)   # the replicas are listed only when it matters
        storage = restricting_policies(subnet, policies, regions)
        if storage:
            found.append({"subnetId": entry["subnetId"], "pools": entry["pools"], "attached": attached,
                          "policies": [_policy_evidence(p) for p in storage]})
    return found


def _policy_evidence(policy):
    resources, aliases = allowed_resources(policy)
    return {"id": policy["id"], "name": policy.get("name"), "serviceResources": resources, "serviceAliases": aliases}


def _blocked_pulls(facts, registry):
    """The run's failing containers pulling from ``registry`` whose error is a storage AuthorizationFailure (B.sep):
    [{"pod", "container", "image", "error"}], the error without a blob URL's query."""
    found = []
    for entry in registry_pull_errors(facts, registry):
        text = next((t for t in entry.pop("texts") if t and classify_pull_error(t).cause == CAUSE), None)
        if text:
            found.append(dict(entry, error=_SAS.sub("", text)[:500]))
    return found


def decide(facts, registry):
    """Does a node subnet keep the nodes from the registry's storage (a Storage policy in its regions), and does a
    failing pod's layer download show it (Fail) or not (Warning)."""
    name = registry["name"]
    evidence = {"registryId": registry["id"]}
    why = data_endpoints(registry)
    if why:
        return decided(SKIPPED, "data-endpoints", evidence, name=name, why=why)
    restricting = _restricting(facts, registry)
    if not restricting:
        subnets = [s["subnetId"] for s in _node_subnets(facts)]
        return decided(PASS, "no-policy", dict(evidence, subnets=subnets), name=name, subnets=subnets)
    evidence["restricting"] = restricting
    blocked = _blocked_pulls(facts, registry)
    if blocked:
        return decided(FAIL, "blocked", dict(evidence, failedPulls=blocked), name=name, restricting=restricting,
                       blocked=blocked)
    return decided(WARNING, "restricted", evidence, name=name, restricting=restricting)


# -- words ------------------------------------------------------------------------------------------------------------
def _policies_words(entry):
    return "; ".join("{} (allows {})".format(p["name"], ", ".join(p["serviceResources"]) or "no storage account")
                     for p in entry["policies"])


def _detach_command(entry):
    """`az network vnet subnet update` that keeps the subnet's other policies (``null`` when none is left)."""
    policy_ids = {p["id"].lower() for p in entry["policies"]}
    keep = [i for i in entry["attached"] if i.lower() not in policy_ids]
    return "az network vnet subnet update --ids {} --service-endpoint-policy {}".format(
        entry["subnetId"], " ".join(keep) if keep else "null")


def _remediation(name, restricting):
    return ("Take the Storage service endpoint policy off the node subnet (it stays in place for the other subnets "
            "that use it): {}. Or move the nodes to a subnet without it, or give registry {} a private endpoint "
            "(its layers then come from its dedicated data endpoints, which the policy does not filter).".format(
                " && ".join(_detach_command(e) for e in restricting), name))


def _restricted_words(name, restricting):
    entry = restricting[0]
    more = " (and {} more node subnet(s))".format(len(restricting) - 1) if len(restricting) > 1 else ""
    return ("Node subnet {} of pool(s) {}{} reaches Azure Storage over a service endpoint and carries service endpoint "
            "policy {}: from it only the storage listed may be reached, and registry {} serves layers from storage "
            "accounts that ACR manages (*.blob.core.windows.net), which the policy does not list and no service "
            "alias covers.".format(id_name(entry["subnetId"]), ", ".join(entry["pools"]), more,
                                   _policies_words(entry), name))


def _blocked(facts, name, restricting, blocked):
    first = blocked[0]
    return ("{} Container {} of pod {} pulling {} got 403 AuthorizationFailure from that storage, so its layers "
            "cannot be downloaded.".format(_restricted_words(name, restricting), first["container"], first["pod"],
                                            first["image"]), _remediation(name, restricting))


def _restricted(facts, name, restricting):
    return ("{} Layer downloads from it are refused with 403 AuthorizationFailure; no pull error read here shows one "
            "(pass --pod to read a failing pod's), and layers already on a node do not need it.".format(
                _restricted_words(name, restricting)), _remediation(name, restricting))


def _no_policy(facts, name, subnets):
    return ("No node subnet ({}) carries a service endpoint policy for Azure Storage in the regions of registry {}'s "
            "storage, so nothing limits which storage accounts the nodes download layers from.".format(
                ", ".join(id_name(s) for s in subnets), name)), ""


def _data_endpoints(facts, name, why):
    return ("Registry {} serves layers from its dedicated data endpoints, not from Azure Storage ({}): a Storage "
            "service endpoint policy does not filter its pulls.".format(name, why)), ""


WORDS = {"blocked": _blocked, "restricted": _restricted, "no-policy": _no_policy, "data-endpoints": _data_endpoints}


@check("subnet-endpoint-policy", "B.sep", "No service endpoint policy on the node subnet blocks the registry's storage",
       "Reads each node subnet's service endpoints and service endpoint policies. A Microsoft.Storage policy lets the "
       "subnet reach only the storage it lists, and a registry without dedicated data endpoints serves layers from "
       "storage accounts ACR manages, so the layer download gets 403 AuthorizationFailure. Fail when a failing "
       "pod's error shows it, Warning otherwise; Skipped for a registry with dedicated data endpoints or a private "
       "endpoint. The remedy detaches the policy from the node subnet, never deletes it.", groups=("network",),
       needs=("node_subnets", "registries", "registry_lookups", "registry_replications", "service_endpoint_policy",
              "subnet"),
       optional=("diagnosed_pods", "pod_containers", "pod_events"))
def subnet_endpoint_policy(chk, facts):
    return per_registry(chk, facts, _one)


def _one(chk, facts, registry):
    try:
        return chk.worded(registry_target(registry), decide(facts, registry), WORDS, facts)
    except FactError as err:   # this registry's verdict needs a read that failed; the others are still judged
        return chk.finding(registry_target(registry), ERROR, "Could not reach a verdict: {}.".format(
            err.reason.rstrip(".")), reason=err.reason, registryId=registry["id"])
