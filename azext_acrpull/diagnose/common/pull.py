"""The pull identity and its roles at a registry, as the checks of cause 1 and the pull-secret checks read them."""
from ..credentials import parse_time
from ..facts import FactError, FactUnavailable
from ..ids import id_name, same_id
from ..roles import (
    ABAC_MODE,
    BUILTIN_PULL_ROLES,
    PULL_ACTION,
    any_group,
    assignments_of,
    denial,
    group_ids,
    pull_grants,
)

GET_BY_IDS_BATCH = 1000   # directoryObjects/getByIds takes up to 1,000 ids


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
    try:
        return [e["reference"] for e in facts.image_entries() if e["reference"]]
    except (FactError, FactUnavailable):   # a pod that cannot be read; a reader that reads no images
        return list(facts.request.images)


def repositories_for(facts, registry):
    """Repositories of the images this run is about that live in `registry`, in order, without repeats."""
    login = (registry.get("properties", {}).get("loginServer") or "").lower()
    found = []
    for image in _images(facts):
        if image.registry.lower() == login and image.repository not in found:
            found.append(image.repository)
    return found


def raise_first(results):
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def registry_grants(facts, registry, assignments, principal_ids, repository=None, abac=None):
    """Pull grants among `assignments` (as listed at the registry) for these principals; `abac` overrides the
    registry's own mode (to tell what a role would grant in the other one)."""
    assignments = assignments_of(assignments, principal_ids)   # through the list's index: a registry has thousands
    definition_ids = role_definition_ids(assignments)
    fetched = raise_first(facts.parallel(facts.role_definition, definition_ids))
    definitions = dict(zip(definition_ids, fetched, strict=True))
    # The list at a registry holds only assignments that apply there, so a management group scope among them is
    # one that holds the registry's subscription.
    mgs = frozenset(a["properties"]["scope"].rsplit("/", 1)[-1].lower() for a in assignments
                    if "/managementgroups/" in (a.get("properties", {}).get("scope") or "").lower())
    return pull_grants(assignments, definitions, principal_ids, registry["id"],
                       is_abac(registry) if abac is None else abac,
                       repository=repository, management_groups=mgs)


def role_definition_ids(assignments):
    """The role definitions (ids as listed) of these assignments: what reading their grants asks for."""
    return sorted({a["properties"]["roleDefinitionId"] for a in assignments})


def lacks_builtin_pull_role(assignments, object_id, registry):
    """No built-in pull role of its own at the registry: a principal left with an old identity, the groups' roles and
    the other holders are then likely to be asked about (sp-role-principal reads them, acr-role-assignment the
    groups')."""
    return not any(id_name(a.get("properties", {}).get("roleDefinitionId") or "").lower()
                   in BUILTIN_PULL_ROLES[is_abac(registry)] for a in assignments_of(assignments, [object_id]))


def group_role_definition_ids(assignments):
    """The role definitions of the roles groups hold at the registry."""
    return role_definition_ids(assignments_of(assignments, group_ids(assignments)))


def holder_candidates(assignments, registry):
    """The principals (not users or groups) of the registry's assignments, and whether to look them all up at once
    (``wide``): one getByIds answers for up to 1,000, so when a built-in pull role shows there will be holders, every
    candidate is asked for while the role definitions are read, rather than the holders after them."""
    principals = sorted({(a.get("properties", {}).get("principalId") or "").lower() for a in assignments
                         if (a.get("properties", {}).get("principalType") or "ServicePrincipal")
                         not in ("User", "Group", "ForeignGroup")} - {""})
    wide = 0 < len(principals) <= GET_BY_IDS_BATCH and any(
        id_name(a.get("properties", {}).get("roleDefinitionId") or "").lower() in BUILTIN_PULL_ROLES[is_abac(registry)]
        for a in assignments_of(assignments, principals))
    return principals, wide


def role_reads(assignments, object_id, registry, holders=True):
    """What the checks of cause 1 read after the registry's role assignments, as far as the list alone decides it:
    (role definition ids, the directory object ids looked up at once or None). The pull identity's own roles always;
    without a built-in pull role of its own, the groups' roles, and with ``holders`` (sp-role-principal) the other
    principals' roles and, when ``wide``, their directory objects. The same decisions the checks make, so a read
    started early from a hint of the list is the read they would make."""
    if not object_id:
        return [], None
    definitions = set(role_definition_ids(assignments_of(assignments, [object_id])))
    objects = None
    if lacks_builtin_pull_role(assignments, object_id, registry):
        definitions.update(group_role_definition_ids(assignments))
        if holders:
            principals, wide = holder_candidates(assignments, registry)
            definitions.update(role_definition_ids(assignments_of(assignments, principals)))
            objects = principals if wide else None
    return sorted(definitions), objects


def principals_of(facts, object_id, assignments):
    """The principal ids whose roles apply to `object_id` at the registry: its own, and the groups it belongs to
    when some group holds a role there (Graph is asked only then). Returns (ids, {group id: name})."""
    if not any_group(assignments):
        return [object_id], {}
    # The roles of its own assignments do not wait for Graph's answer: read them while the memberships are read.
    own = sorted({a["properties"]["roleDefinitionId"] for a in assignments_of(assignments, [object_id])})
    if own:
        facts.prefetch(lambda: facts.parallel(facts.role_definition, own))
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


def created_at(assignments, assignment_id):
    for a in assignments:
        if same_id(a.get("id"), assignment_id):
            return parse_time(a.get("properties", {}).get("createdOn"))
    return None
