"""B.cache: the image comes through an artifact cache rule, and the rule's upstream refuses or throttles the registry.

A cache rule maps a ``targetRepository`` in the registry (exact, or ``prefix/*``) to a ``sourceRepository`` upstream;
Docker Hub throttles anonymous pulls, so a rule for it needs a credential set; a credential set whose Key Vault
secrets cannot be read reports ``authCredentials[].credentialHealth.status`` Unhealthy. A health the API does not
report is unknown, never fine. The health is what ACR found when it last read the secrets, so for an image a rule
serves, the credential set's identity is also held to its Key Vaults: an RBAC vault needs a role assignment (at the
vault, above it or on the secret) granting GET_SECRET to the identity or a group it belongs to; an access-policy vault
needs a policy for it with ``get`` on secrets. A vault or assignment list that cannot be read leaves it undecided.
"""
from urllib.parse import urlparse

from ..common.cache_rules import rule_for, upstream
from ..common.images import acr_image, image_target, per_image
from ..common.images import image_error as _error
from ..common.pull import principals_of, raise_first
from ..common.registry import registry_target
from ..facts import FactError
from ..findings import ERROR, FAIL, PASS, SKIPPED, WARNING, check, decided
from ..ids import id_name, parse_resource_id
from ..roles import assignments_of, grants, scope_covers

GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"

# Upstreams that limit anonymous pulls (Docker Hub serves docker.io, registry-1.docker.io and index.docker.io).
RATE_LIMITED_UPSTREAMS = ("docker.io", "registry-1.docker.io", "index.docker.io")


def _p(resource):
    return (resource or {}).get("properties") or {}


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


def secret_vaults(secret_uris):
    """{vault name (lower case): [secret name]} of Key Vault secret URIs (https://<vault>.vault.azure.net/secrets/
    <name>[/<version>]); URIs of another shape are left out."""
    vaults = {}
    for uri in secret_uris or ():
        parsed = urlparse(uri or "")
        parts = [p for p in parsed.path.split("/") if p]
        if parsed.hostname and len(parts) >= 2 and parts[0].lower() == "secrets":
            names = vaults.setdefault(parsed.hostname.split(".", 1)[0].lower(), [])
            if parts[1] not in names:
                names.append(parts[1])
    return vaults


def policy_grant(vault, principal_ids):
    """The object id whose access policy on ``vault`` lets it get secrets, or None."""
    ids = {(p or "").lower() for p in principal_ids}
    for policy in _p(vault).get("accessPolicies") or ():
        secrets = {(s or "").lower() for s in ((policy.get("permissions") or {}).get("secrets") or ())}
        if (policy.get("objectId") or "").lower() in ids and secrets & {"get", "all"}:
            return policy.get("objectId")
    return None


def rbac_grant(assignments, definitions, principal_ids, secret_ids, management_groups=frozenset()):
    """(role name, scope) of an assignment held by one of ``principal_ids`` whose role grants GET_SECRET over every
    secret in ``secret_ids``, or None; ``definitions`` maps role definition ids to their definitions."""
    for assignment in assignments_of(assignments, principal_ids):
        props = _p(assignment)
        role = _p(definitions.get(props.get("roleDefinitionId")))
        scope = props.get("scope") or ""
        if role and grants(role.get("permissions") or [], GET_SECRET, data=True) and \
                all(scope_covers(scope, sid, management_groups) for sid in secret_ids):
            return role.get("roleName") or id_name(props.get("roleDefinitionId")), scope
    return None


def _vault_access(facts, subscription, vault_name, secrets, principal):
    """What the Key Vault says of the identity's access to its secrets: access is "granted", "lacking" or
    "unknown" (with the reason)."""
    out = {"vault": vault_name, "secrets": secrets}
    try:
        vault = facts.key_vault(subscription, vault_name)
        if vault is None:
            return dict(out, access="unknown", reason="no Key Vault named {} in subscription {} (the registry's) "
                        "could be found".format(vault_name, subscription))
        out.update(vaultId=vault.get("id"), vault=vault.get("name") or vault_name)
        if _p(vault).get("enableRbacAuthorization"):
            out["authorization"] = "rbac"
            assignments = facts.role_assignments(vault["id"])
            principals, _ = principals_of(facts, principal, assignments)
            held = assignments_of(assignments, principals)
            ids = sorted({_p(a).get("roleDefinitionId") for a in held if _p(a).get("roleDefinitionId")})
            definitions = dict(zip(ids, raise_first(facts.parallel(facts.role_definition, ids)), strict=True))
            mgs = frozenset(_p(a).get("scope", "").rsplit("/", 1)[-1].lower() for a in held
                            if "/managementgroups/" in (_p(a).get("scope") or "").lower())
            found = rbac_grant(held, definitions, principals,
                               ["{}/secrets/{}".format(vault["id"], n) for n in secrets], mgs)
            if found:
                return dict(out, access="granted", grantedBy="{} at {}".format(*found))
            return dict(out, access="lacking", reason="no role assignment at the vault, above it or on the secrets "
                        "grants {} to it (the vault uses Azure RBAC)".format(GET_SECRET))
        out["authorization"] = "accessPolicies"
        found = policy_grant(vault, [principal])
        if found:
            return dict(out, access="granted", grantedBy="access policy of {} with get on secrets".format(found))
        policies = _p(vault).get("accessPolicies") or []
        if any((p.get("objectId") or "").lower() != principal.lower() for p in policies):
            groups = facts.member_groups(principal)   # a policy may name a group the identity belongs to
            found = policy_grant(vault, list(groups))
            if found:
                return dict(out, access="granted", grantedBy="access policy of group {} with get on secrets".format(
                    groups.get(found.lower()) or found))
        return dict(out, access="lacking", reason="no access policy of the vault gives it (or a group it belongs "
                    "to) get on secrets")
    except FactError as err:
        return dict(out, access="unknown", reason=err.reason.rstrip("."))


def vault_access(facts, registry, details):
    """Per Key Vault holding the credential set's secrets, whether its identity can read them (see _vault_access);
    empty when the set names no identity or no secret URI."""
    principal = details.get("identityPrincipalId")
    if not principal:
        return []
    subscription = parse_resource_id(registry["id"]).subscription
    return [_vault_access(facts, subscription, name, secrets, principal)
            for name, secrets in sorted(secret_vaults(details.get("secrets")).items())]


def _vault_fix(details, access):
    pid = details.get("identityPrincipalId")
    if access.get("authorization") == "rbac":
        cmd = ("az role assignment create --role \"Key Vault Secrets User\" --assignee-object-id {} "
               "--assignee-principal-type ServicePrincipal --scope {}".format(pid, access["vaultId"]))
    else:
        cmd = "az keyvault set-policy -n {} --object-id {} --secret-permissions get".format(access["vault"], pid)
    return "Let credential set {}'s identity read its secrets: {}".format(details.get("credentialSet"), cmd)


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


def _vault_words(details, vaults):
    return "; ".join("its identity (principal {}) cannot read its secrets in Key Vault {}: {}".format(
        details.get("identityPrincipalId"), v["vault"], v["reason"]) for v in vaults)


def judge_rule(registry, rule, credential_sets, served=None, vaults=None):
    """(status, message, remediation, evidence) for one cache rule; ``served`` names the image it serves (then an
    unhealthy credential set is a Fail: this image's pulls go through it); ``vaults`` is what vault_access found."""
    decision = decide_rule(registry, rule, credential_sets, served, vaults)
    message, remediation = RULE_WORDS[decision.reason](**decision.params)
    return decision.status, message, remediation, dict(decision.evidence)


def decide_rule(registry, rule, credential_sets, served=None, vaults=None):
    """Can the rule's registry authenticate to its upstream: its credential set, the set's identity's access to the
    Key Vault secrets, and Docker Hub's rate limit without credentials."""
    state, details = credential_state(rule, credential_sets)
    vaults = vaults or []
    lacking = [v for v in vaults if v["access"] == "lacking"]
    unknown = [v for v in vaults if v["access"] == "unknown"]
    source = _p(rule).get("sourceRepository")
    evidence = dict(details, cacheRule=rule.get("name"), sourceRepository=source,
                    targetRepository=_p(rule).get("targetRepository"), credentialState=state)
    if vaults:
        evidence["keyVaults"] = vaults
    common = {"registry": registry, "rule": rule, "served": served, "details": details}
    broken = FAIL if served else WARNING
    if state in ("unhealthy", "missing"):
        return decided(broken, "set-" + state, evidence, lacking=lacking, **common)
    if lacking:
        return decided(broken, "vault-lacking", evidence, lacking=lacking, healthy=state == "healthy", **common)
    if unknown:
        return decided(ERROR if state == "unknown" else WARNING, "vault-unknown", evidence, unknown=unknown,
                       health_unknown=state == "unknown", **common)
    granted = "; ".join("its identity can read its secrets in Key Vault {} ({})".format(v["vault"], v["grantedBy"])
                        for v in vaults if v["access"] == "granted")
    if state == "none" and upstream(rule) in RATE_LIMITED_UPSTREAMS:
        return decided(WARNING, "rate-limited", evidence, **common)
    if state == "unknown":
        return decided(WARNING, "health-unknown", evidence, granted=granted, **common)
    return decided(PASS, "set-" + state, evidence, granted=granted, **common)


# -- a cache rule's words, by reason --------------------------------------------------------------------------------
def _what(registry, rule, served):
    source, target = _p(rule).get("sourceRepository"), _p(rule).get("targetRepository")
    if served:
        return "Image {} comes through cache rule {} of registry {} ({} -> {})".format(
            served, rule.get("name"), registry["name"], target, source)
    return "Cache rule {} of registry {} ({} -> {})".format(rule.get("name"), registry["name"], target, source)


def _cannot_authenticate(registry, rule, served, details, why):
    return "{}; {}, so the registry cannot authenticate to {} ('authentication required with source registry for " \
           "cache rule').".format(_what(registry, rule, served), why, upstream(rule))


def _set_missing(registry, rule, served, details, lacking):
    why = "its credential set {} does not exist".format(details.get("credentialSet"))
    return _cannot_authenticate(registry, rule, served, details, why), _create_set_fix(registry, rule)


def _set_unhealthy(registry, rule, served, details, lacking):
    why = "its credential set {} is Unhealthy ({})".format(details["credentialSet"], "; ".join(
        "{}: {} {}".format(h["credential"], h.get("errorCode") or "", h.get("errorMessage") or "").strip()
        for h in details["health"] if (h.get("status") or "").lower() == "unhealthy"))
    text = _cannot_authenticate(registry, rule, served, details, why)
    if lacking:
        return text[:-1] + "; " + _vault_words(details, lacking) + ".", "; ".join(
            _vault_fix(details, v) for v in lacking)
    return text, _unhealthy_fix(registry, rule, details)


def _vault_lacking(registry, rule, served, details, lacking, healthy):
    health = "its last reported health is Healthy" if healthy else "its health is not reported"
    return ("{}; credential set {}: {}, so the registry cannot authenticate to {} ('authentication required with "
            "source registry for cache rule'; {}).".format(_what(registry, rule, served), details.get("credentialSet"),
                                                          _vault_words(details, lacking), upstream(rule), health),
            "; ".join(_vault_fix(details, v) for v in lacking))


def _vault_unknown(registry, rule, served, details, unknown, health_unknown):
    words = "whether its identity (principal {}) can read its secrets could not be verified: {}".format(
        details.get("identityPrincipalId"), "; ".join("Key Vault {}: {}".format(v["vault"], v["reason"])
                                                        for v in unknown))
    fix = "Check the identity's access to the vault: az role assignment list --assignee {} --all; az keyvault " \
          "show -n <vault> --query properties.accessPolicies".format(details.get("identityPrincipalId"))
    what = _what(registry, rule, served)
    if health_unknown:
        return ("Could not reach a verdict: {}; the health of its credential set {} is not reported by the API and "
                "{}.".format(what, details.get("credentialSet"), words)), fix
    return "{}; its credential set {} is Healthy, but {}.".format(what, details.get("credentialSet"), words), fix


def _rate_limited(registry, rule, served, details):
    return ("{} without a credential set: Docker Hub rate-limits anonymous pulls, so the registry's pulls from it are "
            "throttled ('too many requests to source registry for cache rule').".format(
                _what(registry, rule, served))), _create_set_fix(registry, rule)


def _health_unknown(registry, rule, served, details, granted):
    return ("{}; the health of its credential set {} is not reported by the API, so whether it can authenticate is "
            "unknown{}.".format(_what(registry, rule, served), details.get("credentialSet"),
                                " (" + granted + ")" if granted else ""),
            "Check it with az acr credential-set show -r {} -n {} --query properties.authCredentials".format(
                registry["name"], details.get("credentialSet")))


def _set_none(registry, rule, served, details, granted):
    return "{}; needs no credential set for {}.".format(_what(registry, rule, served), upstream(rule)), ""


def _set_healthy(registry, rule, served, details, granted):
    return "{}; its credential set {} is Healthy{}.".format(_what(registry, rule, served), details.get("credentialSet"),
                                                           " and " + granted if granted else ""), ""


RULE_WORDS = {"set-missing": _set_missing, "set-unhealthy": _set_unhealthy, "vault-lacking": _vault_lacking,
              "vault-unknown": _vault_unknown, "rate-limited": _rate_limited, "health-unknown": _health_unknown,
              "set-none": _set_none, "set-healthy": _set_healthy}


@check("artifact-cache-rule", "B.cache", "An artifact cache rule serving the image can reach its upstream",
       "Reads the registry's cache rules and credential sets; for each image, the rule whose targetRepository "
       "(exact, or a prefix/* wildcard) serves its repository: Fail when the rule's credential set cannot "
       "authenticate (Unhealthy, missing, or its identity cannot read the Key Vault secrets: no role assignment "
       "granting getSecret on an RBAC vault, no access policy with get on secrets otherwise), Warning for a Docker "
       "Hub upstream without credential set (rate limited), a vault that cannot be read "
       "or a health the API does not report; Skipped when no rule serves the image. Without an image, and in fleet, "
       "every rule of the registry is judged at Warning level (fleet lists the rules through ARM, once per "
       "registry: Resource Graph does not index them).", groups=("image",),
       needs=("image_entries", "member_groups", "registries", "registry_cache_rules", "registry_credential_sets",
              "role_assignments", "role_definition"),
       optional=("image_registry", "key_vault"))
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
    state, details = credential_state(rule, sets)
    vaults = vault_access(facts, registry, details) if state in ("healthy", "unknown", "unhealthy") else []
    status, message, fix, evidence = judge_rule(registry, rule, sets, served=entry["text"], vaults=vaults)
    return chk.finding(image_target(entry), status, message, fix, image=entry["text"], **evidence)
