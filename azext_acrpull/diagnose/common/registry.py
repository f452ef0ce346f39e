"""A registry as a finding's target, the registries a misspelt name may mean, and the one "no registry" finding."""
from ..findings import SKIPPED

NOTHING_NAMES_A_REGISTRY = ("No registry to check: no failing pod names an image in Azure Container Registry, and the "
                            "cluster's pull identity holds no role on a registry itself (pass --acr to check one).")


def registry_target(registry_or_name):
    name = registry_or_name.get("name") if isinstance(registry_or_name, dict) else registry_or_name
    return "registry {}".format(name)


def closest_registries(facts, name, limit=3):
    """Names of the registries the signed-in account sees that are closest to ``name`` (a typo's likely meaning)."""
    from ..facts import FactError, FactUnavailable
    from ..reference import closest, edit_distance
    try:
        names = [r.get("name") for r in facts.registries_in_subscription()]
    except (FactError, FactUnavailable):
        return []
    near = [n for n in closest(name, names, limit) if edit_distance(name.lower(), n.lower()) <= max(2, len(name) // 3)]
    return near


def no_registry(chk, facts):
    if not facts.registry_lookups():
        return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED, NOTHING_NAMES_A_REGISTRY)]
    return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED,
                        "No registry to check: the registry named was not found (see registry-lookup).")]


def no_registry_found(facts):
    """The words of a Skipped finding when no registry could be checked: none found, or none named at all."""
    return "No registry was found to check." if facts.registry_lookups() else NOTHING_NAMES_A_REGISTRY


def broader_scopes(facts):
    """Scopes above registries (management group, subscription, resource group) where the pull identity holds a
    role: an inherited AcrPull covers every registry there, so discovery by role cannot pick one."""
    from ..facts import FactError, FactUnavailable
    try:
        oid = facts.pull_identity().get("objectId")
        assignments = facts.principal_role_assignments(oid) if oid else []
    except (FactError, FactUnavailable):
        return []
    scopes = [(a.get("properties") or {}).get("scope") or "" for a in assignments]
    return list(dict.fromkeys(s for s in scopes if s and "/providers/microsoft.containerregistry/" not in s.lower()))


def none_found(chk, facts):
    """The Skipped finding of a check that judges the registries found, when none was."""
    return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED, no_registry_found(facts))]


def per_registry(chk, facts, judge, *args, none=no_registry):
    """``judge(chk, facts, registry, *args)`` (a finding, or a list of them) for each registry the run checks, in
    order; without any registry, the check's one Skipped finding (``none(chk, facts)``)."""
    registries = facts.registries()
    if not registries:
        return none(chk, facts)
    findings = []
    for registry in registries:
        found = judge(chk, facts, registry, *args)
        findings.extend(found if isinstance(found, list) else [found])
    return findings


def decided_per_registry(chk, facts, decide, words, none=no_registry):
    """A check split in decision and words: ``decide(facts, registry)`` worded by ``words`` for each registry."""
    return per_registry(chk, facts, lambda c, f, registry: c.worded(registry_target(registry), decide(f, registry),
                                                                    words, f), none=none)
