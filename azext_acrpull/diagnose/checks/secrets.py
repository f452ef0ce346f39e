"""Cause 1, the Kubernetes way: image pull secrets (C1.S5 service principal, C1.S6 admin user and ACR tokens).

kubelet tries the credentials of the pod's pull secrets for the image's registry, and the node's own (the kubelet
identity) in turn; a secret with a wrong or expired credential fails the pull with 401 when nothing else works.
Secrets are read from the cluster's Kubernetes API; only user names, dates and ids reach a finding.
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..common.commands import acr_args, assign_command
from ..common.pull import is_abac, principals_of, registry_grants, repositories_for
from ..common.registry import per_registry
from ..credentials import (
    ADMIN,
    KIND_WORDS,
    REFRESH_TOKEN,
    SERVICE_PRINCIPAL,
    classify_user,
    credentials_for,
    credentials_matching_hint,
    day,
    decode_pull_secret,
    expiry,
    jwt_expiry,
    password_ends,
    same_secret,
    scope_map_allows_pull,
    scope_map_pull_patterns,
)
from ..discovery import pod_name
from ..findings import FAIL, PASS, SKIPPED, STATUS_ORDER, WARNING, check
from ..roles import assignments_of

SP_KINDS = (SERVICE_PRINCIPAL, REFRESH_TOKEN)
REGISTRY_KINDS = (ADMIN, "token")


@dataclass
class _Use:
    """One pull secret as a pod (or namespace) uses it for one registry."""

    namespace: str
    name: str
    source: str                       # where the reference came from, in words
    secret: dict = None               # the Secret object, None when it does not exist
    in_pod: bool = True               # False for a service account secret the pod does not list
    pod_lists_own: bool = False       # the pod names its own imagePullSecrets (so none of its account's are added)
    credentials: list = field(default_factory=list)
    problem: str = ""
    pod: str = None                   # the pod (in ``namespace``) whose pulls use it; None for a namespace's secret

    @property
    def target(self):
        return "secret {}/{}".format(self.namespace, self.name)


def _uses(facts, registry):
    """The pull secrets that matter for this registry: those of the pods the run is about (the --pod, or the
    failing pods it found) and of their service accounts, each once; without pods, the docker-config secrets of
    the namespace."""
    request, login = facts.request, registry.get("properties", {}).get("loginServer") or ""
    namespace = request.namespace
    repositories = repositories_for(facts, registry)
    repository = repositories[0] if len(repositories) == 1 else None
    pods = facts.diagnosed_pods()
    uses = []
    for pod in pods:
        for use in _pod_uses(facts, pod):
            if not any((u.namespace, u.name) == (use.namespace, use.name) for u in uses):
                uses.append(use)
    if not pods:
        for secret in facts.image_pull_secrets(namespace):
            meta = secret.get("metadata") or {}
            uses.append(_Use(meta.get("namespace") or namespace, meta.get("name"), "namespace " + namespace, secret))
    for use in uses:
        if use.secret is None:
            continue
        decoded = decode_pull_secret(use.secret)
        use.problem = decoded.problem
        use.credentials = credentials_for(decoded, login, repository)
    if not pods:
        uses = [u for u in uses if u.credentials]
    return uses


def _pod_uses(facts, pod):
    """A pod's own imagePullSecrets, then those of its service account that it does not list."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    namespace, name = meta.get("namespace"), meta.get("name")
    listed = [s.get("name") for s in spec.get("imagePullSecrets") or [] if s.get("name")]
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    sa = facts.service_account(namespace, account) or {}
    uses = [_Use(namespace, s, "pod {}".format(name), facts.secret(namespace, s), pod=name) for s in listed]
    for ref in sa.get("imagePullSecrets") or []:
        secret = ref.get("name")
        if secret and secret not in listed:
            uses.append(_Use(namespace, secret, "service account {}".format(account), facts.secret(namespace, secret),
                             in_pod=False, pod_lists_own=bool(listed), pod=name))
    return uses


def _pod_words(facts):
    """'pod ns/a' or 'pods ns/a, ns/b' for the pods the run is about; None without pods."""
    names = [pod_name(p) for p in facts.diagnosed_pods()]
    if not names:
        return None
    return "{} {}".format("pod" if len(names) == 1 else "pods", ", ".join(names))


def _scope_words(facts):
    return _pod_words(facts) or "namespace {}".format(facts.request.namespace)


def _skip(chk, facts, registry, uses, kinds, other_check):
    login = registry.get("properties", {}).get("loginServer")
    relevant = [u for u in uses if u.secret is not None and u.credentials]
    others = ["{} uses {}".format(u.target, KIND_WORDS[classify_user(u.credentials[0].username, registry["name"])])
              for u in relevant]
    what = "a service principal" if kinds == SP_KINDS else "the admin user or an ACR token"
    pods = _pod_words(facts)
    if pods:
        text = "No image pull secret of {} holds credentials for {} that use {}".format(pods, login, what)
    else:
        text = "No image pull secret in namespace {} holds credentials for {} that use {}".format(
            facts.request.namespace, login, what)
    text += " ({}; see {})".format("; ".join(others), other_check) if others else \
        "; {} with the cluster's own identity (see acr-role-assignment)".format(
            "the pod pulls" if pods else "its pods pull")
    return chk.finding(_scope_words(facts), SKIPPED, text + ".", registry=registry["name"])


def _kube_secret_command(use, registry, username, password_expression):
    """Recreate the pull secret in place (same name and namespace) with the given user and password."""
    return ('kubectl create secret docker-registry {} -n {} --docker-server={} --docker-username="{}" '
            '--docker-password="{}" --dry-run=client -o yaml | kubectl apply -f -'.format(
                use.name, use.namespace, registry.get("properties", {}).get("loginServer"), username,
                password_expression))


def _recreate_pod_command(facts, use):
    pod = facts.pod(use.namespace, use.pod) or {}
    owned = bool((pod.get("metadata") or {}).get("ownerReferences"))
    if owned:
        return "kubectl delete pod {} -n {}".format(use.pod, use.namespace)
    return "kubectl get pod {0} -n {1} -o yaml | kubectl replace --force -f -".format(use.pod, use.namespace)


def _worst(problems):
    return min((p[0] for p in problems), key=STATUS_ORDER.get)


def _finding(chk, facts, use, registry, problems, passed, evidence):
    """One finding per secret: the worst problem decides; fixes run in order."""
    if not use.in_pod and use.pod_lists_own:
        note = ("Pod {} names its own imagePullSecrets, so those of its {} (this one) are never added to it and "
                "kubelet does not use this secret.".format(use.pod, use.source))
        problems = problems + [(WARNING, note, "Add {} to imagePullSecrets in the pod's template (or remove the "
                                               "pod's own list).".format(use.name))]
    elif not use.in_pod:
        note = ("Pod {} does not list this secret: it was added to its {} after the pod was created, and kubelet "
                "uses only the pod's own list, so recreate the pod.".format(use.pod, use.source))
        problems = problems + [(WARNING, note, _recreate_pod_command(facts, use))]
    evidence.update(source=use.source, listedByPod=use.in_pod, registry=registry["name"])
    target = use.target
    if not problems:
        return chk.finding(target, PASS, passed, **evidence)
    status = _worst(problems)
    fixes = []
    for _, _, fix in sorted(problems, key=lambda p: STATUS_ORDER[p[0]]):
        if fix and fix not in fixes:
            fixes.append(fix)
    message = " ".join(p[1] for p in sorted(problems, key=lambda p: STATUS_ORDER[p[0]]))
    return chk.finding(target, status, message, " && ".join(fixes), **evidence)


def _unusable(chk, facts, use, registry):
    """A secret kubelet cannot use at all: missing or unreadable (reported once, by pull-secret-sp)."""
    if use.secret is None:
        return chk.finding(
            use.target, WARNING,
            "Secret {} named by {}'s imagePullSecrets does not exist: kubelet skips it (the pod's events say "
            "'Unable to retrieve some image pull secrets') and pulls with the cluster's own identity.".format(
                use.target[len("secret "):], use.source),
            "kubectl create secret docker-registry {} -n {} --docker-server={} --docker-username=<user> "
            "--docker-password=<password>".format(use.name, use.namespace,
                                                  registry.get("properties", {}).get("loginServer")),
            source=use.source, exists=False, registry=registry["name"])
    return chk.finding(
        use.target, WARNING,
        "Secret {} named by {} cannot be used by kubelet: {}.".format(use.target[len("secret "):], use.source,
                                                                      use.problem),
        "kubectl create secret docker-registry {} -n {} --docker-server={} --docker-username=<user> "
        "--docker-password=<password> --dry-run=client -o yaml | kubectl replace --force -f -".format(
            use.name, use.namespace, registry.get("properties", {}).get("loginServer")),
        source=use.source, type=(use.secret or {}).get("type"), registry=registry["name"])


def _overrides_note(cred):
    if cred.auth_overrides:
        return [(WARNING, "Its `auth` field holds a different user or password than its username/password fields, "
                          "and kubelet uses `auth`.", "")]
    return []


# --- C1.S5 -----------------------------------------------------------------------------------------------------


@check("pull-secret-sp", "C1.S5", "Image pull secrets that use a service principal are valid",
       "Reads the pod's image pull secrets (and its service account's), or the namespace's, decodes the entry for "
       "the registry and, when its user is a service principal, checks that it exists, that its credential has not "
       "expired and that it holds a pull role on the registry.", groups=("auth",),
       needs=("application", "diagnosed_pods", "image_entries", "image_pull_secrets", "member_groups", "pod",
              "registries", "registry_lookups", "role_assignments", "role_definition", "secret", "service_account",
              "service_principal"))
def pull_secret_sp(chk, facts):
    return per_registry(chk, facts, _sp_secrets)


def _sp_secrets(chk, facts, registry):
    """The registry's pull secrets of a service principal or a refresh token, or why there are none to judge."""
    findings, uses = [], _uses(facts, registry)
    for use in uses:
        if use.secret is None or (use.problem and not use.credentials):
            findings.append(_unusable(chk, facts, use, registry))
            continue
        for cred in use.credentials:
            kind = classify_user(cred.username, registry["name"])
            if kind == SERVICE_PRINCIPAL:
                findings.append(_sp_secret(chk, facts, use, registry, cred))
            elif kind == REFRESH_TOKEN:
                findings.append(_refresh_token_secret(chk, facts, use, registry, cred))
    if not any(f.evidence.get("registry") == registry["name"] for f in findings):
        findings.append(_skip(chk, facts, registry, uses, SP_KINDS, "pull-secret-admin"))
    return findings


def _sp_secret(chk, facts, use, registry, cred):
    app_id = cred.username
    evidence = {"username": app_id, "server": cred.server}
    sp = facts.service_principal(app_id)
    if sp is None:
        role = "Container Registry Repository Reader" if is_abac(registry) else "AcrPull"
        create = ('read -r APP_ID SECRET <<< "$(az ad sp create-for-rbac --name {}-{}-pull --role "{}" --scopes {} '
                  '--query "[[appId, password]]" -o tsv)" && {}'.format(
                      use.namespace, use.name, role, registry["id"],
                      _kube_secret_command(use, registry, "$APP_ID", "$SECRET")))
        return _finding(chk, facts, use, registry, [(FAIL, (
            "Secret {} holds service principal {}, which does not exist in Microsoft Entra ID (deleted, or from "
            "another tenant): the registry refuses it.".format(use.target[7:], app_id)), create)], "", evidence)
    app = facts.application(app_id)
    creds = list((app or {}).get("passwordCredentials") or []) + list(sp.get("passwordCredentials") or [])
    name = sp.get("displayName") or app_id
    evidence.update(objectId=sp.get("id"), displayName=name)
    refresh = _kube_secret_command(use, registry, app_id, "$(az ad {} credential reset --id {} --append --query "
                                   "password -o tsv)".format("app" if app is not None else "sp", app_id))
    problems = _overrides_note(cred)
    matching = credentials_matching_hint(creds, cred.password)
    if matching is not None:
        state = expiry(password_ends(matching))
        evidence["matchedCredentials"] = [{"keyId": c.get("keyId"), "endDateTime": c.get("endDateTime")}
                                          for c in matching]
    else:
        state = expiry(password_ends(creds))
    evidence["validUntil"] = state.valid_until.isoformat() if state.valid_until else None
    secret = use.target[len("secret "):]
    if matching == []:
        problems.append((FAIL, "The password in secret {} is none of service principal {}'s current credentials "
                               "(it matches no credential's hint): it was reset or removed.".format(secret, name),
                         refresh))
    elif state.state == "none":
        problems.append((FAIL, "Service principal {} ({}) has no password credential left, so the password in "
                               "secret {} no longer works.".format(name, app_id, secret), refresh))
    elif state.state == "expired":
        problems.append((FAIL, "The {}credential of service principal {} ({}) in secret {} expired on {}.".format(
            "" if matching else "last ", name, app_id, secret, day(state.expired_on)), refresh))
    elif state.state == "expiring":
        problems.append((WARNING, "The credential of service principal {} ({}) in secret {} expires on {}.".format(
            name, app_id, secret, day(state.valid_until)), refresh))
    role_problems, grants = _role_problems(facts, registry, sp, name, app_id)
    problems.extend(role_problems)
    evidence["grants"] = grants
    passed = "Secret {} uses service principal {} ({}): it exists, its credential is valid {}, and it may pull " \
             "from {} ({}).".format(secret, name, app_id, "without an end date" if state.never_expires else
                                    "until " + day(state.valid_until), registry["name"],
                                    ", ".join(sorted({"{} at {}".format(g["role"], g["scope"]) for g in grants})))
    return _finding(chk, facts, use, registry, problems, passed, evidence)


def _role_problems(facts, registry, sp, name, app_id):
    """Does the secret's service principal hold a pull role that reaches the images' repositories?"""
    oid = sp["id"]
    listed = facts.role_assignments(registry["id"])
    ids = principals_of(facts, oid, listed)[0]
    assignments = assignments_of(listed, ids)
    repositories = repositories_for(facts, registry) if is_abac(registry) else []
    fix = assign_command(oid, registry)
    grants = registry_grants(facts, registry, assignments, ids)
    evidence = [{"role": g.role_name, "scope": g.scope, "repositories": g.repositories} for g in grants]
    if not grants:
        mode = " (an ABAC registry: it needs Container Registry Repository Reader, not AcrPull)" \
            if is_abac(registry) else ""
        return [(FAIL, "Service principal {} ({}) holds no role that grants pull on {}{}.".format(
            name, app_id, registry["name"], mode), fix)], evidence
    uncovered = [r for r in repositories if not registry_grants(facts, registry, assignments, ids, r)]
    if uncovered:
        return [(FAIL, "Service principal {} ({}) may read only {} on {}, not {}.".format(
            name, app_id, "; ".join(sorted({g.repositories for g in grants})), registry["name"],
            ", ".join("'{}'".format(r) for r in uncovered)), fix)], evidence
    return [], evidence


def _refresh_token_secret(chk, facts, use, registry, cred):
    ends = jwt_expiry(cred.password)
    evidence = {"username": cred.username, "server": cred.server, "expiresOn": ends.isoformat() if ends else None}
    fix = ('az aks update -n {} -g {} --attach-acr {} && kubectl delete secret {} -n {}'.format(
        facts.cluster_name, facts.cluster_resource_group, registry["id"], use.name, use.namespace))
    why = ("Secret {} holds an ACR refresh token (user {}, as `az acr login --expose-token` prints it), which "
           "lasts about 3 hours".format(use.target[7:], cred.username))
    if ends is None:
        return _finding(chk, facts, use, registry, [(FAIL, why + "; its password is not a readable token.", fix)],
                        "", evidence)
    if ends <= datetime.now(timezone.utc):
        return _finding(chk, facts, use, registry, [(FAIL, why + "; it expired at {} UTC. Let the cluster pull "
                                                      "with its own identity instead.".format(
                                                          ends.strftime("%Y-%m-%d %H:%M")), fix)], "", evidence)
    return _finding(chk, facts, use, registry, [(WARNING, why + "; it expires at {} UTC and pulls fail after that. "
                                                 "Let the cluster pull with its own identity instead.".format(
                                                     ends.strftime("%Y-%m-%d %H:%M")), fix)], "", evidence)


# --- C1.S6 -----------------------------------------------------------------------------------------------------


@check("pull-secret-admin", "C1.S6", "Image pull secrets that use the admin user or a token are current",
       "Decodes the pull secrets for the registry and, for the admin user, checks that admin is enabled and that "
       "the password is one of the two current ones; for a repository-scoped ACR token, that it exists, is "
       "enabled, has an unexpired password and a scope map that allows pull of the image's repository.",
       groups=("auth",),
       needs=("cluster_subscription", "diagnosed_pods", "image_entries", "image_pull_secrets", "pod", "registries",
              "registry_admin_credentials", "registry_lookups", "registry_scope_map", "registry_token", "secret",
              "service_account"))
def pull_secret_admin(chk, facts):
    return per_registry(chk, facts, _admin_secrets)


def _admin_secrets(chk, facts, registry):
    """The registry's pull secrets of its admin user or of a token, or why there are none to judge."""
    mine, uses = [], _uses(facts, registry)
    for use in uses:
        for cred in use.credentials:
            kind = classify_user(cred.username, registry["name"])
            if kind == ADMIN:
                mine.append(_admin_secret(chk, facts, use, registry, cred))
            elif kind == "token":
                mine.append(_token_secret(chk, facts, use, registry, cred))
    return mine or [_skip(chk, facts, registry, uses, REGISTRY_KINDS, "pull-secret-sp")]


def _admin_secret(chk, facts, use, registry, cred):
    props = registry.get("properties", {})
    evidence = {"username": cred.username, "server": cred.server, "adminUserEnabled": props.get("adminUserEnabled")}
    refresh = _kube_secret_command(use, registry, registry["name"], "$(az acr credential show {} --query "
                                   "'passwords[0].value' -o tsv)".format(acr_args(facts, registry)))
    problems = _overrides_note(cred)
    if not props.get("adminUserEnabled"):
        problems.append((FAIL, (
            "Secret {} uses the admin user of {}, but the admin user is disabled, so the registry refuses it. Either "
            "enable it and refresh the secret, or remove the secret from the pod and let the cluster pull with its "
            "own identity (see acr-role-assignment).").format(use.target[7:], registry["name"]),
            "az acr update {} --admin-enabled true && {}".format(acr_args(facts, registry), refresh)))
        return _finding(chk, facts, use, registry, problems, "", evidence)
    current = facts.registry_admin_credentials(registry["id"])
    digests = current.get("passwordDigests") or {}
    matched = [n for n, d in sorted(digests.items()) if same_secret(cred.password, d)]
    evidence["matches"] = matched[0] if matched else None
    if (current.get("username") or "").lower() != cred.username.lower():
        problems.append((FAIL, "Secret {} uses user {}, but the admin user of {} is {}.".format(
            use.target[7:], cred.username, registry["name"], current.get("username")), refresh))
    elif not matched:
        problems.append((FAIL, (
            "The password in secret {} matches neither current admin password of {}: it was regenerated after the "
            "secret was made (the registry's Activity log shows 'Regenerate Container Registry Login Credentials', "
            "kept 90 days).").format(use.target[7:], registry["name"]), refresh))
    passed = "Secret {} uses the admin user of {} and its password is the current {}.".format(
        use.target[7:], registry["name"], matched[0] if matched else "")
    return _finding(chk, facts, use, registry, problems, passed, evidence)


def _token_secret(chk, facts, use, registry, cred):
    name = cred.username
    repositories = repositories_for(facts, registry)
    evidence = {"username": name, "server": cred.server}
    scope = " ".join("--repository {} content/read content/metadata/read".format(r) for r in repositories) or \
        "--scope-map _repositories_pull"
    create = _kube_secret_command(use, registry, name, "$(az acr token create -n {} -r {} {} --query "
                                  "'credentials.passwords[0].value' -o tsv)".format(name, registry["name"], scope))
    token = facts.registry_token(registry["id"], name)
    if token is None:
        return _finding(chk, facts, use, registry, [(FAIL, (
            "Secret {} uses user {}, which is neither the admin user of {} nor one of its tokens (a token of that "
            "name does not exist: it was deleted, or the secret was made for another registry).").format(
                use.target[7:], name, registry["name"]), create)], "", evidence)
    props = token.get("properties") or {}
    passwords = (props.get("credentials") or {}).get("passwords") or []
    evidence.update(tokenId=token.get("id"), tokenStatus=props.get("status"), scopeMapId=props.get("scopeMapId"),
                    passwords=[{"name": p.get("name"), "expiry": p.get("expiry")} for p in passwords])
    problems = _overrides_note(cred)
    if (props.get("status") or "enabled").lower() == "disabled":
        problems.append((FAIL, "Token {} of {} is disabled.".format(name, registry["name"]),
                         "az acr token update -n {} -r {} --status enabled".format(name, registry["name"])))
    refresh = _kube_secret_command(use, registry, name, "$(az acr token credential generate -n {} -r {} --password1 "
                                   "--expiration-in-days 365 --query 'passwords[0].value' -o tsv)".format(
                                       name, registry["name"]))
    state = expiry(password_ends(passwords))
    if state.state == "none":
        problems.append((FAIL, "Token {} has no password, so the one in secret {} was deleted.".format(
            name, use.target[7:]), refresh))
    elif state.state == "expired":
        problems.append((FAIL, "Every password of token {} has expired (the last on {}).".format(
            name, day(state.expired_on)), refresh))
    elif state.state == "expiring":
        problems.append((WARNING, "The passwords of token {} are valid only until {}.".format(
            name, day(state.valid_until)), refresh))
    elif state.expired:
        problems.append((WARNING, "One password of token {} expired on {} while the other is valid; the secret may "
                                  "hold the expired one (a token's password cannot be read back to compare).".format(
                                      name, day(state.expired_on)), refresh))
    scope_map = facts.registry_scope_map(props["scopeMapId"]) if props.get("scopeMapId") else None
    actions = ((scope_map or {}).get("properties") or {}).get("actions") or []
    patterns = scope_map_pull_patterns(actions)
    evidence["pullRepositories"] = patterns
    if not patterns:
        problems.append((FAIL, "Token {}'s scope map {} allows pulling no repository (no content/read action).".format(
            name, (scope_map or {}).get("name") or props.get("scopeMapId")), _scope_fix(name, registry,
                                                                                       repositories, scope_map)))
    else:
        denied = [r for r in repositories if not scope_map_allows_pull(actions, r)]
        if denied:
            problems.append((FAIL, "Token {}'s scope map {} allows pulling only {}, not {}.".format(
                name, scope_map.get("name"), ", ".join("'{}'".format(p) for p in patterns),
                ", ".join("'{}'".format(r) for r in denied)), _scope_fix(name, registry, denied, scope_map)))
    until = "without an end date" if state.never_expires else "until {}".format(day(state.valid_until))
    passed = "Secret {} uses token {} of {}: it is enabled, has a password valid {} and may pull {}.".format(
        use.target[7:], name, registry["name"], until, ", ".join("'{}'".format(p) for p in patterns))
    return _finding(chk, facts, use, registry, problems, passed, evidence)


def _scope_fix(token, registry, repositories, scope_map):
    if scope_map and repositories:
        return "az acr scope-map update -n {} -r {} {}".format(
            scope_map.get("name"), registry["name"],
            " ".join("--add-repository {} content/read content/metadata/read".format(r) for r in repositories))
    return "az acr token update -n {} -r {} --scope-map _repositories_pull".format(token, registry["name"])

