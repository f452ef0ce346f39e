"""The AKS cluster's Kubernetes API server: reads of the objects a scenario holds."""
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


def _selected(obj, field_selector, label_selector):
    for clause in filter(None, (field_selector or "").split(",")):
        key, _, value = clause.partition("=")
        if str(_field(obj, key.rstrip("!"))) != value:
            return False
    labels = obj.get("metadata", {}).get("labels") or {}
    for clause in filter(None, (label_selector or "").split(",")):
        key, _, value = clause.partition("=")
        if labels.get(key) != value:
            return False
    return True


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
    if path in objects:
        return _reply(200, objects[path])
    m = re.match(r"^(/api/v1|/apis/[^/]+/[^/]+)(/namespaces/([^/]+))?/([a-z]+)$", path)
    if m and m.group(4) in PLURALS.values():
        # a list without a namespace holds every namespace's objects of that kind, as the API server's does
        items = [o for p, o in sorted(objects.items()) if (p.rsplit("/", 1)[0] == path or (
                 not m.group(2) and re.match(r"^{}/namespaces/[^/]+/{}$".format(re.escape(m.group(1)), m.group(4)),
                                             p.rsplit("/", 1)[0])))
                 and _selected(o, req.query.get("fieldSelector"), req.query.get("labelSelector"))]
        items += [o for o in _other_event_view(objects, path)
                  if _selected(o, req.query.get("fieldSelector"), req.query.get("labelSelector"))]
        kind = next(k for k, v in PLURALS.items() if v == m.group(4))
        return _reply(200, {"kind": kind + "List", "apiVersion": "v1", "metadata": {"resourceVersion": "12345"},
                            "items": items})
    m = re.match(r"^/api/v1/namespaces/([^/]+)/([a-z]+)/([^/]+)$", path)
    if m:
        return status(404, "NotFound", '{} "{}" not found'.format(m.group(2), m.group(3)))
    m = re.match(r"^/api/v1/namespaces/([^/]+)$", path)
    if m:   # a namespace exists when it is one every cluster has, or when an object lives in it
        name = m.group(1)
        if name in BUILTIN_NAMESPACES or any((o.get("metadata") or {}).get("namespace") == name
                                             for o in objects.values()):
            return _reply(200, {"kind": "Namespace", "apiVersion": "v1", "metadata": {
                "name": name, "uid": "ns-" + name, "resourceVersion": "1", "creationTimestamp": "2026-11-20T08:00:00Z",
                "labels": {"kubernetes.io/metadata.name": name}}, "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}})
        return status(404, "NotFound", 'namespaces "{}" not found'.format(name))
    m = re.match(r"^/api/v1/(nodes|namespaces)/([^/]+)$", path)
    if m:
        return status(404, "NotFound", '{} "{}" not found'.format(m.group(1), m.group(2)))
    reply = status(404, "NotFound", "the server could not find the requested resource")
    reply.unknown = True
    return reply
