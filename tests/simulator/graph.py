"""Microsoft Graph v1.0: service principals, applications, users and groups (by id, and service principals and
applications by Graph's alternate key `(appId='...')`); read-only look-ups (the directory objects by id, group
memberships direct and transitive, getMemberGroups and checkMemberGroups)."""
import dataclasses
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


KINDS = {"servicePrincipals": "servicePrincipal", "applications": "application", "users": "user",
         "groups": "group"}


def group_view(group):
    """A group as Graph serves it (``members`` is the simulator's own record of membership)."""
    return dict({k: v for k, v in group.items() if k != "members"}, **{"@odata.type": "#microsoft.graph.group"})


def _objects(world, kind):
    objects = world.graph.get(kind) or []
    return [group_view(o) for o in objects] if kind == "groups" else objects


def _find(world, object_id):
    """(kind, object) of a directory object by id, or (None, None)."""
    for kind in ("servicePrincipals", "users", "groups", "applications"):
        for o in world.graph.get(kind) or []:
            if o["id"].lower() == object_id.lower():
                return kind, o
    return None, None


def direct_groups(world, object_id):
    return [g for g in world.graph.get("groups") or [] if object_id.lower() in {m.lower() for m in g["members"]}]


def transitive_groups(world, object_id):
    """The groups an object belongs to, directly or through nested groups."""
    found, frontier = {}, [object_id]
    while frontier:
        nxt = []
        for oid in frontier:
            for group in direct_groups(world, oid):
                if group["id"].lower() not in found:
                    found[group["id"].lower()] = {"@odata.type": "#microsoft.graph.group", "id": group["id"],
                                                  "displayName": group["displayName"]}
                    nxt.append(group["id"])
        frontier = nxt
    return list(found.values())


def _not_found(key):
    return _reply(404, {"error": {"code": "Request_ResourceNotFound", "message":
                                  "Resource '{}' does not exist or one of its queried reference-property objects "
                                  "are not present.".format(key)}})


def _member_of(req, kind, key, tail):
    """GET .../{id}/memberOf and /transitiveMemberOf (optionally cast to microsoft.graph.group); POST
    .../{id}/getMemberGroups and /checkMemberGroups (read-only look-ups)."""
    world = req.world
    found_kind, obj = _find(world, key)
    if obj is None or (kind != "directoryObjects" and found_kind != kind):
        return _not_found(key)
    transitive = tail.startswith("transitiveMemberOf") or tail in ("getMemberGroups", "checkMemberGroups")
    groups = transitive_groups(world, key) if transitive else [
        {"@odata.type": "#microsoft.graph.group", "id": g["id"], "displayName": g["displayName"]}
        for g in direct_groups(world, key)]
    if tail == "getMemberGroups":
        return _reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                            "value": [g["id"] for g in groups]})
    if tail == "checkMemberGroups":
        wanted = [str(i) for i in req.json().get("groupIds") or []]
        if len(wanted) > 20:
            return _reply(400, {"error": {"code": "Request_BadRequest", "message": "at most 20 groupIds"}})
        held = {g["id"].lower() for g in groups}
        return _reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                            "value": [i for i in wanted if i.lower() in held]})
    by_id = {g["id"].lower(): g for g in world.graph.get("groups") or []}
    return _reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
                        "value": [group_view(by_id[g["id"].lower()]) for g in groups]})


def _get_by_ids(req):
    body = req.json()
    ids = {str(i).lower() for i in body.get("ids") or []}
    types = {str(t).lower() for t in body.get("types") or []}
    found = []
    for kind, odata in KINDS.items():
        if types and odata.lower() not in types:
            continue
        for o in _objects(req.world, kind):
            if o["id"].lower() in ids:
                found.append(dict(o, **{"@odata.type": "#microsoft.graph." + odata}))
    return _reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
                        "value": found})


_AUDIT_CLAUSES = [
    (re.compile(r"^activityDisplayName eq '([^']*)'$"), lambda e, m: e["activityDisplayName"] == m.group(1)),
    (re.compile(r"^result eq '([^']*)'$"), lambda e, m: e["result"] == m.group(1)),
    (re.compile(r"^activityDateTime (ge|le) (\S+)$"),
     lambda e, m: (_when(e["activityDateTime"]) >= _when(m.group(2))) == (m.group(1) == "ge") or
     _when(e["activityDateTime"]) == _when(m.group(2))),
    (re.compile(r"^targetResources/any\((\w+):\s*\1/id eq '([^']*)'\)$"),
     lambda e, m: any((t.get("id") or "").lower() == m.group(2).lower() for t in e["targetResources"])),
]


def _when(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _directory_audits(req):
    """GET /v1.0/auditLogs/directoryAudits: the tenant's audit entries, newest first, that match every clause of
    $filter (the clauses Graph documents for the attributes used here); AuditLog.Read.All is needed."""
    world = req.world
    if not getattr(world, "audit_log_readable", True):
        return _reply(403, {"error": {"code": "Authentication_MSGraphPermissionMissing",
                                      "message": "Calling principal does not have required MSGraph permissions "
                                                 "AuditLog.Read.All",
                                      "innerError": {"date": world.now_iso(), "request-id": "sim-audit-denied"}}})
    clauses = [c.strip() for c in re.split(r"\s+and\s+", req.query.get("$filter") or "") if c.strip()]
    tests = []
    for clause in clauses:
        for pattern, test in _AUDIT_CLAUSES:
            m = pattern.match(clause)
            if m:
                tests.append((test, m))
                break
        else:
            return _reply(400, {"error": {"code": "BadRequest", "message": "Invalid filter clause: " + clause}})
    entries = [e for e in world.graph.get("directoryAudits") or [] if all(t(e, m) for t, m in tests)]
    entries.sort(key=lambda e: e["activityDateTime"], reverse=True)
    return _reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits",
                        "value": entries})


def route(req):
    world = req.world
    if req.method == "POST" and req.path == "/v1.0/$batch":
        return batch(req)
    if req.method == "GET" and req.path == "/v1.0/auditLogs/directoryAudits":
        return _directory_audits(req)
    m = re.match(r"^/v1\.0/(servicePrincipals|applications)\(appId='([^']*)'\)(/.*)?$", req.path)
    if m:   # Graph's alternate key: the object of that appId, then the rest of the path as for its id
        found = next((o for o in _objects(world, m.group(1)) if (o.get("appId") or "").lower() == m.group(2).lower()),
                     None)
        if found is None:
            return _not_found(m.group(2))
        return route(dataclasses.replace(req, path="/v1.0/{}/{}{}".format(m.group(1), found["id"], m.group(3) or "")))
    m = re.match(r"^/v1\.0/(servicePrincipals|applications|users|groups)(/([^/]+))?$", req.path)
    if req.method == "GET" and m:
        kind, key = m.group(1), m.group(3)
        objects = _objects(world, kind)
        if key is None:
            found = [o for o in objects if _matches(o, req.query.get("$filter"))]
            return _reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#" + kind,
                                "value": found})
        for o in objects:
            if o["id"] == key or ("(appId='" in key and o.get("appId") == key.split("'")[1]):
                return _reply(200, o)
        return _not_found(key)
    m = re.match(r"^/v1\.0/(servicePrincipals|users|groups|directoryObjects)/([^/]+)/"
                 r"(memberOf|transitiveMemberOf)(/microsoft\.graph\.group)?$", req.path)
    if req.method == "GET" and m:
        return _member_of(req, m.group(1), m.group(2), m.group(3))
    m = re.match(r"^/v1\.0/(servicePrincipals|users|groups|directoryObjects)/([^/]+)/"
                 r"(getMemberGroups|checkMemberGroups)$", req.path)
    if req.method == "POST" and m:
        return _member_of(req, m.group(1), m.group(2), m.group(3))
    if req.method == "POST" and req.path == "/v1.0/directoryObjects/getByIds":
        return _get_by_ids(req)
    return _reply(404, {"error": {"code": "Request_BadRequest", "message": "unknown route"}}, unknown=True,
                  write=req.method not in ("GET", "HEAD"))
