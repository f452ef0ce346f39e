"""A registry as a finding's target, the registries a misspelt name may mean, and the one "no registry" finding."""
from ..findings import SKIPPED


def registry_target(registry_or_name):
    name = registry_or_name.get("name") if isinstance(registry_or_name, dict) else registry_or_name
    return "registry {}".format(name)


def closest_registries(facts, name, limit=3):
    """Names of the registries the signed-in account sees that are closest to ``name`` (a typo's likely meaning)."""
    from ..facts import FactError
    from ..reference import closest, edit_distance
    try:
        names = [r.get("name") for r in facts.registries_in_subscription()]
    except (FactError, NotImplementedError, AttributeError):
        return []
    near = [n for n in closest(name, names, limit) if edit_distance(name.lower(), n.lower()) <= max(2, len(name) // 3)]
    return near


def no_registry(chk, facts):
    return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED,
                        "No registry to check: the registry named was not found (see registry-lookup).")]
