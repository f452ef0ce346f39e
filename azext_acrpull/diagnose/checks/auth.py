"""Cause 1: 401 Unauthorized. Does the identity the nodes pull with hold a pull role, and can it sign in?"""
from datetime import datetime, timedelta, timezone

from ..common.commands import assign_command, new_sp_command, repository_condition, reset_sp_command
from ..common.pull import (
    created_at,
    group_role_definition_ids,
    held_roles_words,
    holder_candidates,
    identity_words,
    is_abac,
    lacks_builtin_pull_role,
    principals_of,
    registry_grants,
    repositories_for,
)
from ..common.registry import per_registry, registry_target
from ..credentials import day, expiry, password_ends
from ..facts import FactError, FactUnavailable
from ..findings import FAIL, PASS, SKIPPED, WARNING, check, decided
from ..ids import id_name, parse_resource_id, same_id
from ..roles import (
    PULL_ACTION,
    REPOSITORY_CONTENT_READ,
    assignments_of,
    group_ids,
)
from ..ties import (
    alternative_resource_ids,
    begins_with_cluster,
    credential_starts,
    name_keys,
    name_tie,
    recorded_principals,
    recorded_tie,
    ties,
    uri_keys,
)

PROPAGATION = timedelta(minutes=30)
MANAGED_IDENTITY = "ManagedIdentity"


# --- C1.S1, X.abac ---------------------------------------------------------------------------------------------


@check("acr-role-assignment", "C1.S1,X.abac", "The cluster's pull identity holds a pull role on the registry",
       "Evaluates every role assignment that applies to the registry (inherited ones included) for the kubelet "
       "identity or service principal, by what the role grants (actions, notActions, wildcards), and on ABAC "
       "registries by repository permissions and conditions. B.wi: when the role is held instead by the workload "
       "identity a failing pod's service account names (azure.workload.identity/client-id), the Fail says so. "
       "B.recent: a role assigned, or reached through a group the identity joined (Microsoft Entra audit log), less "
       "than 30 minutes ago is a Warning.", groups=("auth",),
       needs=("directory_objects", "image_entries", "member_groups", "pull_identity", "registries", "registry_lookups",
              "role_assignments", "role_definition"),
       optional=("diagnosed_pods", "group_joins", "service_account", "service_principal"))
def acr_role_assignment(chk, facts):
    # The registries' role assignments do not wait for the pull identity (a Graph look-up on a service-principal
    # cluster): start reading them first.
    facts.prefetch(lambda: [facts.role_assignments(r["id"]) for r in facts.registries()])
    return per_registry(chk, facts, _role_finding, facts.pull_identity())


def _role_finding(chk, facts, registry, identity):
    return chk.worded(registry_target(registry), decide_role(facts, identity, registry), ROLE_WORDS, facts)


def decide_role(facts, identity, registry):
    """Does the pull identity hold a pull role on the registry (on an ABAC registry, for the image's repositories),
    and has it had time to take effect?"""
    abac = is_abac(registry)
    if not identity.get("objectId"):
        return decided(FAIL, "no-principal", {"principalKind": identity["kind"], "clientId": identity["clientId"]},
                       client_id=identity["clientId"], registry=registry)
    oid = identity["objectId"]
    assignments = facts.role_assignments(registry["id"])
    ids, groups = principals_of(facts, oid, assignments)
    mine = assignments_of(assignments, ids)
    repositories = repositories_for(facts, registry) if abac else []
    general = registry_grants(facts, registry, mine, ids)
    per_repo = {r: registry_grants(facts, registry, mine, ids, r) for r in repositories}
    effective = [g for grants in per_repo.values() for g in grants] if repositories else general
    evidence = {"principalKind": identity["kind"], "principalId": oid, "clientId": identity.get("clientId"),
                "registryId": registry["id"],
                "roleAssignmentMode": registry.get("properties", {}).get("roleAssignmentMode"),
                "grants": _grant_evidence(_unique(effective or general), groups), "assignmentsOfIdentity": len(mine)}
    if repositories:
        evidence["repositories"] = repositories
    common = {"who": identity_words(identity), "registry": registry, "principal_id": oid}
    if not general:
        if abac:
            ignored = registry_grants(facts, registry, mine, ids, abac=False)
            return decided(FAIL, "abac-no-role", evidence, held=", ".join(sorted({g.role_name for g in ignored})),
                           **common)
        workloads = _workload_identity_grant(facts, registry, assignments) \
            if identity["kind"] == "kubeletIdentity" else []
        if workloads:
            evidence["workloadIdentity"] = workloads[0]
            if len(workloads) > 1:
                evidence["workloadIdentities"] = workloads
        return decided(FAIL, "no-role", evidence, held=held_roles_words(facts, registry, mine), workloads=workloads,
                       other_groups=_other_groups(facts, registry, assignments, groups), **common)
    if abac and repositories:
        uncovered = [r for r in repositories if not per_repo[r]]
        unsure = [r for r in repositories if per_repo[r] and not any(g.certain for g in per_repo[r])]
        if uncovered:
            return decided(FAIL, "abac-uncovered", dict(evidence, uncoveredRepositories=uncovered),
                           covers=_coverage(general), uncovered=uncovered, **common)
        if unsure:
            return decided(WARNING, "abac-unsure", evidence, covers=_coverage(general), unsure=unsure, **common)
    elif abac and not any(g.certain for g in general):
        return decided(WARNING, "abac-limited", evidence, covers=_coverage(general), **common)
    return _decide_effect(facts, oid, mine, _unique(effective), groups, evidence, common)


def _decide_effect(facts, oid, mine, granting, groups, evidence, common):
    """The identity holds a pull role: has it had the 30 minutes a role assignment or a group join takes?"""
    common["roles"] = ", ".join(sorted({"{} at {}{}".format(g.role_name, g.scope, _through(g, groups))
                                        for g in granting}))
    now = datetime.now(timezone.utc)
    since, joins, unread = _effective_since(facts, oid, mine, granting, groups, now)
    if joins:
        evidence["groupJoins"] = joins
    if unread:
        evidence["groupJoinsUnread"] = unread
    if since and all(t and now - t < PROPAGATION for t in since):
        recent = [j for j in joins if j["joinedAt"] and now - _parse(j["joinedAt"]) < PROPAGATION]
        if not recent:
            return decided(WARNING, "recent-assignment", evidence, since=max(since), **common)
        return decided(WARNING, "recent-join", evidence, since=max(since), joins=recent, **common)
    unread_groups = [groups.get(g.principal_id.lower()) or g.principal_id for g in granting
                     if g.principal_id.lower() in groups] if unread else []
    return decided(PASS, "granted", evidence, coverage=_coverage(granting) if is_abac(common["registry"]) else None,
                   unread=unread, unread_groups=unread_groups, **common)


# -- acr-role-assignment's words, by reason -----------------------------------------------------------------------
def _attach_acr(facts, registry):
    return "az aks update -n {} -g {} --attach-acr {}".format(facts.cluster_name, facts.cluster_resource_group,
                                                               registry["id"])


def _no_principal(facts, client_id, registry):
    return ("The cluster's service principal {} does not exist in Microsoft Entra ID, so no role on {} can apply to "
            "it; nodes cannot sign in to pull.".format(client_id, registry["name"]),
            new_sp_command(facts) + " && " + _attach_acr(facts, registry))


def _abac_no_role(facts, who, registry, principal_id, held):
    return ("{} uses ABAC repository permissions (RBAC Registry + ABAC Repository Permissions), where registry-wide "
            "roles such as AcrPull do not grant pull; the {} holds no role with the repository content read "
            "permission ({}), such as Container Registry Repository Reader.{} `az aks update --attach-acr` cannot "
            "assign that role.".format(registry["name"], who, REPOSITORY_CONTENT_READ,
                                       " It holds {}, which this mode ignores.".format(held) if held else ""),
            assign_command(principal_id, registry))


def _no_role(facts, who, registry, principal_id, held, workloads, other_groups):
    why = "The {} holds no role that grants {} on {}".format(who, PULL_ACTION, registry["name"])
    why += ": it holds {}.".format(held) if held else " (no role assignment of this identity applies there)."
    if workloads:
        one = len(workloads) == 1
        why += (" The pull role is held instead by the workload identit{} {} that service account{} {} name{} in "
                "azure.workload.identity/client-id: the kubelet pulls images with the node's kubelet identity, never "
                "with a pod's workload identity, which only gives the pod's own code its tokens.".format(
                    "y" if one else "ies", ", ".join("{} (client id {})".format(w["name"], w["clientId"])
                                                     for w in workloads),
                    "" if one else "s", ", ".join(w["serviceAccount"] for w in workloads), "s" if one else ""))
    return why + other_groups, _attach_acr(facts, registry)


def _abac_uncovered(facts, who, registry, principal_id, covers, uncovered):
    return ("On {} (ABAC repository permissions) the {} may read {}, which does not include {}.".format(
        registry["name"], who, covers, _quoted(uncovered)),
        assign_command(principal_id, registry, repository_condition=repository_condition(uncovered)))


def _abac_unsure(facts, who, registry, principal_id, covers, unsure):
    return ("On {} (ABAC repository permissions) the {} holds repository read permission limited by a role "
            "assignment condition that could not be fully evaluated for {}: {}. Check the condition covers the "
            "repository.".format(registry["name"], who, _quoted(unsure), covers),
            _condition_command(registry, principal_id))


def _abac_limited(facts, who, registry, principal_id, covers):
    return ("On {} (ABAC repository permissions) the {} may read only {}; pass --image to check that the image's "
            "repository is among them.".format(registry["name"], who, covers),
            "az aks diagnose-pull check-auth -g {} -n {} --acr {} --image {}/<repository>:<tag>".format(
                facts.cluster_resource_group, facts.cluster_name, registry["name"],
                registry.get("properties", {}).get("loginServer")))


def _wait_fix(facts, registry, since):
    return "Wait until {} UTC, then check again: az aks diagnose-pull check-auth -g {} -n {} --acr {}".format(
        (since + PROPAGATION).strftime("%H:%M"), facts.cluster_resource_group, facts.cluster_name, registry["name"])


def _recent_assignment(facts, who, registry, principal_id, roles, since):
    return ("The {} holds {} on {}, but the assignment was created at {} UTC, less than 30 minutes ago; role "
            "assignments can take up to 30 minutes to take effect, and kubelet retries the pull on its own.".format(
                who, roles, registry["name"], since.strftime("%H:%M")), _wait_fix(facts, registry, since))


def _recent_join(facts, who, registry, principal_id, roles, since, joins):
    return ("The {} holds {} on {}, but it joined {} less than 30 minutes ago (Microsoft Entra audit log, B.recent); "
            "a new group membership, like a new role assignment, can take up to 30 minutes to take effect, and the "
            "node's credential provider keeps a token for about 10 minutes. Kubelet retries the pull on its own."
            .format(who, roles, registry["name"], ", ".join("group {} at {} UTC".format(
                j["displayName"] or j["group"], _parse(j["joinedAt"]).strftime("%H:%M")) for j in joins)),
            _wait_fix(facts, registry, since) + " (or delete the pod so that it pulls again at once)")


def _granted(facts, who, registry, principal_id, roles, coverage, unread, unread_groups):
    suffix = " (repository read permission; {})".format(coverage) if coverage is not None else ""
    caveat = (" When it joined {} could not be read ({}), so a membership added in the last 30 minutes, which may not "
              "have taken effect yet, would not show here.".format(
                  ", ".join("group " + g for g in unread_groups), unread.rstrip("."))) if unread else ""
    return "The {} may pull from {}: {}{}.{}".format(who, registry["name"], roles, suffix, caveat), ""


ROLE_WORDS = {"no-principal": _no_principal, "abac-no-role": _abac_no_role, "no-role": _no_role,
              "abac-uncovered": _abac_uncovered, "abac-unsure": _abac_unsure, "abac-limited": _abac_limited,
              "recent-assignment": _recent_assignment, "recent-join": _recent_join, "granted": _granted}


def _parse(text):
    from ..credentials import parse_time
    return parse_time(text)


def _effective_since(facts, object_id, assignments, granting, groups, now):
    """When each grant took effect, as far as can be told (B.recent): its assignment's creation, or for a grant
    through a group whose assignment is older than the propagation time, the identity's join to that group if the
    Microsoft Entra audit log shows one within that time. The audit log is read only when every other grant is
    recent (one direct grant that is not decides alone) and only for the groups that hold a granting role.
    Returns (times, joins found, the reason the audit log could not be read or None); an unknown time is None,
    which is never recent."""
    def recent(moment):
        return moment is not None and now - moment < PROPAGATION

    created = [created_at(assignments, g.assignment_id) for g in granting]
    through = [g.principal_id.lower() in (groups or {}) for g in granting]
    if any(not recent(c) and not via for c, via in zip(created, through, strict=True)):
        return created, [], None
    times, joins, unread = [], [], None
    for grant, made, via in zip(granting, created, through, strict=True):
        if recent(made) or not via:
            times.append(made)
            continue
        try:
            found = [j for j in facts.group_joins(object_id, now - PROPAGATION)
                     if j["groupId"] == grant.principal_id.lower()]
        except (FactError, FactUnavailable) as err:
            unread = err.reason
            times.append(None)
            continue
        joined = max((j["at"] for j in found), default=None)
        joins.append({"group": grant.principal_id, "displayName": groups.get(grant.principal_id.lower()),
                      "joinedAt": joined.isoformat() if joined else None,
                      "auditLogSince": (now - PROPAGATION).strftime("%Y-%m-%dT%H:%M:%SZ")})
        times.append(joined if recent(joined) else made)
    joins = [j for j in joins if j["joinedAt"]] or joins
    return times, joins, unread


def _unique(grants):
    seen, out = set(), []
    for g in grants:
        if g.assignment_id not in seen:
            seen.add(g.assignment_id)
            out.append(g)
    return out


def _grant_evidence(grants, groups=None):
    out = []
    for g in grants:
        entry = {"roleAssignmentId": g.assignment_id, "role": g.role_name, "scope": g.scope, "via": g.via,
                 "repositories": g.repositories}
        if g.principal_id.lower() in (groups or {}):
            entry["group"] = {"id": g.principal_id, "displayName": groups[g.principal_id.lower()]}
        out.append(entry)
    return out


WORKLOAD_CLIENT_ID = "azure.workload.identity/client-id"


def _workload_identity_grant(facts, registry, assignments):
    """B.wi: a service account of the run's pods (the --pod, or the failing pods it found) that pull from this
    registry names a workload identity (azure.workload.identity/client-id) holding a pull role on it. Each service
    account is read once. Returns what the finding says about each such identity, first found first (empty when
    none, or when the pods cannot be read: the pod checks say why)."""
    login = (registry.get("properties", {}).get("loginServer") or "").lower()
    try:
        pods = facts.diagnosed_pods()
    except (FactError, FactUnavailable):   # unreadable pods (the pod checks say why), or a reader without pods
        return []
    accounts = []
    for pod in pods:
        meta, spec = (pod or {}).get("metadata") or {}, (pod or {}).get("spec") or {}
        images = [c.get("image") or "" for kind in ("initContainers", "containers", "ephemeralContainers")
                  for c in spec.get(kind) or []]
        account = (meta.get("namespace") or facts.request.namespace,
                   spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
        if account not in accounts and any(i.split("/")[0].lower() == login for i in images):
            accounts.append(account)
    found = []
    for namespace, account in accounts:
        try:
            obj = facts.service_account(namespace, account) or {}
            client_id = ((obj.get("metadata") or {}).get("annotations") or {}).get(WORKLOAD_CLIENT_ID)
            principal = facts.service_principal(client_id) if client_id else None
            if not principal or any(f["principalId"] == principal["id"] for f in found):
                continue
            ids, groups = principals_of(facts, principal["id"], assignments)
            grants = registry_grants(facts, registry, assignments_of(assignments, ids), ids)
        except (FactError, FactUnavailable):   # a reader that reads no service accounts leaves the grant unknown
            continue
        if grants:
            found.append({"serviceAccount": "{}/{}".format(namespace, account), "clientId": client_id,
                          "principalId": principal["id"], "name": principal.get("displayName") or client_id,
                          "roles": sorted({"{} at {}{}".format(g.role_name, g.scope, _through(g, groups))
                                           for g in grants})})
    return found


def _other_groups(facts, registry, assignments, groups):
    """Groups given a pull role but that do not hold the identity: the case where membership was assumed. A group
    that can pull only through a broad role on an enclosing scope (Contributor on the resource group, say) was
    given it to manage resources, not to pull: it is not named."""
    others = sorted(group_ids(assignments) - set(groups or {}))
    if not others:
        return ""
    holders = sorted({g.principal_id for g in registry_grants(facts, registry, assignments, others)
                      if not _broad(g, registry)})
    if not holders:
        return ""
    names = facts.directory_objects(holders)
    return " A pull role is held by group(s) {}, which the identity is not a member of.".format(
        ", ".join((names.get(h.lower()) or {}).get("displayName") or h for h in holders))


def _through(grant, groups):
    if grant.principal_id.lower() in (groups or {}):
        return " (through its membership of group {})".format(groups[grant.principal_id.lower()] or grant.principal_id)
    return ""


def _coverage(grants):
    texts = []
    for g in grants:
        if g.repositories not in texts:
            texts.append(g.repositories)
    return "all repositories" if "all repositories" in texts else "; ".join(texts)


def _quoted(names):
    return ", ".join("'{}'".format(n) for n in names)


def _condition_command(registry, object_id):
    return ('az role assignment list --scope {} --assignee {} --include-inherited --query '
            '"[].{{role:roleDefinitionName, condition:condition}}" -o jsonc'.format(registry["id"], object_id))


# --- C1.S2 -----------------------------------------------------------------------------------------------------


@check("sp-credential-expiry", "C1.S2", "The cluster's service principal has an unexpired secret",
       "Reads the service principal's application in Microsoft Graph and checks the end dates of its password "
       "credentials: none valid fails, the last one ending within 30 days warns.", groups=("auth",),
       needs=("application", "pull_identity", "service_principal"))
def sp_credential_expiry(chk, facts):
    identity = facts.pull_identity()
    if identity["kind"] != "servicePrincipal":
        return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED,
                            "The cluster uses a managed identity (kubelet identity {}), not a service principal: "
                            "there is no client secret to expire.".format(identity.get("name")))]
    app_id = identity["clientId"]
    name = identity.get("name") or app_id
    target = "service principal {}".format(app_id if name == app_id else "{} ({})".format(name, app_id))
    words = "service principal {}".format(app_id if name == app_id else "{} ({})".format(name, app_id))
    if not identity.get("exists"):
        return [chk.finding(
            target, FAIL,
            "The cluster's service principal {} no longer exists in Microsoft Entra ID: nodes cannot get a token "
            "to pull (or to reach Azure at all). Give the cluster a new service principal.".format(app_id),
            new_sp_command(facts), clientId=app_id)]
    sp = facts.service_principal(app_id) or {}
    app = facts.application(app_id)
    creds = list((app or {}).get("passwordCredentials") or []) + list(sp.get("passwordCredentials") or [])
    state = expiry(password_ends(creds))
    evidence = {"clientId": app_id, "objectId": identity.get("objectId"), "applicationFound": app is not None,
                "passwordCredentials": [{"keyId": c.get("keyId"), "displayName": c.get("displayName"),
                                         "endDateTime": c.get("endDateTime")} for c in creds],
                "validUntil": state.valid_until.isoformat() if state.valid_until else None}
    fix = reset_sp_command(facts, app_id, app is not None)
    also = " Image pull secrets made from this service principal need the new secret too (see pull-secret-sp)."
    where = "" if app is not None else " (its application is not in this tenant, so only the service principal's " \
        "own credentials were read)"
    if state.state == "none":
        return [chk.finding(target, FAIL, "The cluster's {} has no password credential{}: the secret the "
                            "cluster holds no longer exists, so nodes cannot sign in to pull.{}".format(
                                words, where, also), fix, **evidence)]
    if state.state == "expired":
        return [chk.finding(target, FAIL, "Every password credential of the cluster's {} has expired (the last "
                            "on {}): nodes cannot sign in to pull.{}".format(words, day(state.expired_on), also),
                            fix, **evidence)]
    if state.state == "expiring":
        return [chk.finding(target, WARNING, "The cluster's {} has a valid password credential only until {}: "
                            "pulls will fail with 401 after that unless it is renewed.{}".format(
                                words, day(state.valid_until), also), fix, **evidence)]
    until = "without an end date" if state.never_expires else "until {}".format(day(state.valid_until))
    note = ""
    if state.expired:
        note = (" {} other credential(s) expired (the last on {}); if the cluster was given one of those, reset "
                "its credentials.".format(state.expired, day(state.expired_on)))
    return [chk.finding(target, PASS, "The cluster's {} has a valid password credential {}.{}".format(
        words, until, note), **evidence)]


# --- C1.S3 -----------------------------------------------------------------------------------------------------


@check("sp-role-principal", "C1.S3", "Registry pull roles point at the cluster's current identity",
       "Looks among the principals of the registry's pull roles for one this cluster used before, on evidence that "
       "ties it to the cluster (az aks create's name and identifier URI, replaced credentials, a recreated kubelet "
       "identity's former principal); the tenant's other principals are never called stale.", groups=("auth",),
       needs=("application", "cluster", "directory_objects", "member_groups", "node_resource_group", "node_vmss",
              "pull_identity", "registries", "registry_lookups", "role_assignments", "role_definition",
              "service_principal", "service_principal_clusters"))
def sp_role_principal(chk, facts):
    return per_registry(chk, facts, _principal_finding, facts.pull_identity())


def _principal_finding(chk, facts, registry, identity):
    target = registry_target(registry)
    managed = identity["kind"] == "kubeletIdentity"
    oid = (identity.get("objectId") or "").lower()
    assignments = facts.role_assignments(registry["id"])
    current = {"kind": identity["kind"], "objectId": identity.get("objectId"), "clientId": identity.get("clientId")}
    who = identity_words(identity) if oid else "service principal {} (which no longer exists)".format(
        identity["clientId"])
    if oid:
        if lacks_builtin_pull_role(assignments, oid, registry):
            # No built-in pull role of its own: the holders are likely asked for below, and the roles of the groups
            # (held through a membership, or named as groups it is not in); none of it waits for the memberships.
            groups = group_role_definition_ids(assignments)
            facts.prefetch(lambda: _pull_holders(facts, registry, assignments),
                           lambda: facts.parallel(facts.role_definition, groups))
        own = principals_of(facts, identity["objectId"], assignments)[0]
        if registry_grants(facts, registry, assignments_of(assignments, own), own):
            words = "The pull role on {} points at the cluster's current {}.".format(registry["name"], who)
            return chk.finding(target, SKIPPED if managed else PASS, words + (
                " Stale service principals apply to service-principal clusters." if managed else ""),
                currentPrincipal=current)
    index = _pull_holders(facts, registry, assignments)
    tied, unsure = _tied_holders(facts, identity, index)
    evidence = {"currentPrincipal": current, "registryId": registry["id"], "stalePrincipals": tied}
    evidence.update(unsure)
    skip = {oid} | {t["principalId"].lower() for t in tied}
    others = _others(facts, index, skip)
    orphaned = [index["holders"][pid] for pid in index["orphaned"][:OTHERS_SHOWN + len(skip)] if pid not in skip]
    evidence["otherPrincipals"] = others
    evidence["otherPrincipalCount"] = len(index["holders"]) - len(skip & set(index["holders"]))
    evidence["orphanedAssignments"] = [{"principalId": e["principalId"], "roleAssignmentIds": e["roleAssignmentIds"]}
                                       for e in orphaned[:OTHERS_SHOWN]]
    if not tied:
        return _nothing_tied(chk, target, registry, managed, who, others, orphaned, evidence)
    kinds = {t["kind"] for e in tied for t in e["ties"]}
    cause = "recreated" if kinds & {"formerKubeletIdentity", "recordedForKubeletIdentity"} else \
        "moved" if managed else "reset"
    decision = decided(FAIL, "stale", evidence, cause=cause, tied=tied, orphaned=orphaned, who=who, registry=registry,
                       principal_id=identity.get("objectId") if oid else None)
    return chk.worded(target, decision, PRINCIPAL_WORDS, facts, identity)


STALE_CAUSES = {
    "recreated": "the kubelet identity was deleted and recreated, and the role stayed with its former principal",
    "moved": "the cluster moved to a managed identity and the role stayed with its former service principal",
    "reset": "the cluster's credentials were reset to another service principal and the role stayed with the old one"}


def _stale(facts, identity, cause, tied, orphaned, who, registry, principal_id):
    names = "; ".join("{} ({})".format(_principal_words(e), "; ".join(_tie_words(t, identity) for t in e["ties"]))
                      for e in tied)
    words = ("The pull role(s) on {} point at {}, not at the cluster's current {}: {}. Grant the role to the current "
             "identity; the old assignment(s) can then be removed with `az role assignment delete --ids {}`.".format(
                 registry["name"], names, who, STALE_CAUSES[cause],
                 " ".join(a for e in tied for a in e["roleAssignmentIds"])))
    attach = "az aks update -n {} -g {} --attach-acr {}".format(facts.cluster_name, facts.cluster_resource_group,
                                                                registry["id"])
    if not principal_id:
        fix = new_sp_command(facts) + " && " + attach
    elif is_abac(registry):
        fix = assign_command(principal_id, registry)
    else:
        fix = attach
    return words + _housekeeping(registry, orphaned), fix


PRINCIPAL_WORDS = {"stale": _stale}


# How many of the principals not tied to the cluster a finding lists (the rest are counted).
OTHERS_SHOWN = 20
BROAD_PATTERNS = ("'*'", "'*/read'")


def _nothing_tied(chk, target, registry, managed, who, others, orphaned, evidence):
    """No pull role points at an identity this cluster used before: the missing role is acr-role-assignment's."""
    present = [e for e in others if e["exists"]]
    held = ""
    if present:
        shown = [e["displayName"] or e["principalId"] for e in present[:5]]
        held = " (held by {}{})".format(", ".join(shown), " and {} more".format(len(present) - 5)
                                        if len(present) > 5 else "")
    words = ("No pull role on {} points at an identity this cluster used before{}: nothing ties those principals to "
             "this cluster (neither its name, its DNS prefix nor its kubelet identity's records); the {} holds none "
             "itself (see acr-role-assignment).".format(registry["name"], held, who))
    words += _housekeeping(registry, orphaned)
    if managed:
        return chk.finding(target, SKIPPED, words + " The cluster uses a managed identity.", **evidence)
    return chk.finding(target, PASS, words, **evidence)


def _housekeeping(registry, orphaned):
    if not orphaned:
        return ""
    return (" Housekeeping, not the cause: {} assignment(s) on {} point at {}; nothing ties {} to this cluster."
            .format(sum(len(e["roleAssignmentIds"]) for e in orphaned), registry["name"],
                    "; ".join(_principal_words(e) for e in orphaned[:3]) + (" and {} more".format(len(orphaned) - 3)
                                                                            if len(orphaned) > 3 else ""),
                    "it" if len(orphaned) == 1 else "them"))


def _broad(grant, registry):
    """A grant through a role that reads or manages everything (`*`, `*/read`: Owner, Contributor, Reader), held on
    a scope that encloses the registry."""
    return not same_id(grant.scope, registry["id"]) and any(p in grant.via for p in BROAD_PATTERNS)


def _others(facts, index, skip):
    """Up to OTHERS_SHOWN holders not tied to the cluster: those in the cluster's own resource groups first, then by
    name. Looked up in the registry's index, so a cluster's work does not grow with the holders."""
    near = []
    for group in (facts.cluster_resource_group, facts.node_resource_group()):
        near += [pid for pid in index["byGroup"].get((group or "").lower(), []) if pid not in near]
    chosen = [pid for pid in near if pid not in skip]
    for pid in index["ordered"][:OTHERS_SHOWN + len(skip) + len(near)]:
        if len(chosen) >= OTHERS_SHOWN:
            break
        if pid not in skip and pid not in chosen:
            chosen.append(pid)
    return [index["holders"][pid] for pid in chosen[:OTHERS_SHOWN]]


def _shared_once(facts, key, fetch):
    """A fact of the registry, the same for every cluster of a fleet run (worked out once there)."""
    return facts.shared_once(key, fetch)


def _pull_holders(facts, registry, assignments):
    """The principals (not users or groups) that hold a pull role on the registry, with their directory objects,
    indexed by the keys that can tie one to a cluster. Once per registry: a fleet's clusters look candidates up here
    instead of scanning every holder."""
    return _shared_once(facts, ("pull_holders", registry["id"].lower()),
                        lambda: _index_holders(facts, registry, assignments))


def _index_holders(facts, registry, assignments):
    principals, wide = holder_candidates(assignments, registry)
    if wide:
        facts.prefetch(lambda: facts.directory_objects(principals))
    grants = registry_grants(facts, registry, assignments, principals)
    if not grants:
        objects = {}
    else:
        objects = facts.directory_objects(principals if wide else sorted({g.principal_id for g in grants}))
    holders, by_name, by_uri, by_rid = {}, {}, {}, {}
    for g in grants:
        pid = g.principal_id.lower()
        broad = _broad(g, registry)
        entry = holders.get(pid)
        if entry is None:
            obj = objects.get(pid)
            rids = alternative_resource_ids(obj or {})
            entry = holders[pid] = {
                "principalId": g.principal_id, "exists": obj is not None, "appId": (obj or {}).get("appId"),
                "displayName": (obj or {}).get("displayName"),
                "servicePrincipalType": (obj or {}).get("servicePrincipalType"),
                "resourceId": rids[0] if rids else None, "role": g.role_name, "roleAssignmentId": g.assignment_id,
                "roles": [], "roleAssignmentIds": [], "broadOnly": True}
            for key in name_keys((obj or {}).get("displayName")):
                by_name.setdefault(key, []).append(pid)
            for key in uri_keys(obj or {}):
                by_uri.setdefault(key, []).append(pid)
            for rid in rids:
                by_rid.setdefault(rid.lower(), []).append(pid)
        entry["roles"].append("{} at {}".format(g.role_name, g.scope))
        entry["roleAssignmentIds"].append(g.assignment_id)
        entry["broadOnly"] = entry["broadOnly"] and broad
    by_group = {}
    for pid, entry in holders.items():
        rid = parse_resource_id(entry["resourceId"]) if entry["resourceId"] else None
        if rid and rid.resource_group:
            by_group.setdefault(rid.resource_group.lower(), []).append(pid)
    ordered = sorted(holders, key=lambda p: ((holders[p]["displayName"] or "~").lower(), p))
    position = {p: i for i, p in enumerate(ordered)}
    return {"holders": holders, "objects": objects, "byName": by_name, "byUri": by_uri, "byResourceId": by_rid,
            "byGroup": {g: sorted(p, key=position.get) for g, p in by_group.items()}, "ordered": ordered,
            "orphaned": [p for p in ordered if not holders[p]["exists"]]}


def _tied_holders(facts, identity, index):
    """The holders that evidence ties to this cluster, each with its ``ties``; and evidence of what could not be
    read. A holder another cluster runs as is never tied (a cluster of the same name elsewhere)."""
    managed = identity["kind"] == "kubeletIdentity"
    props = facts.cluster().get("properties") or {}
    cluster = {"name": facts.cluster_name, "dnsPrefix": props.get("dnsPrefix") or props.get("fqdnSubdomain"),
               "location": facts.cluster().get("location")}
    oid = (identity.get("objectId") or "").lower()
    holders = index["holders"]
    candidates = set(index["byName"].get(cluster["name"].lower(), []))
    candidates |= set(index["byUri"].get((cluster["dnsPrefix"] or "").lower(), []))
    if managed:
        candidates |= set(index["byResourceId"].get((identity.get("resourceId") or "").lower(), []))
    unsure, recorded = {}, {}
    if managed and set(holders) - {oid}:
        try:
            recorded = recorded_principals(facts.node_vmss(), identity.get("resourceId"))
        except FactError as err:
            unsure["scaleSetsUnread"] = err.reason
        candidates |= set(recorded) & set(holders)
    candidates.discard(oid)
    tied = []
    starts = None
    for pid in sorted(candidates):
        entry, obj = holders[pid], index["objects"].get(pid)
        found = []
        scale_set = recorded_tie(pid, recorded, identity)
        if scale_set:
            found.append({"kind": "recordedForKubeletIdentity", "detail": scale_set})
        if obj is not None:
            if not managed and starts is None:
                starts = _current_starts(facts, identity)
            app = _application_if_needed(facts, obj, cluster, managed)
            found += ties(dict(obj, application=app) if app else obj, cluster, identity, starts or [])
        if found:
            tied.append(dict(entry, ties=found))
    tied, elsewhere = _in_use_elsewhere(facts, tied, unsure)
    if elsewhere:
        unsure["otherClusterPrincipals"] = elsewhere
    return tied, unsure


def _current_starts(facts, identity):
    if not identity.get("objectId"):
        return []
    try:
        sp = facts.service_principal(identity["clientId"]) or {}
        app = facts.application(identity["clientId"]) or {}
    except FactError:
        return []
    return credential_starts(app.get("passwordCredentials"), app.get("keyCredentials"),
                             sp.get("passwordCredentials"), sp.get("keyCredentials"))


def _application_if_needed(facts, obj, cluster, managed):
    """The application of a service principal whose name only begins with the cluster's (its credentials decide);
    None otherwise or when it cannot be read."""
    if managed or not obj.get("appId") or name_tie(obj.get("displayName"), cluster["name"]) or \
            not begins_with_cluster(obj.get("displayName"), cluster["name"]):
        return None
    try:
        return facts.application(obj["appId"])
    except FactError:
        return None


def _in_use_elsewhere(facts, tied, unsure):
    """Take out of ``tied`` the service principals another cluster runs as: a cluster of the same name elsewhere
    names its service principal the same way, and that role is its own. Returns (tied, those taken out)."""
    candidates = [e for e in tied if e.get("appId") and e.get("servicePrincipalType") != MANAGED_IDENTITY]
    if not candidates:
        return tied, []
    try:
        users = facts.service_principal_clusters()
    except FactError as err:
        unsure["clustersUnread"] = err.reason
        return tied, []
    own = (facts.cluster().get("id") or "").lower()
    kept, elsewhere = [], []
    for entry in tied:
        used_by = [c for c in users["byAppId"].get((entry.get("appId") or "").lower(), []) if c.lower() != own]
        if used_by:
            elsewhere.append(dict(entry, usedByClusters=used_by))
        else:
            kept.append(entry)
    if users["unreadable"]:
        unsure["clustersUnread"] = users["unreadable"]
    return kept, elsewhere


def _tie_words(tie, identity):
    detail = tie["detail"]
    if tie["kind"] == "identifierUri":
        return "its identifier URI {} carries this cluster's DNS prefix, as `az aks create` named the service " \
               "principal it made for the cluster".format(detail)
    if tie["kind"] == "displayName":
        return "named after this cluster"
    if tie["kind"] == "replacedCredentials":
        return "its name begins with the cluster's, and it got no credential after the cluster's current service " \
               "principal got its own"
    if tie["kind"] == "formerKubeletIdentity":
        return "the managed identity {} under another object id: the kubelet identity was recreated".format(
            id_name(detail))
    return "scale set {} still records it as the principal of kubelet identity {}".format(
        id_name(detail), identity.get("name"))


def _principal_words(entry):
    if not entry["exists"]:
        return "principal {} (deleted: it no longer exists in Microsoft Entra ID)".format(entry["principalId"])
    if entry.get("servicePrincipalType") == MANAGED_IDENTITY:
        return "managed identity {} (object id {})".format(entry["displayName"] or entry["appId"],
                                                            entry["principalId"])
    return "service principal {} (appId {}, object id {})".format(
        entry["displayName"] or entry["appId"], entry["appId"], entry["principalId"])


# --- C1.S4 -----------------------------------------------------------------------------------------------------


@check("kubelet-identity-vmss", "C1.S4,B.drift", "Every node pool's scale set carries the kubelet identity",
       "Reads the kubelet identity's resource (deleted, or recreated with the same name and a new principal: "
       "B.drift) and each node pool's VMSS in the node resource group, and checks that the kubelet identity is "
       "among its user-assigned identities (someone may have removed it through IaaS APIs).", groups=("auth",),
       needs=("cluster", "cluster_subscription", "node_pools", "node_resource_group", "node_vmss", "pull_identity",
              "user_assigned_identity"),
       optional=("registries",))
def kubelet_identity_vmss(chk, facts):
    identity = facts.pull_identity()
    pools = facts.node_pools()
    if identity["kind"] != "kubeletIdentity":
        return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED,
                            "The cluster pulls with its service principal, not a kubelet identity; nodes read it "
                            "from their configuration, not from the scale set's identities.")]
    if identity.get("resourceId"):   # read alongside the scale sets; a scale set that cannot be read says why first
        facts.prefetch(lambda: facts.user_assigned_identity(identity["resourceId"]))
    scale_sets = facts.node_vmss() if any(_is_vmss(p) for p in pools) else []
    drift = _drift(chk, facts, identity, pools)
    lockdown = ((facts.cluster().get("properties", {}).get("nodeResourceGroupProfile") or {})
                .get("restrictionLevel") or "Unrestricted")
    findings = [drift] if drift else []
    for pool in pools:
        target, decision = _decide_pool(facts, identity, pool, scale_sets, drift, lockdown)
        findings.append(chk.worded(target, decision, POOL_WORDS, facts))
    return findings


def _decide_pool(facts, identity, pool, scale_sets, drift, lockdown):
    """(target, decision) for one node pool: does its scale set carry the kubelet identity?"""
    name = pool.get("name")
    if not _is_vmss(pool):
        return "node pool {}".format(name), decided(SKIPPED, "not-vmss", {"poolType": pool.get("type")}, pool=pool)
    vmss = _vmss_of_pool(scale_sets, name)
    if vmss is None:
        return "node pool {}".format(name), decided(FAIL, "no-vmss", {"nodeResourceGroup": facts.node_resource_group()},
                                                    pool=pool, kubelet=None)
    target = "node pool {} ({})".format(name, vmss["name"])
    assigned = list(((vmss.get("identity") or {}).get("userAssignedIdentities") or {}).keys())
    evidence = {"vmssId": vmss["id"], "kubeletIdentity": identity["resourceId"],
                "userAssignedIdentities": assigned, "nodeResourceGroupRestrictionLevel": lockdown}
    common = {"pool": pool, "vmss": vmss, "identity": identity}
    if any(same_id(a, identity["resourceId"]) for a in assigned):
        if drift:
            return target, decided(FAIL, "drift", dict(drift=drift.evidence["drift"], **evidence), drift=drift,
                                   **common)
        return target, decided(PASS, "carries", evidence, **common)
    return target, decided(FAIL, "lost", evidence, lockdown=lockdown, kubelet=identity["resourceId"], **common)


def _reconcile_command(facts):
    return "az aks update -g {} -n {}".format(facts.cluster_resource_group, facts.cluster_name)


def _pool_not_vmss(facts, pool):
    return ("Node pool {} is a {} pool, not a virtual machine scale set: its nodes are individual VMs, so there is no "
            "scale set identity to check.".format(pool.get("name"), pool.get("type") or "non-VMSS")), ""


def _pool_no_vmss(facts, pool, kubelet):
    return ("No scale set for node pool {} was found in node resource group {}; its nodes cannot carry the kubelet "
            "identity.".format(pool.get("name"), facts.node_resource_group())), _reconcile_command(facts)


def _pool_drift(facts, pool, vmss, identity, drift):
    return ("Scale set {} carries the kubelet identity's resource id {}, but that identity {} (see the kubelet "
            "identity finding).".format(vmss["name"], identity["name"], drift.evidence["drift"]), drift.remediation)


def _pool_carries(facts, pool, vmss, identity):
    return "Scale set {} carries the kubelet identity {}.".format(vmss["name"], identity["name"]), ""


def _pool_lost(facts, pool, vmss, identity, lockdown, kubelet):
    if lockdown == "ReadOnly":
        guard = "Node resource group lockdown is ReadOnly now, so it cannot be removed again by hand."
    else:
        guard = ("Node resource group lockdown keeps it from happening again: az aks update -g {} -n {} "
                 "--nrg-lockdown-restriction-level ReadOnly.".format(facts.cluster_resource_group, facts.cluster_name))
    return ("Scale set {} does not carry the kubelet identity {}: nodes of pool {} cannot get a token to pull. AKS "
            "never removes it, so it was removed outside AKS (portal or IaaS APIs); reconciling the cluster with "
            "`az aks update` and no other arguments re-adds it. {}".format(vmss["name"], identity["name"],
                                                                         pool.get("name"), guard),
            _reconcile_command(facts))


POOL_WORDS = {"not-vmss": _pool_not_vmss, "no-vmss": _pool_no_vmss, "drift": _pool_drift, "carries": _pool_carries,
              "lost": _pool_lost}


def _drift(chk, facts, identity, pools):
    """B.drift: the kubelet identity's resource is gone, or holds another principal or client id than the cluster's
    profile (deleted and recreated with the same name). The scale sets and the pull role still point at the old
    principal, so nodes get no token. Returns a Fail finding, or None when the resource matches the profile."""
    resource_id = identity.get("resourceId")
    if not resource_id:
        return None
    found = facts.user_assigned_identity(resource_id)
    props = (found or {}).get("properties") or {}
    profile = {"principalId": identity.get("objectId"), "clientId": identity.get("clientId")}
    current = {"principalId": props.get("principalId"), "clientId": props.get("clientId")}
    evidence = {"kubeletIdentity": resource_id, "profile": profile, "resource": current if found else None}
    if found is not None and all((profile[k] or "").lower() == (current[k] or "").lower() for k in profile):
        return None
    cluster, rg = facts.cluster_name, facts.cluster_resource_group
    name = identity["name"]
    if found is None:
        evidence["drift"] = "no longer exists"
        words = ("The cluster's kubelet identity {} (principal {}, client id {}) no longer exists: GET {} answers "
                 "404. Nodes cannot get a token for it, so every pull goes out without a credential "
                 "(anonymous-token 401).".format(name, profile["principalId"], profile["clientId"], resource_id))
        rid = parse_resource_id(resource_id)
        create = "az identity create -g {} -n {}{} && ".format(
            rid.resource_group, rid.name, "" if rid.subscription.lower() == (facts.cluster_subscription() or "")
            .lower() else " --subscription {}".format(rid.subscription))
    else:
        evidence["drift"] = "was recreated with a new principal"
        words = ("The cluster's kubelet identity {} was recreated: the cluster's profile holds principal {} and "
                 "client id {}, the identity resource now has principal {} and client id {}. The scale sets and the "
                 "pull role still point at the old principal, so nodes get no token for the new one.".format(
                     name, profile["principalId"], profile["clientId"], current["principalId"], current["clientId"]))
        create = ""
    control = facts.cluster().get("identity") or {}
    plane = next(iter((control.get("userAssignedIdentities") or {}).keys()), None)
    assign = ("az aks update -g {} -n {} --enable-managed-identity --assign-identity {} "
              "--assign-kubelet-identity {}").format(
                  rg, cluster, plane or "<user-assigned control plane identity resource id>", resource_id)
    upgrades = " && ".join("az aks nodepool upgrade -g {} --cluster-name {} -n {} --node-image-only".format(
        rg, cluster, p.get("name")) for p in pools)
    registries = _registry_ids(facts)
    attach = " && ".join("az aks update -g {} -n {} --attach-acr {}".format(rg, cluster, r) for r in registries) or \
        "az aks update -g {} -n {} --attach-acr <registry>".format(rg, cluster)
    words += (" Fix in three steps: assign the identity to the cluster again{}, upgrade each node pool's node image "
              "so the nodes take it, then attach the registry again so the new principal holds the pull role.".format(
                  "" if plane else " (this needs a user-assigned control plane identity, --assign-identity)"))
    return chk.finding("kubelet identity {}".format(name), FAIL, words,
                       " && ".join(filter(None, [create + assign, upgrades, attach])), **evidence)


def _registry_ids(facts):
    try:
        return [r["id"] for r in facts.registries()]
    except FactError:
        return []


def _is_vmss(pool):
    return (pool.get("type") or "VirtualMachineScaleSets") == "VirtualMachineScaleSets"


def _vmss_of_pool(scale_sets, pool_name):
    for vmss in scale_sets:
        tags = {k.lower(): v for k, v in (vmss.get("tags") or {}).items()}
        if tags.get("aks-managed-poolname", "").lower() == pool_name.lower():
            return vmss
    for vmss in scale_sets:
        if vmss.get("name", "").lower().startswith("aks-{}-".format(pool_name.lower())):
            return vmss
    return None
