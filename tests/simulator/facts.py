"""One in-memory reader of a simulated world, for unit tests: world -> bulk data -> facts.

The world is read the way `fleet` reads Azure (Resource Graph queries and Microsoft Graph batches, answered by this
simulator's own routes in this process instead of over TLS), and the cluster's Kubernetes objects the way `run`
reads them (the same API paths, answered by the simulated API server). So a check's unit test and its end-to-end
scenario describe the same world, and the facts the unit test sees are the shapes the readers produce, not a
hand-made copy of them. The registry's data plane is read as `run` reads it too (challenge, token exchange, manifests,
tags, blobs through their storage redirect), with an Entra ID token of the test's login. What Resource Graph cannot
show (a registry or a subscription of another Entra tenant) is read from the simulated ARM in process, as the live
reader reads it, with a token of the subscription's tenant when the login is signed in to it, else of its own: so
ARM's InvalidAuthenticationTokenTenant refusal reaches the checks as it does in a run. What none of these reads (run
command, credentials listed through ARM actions, Key Vaults) is a ``FactUnavailable``.
"""
import json
import time
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from azext_acrpull.diagnose.deadline import Deadline
from azext_acrpull.diagnose.facts import FactError
from azext_acrpull.diagnose.facts.fleet import FleetData, FleetFacts
from azext_acrpull.diagnose.facts.images import ImageFacts
from azext_acrpull.diagnose.facts.kube import KubeFacts
from azext_acrpull.diagnose.facts.registry_data import ACR_AUDIENCE, RegistryDataFacts
from azext_acrpull.diagnose.facts.resourcegraph import GraphBatch, ResourceGraph, Stats
from azext_acrpull.diagnose.request import DiagnoseRequest
from azext_acrpull.diagnose.sources import KUBERNETES, note

from . import dataplane, kube
from .server import GRAPH, MANAGEMENT, Reply, Request, make_jwt, route
from .world import LOGIN_APP_ID, LOGIN_OBJECT_ID


class InProcessRest:
    """``AzureRest``'s interface (facts/resourcegraph.py), answered by the simulator's routes in this process, as the
    test's own login (the operator's app)."""

    def __init__(self, world, faults=None):
        self.world = world
        self.arm, self.graph = "https://" + MANAGEMENT, "https://" + GRAPH
        self.arm_resource, self.graph_resource = self.arm + "/", self.graph
        self.deadline = Deadline(None)
        self.stats = Stats()
        self.log = []
        self.faults = {k.lower(): v for k, v in (faults or {}).items()}

    def _token(self, resource, tenant=None):
        now = int(time.time())
        return "Bearer " + make_jwt({"aud": resource, "tid": tenant or self.world.tenant_id, "appid": LOGIN_APP_ID,
                                     "oid": LOGIN_OBJECT_ID, "iat": now, "nbf": now, "exp": now + 3600})

    def send(self, method, url, resource, body=None, kind="arm", object_hook=None, tenant=None):
        """``tenant``: the Entra tenant of the token (the login's own by default)."""
        split = urlsplit(url)
        req = Request(method, split.hostname, unquote(split.path), dict(parse_qsl(split.query)),
                      {"Authorization": self._token(resource, tenant)},
                      json.dumps(body).encode() if body is not None else b"", self.world)
        fault = self.faults.get(req.path.lower())
        # An answer injected for the path, as the server's faults are (status, JSON body).
        reply = Reply(*fault) if fault else route(req)
        self.stats.count(kind)
        self.log.append({"method": method, "host": split.hostname, "path": req.path, "status": reply.status})
        if reply.raw is not None:
            parsed = json.loads(reply.raw, object_hook=object_hook)
        else:   # parsed as the service's bytes would be (Resource Graph's rows are compacted as they are read)
            parsed = reply.body if object_hook is None else json.loads(json.dumps(reply.body), object_hook=object_hook)
        return reply.status, reply.headers, parsed

    def pause(self, seconds):
        """No waiting in memory: a throttled answer is asked again at once."""


class _Response:
    """What ``requests`` gives the data plane reads: status, bytes, headers, ``json()`` and ``links``."""

    def __init__(self, reply):
        from requests.structures import CaseInsensitiveDict
        self.status_code = reply.status
        self.headers = CaseInsensitiveDict(reply.headers)
        self.content = reply.raw if reply.raw is not None else (
            b"" if reply.body is None else json.dumps(reply.body).encode())
        link = self.headers.get("Link") or ""
        self.links = {"next": {"url": link.split(">")[0].lstrip("<")}} if 'rel="next"' in link else {}

    def json(self):
        return json.loads(self.content)


class WorldHttp:
    """The registry's data plane (and its blob storage) answered by the simulator in this process; redirects are
    followed as ``requests`` follows them."""

    def __init__(self, world):
        self.world = world

    def request(self, method, url, headers=None, data=None, **_):
        for _hop in range(5):
            split = urlsplit(url)
            body = urlencode(data).encode() if isinstance(data, dict) else (data or b"")
            reply = dataplane.route(Request(method, split.hostname, unquote(split.path), dict(parse_qsl(split.query)),
                                            dict(headers or {}), body, self.world))
            if reply.status not in (301, 302, 307, 308):
                return _Response(reply)
            url, headers = reply.headers["Location"], {}   # storage's SAS URL carries its own authorization
        raise AssertionError("too many redirects")

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)


def world_data(world, wanted=None, faults=None):
    """The world's bulk data, as one fleet run loads it (every subscription the test's login can read); ``faults``:
    {path: (status, body)} answered instead of the world for those paths."""
    rest = InProcessRest(world, faults)
    data = FleetData(ResourceGraph(rest), GraphBatch(rest), rest, wanted=wanted)
    data.load()
    return data


class WorldFacts(KubeFacts, ImageFacts, RegistryDataFacts, FleetFacts):
    """One cluster's facts from the world: Azure's from its bulk data, Kubernetes' from its API server, images from
    the registry's data plane."""

    def __init__(self, data, cluster, request, tenants=()):
        super().__init__(data, cluster, request)
        self.world = data.rest.world
        self.host = cluster["properties"]["fqdn"].lower()
        self.http = WorldHttp(self.world)
        self.tenants = {self.world.tenant_id.lower()} | {t.lower() for t in tenants}

    # -- ARM, for what Resource Graph does not show (live.py's reads) ------------------------------
    def _arm_get(self, path, api_version, what, permission):
        """GET an ARM resource as the live reader does: with a token of its subscription's tenant when the login is
        signed in to that tenant (az's account list knows the subscription), else of the login's own tenant. A
        refusal becomes the FactError the live reader raises (``explain`` of ARM's error)."""
        from azext_acrpull.diagnose.facts.sdk import explain
        sub = path.split("/")[2].lower()
        tenant = self.world.tenant_of_subscription(sub).lower()
        status, _, body = self.data.rest.send("GET", "{}{}?api-version={}".format(self.data.rest.arm, path,
                                                                                   api_version),
                                              self.data.rest.arm_resource, tenant=tenant if tenant in self.tenants
                                              else None)
        if status >= 400:
            raise explain(_ArmError(status, body), what, permission)
        return body

    def registry_by_id(self, registry_id):
        """Resource Graph's row; a registry of a subscription Resource Graph does not show (another tenant's) is
        read from ARM, as ``LiveFacts._get_registry`` reads it (404: None)."""
        sub = registry_id.split("/")[2]
        if self.data.subscription_readable(sub):
            return super().registry_by_id(registry_id)

        def read():
            from azext_acrpull.diagnose.facts.arm import REGISTRY_API
            try:
                return self._arm_get(registry_id, REGISTRY_API, "registry {}".format(registry_id.rsplit("/", 1)[-1]),
                                     "Microsoft.ContainerRegistry/registries/read")
            except FactError as err:
                if err.status_code == 404:
                    return None
                raise
        return self.once(("registry", registry_id.lower()), read)

    def subscription_tenant(self, subscription_id):
        """Resource Graph's tenant of the subscription; for one it does not show, ARM's answer as
        ``LiveFacts._subscription_tenant`` reads it (the tenant ARM names when it refuses the token)."""
        if self.data.subscription_readable(subscription_id):
            return super().subscription_tenant(subscription_id)

        def read():
            from azext_acrpull.diagnose.facts.arm import SUBSCRIPTIONS_API
            from azext_acrpull.diagnose.facts.base import foreign_tenant
            try:
                found = self._arm_get("/subscriptions/{}".format(subscription_id), SUBSCRIPTIONS_API,
                                      "subscription {}".format(subscription_id),
                                      "Microsoft.Resources/subscriptions/read")
            except FactError as err:
                tenants = foreign_tenant(err)
                if tenants:
                    return tenants[1]
                raise
            return (found.get("tenantId") or "").lower() or None
        return self.once(("subscription_tenant", subscription_id.lower()), read)

    def _registry_aad_token(self, registry):
        """The test's login's Entra ID token for ACR's audience, in the tenant of the registry's subscription."""
        tenant = self.world.tenant_of_subscription(registry["id"].split("/")[2])
        now = int(time.time())
        return make_jwt({"aud": ACR_AUDIENCE, "tid": tenant, "appid": LOGIN_APP_ID, "oid": LOGIN_OBJECT_ID,
                         "iat": now, "nbf": now, "exp": now + 3600}), tenant

    def unavailable_reason(self, name):
        return "the in-memory reader of the simulated world does not read {}".format(name)

    def kube_access(self):
        return {"via": "apiServer", "note": ""}

    def kube_get(self, path, params=None):
        key = ("kube", path, tuple(sorted((params or {}).items())))
        return self.once(key, lambda: self._world_kube(path, params))

    def kube_list_page(self, path, params, parse):
        key = ("kube-page", path, tuple(sorted(params.items())))
        return self.once(key, lambda: self._world_kube(path, params, parse))

    def _world_kube(self, path, params, parse=None):
        """The simulated API server's answer, judged as ``KubeFacts._kube_get`` judges a real one."""
        note(KUBERNETES)
        token = self.world.kube_tokens.get(self.host)
        reply = kube.route(Request("GET", self.host, path, {k: str(v) for k, v in (params or {}).items()},
                                   {"Authorization": "Bearer " + str(token)}, b"", self.world))
        if reply.status == 404:
            return None
        if reply.status >= 400:
            raise FactError("the Kubernetes API answered HTTP {} for {}: {}".format(
                reply.status, path, (reply.body or {}).get("message")), reply.status)
        raw = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        return parse(raw) if parse else json.loads(raw)


class _ArmError(Exception):
    """ARM's error answer as azure-core's HttpResponseError (ARMErrorFormat) carries it to ``explain``."""

    def __init__(self, status, body):
        error = (body or {}).get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.status_code = status
        self.error = type("ODataV4Format", (), {"code": error.get("code")})()
        self.message = "({}) {}".format(error.get("code"), error.get("message")) if error else "HTTP {}".format(status)
        super().__init__(self.message)


def world_facts(world, cluster="aks1", resource_group="rg1", data=None, tenants=(), faults=None, **request):
    """The facts of one cluster of the world, for a request such as ``pod="web"`` or ``registry=("name", "x")``.
    ``tenants``: other Entra tenants the test's login is signed in to (``az login --tenant``); ``faults``: {path:
    (status, body)} ARM answers injected instead of the world's."""
    data = data or world_data(world, faults=faults)
    row = next(c for c in data.clusters if c["name"].lower() == cluster.lower()
               and c["resourceGroup"].lower() == resource_group.lower())
    return WorldFacts(data, row, DiagnoseRequest(resource_group, cluster, **request), tenants=tenants)
