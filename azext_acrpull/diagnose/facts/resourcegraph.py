"""Bulk reads for `fleet`: Azure Resource Graph queries, Microsoft Graph in batches, and the few direct reads
Resource Graph does not cover (private DNS record sets).

Requests go through az's own login (a token from ``Profile.get_raw_token`` for the cloud's resource manager or
Microsoft Graph), the cloud's endpoints, and the proxies and CA bundle that az honours (``REQUESTS_CA_BUNDLE``,
``HTTPS_PROXY``: requests' environment settings, as ``az rest`` merges them). Unlike ``az rest``, bodies are never
logged at --debug: a page is a thousand resources, and Graph answers carry credential metadata. Only the request
line, the status and the row count are.

Resource Graph allows a user a quota of requests per window (15 per 5 seconds by default) and says in every answer
how many are left (``x-ms-user-quota-remaining``) and when the window resets (``x-ms-user-quota-resets-after``).
All queries of a run share one ``Quota``: a request waits when the quota is spent instead of drawing a 429, and a
429 waits for the reset and tries again. A query that keeps failing (5xx) must not starve the others: its retries
yield the quota to the first attempts of other queries and stop short of --timeout, leaving the rest of the run
time to read what the checks still need; it then fails alone, and only the checks that need it say Error.
"""
import json
import sys
import threading
import time
import uuid

from knack.log import get_logger

from ..deadline import NO_DEADLINE
from .base import FactError
from .transport import CONNECT_TIMEOUT, GRACE, TokenGuard

logger = get_logger(__name__)

ARG_API = "2022-10-01"
PAGE_SIZE = 1000
GRAPH_BATCH = 20          # Microsoft Graph's limit of requests in one $batch
GET_BY_IDS = 1000         # directoryObjects/getByIds takes up to 1000 ids
TIMEOUT = 60
RETRIES = 6
TRANSIENT = (500, 502, 503, 504)
# A failing query's retries (backoff pauses and quota waits) stop this share of --timeout before it ends, at most
# RETRY_RESERVE_MAX seconds: what is left is for the reads that follow the bulk queries (the checks' own).
RETRY_RESERVE = 0.25
RETRY_RESERVE_MAX = 30.0


# Fields of Resource Graph rows that no check reads: dropped as a page is parsed, so that a fleet of 10,000 clusters
# does not hold them (etags, GUIDs, audit stamps, versions, address families, the scale sets' OS and disk profiles,
# the clusters' pod and service ranges). A check that comes to read one of them takes it off this list.
UNREAD_FIELDS = frozenset((
    "etag", "resourceGuid", "createdBy", "updatedBy", "updatedOn", "timeCreated", "uniqueId", "nodeImageVersion",
    "osProfile", "storageProfile", "upgradeSettings", "upgradePolicy", "azurePortalFQDN",
    "delegatedManagedIdentityResourceId", "kubernetesVersion", "currentKubernetesVersion", "orchestratorVersion",
    "currentOrchestratorVersion", "powerState", "maxPods", "enableAutoScaling", "podCidr", "podCidrs", "serviceCidr",
    "serviceCidrs", "dnsServiceIP", "ipFamilies", "allocatedOutboundPorts", "oidcIssuerProfile", "enableRBAC",
    "disableLocalAccounts", "networkDataplane", "networkPluginMode", "enableAcceleratedNetworking",
    "privateIPAddressVersion", "publicIPAddressVersion", "publicIPAllocationMethod", "ddosSettings",
    "enableDdosProtection", "privateLinkServiceNetworkPolicies", "sourcePortRange", "sourcePortRanges",
    "computerNamePrefix", "orchestrationMode", "platformFaultDomainCount", "singlePlacementGroup", "overprovision",
    "supportPlan", "kubeletDiskType", "enableFIPS", "ipTags", "idleTimeoutInMinutes"))
# Strings repeat across rows (regions, states and SKUs; and ids: a scale set names its subnet and identity, which their
# own rows and the cluster name again): one copy of each is kept.


def compact_row(obj):
    """``json`` object hook for Resource Graph pages: drops ``UNREAD_FIELDS``, keeps of an NSG's default rules only
    the outbound ones (the only direction a pull's path takes: netpath.nsg_rule_for), and shares one copy of each
    string value."""
    if not UNREAD_FIELDS.isdisjoint(obj):
        for key in UNREAD_FIELDS.intersection(obj):
            del obj[key]
    if "defaultSecurityRules" in obj and isinstance(obj["defaultSecurityRules"], list):
        obj["defaultSecurityRules"] = [r for r in obj["defaultSecurityRules"] if not isinstance(r, dict) or str(
            (r.get("properties") or {}).get("direction") or "outbound").lower() == "outbound"]
    intern = sys.intern
    for key, value in obj.items():
        if value.__class__ is str:
            obj[key] = intern(value)
    return obj


def _parse_resets_after(value):
    """Seconds from 'hh:mm:ss' (Resource Graph's format), or None."""
    try:
        h, m, s = (float(p) for p in str(value).split(":"))
        return h * 3600 + m * 60 + s
    except (TypeError, ValueError):
        return None


def _retry_after(headers):
    for name in ("x-ms-user-quota-resets-after", "Retry-After"):
        raw = headers.get(name)
        if raw is None:
            continue
        seconds = _parse_resets_after(raw) if ":" in str(raw) else None
        if seconds is None:
            try:
                seconds = float(raw)
            except (TypeError, ValueError):
                continue
        return max(0.0, seconds)
    return None


class Quota:
    """Resource Graph's per-user quota as the service reports it, shared by concurrent queries.

    Within a window, a request goes while the last reported remainder, less the requests still in flight, is
    positive. At the start of a window (before any answer says what is left) at most the quota's limit goes: 15,
    Resource Graph's default, until the answers tell the real one (remainder plus the answers of the window). When
    nothing is left, requests wait for the reset; a 429 says the same and is tried again after it. A window no
    answer has spoken of (its requests all failed without the quota headers) ends ``WINDOW`` seconds after its first
    request, as the service's does, rather than never. Retries of failed queries come after first attempts."""

    DEFAULT_LIMIT = 15
    WINDOW = 5.0                 # Resource Graph's default window

    def __init__(self, clock=time.monotonic, deadline=None):
        self._deadline = deadline or NO_DEADLINE
        self._cond = threading.Condition()
        self._clock = clock
        self._remaining = None       # what the last answer of this window said is left
        self._resets_at = None       # when the window the answers speak of ends
        self._in_flight = 0
        self._opened = None          # when the first request of this window was sent
        self._first_waiting = 0      # first attempts waiting for the quota: retries do not take it from them
        self._sent = 0               # requests sent in this window
        self._answered = 0           # answers in this window
        self.limit = self.DEFAULT_LIMIT
        self._window_limit = None
        self.waited = 0.0
        self.throttled = 0

    def _roll(self, now):
        ends = self._resets_at
        if ends is None and self._opened is not None:
            ends = self._opened + self.WINDOW
        if ends is not None and now >= ends:
            self._remaining, self._resets_at, self._sent, self._answered = None, None, 0, 0
            self._window_limit, self._opened = None, None

    def _free(self):
        """Requests that may go now."""
        if self._remaining is not None:
            return self._remaining - self._in_flight
        return self.limit - self._sent

    def acquire(self, retry=False, reserve=0.0):
        """Wait for the quota and take one request of it. ``retry``: the request tries again a query that failed; it
        goes only ahead of no waiting first attempt, and waits neither behind one nor into the last ``reserve``
        seconds of the deadline: False then (the caller gives the query up), True when taken."""
        with self._cond:
            queued = False
            try:
                while True:
                    now = self._clock()
                    self._roll(now)
                    free = self._free()
                    if free > (self._first_waiting if retry else 0):
                        self._in_flight += 1
                        self._sent += 1
                        if self._opened is None:
                            self._opened = now
                        return True
                    if retry and (self._first_waiting or self._deadline.remaining() <= reserve):
                        return False
                    if self._deadline.expired:
                        raise FactError("Azure Resource Graph's quota did not free up {}".format(
                            self._deadline.words()))
                    if not retry and not queued:
                        queued = True
                        self._first_waiting += 1
                    ends = self._resets_at if self._resets_at is not None else (
                        self._opened + self.WINDOW if self._opened is not None else None)
                    pause = (ends - now) if ends is not None else 1.0
                    pause = min(pause, self._deadline.remaining() - (reserve if retry else 0.0))
                    self._cond.wait(max(0.01, pause))
                    self.waited += self._clock() - now
            finally:
                if queued:
                    self._first_waiting -= 1
                    self._cond.notify_all()

    def update(self, status, headers):
        with self._cond:
            now = self._clock()
            self._roll(now)
            self._in_flight = max(0, self._in_flight - 1)
            remaining = headers.get("x-ms-user-quota-remaining")
            resets = _retry_after({"x-ms-user-quota-resets-after": headers.get("x-ms-user-quota-resets-after")})
            try:
                remaining = int(remaining) if remaining is not None else None
            except (TypeError, ValueError):
                remaining = None
            if status == 429:
                self.throttled += 1
                remaining = 0
                if resets is None:
                    resets = _retry_after(headers)
                resets = 5.0 if resets is None else resets
            elif status is not None and status < 400:
                self._answered += 1
                if remaining is not None:
                    # Answers can arrive out of order (a large page sent first comes back last, with the remainder
                    # of its time): within a window the smallest figures are the true ones.
                    guess = max(1, remaining + self._answered)
                    self._window_limit = guess if self._window_limit is None else min(self._window_limit, guess)
                    self.limit = self._window_limit
            if remaining is not None:
                self._remaining = remaining if self._remaining is None else min(self._remaining, remaining)
            if resets is not None:
                self._resets_at = now + resets
            self._cond.notify_all()


class Stats:
    """What a fleet run asked for: requests by kind, Resource Graph pages, time spent waiting for the quota."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests = {}
        self.rows = 0

    def count(self, kind, rows=0):
        with self._lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1
            self.rows += rows

    def total(self):
        return sum(self.requests.values())


class AzureRest:
    """Minimal authenticated JSON requests to ARM and Microsoft Graph, as az would send them."""

    def __init__(self, cli_ctx, deadline=None, tokens=None):
        """``tokens``: the TokenGuard of a run that shares az's tokens with other readers (a failure it remembers is
        not asked for again)."""
        import requests
        from requests.adapters import HTTPAdapter
        self.cli_ctx = cli_ctx
        self.deadline = deadline or NO_DEADLINE      # --timeout: no request or wait goes past it
        endpoints = cli_ctx.cloud.endpoints
        self.arm = endpoints.resource_manager.rstrip("/")
        self.arm_resource = endpoints.active_directory_resource_id
        self.graph_resource = endpoints.microsoft_graph_resource_id
        self.graph = self.graph_resource.rstrip("/")
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self._session.mount("https://", adapter)
        self._token_lock = threading.Lock()
        self._guard = tokens or TokenGuard(self.deadline)
        self.stats = Stats()

    def _token(self, resource):
        # az's token through the run's TokenGuard (kept while it has time left): msal's request bounded, transient
        # failures retried, a failure a FactError that names Entra ID (and asks for `az login` when the sign-in was
        # refused). Concurrent first queries wait here for one fetch.
        with self._token_lock:
            token, _ = self._guard.raw_token(self.cli_ctx, resource)
        return "Bearer " + token

    def send(self, method, url, resource, body=None, kind="arm", object_hook=None):
        """(status, headers, parsed JSON or None), objects passed through ``object_hook`` as they are parsed. Network
        failures raise FactError."""
        import requests
        from azure.cli.core.util import get_az_user_agent, should_disable_connection_verify
        headers = {"Authorization": self._token(resource), "User-Agent": get_az_user_agent(),
                   "x-ms-client-request-id": str(uuid.uuid4()), "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        settings = self._session.merge_environment_settings(url, {}, None, not should_disable_connection_verify(),
                                                            None)
        where = url.split("?")[0]
        if self.deadline.expired:
            raise FactError("{} was not asked: the fleet did not finish {}".format(where, self.deadline.words()))
        started = time.time()
        try:
            response = self._session.request(method, url, data=data, headers=headers,
                                             timeout=(min(CONNECT_TIMEOUT, self.deadline.remaining() + GRACE),
                                                      min(TIMEOUT, self.deadline.remaining() + GRACE)), **settings)
        except requests.RequestException as err:
            if self.deadline.expired:
                raise FactError("timed out reading {}: it did not answer {}".format(where, self.deadline.words()),
                                fault=True) from None
            raise FactError("could not reach {} ({})".format(where, type(err).__name__),
                            fault=isinstance(err, requests.exceptions.Timeout)) from None
        self.stats.count(kind)
        try:
            parsed = json.loads(response.content, object_hook=object_hook) if response.content else None
        except ValueError:
            parsed = None
        logger.debug("%s %s -> HTTP %s in %.0f ms", method, url.split("?")[0], response.status_code,
                     (time.time() - started) * 1000)
        return response.status_code, response.headers, parsed

    def pause(self, seconds):
        """Wait before a retry, never past the deadline (the next send then says what did not finish)."""
        time.sleep(max(0.0, min(seconds, self.deadline.remaining())))


def _error_message(body, status):
    error = (body or {}).get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        details = [d.get("message") for d in error.get("details") or [] if isinstance(d, dict) and d.get("message")]
        return (details[0] if details else error.get("message")) or error.get("code") or "HTTP {}".format(status)
    return "HTTP {}".format(status)


class ResourceGraph:
    """Resource Graph queries, every page of each, within the user's quota."""

    def __init__(self, rest, quota=None, tries=RETRIES):
        self.rest = rest
        self.quota = quota or Quota(deadline=rest.deadline)
        self.tries = tries          # attempts per page (1: a hint that is not worth waiting for)
        self.pages = 0
        self._lock = threading.Lock()

    def query(self, kql, subscriptions=None, management_groups=None, authorization_scope=None, what="resources"):
        """Every row of ``kql`` over the given scope (the whole tenant when neither is given)."""
        url = "{}/providers/Microsoft.ResourceGraph/resources?api-version={}".format(self.rest.arm, ARG_API)
        body = {"query": kql, "options": {"resultFormat": "objectArray", "$top": PAGE_SIZE}}
        if subscriptions:
            body["subscriptions"] = list(subscriptions)
        if management_groups:
            body["managementGroups"] = list(management_groups)
        if authorization_scope:
            body["options"]["authorizationScopeFilter"] = authorization_scope
        rows = []
        while True:
            result = self._page(url, body, what)
            data = result.get("data") or []
            if isinstance(data, dict):      # table format, should a proxy ask for it
                columns = [c.get("name") for c in data.get("columns") or []]
                data = [dict(zip(columns, r, strict=False)) for r in data.get("rows") or []]
            rows.extend(data)
            token = result.get("$skipToken")
            if not token or not data:
                break
            body["options"]["$skipToken"] = token
        if str(result.get("resultTruncated", "false")).lower() == "true":
            logger.warning("Resource Graph truncated the results of the query for %s.", what)
        return rows

    def _reserve(self):
        """Seconds of --timeout a failing query's retries leave to the rest of the run."""
        seconds = self.rest.deadline.seconds
        return 0.0 if seconds is None else min(RETRY_RESERVE_MAX, RETRY_RESERVE * seconds)

    def _page(self, url, body, what):
        retrying = False                 # the last answer was a transient failure: this is a retry
        status, result = None, None
        for attempt in range(self.tries):
            if not retrying:
                self.quota.acquire()
            elif not self.quota.acquire(retry=True, reserve=self._reserve()):
                raise _query_error(status, result, what, attempt)
            status, headers = None, {}
            try:
                status, headers, result = self.rest.send("POST", url, self.rest.arm_resource, body, kind="arg",
                                                         object_hook=compact_row)
            finally:
                self.quota.update(status, headers or {})
            if status == 200 and isinstance(result, dict):
                with self._lock:
                    self.pages += 1
                logger.debug("Resource Graph: %s page of %s rows (quota left %s)", what, result.get("count"),
                             headers.get("x-ms-user-quota-remaining"))
                return result
            retrying = status in TRANSIENT
            if status == 429:
                continue
            if retrying and attempt < self.tries - 1:
                pause = min(8.0, 0.5 * 2 ** attempt)
                if self.rest.deadline.remaining() - pause <= self._reserve():
                    raise _query_error(status, result, what, attempt + 1)
                self.rest.pause(pause)
                continue
            raise _query_error(status, result, what)
        raise FactError("Azure Resource Graph kept throttling the query for {} after {} tries".format(
            what, self.tries), 429)


def _query_error(status, result, what, tries=None):
    """The FactError of a query's last answer; ``tries``: how often it was sent before it was given up early, to
    leave the quota and the rest of --timeout to the other queries."""
    message = _error_message(result, status)
    if status in (401, 403):
        return FactError("the signed-in account may not query Azure Resource Graph for {} (HTTP {}): "
                         "{}".format(what, status, message), status)
    text = "Azure Resource Graph answered HTTP {} to the query for {}: {}".format(
        status, what, message if status != 200 else "an unreadable answer")
    if tries is not None:
        text += " (given up after {} {}: the other queries and checks come first)".format(
            tries, "try" if tries == 1 else "tries")
    return FactError(text, status, fault=True if status == 200 else None)


class GraphBatch:
    """Microsoft Graph look-ups in bulk: GETs in $batch requests of 20, directory objects by id in 1000s."""

    def __init__(self, rest, concurrency=8):
        self.rest = rest
        self.concurrency = concurrency

    def get_many(self, paths):
        """{path: (status, body)} for relative GET paths such as /applications?$filter=appId eq '...'."""
        from concurrent.futures import ThreadPoolExecutor
        paths = list(dict.fromkeys(paths))
        chunks = [paths[i:i + GRAPH_BATCH] for i in range(0, len(paths), GRAPH_BATCH)]
        results = {}
        if not chunks:
            return results
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(chunks)),
                                thread_name_prefix="acrpull-graph") as pool:
            for part in pool.map(self._batch, chunks):
                results.update(part)
        return results

    def _batch(self, paths):
        url = "{}/v1.0/$batch".format(self.rest.graph)
        pending = list(paths)
        results = {}
        for attempt in range(RETRIES):
            body = {"requests": [{"id": str(i), "method": "GET", "url": p} for i, p in enumerate(pending)]}
            status, headers, answer = self.rest.send("POST", url, self.rest.graph_resource, body, kind="graph")
            if status == 429 or status in TRANSIENT:
                self.rest.pause(min(8.0, _retry_after(headers) or 0.5 * 2 ** attempt))
                continue
            if status != 200 or not isinstance(answer, dict):
                raise _graph_error(status, answer, "{} look-up(s) in Microsoft Graph".format(len(pending)))
            retry, wait = [], 0.0
            for item in answer.get("responses") or []:
                try:
                    path = pending[int(item.get("id"))]
                except (TypeError, ValueError, IndexError):
                    continue
                sub_status = int(item.get("status") or 0)
                if sub_status == 429 or sub_status in TRANSIENT:
                    retry.append(path)
                    wait = max(wait, _retry_after(item.get("headers") or {}) or 0.5 * 2 ** attempt)
                    continue
                results[path] = (sub_status, item.get("body"))
            if not retry:
                return results
            pending = retry
            self.rest.pause(min(8.0, wait))
        for path in pending:
            results[path] = (429, None)
        return results

    def directory_objects(self, object_ids, types=("servicePrincipal", "user", "group")):
        """{object id (lower case): object} for the ids that exist."""
        url = "{}/v1.0/directoryObjects/getByIds".format(self.rest.graph)
        ids = sorted({i.lower() for i in object_ids if i})
        found = {}
        for start in range(0, len(ids), GET_BY_IDS):
            chunk = ids[start:start + GET_BY_IDS]
            for attempt in range(RETRIES):
                status, headers, answer = self.rest.send("POST", url, self.rest.graph_resource,
                                                         {"ids": chunk, "types": list(types)}, kind="graph")
                if (status == 429 or status in TRANSIENT) and attempt < RETRIES - 1:
                    self.rest.pause(min(8.0, _retry_after(headers) or 0.5 * 2 ** attempt))
                    continue
                break
            if status != 200 or not isinstance(answer, dict):
                raise _graph_error(status, answer, "{} directory object(s) in Microsoft Graph".format(len(chunk)))
            for obj in answer.get("value") or []:
                if isinstance(obj, dict) and obj.get("id"):
                    found[obj["id"].lower()] = obj
        return found


def _graph_error(status, body, what):
    message = _error_message(body, status)
    if status in (401, 403):
        return FactError("the signed-in account may not read {} (needs Application.Read.All or Directory.Read.All): "
                         "{}".format(what, message), status)
    return FactError("reading {} failed with HTTP {}: {}".format(what, status, message), status)


def graph_value(status, body, what):
    """The `value` list of a Graph collection answer from a batch, or FactError."""
    if status == 200 and isinstance(body, dict):
        return body.get("value") or []
    raise _graph_error(status, body, what)
