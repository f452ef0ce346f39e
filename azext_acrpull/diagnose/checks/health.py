"""S0.health: what `az acr check-health` sees, from the machine that runs az (not from the cluster)."""
from ..common.registry import none_found, per_registry, registry_target
from ..findings import ERROR, FAIL, PASS, WARNING, check

WHERE = "From this machine (where az runs, not the cluster's network)"


@check("registry-health", "S0.health", "The registry answers from where az runs",
       "As `az acr check-health` does: resolves the login server, asks GET /v2/ for the Bearer challenge, and "
       "exchanges the signed-in account's Entra ID token for a registry token. Honours HTTPS_PROXY (no DNS verdict "
       "when a proxy resolves names). This is the caller's network; cluster-pull-probe looks from inside the "
       "cluster.", groups=("registry",),
       needs=("registries", "registry_health", "registry_lookups"))
def registry_health(chk, facts):
    return per_registry(chk, facts, _health_one, none=none_found)


def _closed_to_public(registry):
    props = registry.get("properties") or {}
    return (props.get("publicNetworkAccess") or "Enabled") != "Enabled" or \
        ((props.get("networkRuleSet") or {}).get("defaultAction") or "Allow") != "Allow"


def _health_one(chk, facts, registry):
    name = registry["name"]
    health = facts.registry_health(registry)
    login = health["loginServer"]
    steps = {s["step"]: s for s in health["steps"]}
    evidence = {"loginServer": login, "proxy": health["proxy"], "addresses": health["addresses"],
                "steps": health["steps"]}
    failed = next((s for s in health["steps"] if s["ok"] is False), None)
    if failed is not None and failed.get("fault"):
        # No answer in time, a throttled or failing service, or no Entra ID token for az's own login: nothing
        # about the registry was learnt, and least of all whether the cluster can pull.
        return chk.finding(registry_target(registry), ERROR, "Could not reach a verdict: {}: {}.".format(
            WHERE, failed["detail"].rstrip(".")), reason=failed["detail"], **evidence)
    if failed is None:
        dns = steps["dns"]
        said = "{} resolves to {}".format(login, dns["detail"]) if dns["ok"] else \
            "{} is reached through the proxy {} (no DNS verdict: the proxy resolves names)".format(
                login, health["proxy"])
        return chk.finding(registry_target(registry), PASS, "{}: {}; {}; {}.".format(
            WHERE, said, steps["challenge"]["detail"], steps["token"]["detail"] if "token" in steps else
            "no token is needed"), **evidence)
    closed = _closed_to_public(registry) and (failed["step"] in ("challenge", "dns") or failed.get("status") == 403)
    rerun = "az acr check-health --name {} --ignore-errors --yes".format(name)
    if failed["step"] == "dns":
        why = "{} does not resolve ({})".format(login, failed["detail"])
        fix = "Check name resolution on this machine: nslookup {}; then {}".format(login, rerun)
    elif failed["step"] == "challenge":
        why = "GET https://{}/v2/ did not answer with the Bearer challenge: {}".format(login, failed["detail"])
        fix = rerun if "az acr network-rule add" not in failed["detail"] else \
            failed["detail"][failed["detail"].index("az acr network-rule add"):].rstrip(")")
    else:
        why = "the token exchange with the signed-in account failed: {}".format(failed["detail"])
        fix = "az acr login --name {}; then {}".format(name, rerun)
    if closed:
        return chk.finding(registry_target(registry), WARNING, "{}: {}. Registry {} is closed to public networks "
                           "(public network access {}, default action {}), so this is expected from outside its "
                           "allowed networks and says nothing about the cluster; see cluster-pull-probe and the "
                           "network checks.".format(
                               WHERE, why, name, (registry.get("properties") or {}).get("publicNetworkAccess"),
                               ((registry.get("properties") or {}).get("networkRuleSet") or {}).get("defaultAction")),
                           fix, **evidence)
    return chk.finding(registry_target(registry), FAIL, "{}: {}.".format(WHERE, why), fix, **evidence)
