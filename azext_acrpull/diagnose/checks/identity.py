"""Beyond the article (B.*): identities, tokens and registry policy that make a node's pull fail with 401 although
every role looks right: a registry that refuses ARM-audience tokens (B.armaud)."""
from ..classify import WAITING_REASONS, failed_token
from ..facts import FactError
from ..findings import ERROR, FAIL, PASS, WARNING, check
from ..ids import parse_resource_id
from .pod import container_events
from .registry import registry_target

ARM_POLICY = "azureADAuthenticationAsArmPolicy"
TOKEN_WORDS = {"oauth": "the registry refused the credential it offered (oauth-token 401)",
               "anonymous": "no credential to offer (anonymous-token 401), which is what a node's credential provider "
                            "leaves when the registry refuses its token exchange"}


def pod_pull_tokens(facts, registry):
    """The --pod's containers waiting on a pull from ``registry``, each with the token its error says failed
    (B.token): [{"container", "image", "token"}]. Empty without --pod or when the pod cannot be read (the pod's own
    checks say why)."""
    request = facts.request
    if not getattr(request, "pod", None) or not hasattr(facts, "pod_containers"):
        return []
    login = (registry.get("properties", {}).get("loginServer") or "").lower()
    try:
        containers = facts.pod_containers()
        events = facts.pod_events(request.namespace, request.pod)
    except FactError:
        return []
    found = []
    for container in containers:
        waiting = (container["status"].get("state") or {}).get("waiting") or {}
        if waiting.get("reason") not in WAITING_REASONS or container["image"].split("/")[0].lower() != login:
            continue
        texts = [waiting.get("message") or ""] + [e.get("message") or "" for e in
                                                  container_events(events, container, containers)]
        tokens = {failed_token(t) for t in texts}
        token = next((t for t in ("oauth", "anonymous") if t in tokens), "none")
        found.append({"container": container["name"], "image": container["image"], "token": token})
    return found


def _subscription_args(facts, registry):
    sub = parse_resource_id(registry["id"]).subscription
    return " --subscription {}".format(sub) if sub.lower() != (facts.cluster_subscription() or "").lower() else ""


# --- B.armaud --------------------------------------------------------------------------------------------------


@check("registry-arm-audience", "B.armaud", "The registry accepts the Entra tokens nodes present",
       "Reads the registry's policies.azureADAuthenticationAsArmPolicy: when it is disabled, the registry refuses "
       "Microsoft Entra tokens issued for Azure Resource Manager, which node credential providers present. Fail "
       "when the --pod's pull error shows a 401 token failure for that registry, Warning otherwise; an Azure Policy "
       "can disable it again after it is enabled.", groups=("auth",), fleet=True)
def registry_arm_audience(chk, facts):
    registries = facts.registries()
    if not registries:
        from .auth import no_registry
        return no_registry(chk, facts)
    return [_arm_audience(chk, facts, registry) for registry in registries]


def _arm_audience(chk, facts, registry):
    target = registry_target(registry)
    name = registry["name"]
    policy = (registry.get("properties", {}).get("policies") or {}).get(ARM_POLICY)
    status = ((policy or {}).get("status") or "").lower()
    evidence = {"registryId": registry["id"], "azureADAuthenticationAsArmPolicy": (policy or {}).get("status")}
    if status not in ("enabled", "disabled"):
        return chk.finding(
            target, ERROR,
            "Could not reach a verdict: registry {}'s properties do not say whether it accepts ARM-audience tokens "
            "(policies.{} is {}). `az acr config authentication-as-arm show -r {}` shows it.".format(
                name, ARM_POLICY, "missing" if policy is None else repr((policy or {}).get("status")), name),
            reason="field missing", **evidence)
    if status == "enabled":
        return chk.finding(target, PASS, "Registry {} accepts Microsoft Entra tokens issued for Azure Resource "
                           "Manager as well as for the registry (policies.{} is enabled), whichever a node's "
                           "credential provider presents.".format(name, ARM_POLICY), **evidence)
    fix = "az acr config authentication-as-arm update -r {} --status enabled{}".format(
        name, _subscription_args(facts, registry))
    policy_words = ("A built-in Azure Policy ('Configure container registries to disable ARM audience token "
                    "authentication', effect Modify) may have disabled it and can disable it again: exempt the "
                    "registry from that assignment after enabling it.")
    failed = [p for p in pod_pull_tokens(facts, registry) if p["token"] in TOKEN_WORDS]
    evidence["failedPulls"] = failed
    if failed:
        first = failed[0]
        return chk.finding(
            target, FAIL,
            "Registry {} refuses Microsoft Entra tokens issued for Azure Resource Manager (policies.{} is "
            "disabled), and container {} of pod {}/{} pulling {} got {}: nodes whose credential provider presents "
            "an ARM-audience token are turned away. {}".format(
                name, ARM_POLICY, first["container"], facts.request.namespace, facts.request.pod, first["image"],
                TOKEN_WORDS[first["token"]], policy_words), fix, **evidence)
    return chk.finding(
        target, WARNING,
        "Registry {} refuses Microsoft Entra tokens issued for Azure Resource Manager (policies.{} is disabled). "
        "Nodes whose credential provider presents an ARM-audience token get 401 from it; no pull error read here "
        "shows one (pass --pod to read a failing pod's). {}".format(name, ARM_POLICY, policy_words), fix, **evidence)
