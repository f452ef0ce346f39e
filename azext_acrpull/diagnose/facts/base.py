"""The readers' common half: facts cached once per run, and the facts derived from other facts.

The facts a check may ask for are declared in ``contract.py``. ``Facts`` holds everything that is true whatever the
source: caching with one lock per fact (so concurrent checks never fetch the same resource twice), and facts derived
from other facts (the pull identity from the cluster). Subclasses say how raw facts are read: ``LiveFacts`` from ARM,
Graph, Kubernetes and the registry for one cluster; ``FleetFacts`` from a fleet's bulk data.
"""
import re
import threading
from contextlib import contextmanager

from .. import sources
from ..deadline import Deadline
from ..ids import id_name, parse_resource_id
from ..threads import call_all, join_started, start
from .contract import FactsContract

# The code of the FactError that says the --pod does not exist (a 404 from elsewhere, such as the cluster's
# credentials, says nothing about the pod).
POD_NOT_FOUND = "PodNotFound"
# A read that ends this close to the deadline was ended by it (its wait is bounded by what remains).
CUT_SLACK = 0.5
CLOSE_WAIT = 3.0     # seconds close() waits for reads begun early that are still on their way
ACR_PROVIDER = "/providers/microsoft.containerregistry/registries/"


class FactError(Exception):
    """A fact could not be read. Checks that need it report ``Error`` with this reason.

    ``fault`` marks a failure of the service itself (no answer in time, throttled after the retries, 5xx, an answer
    that cannot be read, no token issued): it says nothing about what was being read, so no check may turn it into
    a verdict, not even one about reachability. A refusal (403, 404) is an answer, and checks may judge it."""

    def __init__(self, reason, status_code=None, code=None, fault=None):
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.code = code            # the service's error code (ARM: ResourceGroupNotFound, ...), when it gave one
        self.fault = is_fault_status(status_code) if fault is None else fault


# ARM's answer to a token of another tenant than the subscription's: "The access token is from the wrong issuer
# 'https://sts.windows.net/<token's tenant>/'. It must match the tenant 'https://sts.windows.net/<its tenant>/' ..."
WRONG_TENANT = "InvalidAuthenticationTokenTenant"
_WRONG_ISSUER = re.compile(r"wrong issuer '?https://[^/']+/(?P<token>[0-9a-fA-F-]{36})/?'?.*?must match the tenant "
                           r"'?https://[^/']+/(?P<tenant>[0-9a-fA-F-]{36})/?'?", re.IGNORECASE)


def foreign_tenant(err):
    """(the token's tenant, the resource's tenant) when ARM refused a read with InvalidAuthenticationTokenTenant
    (a FactError of 401), else None."""
    if getattr(err, "status_code", None) != 401 or (getattr(err, "code", None) or "") != WRONG_TENANT:
        return None
    m = _WRONG_ISSUER.search(getattr(err, "reason", "") or str(err))
    return (m["token"].lower(), m["tenant"].lower()) if m else None


def is_fault_status(status_code):
    """HTTP statuses that say the service failed (or was too busy), not that the request was wrong."""
    return status_code is not None and (status_code in (408, 429) or status_code >= 500)


class Facts(FactsContract):
    """Named, cached facts about one cluster and the registries it pulls from: the contract's derived facts, and
    the services every reader gives checks (``once``, ``shared_once``, ``parallel``, ``prefetch``, the deadline)."""

    def __init__(self, request, max_workers=8):
        self.request = request
        self._cache = {}
        self._sources = {}          # key -> the sources (sources.py) its fetch read
        self._locks = {}
        self._guard = threading.Lock()
        self._max_workers = max_workers
        self._closers = []
        self._pending = {}
        self._cut = {}              # reads the deadline ended (insertion-ordered)
        # --timeout: reads and waits stop here (options["timeout"] seconds from now; no limit without it).
        self.deadline = Deadline((request.options or {}).get("timeout"))

    def on_close(self, func):
        self._closers.append(func)

    def close(self):
        join_started(min(CLOSE_WAIT, self.deadline.remaining()))   # the reads begun early, before what they use goes
        for func in self._closers:
            func()

    @contextmanager
    def reading(self, what):
        """Mark a read as in flight, so that a check cut off by the deadline can say what it waited for."""
        token = object()
        with self._guard:
            self._pending[token] = what
        try:
            yield
        finally:
            with self._guard:
                self._pending.pop(token, None)
                if self.deadline.remaining() <= CUT_SLACK:
                    # Ended by the deadline itself (its own wait was bounded by it): a check that waited on it
                    # still says what it waited for, even when this read let go a moment before the runner did.
                    self._cut.setdefault(what, None)

    def pending_reads(self):
        with self._guard:
            return list(dict.fromkeys(list(self._pending.values()) + list(self._cut)))

    # -- caching ------------------------------------------------------------------------------
    def once(self, key, fetch):
        """Run ``fetch`` once per key for the whole run; errors are cached too, so a failing
        call is not repeated by every check that needs it."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                read, token = sources.begin()   # what this fact was read from, told to every check that asks
                try:
                    self._cache[key] = (True, fetch())
                except FactError as err:
                    self._cache[key] = (False, err)
                finally:
                    sources.end(token)
                self._sources[key] = frozenset(read)
        sources.note(*self._sources.get(key, ()))
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value

    def shared_once(self, key, fetch):
        """``once`` for a fact that is the same for every cluster of a run: one cluster here; a bulk reader shares
        it between its clusters."""
        return self.once(key, fetch)

    def prime(self, key, value):
        """Store a fact read elsewhere (a bulk read, or a list that already held the resource)."""
        with self._guard:
            self._cache.setdefault(key, (True, value))

    def parallel(self, func, items):
        """Map over independent reads concurrently; results in input order, errors as values."""
        items = list(items)
        if len(items) <= 1:
            return [_capture(func, i) for i in items]
        outcomes = call_all([lambda i=i: _capture(func, i) for i in items], self.deadline, self._max_workers,
                            "acrpull-fact")
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        waiting = "; ".join(self.pending_reads()[:3]) or "its data"
        return [o.value if o.done else FactError("timed out reading {}: the read did not finish {}".format(
            waiting, self.deadline.words()), fault=True) for o in outcomes]

    def prefetch(self, *reads):
        """Start independent reads now and return at once (e.g. the cluster and the registry, which
        do not wait for each other). Whoever asks for the same fact later waits on its ``once`` lock
        instead of fetching it again, so a prefetch only moves a read earlier; its errors surface where
        the fact is used. Keep it to a few reads: each takes a thread of its own."""
        for read in reads:
            start(read, "acrpull-prefetch")

    # -- derived facts ------------------------------------------------------------------------
    @property
    def cluster_name(self):
        return self.request.name

    @property
    def cluster_resource_group(self):
        return self.request.resource_group

    def pull_identity(self):
        """Who the nodes pull as: the kubelet identity, or the cluster's service principal."""
        return self.once("pull_identity", self._pull_identity)

    def _pull_identity(self):
        cluster = self.cluster()
        props = cluster.get("properties", {})
        kubelet = (props.get("identityProfile") or {}).get("kubeletidentity")
        sp_client_id = (props.get("servicePrincipalProfile") or {}).get("clientId")
        if kubelet and kubelet.get("objectId"):
            return {"kind": "kubeletIdentity", "objectId": kubelet.get("objectId"),
                    "clientId": kubelet.get("clientId"), "resourceId": kubelet.get("resourceId"),
                    "name": id_name(kubelet.get("resourceId"))}
        if sp_client_id and sp_client_id.lower() != "msi":
            sp = self.service_principal(sp_client_id)
            return {"kind": "servicePrincipal", "clientId": sp_client_id,
                    "objectId": (sp or {}).get("id"), "name": (sp or {}).get("displayName") or sp_client_id,
                    "exists": sp is not None}
        raise FactError("the cluster has neither a kubelet identity nor a service principal in its profile")

    def registry_lookups(self):
        return self.once("registry_lookups", self._registry_lookups)

    def _registry_lookups(self):
        """Which registries this run is about, and whether each exists.

        In order: --acr; the ACR hosts of --image/--pod images (fleet names none); the registries on which the
        pull identity holds a role (an engineer asking 'why can't my cluster pull' rarely knows the registry's
        resource id). Which subscriptions the roles are looked for in is the reader's."""
        spec = self.request.registry
        if spec is not None:
            return [self._lookup(spec)]
        hosts = self.registry_names_from_images()
        if hosts:
            return [self._lookup(("name", n)) for n in hosts]
        identity = self.pull_identity()
        if not identity.get("objectId"):
            return []
        seen, found = set(), []
        for assignment in self.principal_role_assignments(identity["objectId"]):
            scope = (assignment.get("properties") or {}).get("scope") or ""
            key = scope.lower().rstrip("/")
            if ACR_PROVIDER in key and key not in seen:
                seen.add(key)
                found.append(self._lookup(("id", scope)))
        return found

    def _lookup(self, spec):
        kind, value = spec
        if kind != "id":
            return {"name": value, "given": value, "registry": self.registry_by_name(value)}
        name = parse_resource_id(value).name
        try:
            registry = self.registry_by_id(value)
        except FactError as err:
            tenants = foreign_tenant(err)
            if not tenants:
                raise
            # B.tenant: ARM names the registry subscription's tenant; the registry itself cannot be read.
            return {"name": name, "given": value, "registry": None, "tenant": tenants[1], "tokenTenant": tenants[0],
                    "reason": err.reason}
        return {"name": name, "given": value, "registry": registry}

    def registries(self):
        return [lk["registry"] for lk in self.registry_lookups() if lk["registry"]]

    def node_pools(self):
        return list(self.cluster().get("properties", {}).get("agentPoolProfiles") or [])

    def node_resource_group(self):
        return self.cluster().get("properties", {}).get("nodeResourceGroup")

    def cluster_subscription(self):
        rid = parse_resource_id(self.cluster().get("id"))
        return rid.subscription if rid else None

    def service_principal_clusters(self):
        """The clusters (ids) that run as each service principal, by appId (lower case), across every subscription
        the account can read, and the subscriptions whose clusters could not be read. Asked only when a pull
        role points at a principal some evidence ties to this cluster: another cluster that runs as it clears it."""
        return self.shared_once("service_principal_clusters", self._service_principal_clusters)

    def _service_principal_clusters(self):
        subs = self.readable_subscriptions()
        found = self.parallel(self.clusters_in_subscription, subs)
        by_app, unreadable = {}, []
        for sub, clusters in zip(subs, found, strict=True):
            if isinstance(clusters, FactError):
                unreadable.append({"subscription": sub, "reason": clusters.reason})
                continue
            for cluster in clusters or []:
                client_id = (((cluster.get("properties") or {}).get("servicePrincipalProfile") or {})
                             .get("clientId") or "").lower()
                if client_id and client_id != "msi":
                    by_app.setdefault(client_id, []).append(cluster["id"])
        return {"byAppId": by_app, "unreadable": unreadable}


def _capture(func, item):
    try:
        return func(item)
    except FactError as err:
        return err

