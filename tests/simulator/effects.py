"""What a resource provider does with a write beyond storing its body.

``arm._put`` stores a PUT/PATCH body as the resource. A few writes mean more in Azure, and `fix`
relies on them; each is one hook here, keyed by the resource type it applies to:

- **AKS, PUT of an existing managed cluster** (what `az aks update -g -n` sends to reconcile): the
  body carries only writable properties, so the stored cluster keeps the read-only ones the resource
  provider computes (fqdn, powerState, node pools' versions...). AKS then re-applies the cluster's
  settings to its node pools, which puts the kubelet identity back on every node pool's scale set.
  The PUT is a long-running operation the way ARM does it: 200 with ``provisioningState: Updating``
  and an ``Azure-AsyncOperation`` URL whose status reads ``Succeeded``; the SDK's poller then reads
  the cluster again.
- **Private DNS, PUT of a virtual network link or record set**: stored with what the provider computes
  (``provisioningState``/``virtualNetworkLinkState``, ``fqdn``), so the SDK's poller finishes at once.
- **Any PUT with ``If-None-Match: *``** on an existing resource is ``412 PreconditionFailed`` (az sends it
  when it creates private DNS links and record sets, so that it never replaces one).
- **Authorization, PUT of a role assignment**: one principal holds one role at one scope once, whatever
  the condition; a new assignment that repeats one is ``409 RoleAssignmentExists``, as ARM answers. A
  PUT of an existing assignment (`az role assignment update`) keeps its scope and creation stamps.

``provider_put`` returns a Reply when a hook answers the request, or None to let arm.py store the
body as it is.
"""
import copy
import re
import uuid

_CLUSTER = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/[^/]+/providers/microsoft\.containerservice/"
                      r"managedclusters/[^/]+$")
_DNS_LINK = re.compile(r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.network/privatednszones/"
                       r"[^/]+/virtualnetworklinks/[^/]+$")
_DNS_RECORD = re.compile(r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.network/privatednszones/"
                         r"[^/]+/(a|aaaa|cname|mx|ptr|soa|srv|txt)/[^/]+$")
_ASSIGNMENT = re.compile(r"^(.*)/providers/microsoft\.authorization/roleassignments/[^/]+$")
ASYNC_API_VERSION = "2017-08-31"


def _reply(*args, **kwargs):
    from .server import Reply
    return Reply(*args, **kwargs)


def provider_put(req, world, path, low, body, existing):
    if req.method != "PUT":
        return None
    if existing is not None and (req.headers.get("If-None-Match") or req.headers.get("if-none-match")) == "*":
        return _reply(412, {"error": {"code": "PreconditionFailed", "message": "The resource '{}' already exists."
                                      .format(path.rsplit("/", 1)[-1])}}, write=True)
    if _DNS_LINK.match(low):
        return _store(world, path, low, body, existing, "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                      provisioningState="Succeeded", virtualNetworkLinkState="Completed")
    m = _DNS_RECORD.match(low)
    if m:
        zone = path.split("/")[8]
        return _store(world, path, low, body, existing, "Microsoft.Network/privateDnsZones/" + m.group(1).upper(),
                      fqdn="{}.{}.".format(path.rsplit("/", 1)[-1], zone), isAutoRegistered=False)
    m = _CLUSTER.match(low)
    if m and existing is not None:
        return _reconcile_cluster(world, path, low, body, existing, m.group(1))
    m = _ASSIGNMENT.match(low)
    if m and existing is None:
        return _assignment_exists(world, m.group(1), body)
    if m:
        return _update_assignment(world, low, body, existing)
    return None


def _store(world, path, low, body, existing, rtype, **computed):
    """Store a PUT's body with the read-only properties its resource provider computes."""
    resource = dict(body, id=path, name=path.rsplit("/", 1)[-1], type=rtype, etag=str(uuid.uuid4()))
    resource["properties"] = dict(body.get("properties") or {}, **computed)
    world.arm[low] = resource
    return _reply(200 if existing else 201, resource, write=True)


# -- AKS ------------------------------------------------------------------------------------------
def merge(current, update):
    """The resource after a PUT: the body's values over the stored ones, read-only values kept.

    Lists of named objects (node pool profiles) merge by name; other lists are replaced."""
    if isinstance(current, dict) and isinstance(update, dict):
        out = dict(current)
        for key, value in update.items():
            out[key] = merge(current.get(key), value) if key in current else copy.deepcopy(value)
        return out
    if isinstance(current, list) and isinstance(update, list) and all(
            isinstance(x, dict) and "name" in x for x in current + update):
        stored = {x["name"].lower(): x for x in current}
        return [merge(stored.get(x["name"].lower(), {}), x) for x in update]
    return copy.deepcopy(update)


def _reconcile_cluster(world, path, low, body, existing, subscription):
    cluster = merge(existing, body)
    cluster["id"], cluster["name"] = existing["id"], existing["name"]
    cluster["properties"]["provisioningState"] = "Succeeded"
    world.arm[low] = cluster
    reapply_kubelet_identity(world, cluster)
    op = str(uuid.uuid4())
    op_path = "/subscriptions/{}/providers/Microsoft.ContainerService/locations/{}/operations/{}".format(
        subscription, cluster.get("location", "eastus"), op)
    now = world.now_iso()
    world.arm[op_path.lower()] = {"name": op, "status": "Succeeded", "startTime": now, "endTime": now}
    answer = copy.deepcopy(cluster)
    answer["properties"]["provisioningState"] = "Updating"
    headers = {"Azure-AsyncOperation": "https://management.azure.com{}?api-version={}".format(
        op_path, ASYNC_API_VERSION), "Retry-After": "1"}
    return _reply(200, answer, headers=headers, write=True)


def reapply_kubelet_identity(world, cluster):
    """Every node pool's scale set carries the cluster's kubelet identity again, as after an AKS reconcile."""
    props = cluster.get("properties", {})
    kubelet = (props.get("identityProfile") or {}).get("kubeletidentity")
    node_rg = (props.get("nodeResourceGroup") or "").lower()
    if not kubelet or not node_rg:
        return
    sub = cluster["id"].split("/")[2].lower()
    prefix = "/subscriptions/{}/resourcegroups/{}/providers/microsoft.compute/virtualmachinescalesets/".format(
        sub, node_rg)
    pools = {p["name"].lower() for p in props.get("agentPoolProfiles") or []}
    for key, vmss in world.arm.items():
        tags = {k.lower(): v for k, v in (vmss.get("tags") or {}).items()}
        if not key.startswith(prefix) or tags.get("aks-managed-poolname", "").lower() not in pools:
            continue
        identity = vmss.get("identity") or {}
        assigned = dict(identity.get("userAssignedIdentities") or {})
        if not any(k.lower() == kubelet["resourceId"].lower() for k in assigned):
            assigned[kubelet["resourceId"]] = {"principalId": kubelet["objectId"], "clientId": kubelet["clientId"]}
        kind = identity.get("type") or "None"
        vmss["identity"] = dict(identity, userAssignedIdentities=assigned,
                                type="SystemAssigned, UserAssigned" if "SystemAssigned" in kind else "UserAssigned")


# -- Authorization --------------------------------------------------------------------------------
def _update_assignment(world, low, body, existing):
    """A PUT of an existing assignment (`az role assignment update`): the body's properties, with the scope and
    creation stamps Azure keeps, and a new update time."""
    kept = {k: existing["properties"].get(k) for k in ("scope", "createdOn", "createdBy")}
    props = dict(existing["properties"])
    props.update(body.get("properties") or {})
    props.update(kept)
    props["updatedOn"] = world.now_iso()
    world.arm[low] = dict(existing, properties=props)
    return _reply(200, world.arm[low], write=True)


def _assignment_exists(world, scope_low, body):
    props = body.get("properties") or {}
    role = (props.get("roleDefinitionId") or "").rsplit("/", 1)[-1].lower()
    principal = (props.get("principalId") or "").lower()
    for key, other in world.arm.items():
        m = _ASSIGNMENT.match(key)
        if not m or m.group(1) != scope_low.rstrip("/"):
            continue
        oprops = other.get("properties") or {}
        if (oprops.get("roleDefinitionId") or "").rsplit("/", 1)[-1].lower() == role and \
                (oprops.get("principalId") or "").lower() == principal:
            return _reply(409, {"error": {"code": "RoleAssignmentExists",
                                          "message": "The role assignment already exists."}}, write=True)
    return None
