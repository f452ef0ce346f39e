"""Microsoft Graph v1.0: service principals and applications, read-only look-ups."""
import re


def _reply(*args, **kwargs):
    from .server import Reply
    return Reply(*args, **kwargs)


def _matches(obj, odata_filter):
    if not odata_filter:
        return True
    m = re.match(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", odata_filter)
    if m:
        return str(obj.get(m.group(1), "")).lower() == m.group(2).lower()
    m = re.match(r"^\s*(\w+)/any\(\w+:\w+\s+eq\s+'([^']*)'\)\s*$", odata_filter)
    if m:
        return m.group(2).lower() in [str(v).lower() for v in obj.get(m.group(1), [])]
    return False


def batch(req):
    """POST /v1.0/$batch: up to 20 requests answered one by one; only GETs (anything else is refused, as a
    diagnosis must not write)."""
    from urllib.parse import parse_qs, unquote, urlsplit

    from .server import Request
    requests = req.json().get("requests") or []
    if len(requests) > 20:
        return _reply(400, {"error": {"code": "BadRequest", "message": "Batch request limit exceeded: at most 20 "
                                      "requests."}})
    responses = []
    for item in requests:
        if (item.get("method") or "").upper() != "GET":
            return _reply(400, {"error": {"code": "BadRequest", "message": "only GET in batches here"}},
                          unknown=True, write=True)
        split = urlsplit(item.get("url") or "")
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        sub = Request("GET", req.host, "/v1.0" + unquote(split.path), query, dict(req.headers), b"", req.world)
        answer = route(sub)
        if answer.unknown:
            return _reply(400, {"error": {"code": "BadRequest", "message": "unknown route in batch"}}, unknown=True)
        responses.append({"id": item.get("id"), "status": answer.status,
                          "headers": {"Content-Type": "application/json"}, "body": answer.body})
    return _reply(200, {"responses": responses})


def transitive_groups(world, object_id):
    """The groups an object belongs to, directly or through nested groups (``members`` is the simulator's own
    record of membership, never served as part of a group)."""
    groups = world.graph.get("groups") or []
    found, frontier = {}, {object_id.lower()}
    while frontier:
        nxt = set()
        for group in groups:
            if group["id"].lower() not in found and frontier & {m.lower() for m in group.get("members", [])}:
                found[group["id"].lower()] = {"@odata.type": "#microsoft.graph.group", "id": group["id"],
                                              "displayName": group["displayName"]}
                nxt.add(group["id"].lower())
        frontier = nxt
    return list(found.values())


def route(req):
    world = req.world
    if req.method == "POST" and req.path == "/v1.0/$batch":
        return batch(req)
    m = re.match(r"^/v1\.0/(servicePrincipals|applications)(/([^/]+))?$", req.path)
    if req.method == "GET" and m:
        kind, key = m.group(1), m.group(3)
        objects = world.graph[kind]
        if key is None:
            found = [o for o in objects if _matches(o, req.query.get("$filter"))]
            return _reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#" + kind,
                                "value": found})
        for o in objects:
            if o["id"] == key or ("(appId='" in key and o["appId"] == key.split("'")[1]):
                return _reply(200, o)
        return _reply(404, {"error": {"code": "Request_ResourceNotFound", "message":
                                      "Resource '{}' does not exist or one of its queried reference-property objects "
                                      "are not present.".format(key)}})
    m = re.match(r"^/v1\.0/servicePrincipals/([^/]+)/transitiveMemberOf(/microsoft\.graph\.group)?$", req.path)
    if req.method == "GET" and m:
        return _reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups(id,displayName)",
                            "value": transitive_groups(world, m.group(1))})
    if req.method == "POST" and req.path == "/v1.0/directoryObjects/getByIds":
        ids = set(req.json().get("ids", []))
        found = [dict(o, **{"@odata.type": "#microsoft.graph." + ("servicePrincipal" if k == "servicePrincipals"
                                                                  else "application")})
                 for k in ("servicePrincipals", "applications") for o in world.graph[k] if o["id"] in ids]
        found += [{"@odata.type": "#microsoft.graph.group", "id": g["id"], "displayName": g["displayName"],
                   "securityEnabled": True, "mailEnabled": False} for g in world.graph.get("groups") or []
                  if g["id"] in ids]
        return _reply(200, {"value": found})
    return _reply(404, {"error": {"code": "Request_BadRequest", "message": "unknown route"}}, unknown=True,
                  write=req.method not in ("GET", "HEAD"))
