"""Cause 1: 401 Unauthorized. Does the identity the nodes pull with hold a pull role, and can it sign in?"""
from datetime import datetime, timedelta, timezone

from ..credentials import day, expiry, parse_time, password_ends
from ..facts import FactError
from ..findings import FAIL, PASS, SKIPPED, WARNING, check
from ..ids import id_name, parse_resource_id, same_id
from ..roles import (
    ABAC_MODE,
    PULL_ACTION,
    REPOSITORY_CONTENT_READ,
    REPOSITORY_METADATA_READ,
    any_group,
    assignments_of,
    denial,
    group_ids,
    pull_grants,
)
from .registry import registry_target

PROPAGATION = timedelta(minutes=30)
REPOSITORY_READER = "Container Registry Repository Reader"
MANAGED_IDENTITY = "ManagedIdentity"


# --- shared by the checks of this module and of secrets.py ------------------------------------------------------


def identity_words(identity):
    if identity["kind"] == "kubeletIdentity":
        return "kubelet identity {} (object id {})".format(identity["name"], identity["objectId"])
    return "service principal {} (appId {}, object id {})".format(
        identity.get("name") or identity["clientId"], identity["clientId"], identity.get("objectId") or "unknown")


def is_abac(registry):
    return (registry.get("properties", {}).get("roleAssignmentMode") or "") == ABAC_MODE


def _images(facts):
    """--image and, when the reader knows them, the --pod's images; a pod that cannot be read adds none (the pod
    and pull-secret checks say why)."""
    entries = getattr(facts, "image_entries", None)   # not every reader (fleet) knows pods
    if entries is None:
        return list(facts.request.images)
    try:
        return [e["reference"] for e in entries() if e["reference"]]
    except FactError:
        return list(facts.request.images)


def repositories_for(facts, registry):
    """Repositories of the images this run is about that live in `registry`, in order, without repeats."""
    login = (registry.get("properties", {}).get("loginServer") or "").lower()
    found = []
    for image in _images(facts):
        if image.registry.lower() == login and image.repository not in found:
            found.append(image.repository)
    return found


def no_registry(chk, facts):
    return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED,
                        "No registry to check: the registry named was not found (see registry-lookup).")]


def raise_first(results):
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def registry_grants(facts, registry, assignments, principal_ids, repository=None, abac=None):
    """Pull grants among `assignments` (as listed at the registry) for these principals; `abac` overrides the
    registry's own mode (to tell what a role would grant in the other one)."""
    wanted = {p.lower() for p in principal_ids}
    assignments = assignments_of(assignments, wanted)   # through the list's index: a shared registry has thousands
    definition_ids = sorted({a["properties"]["roleDefinitionId"] for a in assignments
                             if (a.get("properties", {}).get("principalId") or "").lower() in wanted})
    fetched = raise_first(facts.parallel(facts.role_definition, definition_ids))
    definitions = dict(zip(definition_ids, fetched, strict=True))
    # The list at a registry holds only assignments that apply there, so a management group scope among them is
    # one that holds the registry's subscription.
    mgs = frozenset(a["properties"]["scope"].rsplit("/", 1)[-1].lower() for a in assignments
                    if "/managementgroups/" in (a.get("properties", {}).get("scope") or "").lower())
    return pull_grants(assignments, definitions, principal_ids, registry["id"],
                       is_abac(registry) if abac is None else abac,
                       repository=repository, management_groups=mgs)


def principals_of(facts, object_id, assignments):
    """The principal ids whose roles apply to `object_id` at the registry: its own, and the groups it belongs to
    when some group holds a role there (Graph is asked only then). Returns (ids, {group id: name})."""
    if not any_group(assignments):
        return [object_id], {}
    groups = facts.member_groups(object_id)
    return [object_id] + sorted(groups), groups


def held_roles_words(facts, registry, assignments, action=PULL_ACTION, data=False):
    """What the roles an identity holds at the registry lack, in words: 'X at scope (why not)'."""
    ids = sorted({a["properties"]["roleDefinitionId"] for a in assignments})
    definitions = dict(zip(ids, raise_first(facts.parallel(facts.role_definition, ids)), strict=True))
    words = []
    for a in assignments:
        props = a.get("properties", {})
        role = (definitions.get(props.get("roleDefinitionId")) or {}).get("properties") or {}
        why = denial(role.get("permissions"), action, data)
        if why:
            words.append("{} at {} ({})".format(role.get("roleName") or id_name(props.get("roleDefinitionId")),
                                                props.get("scope"), why))
    return "; ".join(words)


def assign_command(object_id, registry, role=None, repository_condition=None):
    """`az role assignment create` for a pull role on the registry (the only way to grant an ABAC role)."""
    role = role or (REPOSITORY_READER if is_abac(registry) else "AcrPull")
    command = ('az role assignment create --assignee-object-id {} --assignee-principal-type ServicePrincipal '
               '--role "{}" --scope {}'.format(object_id, role, registry["id"]))
    if repository_condition:
        command += ' --condition "{}" --condition-version 2.0'.format(repository_condition)
    return command


def repository_condition(repositories):
    """A condition limiting repository reads to these repositories, as Azure's portal writes it (with NOT for `!`,
    which an interactive shell would expand inside double quotes)."""
    names = " OR ".join("@Request[Microsoft.ContainerRegistry/registries/repositories:name] "
                        "StringEqualsIgnoreCase '{}'".format(r) for r in repositories)
    return ("((NOT ActionMatches{{'{}'}} AND NOT ActionMatches{{'{}'}}) OR ({}))".format(
        REPOSITORY_CONTENT_READ, REPOSITORY_METADATA_READ, names))


def acr_args(facts, registry):
    """-n/-g (and --subscription when it differs from the cluster's) for `az acr ...` commands."""
    rid = parse_resource_id(registry["id"])
    args = "-n {} -g {}".format(registry["name"], rid.resource_group)
    if rid.subscription.lower() != (facts.cluster_subscription() or "").lower():
        args += " --subscription {}".format(rid.subscription)
    return args


def reset_sp_command(facts, app_id, app_exists=True):
    """Give the cluster a new secret of its service principal (kept alongside the others, so nothing else that
    uses the service principal breaks)."""
    kind = "app" if app_exists else "sp"
    return ('az aks update-credentials -g {} -n {} --reset-service-principal --service-principal {} '
            '--client-secret "$(az ad {} credential reset --id {} --append --query password -o tsv)"'.format(
                facts.cluster_resource_group, facts.cluster_name, app_id, kind, app_id))


def new_sp_command(facts):
    """A new service principal for a cluster whose own no longer exists."""
    return ('read -r APP_ID SECRET <<< "$(az ad sp create-for-rbac --name {}-sp --query "[[appId, password]]" -o tsv)" '
            '&& az aks update-credentials -g {} -n {} --reset-service-principal --service-principal "$APP_ID" '
            '--client-secret "$SECRET"'.format(facts.cluster_name, facts.cluster_resource_group, facts.cluster_name))


def created_at(assignments, assignment_id):
    for a in assignments:
        if same_id(a.get("id"), assignment_id):
            return parse_time(a.get("properties", {}).get("createdOn"))
    return None


# --- C1.S1, X.abac ---------------------------------------------------------------------------------------------


@check("acr-role-assignment", "C1.S1,X.abac", "The cluster's pull identity holds a pull role on the registry",
       "Evaluates every role assignment that applies to the registry (inherited ones included) for the kubelet "
       "identity or service principal, by what the role grants (actions, notActions, wildcards), and on ABAC "
       "registries by repository permissions and conditions.", groups=("auth",), fleet=True)
def acr_role_assignment(chk, facts):
    # The registries' role assignments do not wait for the pull identity (a Graph look-up on a service-principal
    # cluster): start reading them first.
    facts.prefetch(lambda: [facts.role_assignments(r["id"]) for r in facts.registries()])
    identity = facts.pull_identity()
    registries = facts.registries()
    if not registries:
        return no_registry(chk, facts)
    return [_role_finding(chk, facts, identity, registry) for registry in registries]


def _role_finding(chk, facts, identity, registry):
    target = registry_target(registry)
    cluster, rg = facts.cluster_name, facts.cluster_resource_group
    abac = is_abac(registry)
    if not identity.get("objectId"):
        return chk.finding(
            target, FAIL,
            "The cluster's service principal {} does not exist in Microsoft Entra ID, so no role on {} can apply to "
            "it; nodes cannot sign in to pull.".format(identity["clientId"], registry["name"]),
            new_sp_command(facts) + " && az aks update -n {} -g {} --attach-acr {}".format(cluster, rg, registry["id"]),
            principalKind=identity["kind"], clientId=identity["clientId"])
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
    who = identity_words(identity)

    if not general:
        if abac:
            ignored = registry_grants(facts, registry, mine, ids, abac=False)
            held = ", ".join(sorted({g.role_name for g in ignored}))
            why = ("{} uses ABAC repository permissions (RBAC Registry + ABAC Repository Permissions), where "
                   "registry-wide roles such as AcrPull do not grant pull; the {} holds no role with the repository "
                   "content read permission ({}), such as Container Registry Repository Reader.{} "
                   "`az aks update --attach-acr` cannot assign that role.".format(
                       registry["name"], who, REPOSITORY_CONTENT_READ,
                       " It holds {}, which this mode ignores.".format(held) if held else ""))
            return chk.finding(target, FAIL, why, assign_command(oid, registry), **evidence)
        why = "The {} holds no role that grants {} on {}".format(who, PULL_ACTION, registry["name"])
        held = held_roles_words(facts, registry, mine)
        why += ": it holds {}.".format(held) if held else " (no role assignment of this identity applies there)."
        workload = _workload_identity_grant(facts, registry, assignments) if identity["kind"] == "kubeletIdentity" \
            else None
        if workload:
            evidence["workloadIdentity"] = workload
            why += (" The pull role is held instead by the workload identity {} (client id {}) that service account "
                    "{} names in azure.workload.identity/client-id: the kubelet pulls images with the node's kubelet "
                    "identity, never with a pod's workload identity, which only gives the pod's own code its "
                    "tokens.".format(workload["name"], workload["clientId"], workload["serviceAccount"]))
        why += _other_groups(facts, registry, assignments, groups)
        return chk.finding(target, FAIL, why, "az aks update -n {} -g {} --attach-acr {}".format(
            cluster, rg, registry["id"]), **evidence)

    if abac and repositories:
        uncovered = [r for r in repositories if not per_repo[r]]
        unsure = [r for r in repositories if per_repo[r] and not any(g.certain for g in per_repo[r])]
        covers = _coverage(general)
        if uncovered:
            return chk.finding(
                target, FAIL,
                "On {} (ABAC repository permissions) the {} may read {}, which does not include {}.".format(
                    registry["name"], who, covers, _quoted(uncovered)),
                assign_command(oid, registry, repository_condition=repository_condition(uncovered)), **evidence,
                uncoveredRepositories=uncovered)
        if unsure:
            return chk.finding(
                target, WARNING,
                "On {} (ABAC repository permissions) the {} holds repository read permission limited by a role "
                "assignment condition that could not be fully evaluated for {}: {}. Check the condition covers "
                "the repository.".format(registry["name"], who, _quoted(unsure), covers),
                _condition_command(registry, oid), **evidence)
    elif abac and not any(g.certain for g in general):
        return chk.finding(
            target, WARNING,
            "On {} (ABAC repository permissions) the {} may read only {}; pass --image to check that the image's "
            "repository is among them.".format(registry["name"], who, _coverage(general)),
            "az aks diagnose-pull check-auth -g {} -n {} --acr {} --image {}/<repository>:<tag>".format(
                rg, cluster, registry["name"], registry.get("properties", {}).get("loginServer")), **evidence)

    granting = _unique(effective)
    roles = ", ".join(sorted({"{} at {}{}".format(g.role_name, g.scope, _through(g, groups)) for g in granting}))
    created = [created_at(mine, g.assignment_id) for g in granting]
    now = datetime.now(timezone.utc)
    if created and all(c and now - c < PROPAGATION for c in created):
        ready = max(created) + PROPAGATION
        return chk.finding(
            target, WARNING,
            "The {} holds {} on {}, but the assignment was created at {} UTC, less than 30 minutes ago; role "
            "assignments can take up to 30 minutes to take effect, and kubelet retries the pull on its own.".format(
                who, roles, registry["name"], max(created).strftime("%H:%M")),
            "Wait until {} UTC, then check again: az aks diagnose-pull check-auth -g {} -n {} --acr {}".format(
                ready.strftime("%H:%M"), rg, cluster, registry["name"]), **evidence)
    suffix = ""
    if abac:
        suffix = " (repository read permission; {})".format(_coverage(granting))
    return chk.finding(target, PASS, "The {} may pull from {}: {}{}.".format(who, registry["name"], roles, suffix),
                       **evidence)


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
    """B.wi: the --pod's service account names a workload identity (azure.workload.identity/client-id) that holds a
    pull role on the registry. Returns what the finding says about it, or None."""
    request = facts.request
    if not getattr(request, "pod", None) or not hasattr(facts, "service_account"):
        return None
    try:
        pod = facts.diagnosed_pod() or {}
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        obj = facts.service_account(request.namespace, account) or {}
        client_id = ((obj.get("metadata") or {}).get("annotations") or {}).get(WORKLOAD_CLIENT_ID)
        principal = facts.service_principal(client_id) if client_id else None
        if not principal:
            return None
        ids, groups = principals_of(facts, principal["id"], assignments)
        grants = registry_grants(facts, registry, assignments_of(assignments, ids), ids)
    except FactError:
        return None
    if not grants:
        return None
    return {"serviceAccount": "{}/{}".format(request.namespace, account), "clientId": client_id,
            "principalId": principal["id"], "name": principal.get("displayName") or client_id,
            "roles": sorted({"{} at {}{}".format(g.role_name, g.scope, _through(g, groups)) for g in grants})}


def _other_groups(facts, registry, assignments, groups):
    """Groups that could pull but do not hold the identity: the case where membership was assumed."""
    others = sorted(group_ids(assignments) - set(groups or {}))
    if not others:
        return ""
    holders = sorted({g.principal_id for g in registry_grants(facts, registry, assignments, others)})
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
       "credentials: none valid fails, the last one ending within 30 days warns.", groups=("auth",), fleet=True)
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
       "Compares the principals of the registry's pull roles with the cluster's current service principal (or "
       "kubelet identity), to catch roles left with an earlier or deleted service principal.", groups=("auth",),
       fleet=True)
def sp_role_principal(chk, facts):
    identity = facts.pull_identity()
    registries = facts.registries()
    if not registries:
        return no_registry(chk, facts)
    return [_principal_finding(chk, facts, identity, registry) for registry in registries]


def _principal_finding(chk, facts, identity, registry):
    target = registry_target(registry)
    managed = identity["kind"] == "kubeletIdentity"
    oid = (identity.get("objectId") or "").lower()
    assignments = facts.role_assignments(registry["id"])
    grants = _holder_grants(facts, registry, assignments)
    own = principals_of(facts, identity["objectId"], assignments)[0] if oid else []
    mine = registry_grants(facts, registry, assignments_of(assignments, own), own) if oid else []
    others = [g for g in grants if g.principal_id.lower() != oid]
    current = {"kind": identity["kind"], "objectId": identity.get("objectId"), "clientId": identity.get("clientId")}
    who = identity_words(identity) if oid else "service principal {} (which no longer exists)".format(
        identity["clientId"])
    if mine:
        words = "The pull role on {} points at the cluster's current {}.".format(registry["name"], who)
        return chk.finding(target, SKIPPED if managed else PASS, words + (
            " Stale service principals apply to service-principal clusters." if managed else ""),
            currentPrincipal=current)
    objects = facts.directory_objects([g.principal_id for g in others]) if others else {}
    stale, kept = [], []
    for g in others:
        obj = objects.get(g.principal_id.lower())
        entry = {"principalId": g.principal_id, "role": g.role_name, "roleAssignmentId": g.assignment_id,
                 "exists": obj is not None, "appId": (obj or {}).get("appId"),
                 "displayName": (obj or {}).get("displayName"),
                 "servicePrincipalType": (obj or {}).get("servicePrincipalType")}
        if obj is None or ((obj.get("@odata.type") or "").endswith("servicePrincipal")
                           and obj.get("servicePrincipalType") != MANAGED_IDENTITY):
            stale.append(entry)
        else:
            kept.append(entry)
    evidence = {"currentPrincipal": current, "registryId": registry["id"], "stalePrincipals": stale,
                "otherPrincipals": kept}
    shared, unsure = _in_use_elsewhere(facts, stale, evidence)
    if not stale and not shared:
        words = ("No pull role on {} points at another service principal or at a deleted identity{}; the {} holds "
                 "none itself (see acr-role-assignment).".format(
                     registry["name"], " (held by {})".format(", ".join(sorted(
                         {e["displayName"] or e["principalId"] for e in kept}))) if kept else "", who))
        if managed:
            return chk.finding(target, SKIPPED, words + " The cluster uses a managed identity.", **evidence)
        return chk.finding(target, PASS, words, **evidence)
    sentences = []
    if stale:
        names = "; ".join(_principal_words(e) for e in stale)
        if managed:
            sentences.append("The pull role(s) on {} point at {}, not at the cluster's current {}: the cluster moved "
                             "to a managed identity (or its identity was recreated) and the roles stayed with the old "
                             "principal.".format(registry["name"], names, who))
        else:
            sentences.append("The pull role(s) on {} point at {}, not at the cluster's current {}: they were probably "
                             "granted to a service principal the cluster used before its credentials were reset."
                             .format(registry["name"], names, who))
    if shared:
        sentences.append("The pull role(s) on {} {} {}, which other clusters run as ({}), not at this cluster's "
                         "current {}: the registry is shared and this cluster has no role of its own; leave theirs in "
                         "place.".format(registry["name"], "also point at" if stale else "point at",
                                         "; ".join(_principal_words(e) for e in shared),
                                         ", ".join(sorted({id_name(c) for e in shared for c in e["usedByClusters"]})),
                                         who))
    sentences.append("Grant the role to the current identity{}.".format(
        "; the old assignment(s) can then be removed with `az role assignment delete --ids {}`{}".format(
            " ".join(e["roleAssignmentId"] for e in stale), unsure) if stale else ""))
    words = " ".join(sentences)
    if not oid:
        fix = new_sp_command(facts) + " && az aks update -n {} -g {} --attach-acr {}".format(
            facts.cluster_name, facts.cluster_resource_group, registry["id"])
    elif is_abac(registry):
        fix = assign_command(identity["objectId"], registry)
    else:
        fix = "az aks update -n {} -g {} --attach-acr {}".format(facts.cluster_name, facts.cluster_resource_group,
                                                                 registry["id"])
    return chk.finding(target, FAIL, words, fix, **evidence)


def _holder_grants(facts, registry, assignments):
    """The pull grants of every principal (not user or group) at the registry, worked out once per listed
    assignments (a fleet's clusters share their registry's list, and would each scan it whole)."""
    memo = getattr(assignments, "__dict__", None)
    key = ("holder grants", registry["id"].lower(), is_abac(registry))
    if memo is not None and key in memo:
        return memo[key]
    principals = sorted({(a.get("properties", {}).get("principalId") or "").lower() for a in assignments
                         if (a.get("properties", {}).get("principalType") or "ServicePrincipal")
                         not in ("User", "Group", "ForeignGroup")} - {""})
    grants = registry_grants(facts, registry, assignments, principals)
    if memo is not None:
        memo[key] = grants
    return grants


def _in_use_elsewhere(facts, stale, evidence):
    """Take out of ``stale`` the service principals another cluster still runs as: on a shared registry their roles
    are that cluster's, and removing them would break its pulls. Returns them (``evidence.otherClusterPrincipals``)
    and words for what could not be known."""
    candidates = [e for e in stale if e["exists"] and e.get("appId")]
    if not candidates:
        return [], ""
    try:
        users = facts.service_principal_clusters()
    except FactError as err:
        evidence["clustersUnread"] = err.reason
        return [], " if no other cluster runs as it (the clusters could not be read: {})".format(
            err.reason.rstrip("."))
    own = (facts.cluster().get("id") or "").lower()
    shared = []
    for entry in candidates:
        used_by = [c for c in users["byAppId"].get(entry["appId"].lower(), []) if c.lower() != own]
        if used_by:
            stale.remove(entry)
            shared.append(dict(entry, usedByClusters=used_by))
    evidence["otherClusterPrincipals"] = shared
    if users["unreadable"]:
        evidence["clustersUnread"] = users["unreadable"]
        return shared, " if no cluster in subscription(s) {} runs as it (their clusters could not be read)".format(
            ", ".join(u["subscription"] for u in users["unreadable"]))
    return shared, ""


def _principal_words(entry):
    if not entry["exists"]:
        return "principal {} (deleted: it no longer exists in Microsoft Entra ID)".format(entry["principalId"])
    return "service principal {} (appId {}, object id {})".format(
        entry["displayName"] or entry["appId"], entry["appId"], entry["principalId"])


# --- C1.S4 -----------------------------------------------------------------------------------------------------


@check("kubelet-identity-vmss", "C1.S4,B.drift", "Every node pool's scale set carries the kubelet identity",
       "Reads the kubelet identity's resource (deleted, or recreated with the same name and a new principal: "
       "B.drift) and each node pool's VMSS in the node resource group, and checks that the kubelet identity is "
       "among its user-assigned identities (someone may have removed it through IaaS APIs).", groups=("auth",),
       fleet=True)
def kubelet_identity_vmss(chk, facts):
    identity = facts.pull_identity()
    cluster, rg = facts.cluster_name, facts.cluster_resource_group
    pools = facts.node_pools()
    if identity["kind"] != "kubeletIdentity":
        return [chk.finding("cluster {}".format(cluster), SKIPPED,
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
        name = pool.get("name")
        if not _is_vmss(pool):
            findings.append(chk.finding(
                "node pool {}".format(name), SKIPPED,
                "Node pool {} is a {} pool, not a virtual machine scale set: its nodes are individual VMs, so there "
                "is no scale set identity to check.".format(name, pool.get("type") or "non-VMSS"),
                poolType=pool.get("type")))
            continue
        vmss = _vmss_of_pool(scale_sets, name)
        if vmss is None:
            findings.append(chk.finding(
                "node pool {}".format(name), FAIL,
                "No scale set for node pool {} was found in node resource group {}; its nodes cannot carry the "
                "kubelet identity.".format(name, facts.node_resource_group()),
                "az aks update -g {} -n {}".format(rg, cluster), nodeResourceGroup=facts.node_resource_group()))
            continue
        target = "node pool {} ({})".format(name, vmss["name"])
        assigned = list(((vmss.get("identity") or {}).get("userAssignedIdentities") or {}).keys())
        evidence = {"vmssId": vmss["id"], "kubeletIdentity": identity["resourceId"],
                    "userAssignedIdentities": assigned, "nodeResourceGroupRestrictionLevel": lockdown}
        if any(same_id(a, identity["resourceId"]) for a in assigned):
            if drift:
                findings.append(chk.finding(target, FAIL, "Scale set {} carries the kubelet identity's resource id "
                                            "{}, but that identity {} (see the kubelet identity finding).".format(
                                                vmss["name"], identity["name"], drift.evidence["drift"]),
                                            drift.remediation, drift=drift.evidence["drift"], **evidence))
                continue
            findings.append(chk.finding(target, PASS, "Scale set {} carries the kubelet identity {}.".format(
                vmss["name"], identity["name"]), **evidence))
            continue
        if lockdown == "ReadOnly":
            guard = "Node resource group lockdown is ReadOnly now, so it cannot be removed again by hand."
        else:
            guard = ("Node resource group lockdown keeps it from happening again: az aks update -g {} -n {} "
                     "--nrg-lockdown-restriction-level ReadOnly.".format(rg, cluster))
        findings.append(chk.finding(
            target, FAIL,
            "Scale set {} does not carry the kubelet identity {}: nodes of pool {} cannot get a token to pull. AKS "
            "never removes it, so it was removed outside AKS (portal or IaaS APIs); reconciling the cluster with "
            "`az aks update` and no other arguments re-adds it. {}".format(vmss["name"], identity["name"], name,
                                                                             guard),
            "az aks update -g {} -n {}".format(rg, cluster), **evidence))
    return findings


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
