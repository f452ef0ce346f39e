"""The registry's data plane: the Docker Registry HTTP API v2 with ACR's Entra ID token exchange.

As ACR answers (and as the Azure SDK for ACR's and azure-cli's recordings show):
- ``GET /v2/`` without a token: 401 with ``WWW-Authenticate: Bearer realm="https://<login>/oauth2/token",
  service="<login>"``.
- ``POST /oauth2/exchange`` (form: grant_type=access_token, service, tenant, access_token): an Entra ID token for
  ``https://containerregistry.azure.net`` (or ARM's audience, unless the registry disabled that with
  ``azureADAuthenticationAsArmPolicy``) becomes ``{"refresh_token"}``.
- ``POST /oauth2/token`` (form: grant_type=refresh_token, service, scope, refresh_token): ``{"access_token"}``
  whose ``access`` claim lists what the caller's role assignments grant; ``GET /oauth2/token`` is the anonymous
  request nodes make without credentials.
- ``/v2/<repo>/manifests/<ref>`` with the stored media type and ``Docker-Content-Digest``;
  ``/v2/<repo>/blobs/<digest>`` redirects (307) to the registry's storage account; ``/v2/<repo>/tags/list`` and
  ``/acr/v1/_catalog`` page with ``n``/``last`` and a ``Link`` header. Errors are ``{"errors":[{code, message,
  detail}]}``: UNAUTHORIZED, DENIED, NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN.
- The registry's firewall: every request from outside its rules other than the anonymous challenge gets 403
  DENIED "client with IP '<ip>' is not allowed access". The machine running az has the public IP ``CALLER_IP``
  (a world may set ``caller_ip``).
"""
import fnmatch
import ipaddress
import json
import re
import time
import uuid
from urllib.parse import quote

CALLER_IP = "203.0.113.27"
ACR_AUDIENCES = ("https://containerregistry.azure.net",)
ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net", "https://management.azure.com/",
                 "https://management.core.windows.net/")
PULL = "Microsoft.ContainerRegistry/registries/pull/read"
CONTENT_READ = "Microsoft.ContainerRegistry/registries/repositories/content/read"
CATALOG_READ = "Microsoft.ContainerRegistry/registries/catalog/read"
ISSUED = []          # every registry token handed out, so tests can assert that none reaches az's output
_AUTH_REQUIRED = "authentication required, visit https://aka.ms/acr/authorization for more information."


def _reply(*args, **kwargs):
    from .server import Reply
    return Reply(*args, **kwargs)


def _errors(status, code, message, detail=None, headers=None, unknown=False):
    return _reply(status, {"errors": [{"code": code, "message": message, "detail": detail}]},
                  dict({"Docker-Distribution-Api-Version": "registry/2.0"}, **(headers or {})), unknown=unknown)


def challenge(host, scope=None, error=None):
    value = 'Bearer realm="https://{0}/oauth2/token",service="{0}"'.format(host)
    if scope:
        value += ',scope="{}"'.format(scope)
    if error:
        value += ',error="{}"'.format(error)
    return {"WWW-Authenticate": value, "Docker-Distribution-Api-Version": "registry/2.0"}


def _jwt(claims):
    from .server import make_jwt
    token = make_jwt(claims)
    ISSUED.append(token)
    return token


# -- who may do what --------------------------------------------------------------------------------------------
def caller_ip(world):
    return getattr(world, "caller_ip", CALLER_IP)


def firewall_allows(registry, ip):
    props = registry.get("properties") or {}
    if (props.get("publicNetworkAccess") or "Enabled") == "Disabled":
        return False
    rules = props.get("networkRuleSet") or {}
    if (rules.get("defaultAction") or "Allow") == "Allow":
        return True
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(r.get("value") or r.get("ipAddressOrRange"), strict=False)
               for r in rules.get("ipRules") or [] if (r.get("action") or "Allow") == "Allow")


def _matches(pattern, action):
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _grants(definition, action, data):
    for block in (definition or {}).get("properties", {}).get("permissions") or []:
        allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
        if any(_matches(p, action) for p in block.get(allow) or []) and \
                not any(_matches(p, action) for p in block.get(deny) or []):
            return True
    return False


def caller_may(world, registry, object_id, action, data=False):
    """Do the caller's role assignments at or above the registry grant ``action``? (conditions are not evaluated)"""
    for assignment in world.role_assignments_for(registry["id"], "atScope()"):
        props = assignment["properties"]
        if props["principalId"].lower() != (object_id or "").lower():
            continue
        definition_id = props["roleDefinitionId"]
        if _grants(world.role_definition(definition_id.rsplit("/", 1)[-1], definition_id), action, data):
            return True
    return False


def _repository_actions(world, registry, object_id, requested):
    abac = registry["properties"].get("roleAssignmentMode") == "AbacRepositoryPermissions"
    may_pull = caller_may(world, registry, object_id, CONTENT_READ, data=True) if abac else \
        caller_may(world, registry, object_id, PULL)
    return [a for a in requested if a == "pull" and may_pull]


def _catalog_allowed(world, registry, object_id):
    if registry["properties"].get("roleAssignmentMode") == "AbacRepositoryPermissions":
        return caller_may(world, registry, object_id, CATALOG_READ, data=True)
    return caller_may(world, registry, object_id, PULL)


# -- routes -----------------------------------------------------------------------------------------------------
def route(req):
    world = req.world
    registry_id = world.registry_for_host(req.host)
    registry = world.arm.get(registry_id.lower())
    if registry is None:
        return _errors(404, "NAME_UNKNOWN", "registry not found", unknown=True)
    if req.host.endswith(".blob.core.windows.net"):
        return _storage(req, registry)
    login = registry["properties"]["loginServer"]
    content = world.registry_content.setdefault(login, {"repositories": {}})
    path = req.path
    claims = req.bearer_claims()
    if path in ("/v2", "/v2/") and req.method in ("GET", "HEAD") and claims is None:
        return _errors(401, "UNAUTHORIZED", _AUTH_REQUIRED, headers=challenge(login))
    if not firewall_allows(registry, caller_ip(world)):
        return _errors(403, "DENIED", "client with IP '{}' is not allowed access. Refer https://aka.ms/acr/firewall "
                                      "to grant access. CorrelationId: {}".format(caller_ip(world), uuid.uuid4()))
    if path == "/oauth2/exchange" and req.method == "POST":
        return _exchange(req, world, registry, login)
    if path == "/oauth2/token":
        return _token(req, world, registry, login)
    if path in ("/v2", "/v2/"):
        return _reply(200, {}, {"Docker-Distribution-Api-Version": "registry/2.0"}) if _valid(claims, login) else \
            _errors(401, "UNAUTHORIZED", _AUTH_REQUIRED, headers=challenge(login))
    if path == "/acr/v1/_catalog" and req.method == "GET":
        if not _allowed(claims, login, "registry", "catalog", "*"):
            return _errors(401, "UNAUTHORIZED", _AUTH_REQUIRED, [{"Type": "registry", "Name": "catalog",
                                                                  "Action": "*"}],
                           challenge(login, "registry:catalog:*", "insufficient_scope"))
        return _paged(req, "/acr/v1/_catalog", "repositories", sorted(content["repositories"]), {})
    m = re.match(r"^/v2/(?P<repo>.+)/(?P<kind>manifests|blobs|tags)/(?P<ref>[^/]+)$", path)
    if not m or req.method not in ("GET", "HEAD"):
        return _errors(404, "NAME_UNKNOWN", "unknown route {} {}".format(req.method, path), unknown=True)
    repo, kind, ref = m["repo"], m["kind"], m["ref"]
    if not _allowed(claims, login, "repository", repo, "pull"):
        return _errors(401, "UNAUTHORIZED", _AUTH_REQUIRED, [{"Type": "repository", "Name": repo, "Action": "pull"}],
                       challenge(login, "repository:{}:pull".format(repo), "insufficient_scope"))
    if kind == "manifests":
        refused = _pull_through(world, registry, content, repo, ref)
        if refused is not None:
            return refused
    repository = content["repositories"].get(repo)
    if repository is None:
        return _errors(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": repo})
    if kind == "tags":
        if ref != "list":
            return _errors(404, "NAME_UNKNOWN", "unknown route", unknown=True)
        return _paged(req, "/v2/{}/tags/list".format(repo), "tags", sorted(repository["tags"]), {"name": repo})
    if kind == "manifests":
        return _manifest(req, repository, ref)
    return _blob(req, world, registry, repository, repo, ref)


def _cache_rule(world, registry, repo):
    """The registry's artifact cache rule whose targetRepository (exact, or prefix/*) covers ``repo``."""
    prefix = registry["id"].lower() + "/cacherules/"
    best, best_len = None, -1
    for key, rule in world.arm.items():
        if not key.startswith(prefix) or key.count("/") != prefix.count("/"):
            continue
        target = (rule["properties"].get("targetRepository") or "").lower()
        if target == repo.lower():
            return rule
        if target.endswith("/*") and repo.lower().startswith(target[:-1]) and len(target) > best_len:
            best, best_len = rule, len(target)
    return best


GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"


def _credential_set_authenticates(world, cred_set):
    """Can ACR read the credential set's Key Vault secrets now? Not when the set is gone or reports Unhealthy, nor
    when its identity lacks read access on a vault it names (Azure RBAC getSecret, or an access policy with get);
    a vault outside this world leaves the reported health."""
    if cred_set is None:
        return False
    principal = (cred_set.get("identity") or {}).get("principalId") or ""
    vaults = {r["name"].lower(): r for r in world.arm.values() if r.get("type") == "Microsoft.KeyVault/vaults"}
    for credential in cred_set["properties"].get("authCredentials") or []:
        if ((credential.get("credentialHealth") or {}).get("status") or "").lower() == "unhealthy":
            return False
        for uri in (credential.get("usernameSecretIdentifier"), credential.get("passwordSecretIdentifier")):
            vault = vaults.get((uri or "").split("//", 1)[-1].split(".", 1)[0].lower())
            if vault is None:
                continue
            if vault["properties"].get("enableRbacAuthorization"):
                allowed = caller_may(world, vault, principal, GET_SECRET, data=True)
            else:
                allowed = any(p.get("objectId", "").lower() == principal.lower() and "get" in [
                    x.lower() for x in (p.get("permissions") or {}).get("secrets") or []]
                    for p in vault["properties"].get("accessPolicies") or [])
            if not allowed:
                return False
    return True


def _pull_through(world, registry, content, repo, ref):
    """ACR's artifact cache: a manifest the registry does not hold, in a repository a cache rule serves, is fetched
    from the rule's upstream (with the credential set's secrets), stored, then served; the repository appears on
    that first pull. The upstream's content is ``world.registry_content[<upstream host>]``. Returns the registry's
    refusal when the credential set cannot authenticate, else None (what the upstream had is now local)."""
    repository = content["repositories"].get(repo)
    digest = ref if ref.startswith("sha256:") else (repository or {}).get("tags", {}).get(ref)
    if repository is not None and digest in repository["manifests"]:
        return None
    rule = _cache_rule(world, registry, repo)
    if rule is None:
        return None
    props = rule["properties"]
    set_id = props.get("credentialSetResourceId")
    if set_id and not _credential_set_authenticates(world, world.arm.get(set_id.lower())):
        return _errors(401, "UNAUTHORIZED", "authentication required with source registry for cache rule",
                           headers=challenge(registry["properties"]["loginServer"]))
    source, target = props["sourceRepository"], props["targetRepository"]
    upstream_repo = source[:-1] + repo[len(target) - 1:] if target.endswith("*") else source
    host, _, path = upstream_repo.partition("/")
    found = world.registry_content.get(host, {}).get("repositories", {}).get(path)
    up_digest = ref if ref.startswith("sha256:") else (found or {}).get("tags", {}).get(ref)
    if not found or up_digest not in found["manifests"]:
        return None
    local = content["repositories"].setdefault(repo, {"tags": {}, "manifests": {}, "blobs": {}})
    wanted = [up_digest]
    while wanted:   # the manifest, and an index's children
        d = wanted.pop()
        local["manifests"][d] = found["manifests"][d]
        wanted += [m["digest"] for m in json.loads(found["manifests"][d]["body"]).get("manifests") or []
                   if m["digest"] in found["manifests"] and m["digest"] not in local["manifests"]]
    local["blobs"].update(found["blobs"])
    if not ref.startswith("sha256:"):
        local["tags"][ref] = up_digest
    return None


def _valid(claims, login):
    return bool(claims) and claims.get("aud") == login and claims.get("grant_type") == "access_token" and \
        claims.get("exp", 0) > time.time()


def _allowed(claims, login, kind, name, action):
    if not _valid(claims, login):
        return False
    return any(e.get("type") == kind and e.get("name") == name and action in (e.get("actions") or [])
               for e in claims.get("access") or [])


def _exchange(req, world, registry, login):
    from .server import decode_jwt
    form = req.form()
    if form.get("grant_type") != "access_token" or not form.get("access_token"):
        return _errors(400, "UNSUPPORTED", "grant_type must be access_token with an access_token")
    if form.get("service") != login:
        return _errors(400, "INVALID_SERVICE", "service {!r} is not this registry".format(form.get("service")))
    claims = decode_jwt(form["access_token"]) or {}
    audiences = ACR_AUDIENCES
    arm_policy = ((registry["properties"].get("policies") or {}).get("azureADAuthenticationAsArmPolicy") or {})
    if (arm_policy.get("status") or "enabled").lower() == "enabled":
        audiences += ARM_AUDIENCES
    if claims.get("tid") != world.tenant_of_subscription(registry["id"].split("/")[2]) or \
            claims.get("aud") not in audiences or claims.get("exp", 0) < time.time():
        return _errors(401, "UNAUTHORIZED", "The access token is not valid for this registry (audience {!r}).".format(
            claims.get("aud")))
    now = int(time.time())
    refresh = _jwt({"jti": str(uuid.uuid4()), "sub": claims.get("oid"), "nbf": now, "exp": now + 10800, "iat": now,
                    "iss": "Azure Container Registry", "aud": login, "version": "1.0", "rid": uuid.uuid4().hex,
                    "grant_type": "refresh_token", "appid": claims.get("appid"), "tenant": claims.get("tid"),
                    "permissions": {"actions": ["read"], "notActions": None}, "roles": []})
    return _reply(200, {"refresh_token": refresh})


def _token(req, world, registry, login):
    from .server import decode_jwt
    if req.method == "GET":   # a node's anonymous request (no credentials for this registry)
        anonymous = registry["properties"].get("anonymousPullEnabled")
        scope = req.query.get("scope") or ""
        if not anonymous:
            return _errors(401, "UNAUTHORIZED", _AUTH_REQUIRED)
        return _reply(200, {"access_token": _access_token(login, None, scope, lambda kind, name, actions: [
            a for a in actions if a == "pull"] if kind == "repository" else [])})
    form = req.form()
    claims = decode_jwt(form.get("refresh_token") or "") or {}
    if form.get("grant_type") != "refresh_token" or claims.get("grant_type") != "refresh_token" or \
            claims.get("aud") != login or form.get("service") != login or claims.get("exp", 0) < time.time():
        return _errors(401, "UNAUTHORIZED", "The refresh token is not valid for this registry.")
    oid = claims.get("sub")

    def grant(kind, name, actions):
        if kind == "repository":
            return _repository_actions(world, registry, oid, actions)
        if kind == "registry" and name == "catalog":
            return ["*"] if _catalog_allowed(world, registry, oid) else []
        return []
    return _reply(200, {"access_token": _access_token(login, claims, form.get("scope") or "", grant)})


def _access_token(login, refresh, scope, grant):
    access = []
    for item in scope.split():
        kind, _, rest = item.partition(":")
        name, _, actions = rest.rpartition(":")
        granted = grant(kind, name, actions.split(","))
        access.append({"type": kind, "name": name, "actions": granted})
    now = int(time.time())
    return _jwt({"jti": str(uuid.uuid4()), "sub": (refresh or {}).get("sub"), "nbf": now, "exp": now + 4500,
                 "iat": now, "iss": "Azure Container Registry", "aud": login, "version": "2.0",
                 "rid": uuid.uuid4().hex, "access": access, "roles": [], "grant_type": "access_token",
                 "appid": (refresh or {}).get("appid"), "tenant": (refresh or {}).get("tenant")})


def _paged(req, path, field, items, extra):
    try:
        n = int(req.query.get("n") or 100)
    except ValueError:
        n = 100
    last = req.query.get("last")
    rest = [i for i in items if last is None or i > last]
    page, more = rest[:n], len(rest) > n
    headers = {"Docker-Distribution-Api-Version": "registry/2.0"}
    if more:
        headers["Link"] = '<{}?last={}&n={}>; rel="next"'.format(path, quote(page[-1], safe=""), n)
    return _reply(200, dict(extra, **{field: page}), headers)


def _manifest(req, repository, ref):
    digest = ref if ref.startswith("sha256:") else repository["tags"].get(ref)
    stored = repository["manifests"].get(digest) if digest else None
    if stored is None:
        if ref.startswith("sha256:"):
            return _errors(404, "MANIFEST_UNKNOWN", "manifest {} is not found".format(ref), {"Digest": ref})
        return _errors(404, "MANIFEST_UNKNOWN", 'manifest tagged by "{}" is not found'.format(ref), {"Tag": ref})
    accept = req.headers.get("Accept") or req.headers.get("accept") or ""
    if accept and stored["mediaType"] not in accept and "*/*" not in accept:
        return _errors(404, "MANIFEST_UNKNOWN", "OCI index found, but accept header does not support OCI indexes"
                       if "index" in stored["mediaType"] else "manifest unknown: media type not accepted",
                       {"Tag": ref})
    body = stored["body"].encode()
    return _reply(200, raw=body, headers={"Content-Type": stored["mediaType"], "Docker-Content-Digest": digest,
                                          "Docker-Distribution-Api-Version": "registry/2.0"})


def _blob(req, world, registry, repository, repo, digest):
    from .registry_content import storage_host
    if digest not in repository["blobs"]:
        return _errors(404, "BLOB_UNKNOWN", "blob unknown to registry", {"Digest": digest})
    location = "https://{}/{}/docker/registry/v2/blobs/{}/{}/{}/data?se={}&sig=sim-sas-{}&sp=r&spr=https&sr=b&" \
               "sv=2018-03-28&regid={}".format(
                   storage_host(world, registry), registry["name"].lower(), digest.split(":")[0],
                   digest.split(":")[1][:2], digest.split(":")[1], quote(time.strftime("%Y-%m-%dT%H:%M:%SZ")),
                   uuid.uuid4().hex[:12], registry["name"].lower())
    return _reply(307, raw=b"", headers={"Location": location, "Docker-Content-Digest": digest,
                                         "Docker-Distribution-Api-Version": "registry/2.0",
                                         "Content-Type": "text/plain; charset=utf-8"})


def _storage(req, registry):
    m = re.match(r"^/[^/]+/docker/registry/v2/blobs/(?P<algo>[^/]+)/[0-9a-f]{2}/(?P<hex>[0-9a-f]+)/data$", req.path)
    if not m or req.method != "GET":
        return _reply(404, raw=b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ResourceNotFound</Code>"
                      b"</Error>", headers={"Content-Type": "application/xml"}, unknown=True)
    if not req.query.get("sig"):
        return _reply(403, raw=b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>"
                      b"</Error>", headers={"Content-Type": "application/xml"})
    digest = "{}:{}".format(m["algo"], m["hex"])
    login = registry["properties"]["loginServer"]
    for repository in req.world.registry_content.get(login, {}).get("repositories", {}).values():
        if digest in repository["blobs"]:
            return _reply(200, raw=repository["blobs"][digest].encode(), headers={
                "Content-Type": "application/octet-stream", "x-ms-blob-type": "BlockBlob", "x-ms-version": "2018-03-28",
                "ETag": '"0x8DC{}"'.format(m["hex"][:12].upper())})
    return _reply(404, raw=b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code></Error>",
                  headers={"Content-Type": "application/xml"})
