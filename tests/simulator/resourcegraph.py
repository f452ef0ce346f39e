"""Azure Resource Graph: `POST /providers/Microsoft.ResourceGraph/resources` with real KQL.

The world's resources are loaded into DuckDB as Resource Graph's three tables (`resources`,
`resourcecontainers`, `authorizationresources`) with its column shapes: lower-case `type` and
`resourceGroup`, `properties`/`tags`/`identity`/`sku` as dynamic, ids as ARM wrote them. Queries are
KQL evaluated by duckdb-kql (a test-only dependency). Paging follows the service: at most 1,000
rows a page, `$top`/`$skip`, an opaque `$skipToken`, `totalRecords`. Every answer carries the
throttling headers `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after`; over the quota
(`world.arg_quota`: requests per window of seconds, 15 per 5 s as in Azure) the answer is a 429.

Scopes: the `subscriptions` of the request, its `managementGroups` (their subscriptions, from
`world.management_groups`), or the whole tenant when neither is given; subscriptions and scopes in
`world.denied_scopes` are invisible, as Resource Graph shows only what the caller may read.
Authorization rows at management group or root scope come back for subscription-scoped queries
only with `authorizationScopeFilter` AtScopeAndAbove or AtScopeAboveAndBelow.

A world changed in place after its first query is not seen; call ``invalidate(world)``.
"""
import base64
import hashlib
import json
import math
import os
import tempfile
import threading
import time

PAGE = 1000
COLUMNS = (("id", "VARCHAR"), ("name", "VARCHAR"), ("type", "VARCHAR"), ("tenantId", "VARCHAR"),
           ("kind", "VARCHAR"), ("location", "VARCHAR"), ("resourceGroup", "VARCHAR"),
           ("subscriptionId", "VARCHAR"), ("managedBy", "VARCHAR"), ("sku", "JSON"), ("plan", "JSON"),
           ("properties", "JSON"), ("tags", "JSON"), ("identity", "JSON"), ("zones", "JSON"),
           ("extendedLocation", "JSON"))
TABLES = ("resources", "resourcecontainers", "authorizationresources")
# Child types that Resource Graph lists as rows of their own; other children (subnets, peerings, DNS
# record sets, NSG rules) live only inside their parent's properties or are not in Resource Graph. Of a
# registry's children, Resource Graph's list of supported types (the `resources` table) names replications,
# webhooks, tasks, task runs, agent pools and build tasks, not cache rules or credential sets: those are read
# through ARM.
CHILD_TYPES = {"microsoft.network/privatednszones/virtualnetworklinks",
               "microsoft.containerregistry/registries/replications",
               "microsoft.containerservice/managedclusters/agentpools"}
DEFAULT_QUOTA = (15, 5.0)

_lock = threading.Lock()
_databases = {}      # id(world) -> _Database (the two most recent worlds)


def _reply(*args, **kwargs):
    from .server import Reply
    return Reply(*args, **kwargs)


def invalidate(world):
    with _lock:
        _databases.pop(id(world), None)


def reset_quota(world):
    """A fresh quota window for every user of this world (as after a pause of a few seconds)."""
    with _lock:
        _quota_states.pop(id(world), None)


# -- the request ------------------------------------------------------------------------------------
def query(req, world):
    throttled, headers = _quota(world, req)
    if throttled:
        return _reply(429, {"error": {"code": "RateLimiting", "message":
                                      "Please provide below info when asking for support: timestamp = {}, "
                                      "correlationId = {}.".format(world.now_iso(), _correlation()),
                                      "details": [{"code": "RateLimiting", "message":
                                                   "Client application has been throttled and should not attempt "
                                                   "to repeat the request until an amount of time has elapsed. "
                                                   "Please see https://aka.ms/resourcegraph-throttling for help."}]}},
                      headers)
    body = req.json()
    text = body.get("query")
    if not isinstance(text, str) or not text.strip():
        return _bad_request("The request must contain a non-empty query.", "InvalidQuery", headers)
    options = body.get("options") or {}
    subs, error = _scope(world, body.get("subscriptions"), body.get("managementGroups"))
    if error:
        return _reply(400, error, headers)
    above = (options.get("authorizationScopeFilter") or "AtScopeAndBelow") in ("AtScopeAndAbove",
                                                                                "AtScopeAboveAndBelow")
    tenant_level = not body.get("subscriptions") and not body.get("managementGroups")
    key = hashlib.sha256(json.dumps([text, sorted(subs), above, tenant_level]).encode()).hexdigest()[:24]
    offset = 0
    if options.get("$skipToken"):
        try:
            token = json.loads(base64.b64decode(options["$skipToken"]))
            if token.get("k") != key:
                raise ValueError("token of another query")
            offset = int(token["o"])
        except (ValueError, KeyError, TypeError):
            return _bad_request("The skip token is not valid for this query.", "InvalidSkipToken", headers)
    if options.get("$skip") is not None:
        offset = int(options["$skip"])
    top = int(options.get("$top") or PAGE)
    if not 1 <= top <= PAGE:
        return _bad_request("$top must be between 1 and {}.".format(PAGE), "InvalidTop", headers)
    try:
        rows = _database(world).run(key, text, subs, above, tenant_level)
    except Exception as err:  # pylint: disable=broad-except
        return _bad_request(str(err).splitlines()[0] if str(err) else type(err).__name__, "InvalidQuery", headers)
    page = rows[offset:offset + top]
    result = {"totalRecords": len(rows), "count": len(page), "resultTruncated": "false", "facets": []}
    if offset + top < len(rows):
        result["$skipToken"] = base64.b64encode(json.dumps({"k": key, "o": offset + top}).encode()).decode()
    if (options.get("resultFormat") or "objectArray") == "table":
        parsed = [json.loads(r) for r in page]
        columns = list(parsed[0]) if parsed else []
        result["data"] = {"columns": [{"name": c, "type": "object"} for c in columns],
                          "rows": [[r.get(c) for c in columns] for r in parsed]}
        return _reply(200, result, headers)
    # The rows are JSON already: splice them in rather than parse and print a thousand resources again.
    head = json.dumps(result)[:-1]
    raw = "{}, \"data\": [{}]}}".format(head, ",".join(page)).encode()
    return _reply(200, None, headers, raw=raw)


def _bad_request(message, code, headers):
    return _reply(400, {"error": {"code": "BadRequest", "message":
                                  "Please provide below info when asking for support: correlationId = {}.".format(
                                      _correlation()),
                                  "details": [{"code": code, "message": message}]}}, headers)


def _correlation():
    import uuid
    return str(uuid.uuid4())


def _quota(world, req):
    """Resource Graph's per-user quota: a fixed window, the remainder and the reset time in every answer."""
    limit, window = getattr(world, "arg_quota", None) or DEFAULT_QUOTA
    claims = req.bearer_claims() or {}
    user = claims.get("oid") or claims.get("appid") or "anonymous"
    now = time.monotonic()
    with _lock:
        state = _quota_state(world)
        start, used = state.get(user, (now, 0))
        if now - start >= window:
            start, used = now, 0
        throttled = used >= limit
        if not throttled:
            used += 1
        state[user] = (start, used)
    resets = max(0.0, start + window - now)
    seconds = int(math.ceil(resets))
    headers = {"x-ms-user-quota-remaining": str(max(0, limit - used)),
               "x-ms-user-quota-resets-after": "{:02d}:{:02d}:{:02d}".format(seconds // 3600, seconds // 60 % 60,
                                                                              seconds % 60)}
    return throttled, headers


_quota_states = {}


def _quota_state(world):
    return _quota_states.setdefault(id(world), {})


# -- scopes ---------------------------------------------------------------------------------------
def _denied(world):
    return [s.lower().rstrip("/") for s in getattr(world, "denied_scopes", None) or ()]


def _readable_subscriptions(world):
    denied = _denied(world)
    return [s for s in world.subs if "/subscriptions/" + s.lower() not in denied]


def _scope(world, subscriptions, management_groups):
    """The readable subscriptions a request covers, or an error body."""
    readable = {s.lower(): s for s in _readable_subscriptions(world)}
    if subscriptions:
        return [s.lower() for s in subscriptions if s.lower() in readable], None
    if management_groups:
        wanted = {m.lower() for m in management_groups}
        known = {m.lower() for chain in world.management_groups.values() for m in chain} | {world.tenant_id.lower()}
        missing = sorted(wanted - known)
        if missing:
            return None, {"error": {"code": "BadRequest", "message": "Management group(s) {} were not found or the "
                                    "caller has no access to them.".format(", ".join(missing)),
                                    "details": [{"code": "AuthorizationFailed", "message":
                                                 "No access to management group {}.".format(missing[0])}]}}
        subs = []
        for sub in readable:
            chain = {m.lower() for m in world.management_groups.get(sub, world.management_groups.get(
                readable[sub], []))} | {world.tenant_id.lower()}
            if chain & wanted:
                subs.append(sub)
        return subs, None
    return list(readable), None


# -- the tables -----------------------------------------------------------------------------------
def _fingerprint(world):
    return (len(world.arm), hash(tuple(map(id, world.arm.values()))), tuple(sorted(world.subs)),
            json.dumps(world.management_groups, sort_keys=True), tuple(_denied(world)))


def prepare(world):
    """Build the query index of ``world`` now rather than at its first query: the service's index exists before
    anyone asks, so a benchmark should not time its making as a slow answer."""
    _database(world)


def _database(world):
    with _lock:
        db = _databases.get(id(world))
        fingerprint = _fingerprint(world)
        if db is None or db.fingerprint != fingerprint:
            db = _Database(world, fingerprint)
            _databases[id(world)] = db
            for stale in list(_databases)[:-2]:
                del _databases[stale]
        return db


class _Database:
    def __init__(self, world, fingerprint):
        import duckdb_kql
        self.fingerprint = fingerprint
        self.world = world
        self.con = duckdb_kql.connect()
        self.results = {}
        self.results_lock = threading.Lock()
        rows = _rows(world)
        with tempfile.TemporaryDirectory(prefix="acrpull-arg-") as tmp:
            for table in TABLES:
                path = os.path.join(tmp, table + ".json")
                with open(path, "w", encoding="utf-8") as f:
                    for row in rows[table]:
                        f.write(json.dumps(row))
                        f.write("\n")
                columns = ", ".join("'{}': '{}'".format(n, t) for n, t in COLUMNS)
                if rows[table]:
                    self.con.execute("CREATE TABLE all_{} AS SELECT * FROM read_json(?, format='newline_delimited', "
                                     "columns={{{}}}, maximum_object_size=67108864)".format(table, columns), [path])
                else:
                    self.con.execute("CREATE TABLE all_{} ({})".format(table, ", ".join(
                        '"{}" {}'.format(n, t) for n, t in COLUMNS)))

    def run(self, key, text, subs, above, tenant_level):
        with self.results_lock:
            if key in self.results:
                return self.results[key]
        import duckdb_kql
        cur = self.con.cursor()
        try:
            cur.execute("CREATE TEMP TABLE _subs (s VARCHAR)")
            if subs:
                cur.executemany("INSERT INTO _subs VALUES (?)", [[s] for s in subs])
            in_scope = "lower(subscriptionId) IN (SELECT s FROM _subs)"
            hidden = " OR ".join("lower(id) = '{0}' OR starts_with(lower(id), '{0}/')".format(d.replace("'", "''"))
                                 for d in _denied(self.world)) or "FALSE"
            cur.execute("CREATE TEMP VIEW resources AS SELECT * FROM all_resources WHERE {} AND NOT ({})".format(
                in_scope, hidden))
            containers = in_scope if not tenant_level else "(subscriptionId = '' OR {})".format(in_scope)
            cur.execute("CREATE TEMP VIEW resourcecontainers AS SELECT * FROM all_resourcecontainers WHERE {} AND "
                        "NOT ({})".format(containers, hidden))
            if tenant_level:
                authz = "(subscriptionId = '' OR {})".format(in_scope)
            elif above:
                authz = "({} OR (subscriptionId = '' AND {}))".format(in_scope, self._above_filter(subs))
            else:
                authz = in_scope
            cur.execute("CREATE TEMP VIEW authorizationresources AS SELECT * FROM all_authorizationresources WHERE "
                        "{} AND NOT ({})".format(authz, hidden))
            result = duckdb_kql.kql(cur, text)
            # Each row as the JSON Resource Graph returns (dynamic columns nested, not quoted), made by DuckDB.
            rows = [r[0] for r in result.query("q", "SELECT to_json(q)::VARCHAR FROM q").fetchall()]
        finally:
            cur.close()
        with self.results_lock:
            self.results[key] = rows
            for stale in list(self.results)[:-64]:
                del self.results[stale]
        return rows

    def _above_filter(self, subs):
        """Authorization rows at management group or root scope that sit above one of ``subs``; rows
        without a scope (built-in role definitions) too."""
        groups = set()
        for sub, chain in self.world.management_groups.items():
            if sub.lower() in subs:
                groups.update(m.lower() for m in chain)
        scope = "lower(coalesce(json_extract_string(properties, '$.scope'), ''))"
        allowed = ["/"] + ["/providers/microsoft.management/managementgroups/" + g for g in sorted(groups)]
        return "(json_extract_string(properties, '$.scope') IS NULL OR {} IN ({}))".format(
            scope, ", ".join("'{}'".format(a.replace("'", "''")) for a in allowed))


def _rows(world):
    """World resources as Resource Graph rows, by table."""
    tables = {t: [] for t in TABLES}
    for sub, name in world.subs.items():
        chain = [{"name": m, "displayName": m} for m in world.management_groups.get(sub, [])]
        tables["resourcecontainers"].append(_row(world, {
            "id": "/subscriptions/" + sub, "name": name, "type": "microsoft.resources/subscriptions",
            "properties": {"state": "Enabled", "managementGroupAncestorsChain": chain,
                           "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                                    "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}},
            subscription=sub))
    groups = {m for chain in world.management_groups.values() for m in chain}
    for mg in sorted(groups):
        tables["resourcecontainers"].append(_row(world, {
            "id": "/providers/Microsoft.Management/managementGroups/" + mg, "name": mg,
            "type": "microsoft.management/managementgroups", "properties": {"displayName": mg}}))
    for res in world.arm.values():
        rtype = (res.get("type") or "").lower()
        if rtype == "microsoft.resources/resourcegroups":
            tables["resourcecontainers"].append(_row(world, dict(res, type="microsoft.resources/subscriptions/"
                                                                             "resourcegroups")))
        elif rtype.startswith("microsoft.authorization/"):
            tables["authorizationresources"].append(_row(world, res))
        elif rtype.count("/") == 1 or rtype in CHILD_TYPES:
            tables["resources"].append(_row(world, res))
    for role_guid in _builtin_roles():
        definition = world.role_definition(role_guid, "/providers/Microsoft.Authorization/roleDefinitions/" + role_guid)
        tables["authorizationresources"].append(_row(world, definition))
    # Resource Graph answers for the caller's tenant: another tenant's subscriptions are not there.
    return {t: [r for r in rows if r["tenantId"] == world.tenant_id] for t, rows in tables.items()}


def _builtin_roles():
    from .world import BUILTIN_ROLES
    return sorted(BUILTIN_ROLES)


def _row(world, res, subscription=None):
    rid = res.get("id") or ""
    parts = rid.split("/")
    sub = subscription or (parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else "")
    rg = parts[4] if len(parts) > 4 and parts[3].lower() == "resourcegroups" else ""
    return {"id": rid, "name": res.get("name") or "", "type": (res.get("type") or "").lower(),
            "tenantId": world.tenant_of_subscription(sub) if sub else world.tenant_id, "kind": res.get("kind") or "",
            "location": res.get("location") or "",
            "resourceGroup": rg.lower(), "subscriptionId": sub, "managedBy": res.get("managedBy") or "",
            "sku": res.get("sku"), "plan": res.get("plan"), "properties": res.get("properties") or {},
            "tags": res.get("tags") or {}, "identity": res.get("identity"), "zones": res.get("zones"),
            "extendedLocation": res.get("extendedLocation")}
