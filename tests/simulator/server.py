"""A simulated Azure over HTTPS: Entra ID, ARM, Microsoft Graph, ACR's data plane and the AKS API server.

One process serves every host name on 127.0.0.1:443 (inside a private network namespace whose hosts
file maps the real Azure names to loopback), choosing a certificate per host name by SNI from a
test CA. Each request is logged; writes and unknown routes are flagged; latency and faults can be
injected per route.
"""
import base64
import hashlib
import json
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import arm, dataplane, graph, kube

MANAGEMENT = "management.azure.com"
LOGIN = "login.microsoftonline.com"
GRAPH = "graph.microsoft.com"


RESET = -1   # Fault.status: drop the connection without answering


@dataclass
class Fault:
    """Answer requests whose 'METHOD host/path' matches ``pattern`` with ``status`` (or delay them)."""
    pattern: str
    status: int = 503
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    times: int = -1          # how many requests to affect; -1 for all
    raw: bytes = None        # a raw body (e.g. broken JSON)
    sent: str = None         # also a regex on the request's URL-decoded body (e.g. one token request's scope)
    hits: int = 0            # how many requests it answered (or delayed) so far

    def matches(self, line, sent=""):
        return self.times != 0 and re.search(self.pattern, line, re.IGNORECASE) is not None and \
            (self.sent is None or re.search(self.sent, sent, re.IGNORECASE) is not None)


class _Server(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a client opening more connections at once (fleet's concurrent Resource Graph
    # queries) would see SYNs dropped and retried after a second, a delay no Azure endpoint adds.
    request_queue_size = 128


class Simulator:
    def __init__(self, world, ca, host="127.0.0.1", port=443):
        self.world = world
        self.ca = ca
        self.log = []
        self.faults = []
        self.latency = 0.0
        self.generation = 0      # bumped by load/clear_log: a request still in flight from before is not logged
        self._lock = threading.Lock()
        self._contexts = {}
        self._server = _Server((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.sim = self
        base = self._context_for("localhost")
        base.sni_callback = self._sni
        self._server.socket = base.wrap_socket(self._server.socket, server_side=True)
        self._thread = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def load(self, world):
        with self._lock:
            self.world = world
            self.log = []
            self.faults = []
            self.latency = 0.0
            self.generation += 1

    def clear_log(self):
        with self._lock:
            self.log = []
            self.generation += 1

    def restore_log(self, entries):
        """The log of an earlier run on the same world, for a test that shares that run (tests/e2e/conftest.py)."""
        with self._lock:
            self.log = list(entries)
            self.generation += 1

    # -- TLS ----------------------------------------------------------------------------------
    def _context_for(self, name):
        name = (name or "localhost").lower()
        if name not in self._contexts:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ca.issue_cert(name).configure_cert(ctx)
            self._contexts[name] = ctx
        return self._contexts[name]

    def _sni(self, sock, name, _ctx):
        with self._lock:
            sock.context = self._context_for(name)

    # -- bookkeeping --------------------------------------------------------------------------
    def record(self, entry, generation=None):
        with self._lock:
            if generation is None or generation == self.generation:
                self.log.append(entry)

    def take_fault(self, line, sent=""):
        with self._lock:
            for fault in self.faults:
                if fault.matches(line, sent):
                    if fault.times > 0:
                        fault.times -= 1
                    fault.hits += 1
                    return fault
        return None

    def writes(self):
        return [e for e in self.log if e["write"]]

    def unknown(self):
        return [e for e in self.log if e["unknown"]]


class Reply:
    """What a route answers. ``write`` and ``unknown`` feed the request log."""

    def __init__(self, status=200, body=None, headers=None, raw=None, write=False, unknown=False):
        self.status, self.body, self.headers, self.raw = status, body, dict(headers or {}), raw
        self.write, self.unknown = write, unknown


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SimulatedAzure/1.0"

    def log_message(self, *_):  # quiet: the request log is the record
        pass

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_PUT(self):
        self._serve()

    def do_PATCH(self):
        self._serve()

    def do_DELETE(self):
        self._serve()

    def do_HEAD(self):
        self._serve()

    @staticmethod
    def _answer_after(latency, started):
        wait = latency - (time.time() - started)
        if wait > 0:
            time.sleep(wait)

    @staticmethod
    def _route(req):
        try:
            return route(req)
        except Exception as err:  # pylint: disable=broad-except
            return Reply(500, {"error": {"code": "SimulatorError", "message": repr(err)}}, unknown=True)

    def _serve(self):
        sim = self.server.sim
        started = time.time()
        generation = sim.generation
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, host, path, query, dict(self.headers.items()), body, sim.world)
        line = "{} {}{}".format(self.command, host, path)
        fault = sim.take_fault(line, unquote(body.decode("utf-8", "replace").replace("+", " ")) if body else "")
        answered = None
        if fault and fault.delay and not fault.status and fault.raw is None:
            # A slow service still takes the request when it arrives (Resource Graph counts it against the quota
            # then): only the answer is late. Routed after the delay, a request the client gave up on long ago would
            # spend the quota of whatever runs 30 s later.
            answered = self._route(req)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status == RESET:
            # The connection drops without an answer (a reset on the way): the client cannot tell whether it was
            # served. Logged with status 0.
            self._answer_after(sim.latency, started)
            sim.record({"method": self.command, "host": host, "path": path, "query": query, "status": 0,
                        "write": self.command in ("PUT", "PATCH", "DELETE"), "unknown": False,
                        "ms": int((time.time() - started) * 1000), "time": started, "fault": True,
                        "scope": req.form().get("scope") if host == LOGIN and self.command == "POST" else None,
                        "bodyDigest": hashlib.sha256(body).hexdigest()[:16] if body else None},
                       generation)
            self.close_connection = True
            return
        if fault and (fault.status or fault.raw is not None):
            reply = Reply(fault.status or 200, fault.body, fault.headers, raw=fault.raw)
            # A write answered by a fault was refused: flag it, but do not let it change the world.
            reply.write = self.command in ("PUT", "PATCH", "DELETE")
        else:
            reply = answered or self._route(req)
        # The latency is the whole time the service takes to answer, its own work included: the simulator's work
        # (a Resource Graph query run the first time, say) is part of it, not added to it.
        self._answer_after(sim.latency, started)
        data = reply.raw if reply.raw is not None else (
            b"" if reply.body is None else json.dumps(reply.body).encode())
        sim.record({"method": self.command, "host": host, "path": path, "query": query, "status": reply.status,
                    # every PUT/PATCH/DELETE is a write, whichever route (or fault) answered it
                    "write": reply.write or self.command in ("PUT", "PATCH", "DELETE"), "unknown": reply.unknown,
                    "ms": int((time.time() - started) * 1000), "time": started, "fault": fault is not None,
                    # a token request's scope, so that two tokens for different resources are not one request twice
                    "scope": req.form().get("scope") if host == LOGIN and self.command == "POST" else None,
                    # which body was sent (a digest, never the content): two POSTs to one URL with different bodies
                    # are two requests, the same body sent again is a repeat
                    "bodyDigest": hashlib.sha256(body).hexdigest()[:16] if body else None},
                   generation)
        try:
            self.send_response(reply.status)
            headers = {"Content-Type": "application/json; charset=utf-8", "x-ms-request-id": str(uuid.uuid4())}
            headers.update(reply.headers)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass   # the client gave up waiting (a delayed answer past its timeout): nothing to tell it


@dataclass
class Request:
    method: str
    host: str
    path: str
    query: dict
    headers: dict
    body: bytes
    world: object

    def json(self):
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return {}

    def form(self):
        return {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}

    def bearer_claims(self):
        auth = self.headers.get("Authorization") or self.headers.get("authorization") or ""
        if not auth.lower().startswith("bearer "):
            return None
        return decode_jwt(auth.split(" ", 1)[1])


def route(req):
    if req.host == LOGIN:
        return login(req)
    if req.host == MANAGEMENT:
        return arm.route(req)
    if req.host == GRAPH:
        return graph.route(req)
    if req.world.registry_for_host(req.host) is not None:
        return dataplane.route(req)
    if req.world.cluster_for_host(req.host) is not None:
        return kube.route(req)
    return Reply(404, {"error": "unknown host {}".format(req.host)}, unknown=True)


# -- Entra ID -----------------------------------------------------------------------------------
def make_jwt(claims):
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return "{}.{}.{}".format(enc({"alg": "RS256", "typ": "JWT", "kid": "sim"}), enc(claims), "c2ln")


def decode_jwt(token):
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return None


def login(req):
    world = req.world
    m = re.match(r"^/([^/]+)/(v2\.0/)?\.well-known/openid-configuration$", req.path)
    if m:
        tenant = m.group(1)
        base = "https://{}/{}".format(LOGIN, tenant)
        return Reply(200, {
            "token_endpoint": base + "/oauth2/v2.0/token",
            "authorization_endpoint": base + "/oauth2/v2.0/authorize",
            "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
            "issuer": "https://{}/{}/v2.0".format(LOGIN, world.tenant_id),
            "jwks_uri": base + "/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "NA", "cloud_instance_name": "microsoftonline.com",
        })
    m = re.match(r"^/([^/]+)/oauth2/(v2\.0/)?token$", req.path)
    if m and req.method == "POST":
        form = req.form()
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if world.login_apps.get(client_id) != secret:
            return Reply(401, {"error": "invalid_client", "error_description":
                               "AADSTS7000215: Invalid client secret provided."})
        scope = form.get("scope", "https://management.azure.com/.default").split()[0]
        audience = scope[: -len("/.default")] if scope.endswith("/.default") else scope
        now = int(time.time())
        token = make_jwt({"aud": audience, "iss": "https://sts.windows.net/{}/".format(world.tenant_id),
                          "iat": now, "nbf": now, "exp": now + 3600, "appid": client_id,
                          "oid": world.login_object_ids.get(client_id, str(uuid.uuid5(uuid.NAMESPACE_OID, client_id))),
                          "tid": world.tenant_id, "sub": client_id, "idtyp": "app", "ver": "1.0",
                          "jti": str(uuid.uuid4())})
        return Reply(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                           "access_token": token})
    return Reply(404, {"error": "not_found"}, unknown=True)
