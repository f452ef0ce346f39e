"""B.cache: the image comes through an artifact cache rule, and the rule's upstream refuses or throttles the registry.

A cache rule maps a ``targetRepository`` in the registry (exact, or ``prefix/*``) to a ``sourceRepository`` upstream;
Docker Hub throttles anonymous pulls, so a rule for it needs a credential set; a credential set whose Key Vault
secrets cannot be read reports ``authCredentials[].credentialHealth.status`` Unhealthy. A health the API does not
report is unknown, never fine.
"""
from ..common.images import acr_image, image_target, per_image
from ..common.images import image_error as _error
from ..common.registry import registry_target
from ..facts import FactError
from ..findings import ERROR, FAIL, PASS, SKIPPED, WARNING, check
from ..ids import id_name

# Upstreams that limit anonymous pulls (Docker Hub serves docker.io, registry-1.docker.io and index.docker.io).
RATE_LIMITED_UPSTREAMS = ("docker.io", "registry-1.docker.io", "index.docker.io")


def _p(resource):
    return (resource or {}).get("properties") or {}


def rule_for(rules, repository):
    """The cache rule that serves ``repository``: an exact targetRepository first, else the longest ``prefix/*``."""
    repository = repository.lower()
    best, best_len = None, -1
    for rule in rules:
        target = (_p(rule).get("targetRepository") or "").lower()
        if target == repository:
            return rule
        if target.endswith("/*") and repository.startswith(target[:-1]) and len(target) > best_len:
            best, best_len = rule, len(target)
        elif target == "*" and best_len < 0:
            best, best_len = rule, 0
    return best


def upstream(rule):
    return (_p(rule).get("sourceRepository") or "").split("/", 1)[0].lower()


def credential_state(rule, credential_sets):
    """(state, details): "none" (no credential set), "missing" (the set named does not exist), "unhealthy",
    "unknown" (the API reports no health) or "healthy"."""
    set_id = _p(rule).get("credentialSetResourceId")
    if not set_id:
        return "none", {}
    found = next((s for s in credential_sets if (s.get("id") or "").lower() == set_id.lower()), None)
    if found is None:
        return "missing", {"credentialSet": id_name(set_id)}
    creds = _p(found).get("authCredentials") or []
    health = [(c.get("name"), (c.get("credentialHealth") or {})) for c in creds]
    details = {"credentialSet": found.get("name"), "credentialSetLoginServer": _p(found).get("loginServer"),
               "identityPrincipalId": (found.get("identity") or {}).get("principalId"),
               "health": [{"credential": n, "status": h.get("status"), "errorCode": h.get("errorCode"),
                           "errorMessage": h.get("errorMessage")} for n, h in health],
               "secrets": [c.get(k) for c in creds for k in ("usernameSecretIdentifier", "passwordSecretIdentifier")
                           if c.get(k)]}
    if any((h.get("status") or "").lower() == "unhealthy" for _, h in health):
        return "unhealthy", details
    if not health or any(not h.get("status") for _, h in health):
        return "unknown", details
    return "healthy", details


def _set_name(rule):
    return "{}-creds".format(upstream(rule).split(".")[0] or "upstream")


def _create_set_fix(registry, rule):
    return ("az acr credential-set create -r {reg} -n {cs} -l {up} -u https://<vault>.vault.azure.net/secrets/"
            "<username-secret> -p https://<vault>.vault.azure.net/secrets/<password-secret> && az role assignment "
            "create --role \"Key Vault Secrets User\" --assignee-object-id $(az acr credential-set show -r {reg} -n "
            "{cs} --query identity.principalId -o tsv) --assignee-principal-type ServicePrincipal --scope <vault "
            "resource ID> && az acr cache update -r {reg} -n {rule} -c {cs}".format(
                reg=registry["name"], cs=_set_name(rule), up=upstream(rule), rule=rule.get("name")))


def _unhealthy_fix(registry, rule, details):
    principal = details.get("identityPrincipalId") or "$(az acr credential-set show -r {} -n {} --query " \
        "identity.principalId -o tsv)".format(registry["name"], details.get("credentialSet"))
    return ("Let credential set {cs}'s identity read its secrets: az role assignment create --role \"Key Vault "
            "Secrets User\" --assignee-object-id {p} --assignee-principal-type ServicePrincipal --scope <resource ID "
            "of the vault holding {secrets}>; if the upstream credentials changed, store the new ones and az acr "
            "credential-set update -r {reg} -n {cs} -p <new password secret ID>".format(
                cs=details.get("credentialSet"), p=principal,
                secrets=", ".join(details.get("secrets") or []) or "the secrets", reg=registry["name"]))


def judge_rule(registry, rule, credential_sets, served=None):
    """(status, message, remediation, evidence) for one cache rule; ``served`` names the image it serves (then an
    unhealthy credential set is a Fail: this image's pulls go through it)."""
    state, details = credential_state(rule, credential_sets)
    source = _p(rule).get("sourceRepository")
    what = "Cache rule {} of registry {} ({} -> {})".format(rule.get("name"), registry["name"],
                                                            _p(rule).get("targetRepository"), source)
    if served:
        what = "Image {} comes through cache rule {} of registry {} ({} -> {})".format(
            served, rule.get("name"), registry["name"], _p(rule).get("targetRepository"), source)
    evidence = dict(details, cacheRule=rule.get("name"), sourceRepository=source,
                    targetRepository=_p(rule).get("targetRepository"), credentialState=state)
    if state in ("unhealthy", "missing"):
        why = "its credential set {} does not exist".format(details.get("credentialSet")) if state == "missing" else \
            "its credential set {} is Unhealthy ({})".format(details["credentialSet"], "; ".join(
                "{}: {} {}".format(h["credential"], h.get("errorCode") or "", h.get("errorMessage") or "").strip()
                for h in details["health"] if (h.get("status") or "").lower() == "unhealthy"))
        text = "{}; {}, so the registry cannot authenticate to {} ('authentication required with source registry for " \
               "cache rule').".format(what, why, upstream(rule))
        fix = _create_set_fix(registry, rule) if state == "missing" else _unhealthy_fix(registry, rule, details)
        return (FAIL if served else WARNING), text, fix, evidence
    if state == "none" and upstream(rule) in RATE_LIMITED_UPSTREAMS:
        return WARNING, ("{} without a credential set: Docker Hub rate-limits anonymous pulls, so the registry's pulls "
                         "from it are throttled ('too many requests to source registry for cache rule').".format(
                             what)), _create_set_fix(registry, rule), evidence
    if state == "unknown":
        return WARNING, ("{}; the health of its credential set {} is not reported by the API, so whether it can "
                         "authenticate is unknown.".format(what, details.get("credentialSet"))), \
            "Check it with az acr credential-set show -r {} -n {} --query properties.authCredentials".format(
                registry["name"], details.get("credentialSet")), evidence
    words = {"none": "needs no credential set for {}".format(upstream(rule)),
             "healthy": "its credential set {} is Healthy".format(details.get("credentialSet"))}[state]
    return PASS, "{}; {}.".format(what, words), "", evidence


@check("artifact-cache-rule", "B.cache", "An artifact cache rule serving the image can reach its upstream",
       "Reads the registry's cache rules and credential sets; for each image, the rule whose targetRepository "
       "(exact, or a prefix/* wildcard) serves its repository: Fail when the rule's credential set cannot "
       "authenticate (Unhealthy, or missing), Warning for a Docker Hub upstream without credential set (rate limited) "
       "or a health the API does not report; Skipped when no rule serves the image. Without an image, and in fleet, "
       "every rule of the registry is judged at Warning level.", groups=("image",), fleet=True)
def artifact_cache_rule(chk, facts):
    if facts.image_entries():
        return per_image(chk, facts, _cache_one)
    registries = facts.registries()
    if not registries:
        return [chk.finding("images", SKIPPED, "No image and no registry to check: pass --image, --pod or --acr.")]
    findings = []
    for registry in registries:
        try:
            findings.extend(_registry_rules(chk, facts, registry))
        except FactError as err:
            findings.append(chk.finding(registry_target(registry["name"]), ERROR, "Could not reach a verdict: "
                                        "{}.".format(err.reason.rstrip(".")), reason=err.reason))
    return findings


def _registry_rules(chk, facts, registry):
    rules = facts.registry_cache_rules(registry)
    if not rules:
        return [chk.finding(registry_target(registry["name"]), SKIPPED, "Registry {} has no artifact cache rules."
                            .format(registry["name"]))]
    sets = facts.registry_credential_sets(registry)
    out = []
    for rule in sorted(rules, key=lambda r: r.get("name") or ""):
        status, message, fix, evidence = judge_rule(registry, rule, sets)
        out.append(chk.finding("{} (cache rule {})".format(registry_target(registry["name"]), rule.get("name")),
                               status, message, fix, **evidence))
    return out


def _cache_one(chk, facts, entry):
    registry, skip = acr_image(facts, entry)
    if registry is None:
        return chk.finding(image_target(entry), SKIPPED, "Not checked: {}.".format(skip), image=entry["text"])
    try:
        rules = facts.registry_cache_rules(registry)
        repository = entry["reference"].repository
        rule = rule_for(rules, repository)
        if rule is None:
            return chk.finding(image_target(entry), SKIPPED, "No cache rule of registry {} serves repository {} ({} "
                               "rule(s) read): the image is stored in the registry itself.".format(
                                   registry["name"], repository, len(rules)), image=entry["text"],
                               cacheRules=len(rules))
        sets = facts.registry_credential_sets(registry) if _p(rule).get("credentialSetResourceId") else []
    except FactError as err:
        return _error(chk, entry, err)
    status, message, fix, evidence = judge_rule(registry, rule, sets, served=entry["text"])
    return chk.finding(image_target(entry), status, message, fix, image=entry["text"], **evidence)
