"""Microsoft Graph facts beyond the service principal look-up: applications and directory objects.

Read through az's own Graph client (and its raw request for group memberships), so the signed-in account, cloud
and proxies apply. Only GETs and the read-only `directoryObjects/getByIds` look-up are used.
"""
from .base import FactError

GRAPH_READ = "Application.Read.All or Directory.Read.All"
# getByIds takes up to 1000 ids per call.
_BATCH = 1000


AUDIT_READ = "AuditLog.Read.All"
ADD_MEMBER = "Add member to group"


def join_filter(since, principal_id=None):
    """The directoryAudits $filter for successful-or-not 'Add member to group' entries since ``since`` (a UTC
    datetime), about one principal when given (Graph filters targetResources by id)."""
    text = "activityDisplayName eq '{}' and activityDateTime ge {}".format(
        ADD_MEMBER, since.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if principal_id:
        text += " and targetResources/any(t: t/id eq '{}')".format(principal_id)
    return text


def group_joins_of(entries):
    """{member id (lower): [{"groupId", "groupName", "at"}]} from directoryAudit entries: in an 'Add member to
    group' entry the member is a target whose modifiedProperties hold Group.ObjectID (a JSON-quoted string) and
    Group.DisplayName; the group itself is another target (type Group). Failed attempts are left out."""
    from ..credentials import parse_time
    found = {}
    for entry in entries or []:
        if not isinstance(entry, dict) or (entry.get("activityDisplayName") or "") != ADD_MEMBER or \
                (entry.get("result") or "").lower() != "success":
            continue
        at = parse_time(entry.get("activityDateTime"))
        targets = [t for t in entry.get("targetResources") or [] if isinstance(t, dict)]
        group = next((t for t in targets if (t.get("type") or "").lower() == "group"), None)
        for target in targets:
            if target is group or not target.get("id"):
                continue
            props = {(m.get("displayName") or ""): (m.get("newValue") or "").strip().strip('"')
                     for m in target.get("modifiedProperties") or [] if isinstance(m, dict)}
            group_id = props.get("Group.ObjectID") or (group or {}).get("id")
            if group_id and at:
                found.setdefault(target["id"].lower(), []).append({
                    "groupId": group_id.lower(), "groupName": props.get("Group.DisplayName") or
                    (group or {}).get("displayName"), "at": at})
    return found


def _audit_error(err, what):
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status == 403:
        message = str(err).splitlines()[0] if str(err) else "403"
        return FactError("the signed-in account may not read {} (needs {}): {}".format(what, AUDIT_READ, message),
                         status)
    return _graph_error(err, what)


def _graph_error(err, what):
    status = getattr(getattr(err, "response", None), "status_code", None)
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    if status == 403:
        return FactError("the signed-in account may not read {} (needs {}): {}".format(what, GRAPH_READ, message),
                         status)
    if status:
        return FactError("reading {} failed with HTTP {}: {}".format(what, status, message), status)
    return FactError("reading {} failed: {}".format(what, message))


class GraphFacts:
    """Mixin for LiveFacts: Entra applications (password credentials), directory objects by id, group
    memberships."""

    def _graph(self):
        bounded = getattr(self, "graph_client", None)   # LiveFacts: retries and timeouts bounded (transport.py)
        if bounded is not None:
            return bounded()
        from ..._client_factory import cf_graph
        return cf_graph(self.cli_ctx)

    def application(self, app_id):
        """The app registration with this appId (its passwordCredentials carry end dates), or None when it is
        not in this tenant (deleted, or a multi-tenant app registered elsewhere)."""
        return self.once(("application", app_id.lower()), lambda: self._get_application(app_id))

    def _get_application(self, app_id):
        what = "application {} in Microsoft Graph".format(app_id)
        with self.reading(what):
            try:
                found = self._graph().application_list(filter="appId eq '{}'".format(app_id))
            except FactError:
                raise
            except Exception as err:  # pylint: disable=broad-except
                raise _graph_error(err, what) from None
        return found[0] if found else None

    def directory_objects(self, object_ids):
        """Directory objects by object id (service principals, users, groups); ids that no longer exist are
        absent. Returns {object id (lower case): object}."""
        ids = sorted({i.lower() for i in object_ids if i})
        return self.once(("directory_objects", tuple(ids)), lambda: self._get_by_ids(ids))

    def _get_by_ids(self, ids):
        found = {}
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start:start + _BATCH]
            try:
                objects = self._graph().directory_object_get_by_ids(
                    {"ids": chunk, "types": ["servicePrincipal", "user", "group"]})
            except FactError:
                raise
            except Exception as err:  # pylint: disable=broad-except
                raise _graph_error(err, "{} directory object(s) in Microsoft Graph".format(len(chunk))) from None
            for obj in objects or []:
                if isinstance(obj, dict) and obj.get("id"):
                    found[obj["id"].lower()] = obj
        return found

    def member_groups(self, object_id):
        """{group id (lower case): display name} of the groups a service principal belongs to, directly or through
        other groups: a role held by such a group applies to it."""
        app_id = getattr(self, "_groups_read_by_app", None)
        if app_id:
            # The cluster's service principal: its memberships were asked for by appId (read_ahead) while the
            # look-up that gives its object id was in flight. The same read, addressed by Graph's other key.
            sp = self.service_principal(app_id)
            if sp and (sp.get("id") or "").lower() == object_id.lower():
                return self.member_groups_of_app(app_id)
        return self.once(("member_groups", object_id.lower()), lambda: self._member_groups(
            "/servicePrincipals/{}".format(object_id), "principal {}".format(object_id)))

    def member_groups_of_app(self, app_id):
        """``member_groups`` of the service principal of ``app_id``, addressed by its appId (Graph's alternate key
        ``servicePrincipals(appId='...')``), so that it need not wait for the object id."""
        return self.once(("member_groups_of_app", app_id.lower()), lambda: self._member_groups(
            "/servicePrincipals(appId='{}')".format(app_id), "the service principal of app {}".format(app_id)))

    def _member_groups(self, principal_path, who):
        # Through the run's Graph client (transport.py: bounded, retried, paged), not az's send_raw_request, which
        # has no timeout.
        found = {}
        what = "the group memberships of {} in Microsoft Graph".format(who)
        with self.reading(what):
            try:
                groups = self._graph()._send(   # pylint: disable=protected-access
                    "GET", "{}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName".format(principal_path))
            except FactError:
                raise
            except Exception as err:  # pylint: disable=broad-except
                raise _graph_error(err, what) from None
        for group in groups or []:
            if isinstance(group, dict) and group.get("id"):
                found[group["id"].lower()] = group.get("displayName")
        return found

    def group_joins(self, principal_id, since):
        """[{"groupId", "groupName", "at"}]: the groups ``principal_id`` was added to since ``since``, from the
        Microsoft Entra audit log (Graph's group memberships carry no join time); read once per principal."""
        return self.once(("group_joins", principal_id.lower()), lambda: self._group_joins(principal_id, since))

    def _group_joins(self, principal_id, since):
        what = "the Microsoft Entra audit log (when principal {} joined its groups)".format(principal_id)
        with self.reading(what):
            try:
                entries = self._graph()._send(   # pylint: disable=protected-access
                    "GET", "/auditLogs/directoryAudits", param={"$filter": join_filter(since, principal_id)})
            except FactError:
                raise
            except Exception as err:  # pylint: disable=broad-except
                raise _audit_error(err, what) from None
        return group_joins_of(entries).get(principal_id.lower(), [])
