"""Azure Resource Manager: generic reads over the world's resources, role assignments, actions, writes."""
import re
import uuid

READ_ONLY_POSTS = re.compile(
    r"/(listclusterusercredential|listclusteradmincredential|listcredentials|listkeys|"
    r"listclustermonitoringusercredential)$|/providers/microsoft\.resourcegraph/resources$|/runcommand$|"
    r"/commandresults/", re.IGNORECASE)


def _reply(*args, **kwargs):
    from .server import Reply
    return Reply(*args, **kwargs)


def not_found(path, world=None):
    """ARM's 404 for ``path``; with the world, the reason ARM gives first: an unknown subscription, then a
    missing resource group, then the resource itself."""
    m = re.match(r"^/subscriptions/([^/]+)(/resourcegroups/([^/]+))?", path, re.I)
    if world is not None and m and m.group(1).lower() not in {s.lower() for s in world.subs}:
        return _reply(404, {"error": {"code": "SubscriptionNotFound",
                                      "message": "The subscription '{}' could not be found.".format(m.group(1))}})
    if world is not None and m and m.group(2) and \
            "/subscriptions/{}/resourcegroups/{}".format(m.group(1), m.group(3)).lower() not in world.arm:
        return _reply(404, {"error": {"code": "ResourceGroupNotFound",
                                      "message": "Resource group '{}' could not be found.".format(m.group(3))}})
    m = re.match(r"^/subscriptions/[^/]+/resourcegroups/([^/]+)(/providers/([^/]+/[^/]+)/([^/]+))?", path, re.I)
    if m and m.group(2):
        return _reply(404, {"error": {"code": "ResourceNotFound", "message":
                                      "The Resource '{}/{}' under resource group '{}' was not found. For more details "
                                      "please go to https://aka.ms/ARMResourceNotFoundFix".format(
                                          m.group(3), m.group(4), m.group(1))}})
    if m:
        return _reply(404, {"error": {"code": "ResourceGroupNotFound",
                                      "message": "Resource group '{}' could not be found.".format(m.group(1))}})
    return _reply(404, {"error": {"code": "NotFound", "message": "Path {} was not found.".format(path)}})


def wrong_tenant(req, world, low):
    """ARM's answer to a token of one Entra tenant for a subscription of another (InvalidAuthenticationTokenTenant,
    with the subscription's tenant in the message and in the challenge)."""
    m = re.match(r"^/subscriptions/([^/]+)", low)
    claims = req.bearer_claims() or {}
    if not m or not claims.get("tid") or m.group(1) not in {s.lower() for s in world.subs}:
        return None
    tenant = world.tenant_of_subscription(m.group(1))
    if claims["tid"] == tenant:
        return None
    return _reply(401, {"error": {"code": "InvalidAuthenticationTokenTenant", "message":
                                  "The access token is from the wrong issuer 'https://sts.windows.net/{}/'. It must "
                                  "match the tenant 'https://sts.windows.net/{}/' associated with this subscription. "
                                  "Please use the authority (URL) 'https://login.windows.net/{}' to get the token. "
                                  "Note, if the subscription is transferred to another tenant there is no impact to "
                                  "the services, but information about new tenant could take time to propagate (up "
                                  "to an hour). If you just transferred your subscription and see this error "
                                  "message, please try back later.".format(claims["tid"], tenant, tenant)}},
                  {"WWW-Authenticate": 'Bearer authorization_uri="https://login.windows.net/{}", '
                                       'error="invalid_token", error_description="The access token is from the wrong '
                                       'issuer."'.format(tenant)})


def route(req):
    world, path = req.world, req.path.rstrip("/")
    low = path.lower()
    method = req.method
    refused = wrong_tenant(req, world, low)
    if refused is not None:
        return refused
    if method == "GET":
        return _get(req, world, path, low)
    if method == "POST":
        if not READ_ONLY_POSTS.search(low):
            return _reply(404, {"error": {"code": "NotFound", "message": path}}, write=True, unknown=True)
        return _post(req, world, path, low)
    if method in ("PUT", "PATCH"):
        return _put(req, world, path, low)
    if method == "DELETE":
        existed = world.arm.pop(low, None)
        return _reply(200 if existed else 204, None, write=True)
    return _reply(405, {"error": {"code": "MethodNotAllowed"}}, unknown=True)


def _get(req, world, path, low):
    denied = denied_scope(world, low)
    if denied:
        return _reply(403, {"error": {"code": "AuthorizationFailed", "message":
                                      "The client '{}' does not have authorization to perform action 'read' over "
                                      "scope '{}' or the scope is invalid.".format(world.tenant_id, path)}})
    if low == "/subscriptions":
        denied_subs = {d.rsplit("/", 1)[-1] for d in getattr(world, "denied_scopes", ()) if d.count("/") == 2}
        tid = (req.bearer_claims() or {}).get("tid") or world.tenant_id   # a token lists its own tenant's
        return _reply(200, {"value": [s for s in world.subscriptions()
                                      if s["subscriptionId"].lower() not in {d.lower() for d in denied_subs}
                                      and s["tenantId"] == tid]})
    if low == "/tenants":
        return _reply(200, {"value": [{"id": "/tenants/" + world.tenant_id, "tenantId": world.tenant_id,
                                       "tenantCategory": "Home", "displayName": "Simulated Tenant",
                                       "defaultDomain": "contoso.onmicrosoft.com", "tenantType": "AAD"}]})
    m = re.match(r"^/subscriptions/([^/]+)$", low)
    if m:
        for sub in world.subscriptions():
            if sub["subscriptionId"].lower() == m.group(1):
                return _reply(200, sub)
        return _reply(404, {"error": {"code": "SubscriptionNotFound", "message": "The subscription was not found."}})
    if low.endswith("/providers/microsoft.authorization/roleassignments"):
        scope = path[: -len("/providers/Microsoft.Authorization/roleAssignments")] or "/"
        return _reply(200, {"value": world.role_assignments_for(scope, req.query.get("$filter"))})
    m = re.search(r"/providers/microsoft\.authorization/roledefinitions/([0-9a-f-]{36})$", low)
    if m:
        definition = world.role_definition(m.group(1), path)
        return _reply(200, definition) if definition else not_found(path)
    if low.endswith("/providers/microsoft.authorization/roledefinitions"):
        scope = path[: -len("/providers/Microsoft.Authorization/roleDefinitions")]
        return _reply(200, {"value": world.role_definitions_at(scope)})
    m = re.match(r"^/subscriptions/([^/]+)(/resourcegroups/([^/]+))?/resources$", low)
    if m:
        return _reply(200, {"value": world.generic_resources(m.group(1), m.group(3), req.query.get("$filter"))})
    if low in world.arm:
        return _reply(200, world.arm[low])
    listing = world.collection(low)
    if listing is not None:
        return _reply(200, {"value": listing})
    return not_found(path, world)


def denied_scope(world, low):
    """The scope of ``world.denied_scopes`` (subscriptions, groups, resources the caller may not read) that
    covers this path, if any."""
    for scope in getattr(world, "denied_scopes", None) or ():
        s = scope.lower().rstrip("/")
        if low == s or low.startswith(s + "/"):
            return scope
    return None


def _post(req, world, path, low):
    base = low.rsplit("/", 1)[0]
    action = low.rsplit("/", 1)[-1]
    if low == "/providers/microsoft.resourcegraph/resources":
        from . import resourcegraph
        return resourcegraph.query(req, world)
    if action in ("listclusterusercredential", "listclusteradmincredential"):
        cluster = world.arm.get(base)
        if not cluster:
            return not_found(path)
        return _reply(200, {"kubeconfigs": [{"name": "clusterUser" if "user" in action else "clusterAdmin",
                                             "value": world.kubeconfig_b64(cluster)}]})
    if action == "listcredentials" and "/microsoft.containerregistry/registries/" in base:
        registry = world.arm.get(base)
        if not registry:
            return not_found(path)
        if not registry["properties"].get("adminUserEnabled"):
            return _reply(400, {"error": {"code": "AdminUserDisabled",
                                          "message": "Admin user is disabled."}})
        creds = world.admin_credentials.get(base, {})
        return _reply(200, {"username": registry["name"], "passwords": [
            {"name": "password", "value": creds.get("password")},
            {"name": "password2", "value": creds.get("password2")}]})
    handler = world.post_handlers.get(action)
    if handler:
        return handler(req, world, path, low)
    return _reply(404, {"error": {"code": "NotFound", "message": path}}, unknown=True)


def _put(req, world, path, low):
    body = req.json()
    existing = world.arm.get(low)
    from .effects import provider_put
    answered = provider_put(req, world, path, low, body, existing)  # what a resource provider does beyond storing
    if answered is not None:
        return answered
    if req.method == "PATCH" and existing:
        merged = dict(existing)
        for k, v in body.items():
            if isinstance(v, dict) and isinstance(merged.get(k), dict):
                merged[k] = {**merged[k], **v}
            else:
                merged[k] = v
        body = merged
    body.setdefault("id", path)
    body.setdefault("name", path.rsplit("/", 1)[-1])
    if "/providers/microsoft.authorization/roleassignments/" in low:
        body.setdefault("type", "Microsoft.Authorization/roleAssignments")
        props = body.setdefault("properties", {})
        props.setdefault("scope", path.split("/providers/Microsoft.Authorization/")[0])
        props.setdefault("createdOn", world.now_iso())
        props.setdefault("principalType", "ServicePrincipal")
    world.arm[low] = body
    status = 200 if existing else 201
    return _reply(status, body, write=True)


def new_guid():
    return str(uuid.uuid4())
