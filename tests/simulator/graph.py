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


def route(req):
    world = req.world
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
    if req.method == "POST" and req.path == "/v1.0/directoryObjects/getByIds":
        ids = set(req.json().get("ids", []))
        found = [dict(o, **{"@odata.type": "#microsoft.graph." + ("servicePrincipal" if k == "servicePrincipals"
                                                                  else "application")})
                 for k in ("servicePrincipals", "applications") for o in world.graph[k] if o["id"] in ids]
        return _reply(200, {"value": found})
    return _reply(404, {"error": {"code": "Request_BadRequest", "message": "unknown route"}}, unknown=True,
                  write=req.method not in ("GET", "HEAD"))
