"""S0: the registry itself: does it exist, can it be read."""
from ..common.registry import NOTHING_NAMES_A_REGISTRY, broader_scopes, closest_registries, registry_target
from ..findings import FAIL, PASS, SKIPPED, check


@check("registry-lookup", "S0", "The registry exists and can be read",
       "Finds the registry named by --acr or by the image and reads its properties (SKU, login server, "
       "network and role-assignment mode) that the other checks use.", groups=("registry",),
       needs=("principal_role_assignments", "pull_identity", "registries_in_subscription", "registry_lookups"))
def registry_lookup(chk, facts):
    lookups = facts.registry_lookups()
    if not lookups:
        broader = broader_scopes(facts)
        message = NOTHING_NAMES_A_REGISTRY
        if broader:
            message = message[:-1] + "; its roles are at broader scopes ({}), where a pull role covers every " \
                "registry below, so none can be picked.".format(", ".join(broader))
        return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED, message, broaderScopes=broader)]
    findings = []
    for lookup in lookups:
        registry = lookup["registry"]
        if registry is None and lookup.get("tenant"):
            findings.append(chk.finding(
                registry_target(lookup["name"]), FAIL,
                "Registry {} cannot be read: its subscription belongs to Microsoft Entra tenant {}, and ARM refused "
                "the signed-in account's token of tenant {} for it (InvalidAuthenticationTokenTenant). See "
                "registry-tenant for what that means for pulls.".format(lookup["name"], lookup["tenant"],
                                                                        lookup["tokenTenant"]),
                "To read it, sign in to that tenant too: az login --tenant {}".format(lookup["tenant"]),
                given=lookup["given"], tenant=lookup["tenant"], tokenTenant=lookup["tokenTenant"]))
            continue
        if registry is None:
            near = closest_registries(facts, lookup["name"])
            findings.append(chk.finding(
                registry_target(lookup["name"]), FAIL,
                "No registry named '{}' exists in the subscriptions the signed-in account can read{}.".format(
                    lookup["name"], "; the closest is '{}'".format(near[0]) if near else ""),
                "Check the registry name in the image reference against `az acr list --query [].loginServer -o tsv`; "
                "for a registry in another subscription pass --acr with its resource ID.",
                given=lookup["given"], closestRegistries=near))
            continue
        props = registry.get("properties", {})
        findings.append(chk.finding(
            registry_target(registry), PASS,
            "Registry {} found: login server {}, SKU {}, location {}.".format(
                registry["name"], props.get("loginServer"), (registry.get("sku") or {}).get("name"),
                registry.get("location")),
            registryId=registry["id"], loginServer=props.get("loginServer"),
            sku=(registry.get("sku") or {}).get("name"), location=registry.get("location"),
            publicNetworkAccess=props.get("publicNetworkAccess"), adminUserEnabled=props.get("adminUserEnabled"),
            roleAssignmentMode=props.get("roleAssignmentMode")))
    return findings
