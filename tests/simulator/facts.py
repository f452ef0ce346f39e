"""One in-memory reader of a simulated world, for unit tests: world -> bulk data -> facts.

The world is read the way `fleet` reads Azure (Resource Graph queries and Microsoft Graph batches, answered by this
simulator's own routes in this process instead of over TLS), and the cluster's Kubernetes objects the way `run`
reads them (the same API paths, answered by the simulated API server). So a check's unit test and its end-to-end
scenario describe the same world, and the facts the unit test sees are the shapes the readers produce, not a
hand-made copy of them. The registry's data plane is read as `run` reads it too (challenge, token exchange, manifests,
tags, blobs through their storage redirect), with an Entra ID token of the test's login. What none of these reads
(run command, credentials listed through ARM actions, Key Vaults) is a ``FactUnavailable``.
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
from .server import GRAPH, MANAGEMENT, Request, make_jwt, route
from .world import LOGIN_APP_ID, LOGIN_OBJECT_ID


class InProcessRest:
    """``AzureRest``'s interface (facts/resourcegraph.py), answered by the simulator's routes in this process, as the
    test's own login (the operator's app)."""

    def __init__(self, world):
        self.world = world
        self.arm, self.graph = "https://" + MANAGEMENT, "https://" + GRAPH
        self.arm_resource, self.graph_resource = self.arm + "/", self.graph
        self.deadline = Deadline(None)
        self.stats = Stats()
        self.log = []

    def _token(self, resource):
        now = int(time.time())
        return "Bearer " + make_jwt({"aud": resource, "tid": self.world.tenant_id, "appid": LOGIN_APP_ID,
                                     "oid": LOGIN_OBJECT_ID, "iat": now, "nbf": now, "exp": now + 3600})

    def send(self, method, url, resource, body=None, kind="arm", object_hook=None):
        split = urlsplit(url)
        req = Request(method, split.hostname, unquote(split.path), dict(parse_qsl(split.query)),
                      {"Authorization": self._token(resource)}, json.dumps(body).encode() if body is not None else b"",
                      self.world)
        reply = route(req)
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


def world_data(world, wanted=None):
    """The world's bulk data, as one fleet run loads it (every subscription the test's login can read)."""
    rest = InProcessRest(world)
    data = FleetData(ResourceGraph(rest), GraphBatch(rest), rest, wanted=wanted)
    data.load()
    return data


class WorldFacts(KubeFacts, ImageFacts, RegistryDataFacts, FleetFacts):
    """One cluster's facts from the world: Azure's from its bulk data, Kubernetes' from its API server, images from
    the registry's data plane."""

    def __init__(self, data, cluster, request):
        super().__init__(data, cluster, request)
        self.world = data.rest.world
        self.host = cluster["properties"]["fqdn"].lower()
        self.http = WorldHttp(self.world)

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


def world_facts(world, cluster="aks1", resource_group="rg1", data=None, **request):
    """The facts of one cluster of the world, for a request such as ``pod="web"`` or ``registry=("name", "x")``."""
    data = data or world_data(world)
    row = next(c for c in data.clusters if c["name"].lower() == cluster.lower()
               and c["resourceGroup"].lower() == resource_group.lower())
    return WorldFacts(data, row, DiagnoseRequest(resource_group, cluster, **request))
