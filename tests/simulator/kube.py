"""The AKS cluster's Kubernetes API server: reads of the objects a scenario holds."""
import re

PLURALS = {"Pod": "pods", "Event": "events", "Secret": "secrets", "ServiceAccount": "serviceaccounts",
           "Node": "nodes", "Namespace": "namespaces", "ConfigMap": "configmaps"}
CLUSTER_SCOPED = {"Node", "Namespace"}


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


def route(req):
    cluster = req.world.cluster_for_host(req.host)
    token = req.world.kube_tokens.get(req.host)
    auth = req.headers.get("Authorization") or req.headers.get("authorization") or ""
    if auth != "Bearer " + str(token):
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
        items = [o for p, o in sorted(objects.items()) if p.rsplit("/", 1)[0] == path
                 and _selected(o, req.query.get("fieldSelector"), req.query.get("labelSelector"))]
        kind = next(k for k, v in PLURALS.items() if v == m.group(4))
        return _reply(200, {"kind": kind + "List", "apiVersion": "v1", "metadata": {"resourceVersion": "12345"},
                            "items": items})
    m = re.match(r"^/api/v1/namespaces/([^/]+)/([a-z]+)/([^/]+)$", path)
    if m:
        return status(404, "NotFound", '{} "{}" not found'.format(m.group(2), m.group(3)))
    reply = status(404, "NotFound", "the server could not find the requested resource")
    reply.unknown = True
    return reply
