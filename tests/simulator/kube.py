"""The AKS cluster's Kubernetes API server: reads of the objects a scenario holds.

Lists are served as the API server serves them: across namespaces or in one, filtered by field and label
selectors (=, ==, !=), paged with limit and an opaque continue token, written compactly with items that carry
no kind or apiVersion. A caller's Kubernetes RBAC can be narrowed per resource and namespace (``readable``): a
read outside it is answered 403 Forbidden with the API server's message.
"""
import json
import re

PLURALS = {"Pod": "pods", "Event": "events", "Secret": "secrets", "ServiceAccount": "serviceaccounts",
           "Node": "nodes", "Namespace": "namespaces", "ConfigMap": "configmaps", "ReplicaSet": "replicasets",
           "Deployment": "deployments", "Job": "jobs", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
CLUSTER_SCOPED = {"Node", "Namespace"}
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _reply(*args, **kwargs):
    from .server import Reply
    return Reply(*args, **kwargs)


def object_path(obj):
    """Where the API server serves an object, from its apiVersion, kind, namespace and name."""
    api = obj.get("apiVersion", "v1")
    base = "/api/v1" if api == "v1" else "/apis/" + api
    plural = PLURALS[obj["kind"]]
    meta = obj["metadata"]
    if obj["kind"] in CLUSTER_SCOPED:
        return "{}/{}/{}".format(base, plural, meta["name"])
    return "{}/namespaces/{}/{}/{}".format(base, meta.get("namespace", "default"), plural, meta["name"])


def _field(obj, dotted):
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _clauses(selector):
    """(key, operator, value) of each clause of a field or equality-based label selector: k=v, k==v, k!=v, and for
    labels k and !k (exists, does not exist)."""
    for clause in filter(None, (c.strip() for c in (selector or "").split(","))):
        if "!=" in clause:
            key, _, value = clause.partition("!=")
            yield key, "!=", value
        elif "=" in clause:
            key, _, value = clause.partition("==") if "==" in clause else clause.partition("=")
            yield key, "=", value
        elif clause.startswith("!"):
            yield clause[1:], "absent", None
        else:
            yield clause, "exists", None


def _selected(obj, field_selector, label_selector):
    for key, op, value in _clauses(field_selector):
        if (str(_field(obj, key)) == value) != (op == "="):
            return False
    labels = obj.get("metadata", {}).get("labels") or {}
    for key, op, value in _clauses(label_selector):
        if op in ("exists", "absent"):
            if (key in labels) != (op == "exists"):
                return False
        elif (labels.get(key) == value) != (op == "="):
            return False
    return True


def forbidden(cluster, path):
    """The 403 Status for a caller whose Kubernetes RBAC does not cover ``path``, or None. ``cluster["readable"]``
    maps a resource (plural) to the namespaces the caller may read it in ("*": every namespace, and the cluster
    scope); a resource it does not name is readable everywhere."""
    m = re.match(r"^(?:/api/v1|/apis/([^/]+)/[^/]+)(?:/namespaces/([^/]+))?/([a-z]+)(?:/([^/]+))?$", path)
    readable = cluster.get("readable") or {}
    if not m or m.group(3) not in readable:
        return None
    group, namespace, resource, name = m.group(1) or "", m.group(2), m.group(3), m.group(4)
    allowed = readable[resource]
    if "*" in allowed or (namespace is not None and namespace in allowed):
        return None
    where = 'in the namespace "{}"'.format(namespace) if namespace else "at the cluster scope"
    return status(403, "Forbidden", '{}{} is forbidden: User "{}" cannot {} resource "{}" in API group "{}" {}'.format(
        resource, ' "{}"'.format(name) if name else "", "acrpull-sim-user", "get" if name else "list", resource,
        group, where))


def _page(items, query):
    """limit/continue paging as the API server does it: an opaque continue token and remainingItemCount."""
    import base64
    import json
    start = 0
    if query.get("continue"):
        try:
            start = json.loads(base64.b64decode(query["continue"]))["start"]
        except (ValueError, KeyError, TypeError):
            return None, status(400, "BadRequest", "continue key is not valid: illegal base64 data")
    limit = int(query.get("limit") or 0)
    if limit <= 0:
        return {"resourceVersion": "12345"}, items[start:]
    meta = {"resourceVersion": "12345"}
    if start + limit < len(items):
        meta["continue"] = base64.b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": 12345,
                                                        "start": start + limit}).encode()).decode()
        meta["remainingItemCount"] = len(items) - start - limit
    return meta, items[start:start + limit]


def status(code, reason, message):
    return _reply(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                         "message": message, "reason": reason, "code": code})


def _entra_user(req, cluster):
    """An Entra ID cluster accepts a token of its tenant for the AKS server application (what kubelogin gets)."""
    from .world import AKS_SERVER_APP
    resource = req.world.arm.get(cluster["cluster"].lower()) or {}
    if not resource.get("properties", {}).get("aadProfile"):
        return False
    claims = req.bearer_claims() or {}
    return claims.get("aud") == AKS_SERVER_APP and claims.get("tid") == req.world.tenant_id


_EVENT_APIS = ("/api/v1", "/apis/events.k8s.io/v1")


def _other_event_view(objects, path):
    """Events stored in one event API's shape, as the other API serves them (the API server keeps one store)."""
    api = next((a for a in _EVENT_APIS if path.startswith(a + "/") and path.endswith("/events")), None)
    if api is None:
        return []
    other = _EVENT_APIS[1 - _EVENT_APIS.index(api)]
    prefix = other + path[len(api):]
    convert = as_events_v1 if api == _EVENT_APIS[1] else as_core_event
    everywhere = re.compile(r"^{}/namespaces/[^/]+/events$".format(re.escape(other)))
    return [convert(o) for p, o in sorted(objects.items()) if p.rsplit("/", 1)[0] == prefix
            or (prefix == other + "/events" and everywhere.match(p.rsplit("/", 1)[0]))]


def as_events_v1(event):
    """A core v1 Event as events.k8s.io/v1 serves it."""
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": event["metadata"],
            "eventTime": event.get("eventTime"), "reportingController": event.get("reportingComponent") or
            (event.get("source") or {}).get("component"), "reportingInstance": event.get("reportingInstance") or
            (event.get("source") or {}).get("host"), "action": event.get("action"), "reason": event.get("reason"),
            "regarding": event.get("involvedObject"), "note": event.get("message"), "type": event.get("type"),
            "deprecatedSource": event.get("source"), "deprecatedFirstTimestamp": event.get("firstTimestamp"),
            "deprecatedLastTimestamp": event.get("lastTimestamp"), "deprecatedCount": event.get("count")}


def as_core_event(event):
    """An events.k8s.io/v1 Event as the core v1 API serves it."""
    series = event.get("series") or {}
    return {"apiVersion": "v1", "kind": "Event", "metadata": event["metadata"],
            "involvedObject": event.get("regarding"), "reason": event.get("reason"), "message": event.get("note"),
            "source": event.get("deprecatedSource") or {"component": event.get("reportingController"),
                                                        "host": event.get("reportingInstance")},
            "firstTimestamp": event.get("deprecatedFirstTimestamp"),
            "lastTimestamp": event.get("deprecatedLastTimestamp") or series.get("lastObservedTime"),
            "count": event.get("deprecatedCount") or series.get("count") or 1, "type": event.get("type"),
            "eventTime": event.get("eventTime"), "series": event.get("series"), "action": event.get("action"),
            "reportingComponent": event.get("reportingController"), "reportingInstance": event.get("reportingInstance")}


def _namespaces(objects):
    found = {(o.get("metadata") or {}).get("namespace") for o in objects.values()}
    return sorted(set(BUILTIN_NAMESPACES) | {n for n in found if n})


def _namespace(name):
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": {
        "name": name, "uid": "ns-" + name, "resourceVersion": "1", "creationTimestamp": "2026-11-20T08:00:00Z",
        "labels": {"kubernetes.io/metadata.name": name}}, "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"}}


def route(req):
    cluster = req.world.cluster_for_host(req.host)
    token = req.world.kube_tokens.get(req.host)
    auth = req.headers.get("Authorization") or req.headers.get("authorization") or ""
    if auth != "Bearer " + str(token) and not _entra_user(req, cluster):
        return status(401, "Unauthorized", "Unauthorized")
    if req.method != "GET":
        reply = status(405, "MethodNotAllowed", "the simulated API server only reads")
        reply.write = True
        return reply
    objects = cluster["objects"]
    path = req.path.rstrip("/")
    denied = forbidden(cluster, path)
    if denied is not None:
        return denied
    if path in objects:
        return _reply(200, objects[path])
    m = re.match(r"^(/api/v1|/apis/[^/]+/[^/]+)(/namespaces/([^/]+))?/([a-z]+)$", path)
    if m and m.group(4) in PLURALS.values():
        plural = m.group(4)
        if m.group(2) is None and plural not in ("nodes", "namespaces"):   # every namespace's objects of a kind
            stored = [o for p, o in sorted(objects.items()) if p.startswith(m.group(1) + "/namespaces/")
                      and p.rsplit("/", 2)[1] == plural]
        else:
            stored = [o for p, o in sorted(objects.items()) if p.rsplit("/", 1)[0] == path]
        if plural == "namespaces" and m.group(2) is None:
            stored = [_namespace(n) for n in _namespaces(objects)]
        items = [o for o in stored + _other_event_view(objects, path)
                 if _selected(o, req.query.get("fieldSelector"), req.query.get("labelSelector"))]
        meta, items = _page(items, req.query)
        if meta is None:
            return items
        kind = next(k for k, v in PLURALS.items() if v == plural)
        api = m.group(1)[len("/apis/"):] if m.group(1).startswith("/apis/") else "v1"
        # The API server writes lists compactly, and their items without kind and apiVersion.
        body = {"kind": kind + "List", "apiVersion": api, "metadata": meta,
                "items": [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]}
        return _reply(200, body, raw=json.dumps(body, separators=(",", ":")).encode())
    m = re.match(r"^/api/v1/namespaces/([^/]+)/([a-z]+)/([^/]+)$", path)
    if m:
        return status(404, "NotFound", '{} "{}" not found'.format(m.group(2), m.group(3)))
    m = re.match(r"^/api/v1/namespaces/([^/]+)$", path)
    if m:   # a namespace exists when it is one every cluster has, or when an object lives in it
        name = m.group(1)
        if name in _namespaces(objects):
            return _reply(200, _namespace(name))
        return status(404, "NotFound", 'namespaces "{}" not found'.format(name))
    m = re.match(r"^/api/v1/(nodes|namespaces)/([^/]+)$", path)
    if m:
        return status(404, "NotFound", '{} "{}" not found'.format(m.group(1), m.group(2)))
    reply = status(404, "NotFound", "the server could not find the requested resource")
    reply.unknown = True
    return reply
