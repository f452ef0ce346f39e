"""The AKS cluster's Kubernetes API server: reads of the objects a scenario holds."""


def _reply(*args, **kwargs):
    from .server import Reply
    return Reply(*args, **kwargs)


def route(req):
    cluster = req.world.cluster_for_host(req.host)
    token = req.world.kube_tokens.get(req.host)
    auth = req.headers.get("Authorization") or req.headers.get("authorization") or ""
    if auth != "Bearer " + str(token):
        return _reply(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    obj = cluster["objects"].get(req.path)
    if obj is not None and req.method == "GET":
        return _reply(200, obj)
    return _reply(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "the server could not find the requested resource", "reason": "NotFound",
                        "code": 404}, unknown=obj is None and req.method != "GET",
                  write=req.method not in ("GET", "HEAD"))
