"""S0 and X.qps: start from the pod that is stuck. What does Kubernetes say, and which cause does it point at?

``pod-pull-events`` is the starting point of a diagnosis that starts from pods, so it registers in the ``pod``
group: every command selects it when ``--pod`` is given, or when nothing names a pod, an image or a registry and
the run looks for the failing pods itself (see ``runner.select_checks`` and ``discovery.py``). One pod of each
group of pods that fail alike is classified (its events are read, no other pod's); the groups beyond the first
ones are summarised in one finding. With ``--acr`` or ``--image`` and no ``--pod`` it is ``Skipped``. Its finding
names the checks of the cause it found, which the same run reports below it.
"""
from ..classify import WAITING_REASONS, classify_pull_error, classify_waiting, failed_token
from ..common.pods import _when, container_events
from ..discovery import ACTIVE_PODS, pod_name, pull_waits
from ..facts import POD_NOT_FOUND, FactError
from ..findings import ERROR, FAIL, PASS, SKIPPED, WARNING, check
from ..platform import mismatch
from ..workload import patch_pod_spec_command
from .image import acr_image, assess_manifest, assess_platform, assess_reference, platform_verdict

# Where to look for each cause: the checks that decide it (contract check ids).
CAUSE_CHECKS = {
    "C1": ("acr-role-assignment", "sp-credential-expiry", "sp-role-principal", "kubelet-identity-vmss",
           "pull-secret-sp", "pull-secret-admin", "registry-arm-audience", "registry-tenant",
           "node-provisioning-identity"),
    "C2": ("image-reference", "image-manifest"),
    "C3": ("acr-network-rules", "private-dns-link"),
    "C4": ("private-dns-link", "vnet-peering", "egress-path", "cluster-pull-probe"),
    "C5": ("image-platform",),
    "X.arch": ("image-platform",),
    "X.qps": ("pull-rate-limit",),
    "X.tls": ("egress-path", "registry-health"),
    "B.cache": ("artifact-cache-rule",),
    "B.throttle": ("artifact-cache-rule",),
    "B.slow": (),
    "B.disk": ("node-disk-pressure",),
    "B.purge": ("image-manifest",),
    "B.fqdn": ("egress-path", "cluster-pull-probe"),
    "B.proxy": ("egress-path",),
    "B.admission": ("pod-admission",),
    "B.sep": ("subnet-endpoint-policy",),
    "unknown": (),
}
# B.token: for a 401, which credential path failed decides where to look first, not the catalog order.
TOKEN_CHECKS = {
    # No credential offered: the node's identity path (its scale set, a node made by auto-provisioning, a host the
    # credential provider does not match), then what would refuse one once offered.
    "anonymous": ("kubelet-identity-vmss", "node-provisioning-identity", "image-reference", "registry-arm-audience",
                  "acr-role-assignment", "pull-secret-sp", "pull-secret-admin"),
    # A credential offered and refused: the role, ABAC mode, the registry's ARM-audience policy, its tenant.
    "oauth": ("acr-role-assignment", "registry-arm-audience", "registry-tenant", "sp-credential-expiry",
              "sp-role-principal", "kubelet-identity-vmss", "pull-secret-sp", "pull-secret-admin"),
}
TOKEN_WORDS = {
    "anonymous": "The node offered no credential for this registry (anonymous-token 401): its identity path comes "
                 "first (the kubelet identity on the node's scale set, a node made by node auto-provisioning, an image "
                 "host the credential provider does not match).",
    "oauth": "The node offered a credential and the registry refused it (oauth-token 401): the pull role, ABAC mode, "
             "the registry's ARM-audience policy and its tenant come first.",
}
GROUP_OF_CAUSE = {"C1": "check-auth", "C2": "check-image", "C3": "check-network", "C4": "check-network",
                  "C5": "check-image", "X.arch": "check-image", "X.qps": "check-image", "X.tls": "check-network",
                  "B.cache": "check-image", "B.throttle": "check-image", "B.disk": "check-image",
                  "B.purge": "check-image", "B.fqdn": "check-network", "B.proxy": "check-network",
                  "B.admission": "check-image", "B.sep": "check-network"}
# Causes no check can decide further: the fix itself.
_CAUSE_FIX = {
    "B.slow": "Make the image smaller (fewer and smaller layers), enable artifact streaming on a Premium registry "
              "(az acr artifact-streaming update), or pre-pull the image on the nodes",
}
_QPS = "pull QPS exceeded"
_TEXT_LIMIT = 2000


_SUMMARY_LIMIT = 20     # failing pods named one by one in the summary finding


def pod_target(pod, container=None):
    text = "pod {}".format(pod_name(pod))
    return text + " ({} {})".format(container["kind"], container["name"]) if container else text


def _skipped_without_pod(chk, facts):
    return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED,
                        "No --pod given: a pod's state and events are read for the pod named with --pod (and "
                        "--namespace), or for the failing pods found when neither --acr nor --image is given.")]


def _scope(facts):
    return "namespace {}".format(facts.request.namespace) if facts.request.namespace_given else \
        "cluster {}".format(facts.cluster_name)


def _events(facts, pod):
    """(events about the pod, None) or ([], why they could not be read): the container status still carries the
    pull error text, so a verdict does not depend on them."""
    meta = pod.get("metadata") or {}
    try:
        return facts.pod_events(meta.get("namespace"), meta.get("name")), None
    except FactError as err:
        return [], err.reason.rstrip(".")


def _pull_texts(container, events):
    """(text, where it came from, event) to classify, most telling first: the waiting message, then the
    warning events (and back-offs) from the newest."""
    waiting = ((container["status"].get("state") or {}).get("waiting") or {})
    texts = []
    if waiting.get("message"):
        texts.append((waiting["message"], "waiting message", None))
    for detail in (container["status"].get("lastState") or {}).values():
        if (detail or {}).get("message"):
            texts.append((detail["message"], "last state message", None))
    for event in events:
        if event.get("type") == "Warning" or event.get("reason") == "BackOff":
            texts.append((event.get("message") or "", "event {}".format(event.get("reason")), event))
    return texts


def classify_container(container, events):
    """(Classification, text, source, event) for a container waiting on a pull."""
    waiting = (container["status"].get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason")
    for text, source, event in _pull_texts(container, events):
        found = classify_waiting(reason, text) if source == "waiting message" else classify_pull_error(text)
        if found.cause != "unknown":
            return found, text, source, event
    return classify_waiting(reason, waiting.get("message") or ""), waiting.get("message") or "", \
        "waiting reason {}".format(reason), None


def decide(facts, found, entry, pod):
    """The cause when the text allows several (an anonymous 401, 'pull access denied'): Azure facts choose.

    In order: a wrongly written or missing registry (C2), a missing repository or tag (C2), an image that the
    pod's node cannot run (X.arch or C5), and for 'pull access denied' an image that exists (C1). A name that
    does not resolve is C4 only if the name is right, so the reference is checked for it too. Returns
    (cause, what decided it); facts that cannot be read leave the text's cause."""
    if found.cause == "X.tls" and "unknown authority" in found.reason:
        proxy = _http_proxy(facts)
        if proxy:
            return "B.proxy", "egress-path: the cluster sends its traffic through the HTTP proxy {}{}, which " \
                "re-signs TLS with a certificate the node does not trust".format(
                    proxy.get("httpsProxy") or proxy.get("httpProxy"),
                    "" if proxy.get("trustedCa") else " and the cluster's httpProxyConfig has no trustedCa")
        return found.cause, None
    unresolved = found.cause == "C4" and "resolve" in found.reason
    if entry is None or not (found.ambiguous or unresolved):
        return found.cause, None
    try:
        reference = assess_reference(facts, entry)
        if reference["status"] == FAIL:
            return "C2", "image-reference: " + reference["message"]
        if unresolved:
            return found.cause, None
        registry, _ = acr_image(facts, entry)
        if registry is None:
            return found.cause, None
        manifest = assess_manifest(facts, entry, registry)
        if manifest["status"] == FAIL:
            return "C2", "image-manifest: " + manifest["message"]
        state = assess_platform(facts, entry, registry, pod)
        pool = next((p for p in state["pools"] if p["name"] == state["nodePool"]), None)
        kind = mismatch(state["platforms"], pool) if pool and state["platforms"] else None
        if kind:
            return ("X.arch" if kind == "architecture" else "C5"), \
                "image-platform: the image is built for {}, node pool {} runs {}/{}".format(
                    ", ".join(str(p) for p in state["platforms"]), pool["name"], pool["os"], pool["architecture"])
        if found.cause == "C2":
            return "C1", "image-manifest: the image exists, so the registry refused the credentials the node presented"
    except FactError:
        pass
    return found.cause, None


def _http_proxy(facts):
    """The cluster's httpProxyConfig when it sends traffic through a proxy, else None."""
    try:
        config = (facts.cluster().get("properties") or {}).get("httpProxyConfig") or {}
    except FactError:
        return None
    return config if (config.get("httpProxy") or config.get("httpsProxy")) else None


@check("pod-pull-events", "S0,B.token", "The pod's containers are not stuck pulling their images",
       "Reads the pod (init, regular and ephemeral containers), its container statuses and its events (core v1 and "
       "events.k8s.io/v1), and classifies the pull error of every container waiting in ErrImagePull, "
       "ImagePullBackOff, InvalidImageName or ErrImageNeverPull into the article's causes; when the text allows "
       "several (an anonymous 401), the registry, the image and the node pools decide. Without --pod, --image and "
       "--acr, the pods that fail to pull are found first with one LIST of the active pods of every namespace the "
       "caller can read (--namespace narrows it): one finding per group of pods that fail alike (the replicas of "
       "a Deployment), the groups beyond the first ten summarised in one. Events that cannot be read leave the "
       "container status to decide.", groups=("pod",),
       needs=("cluster", "diagnosed_pod", "discovering", "failing_pod_groups", "image_entries", "image_platforms",
              "image_registry", "node_pool_platforms", "pod_containers", "pod_events", "registries_in_subscription",
              "registry_by_name", "registry_manifest", "registry_repositories", "registry_tags"),
       optional=("registry_cache_rules",))
def pod_pull_events(chk, facts):
    if facts.request.pod:
        try:
            pod = facts.diagnosed_pod()
        except FactError as err:
            if err.code != POD_NOT_FOUND:   # any other 404 (the cluster's credentials, say) is no verdict on the pod
                raise
            return [chk.finding("pod {}/{}".format(facts.request.namespace, facts.request.pod), SKIPPED,
                                "No pod {}/{} exists, so no container waits on a pull; a workload of that name does: "
                                "pod-admission reads why its pods were not created.".format(
                                    facts.request.namespace, facts.request.pod))]
        return _pod_findings(chk, facts, pod, [])
    if not facts.discovering():
        return _skipped_without_pod(chk, facts)
    found = facts.failing_pod_groups()
    if not found["reported"]:
        return [_nothing_fails(chk, facts, found)]
    findings = []
    for group in found["reported"]:
        try:
            findings += _pod_findings(chk, facts, group["pod"], group["others"])
        except FactError as err:
            findings.append(chk.finding(pod_target(group["pod"]), ERROR, "Could not reach a verdict: {}.".format(
                err.reason.rstrip(".")), reason=err.reason))
    if found["summarised"]:
        findings.append(_summarised(chk, facts, found))
    return findings


def _pod_findings(chk, facts, pod, others):
    """The findings of one pod (and the ``others`` that fail alike): one per container waiting on a pull."""
    containers = facts.pod_containers(pod)
    meta = pod.get("metadata") or {}
    waiting_pull = any(((c["status"].get("state") or {}).get("waiting") or {}).get("reason") in WAITING_REASONS
                       for c in containers)
    events, events_error = _events(facts, pod) if waiting_pull else ([], None)
    entries = {c["name"]: e for e in facts.image_entries() for c in e["containers"] if c["pod"] is pod}
    node = (pod.get("spec") or {}).get("nodeName")
    findings = []
    for container in containers:
        state = container["status"].get("state") or {}
        waiting = state.get("waiting") or {}
        mine = container_events(events, container, containers)
        if waiting.get("reason") in WAITING_REASONS:
            findings.append(_pull_failure(chk, facts, pod, container, mine, entries.get(container["name"]), node,
                                          others, events_error))
        elif _exec_format_error(container):
            findings.append(chk.finding(
                pod_target(pod, container), WARNING,
                "Container {} pulled image {} but cannot start it: exec format error, the image is built for another "
                "CPU architecture than node {}.".format(container["name"], container["image"], node),
                "Run az aks diagnose-pull check-image -g {} -n {} --pod {} --namespace {} to compare the image's "
                "platforms with the node pools".format(facts.cluster_resource_group, facts.cluster_name,
                                                       meta.get("name"), meta.get("namespace")),
                cause="X.arch", container=container["name"], image=container["image"], node=node,
                lookAt=list(CAUSE_CHECKS["X.arch"])))
    if findings:
        return findings
    status = pod.get("status") or {}
    states = {c["name"]: next(iter(c["status"].get("state") or {"unknown": {}})) for c in containers}
    return [chk.finding(pod_target(pod), PASS, "No container of pod {} is waiting on an image pull (phase {}; "
                        "{}).".format(pod_name(pod), status.get("phase") or "unknown",
                                      ", ".join("{} {}".format(k, v) for k, v in states.items()) or "no containers"),
                        phase=status.get("phase"), node=node, containers=states)]


def _nothing_fails(chk, facts, found):
    message = "No pod fails to pull: none of the {} active pods in {} has a container waiting in {}.".format(
        found["podsRead"], found["scope"], ", ".join(WAITING_REASONS[:-1]) + " or " + WAITING_REASONS[-1])
    if found["unreadableNamespaces"]:
        message += " Namespaces the signed-in account may not read were not searched: {}.".format(
            ", ".join(found["unreadableNamespaces"]))
    return chk.finding(_scope(facts), PASS, message, podsRead=found["podsRead"], scope=found["scope"],
                       fieldSelector=ACTIVE_PODS, unreadableNamespaces=list(found["unreadableNamespaces"]))


def _summarised(chk, facts, found):
    """The failing pods beyond the groups diagnosed one by one, in one finding."""
    pods = [p for g in found["summarised"] for p in [g["pod"]] + g["others"]]
    named = ["{} ({})".format(pod_name(p), ", ".join("{} {} {}".format(w["kind"], w["name"], w["reason"])
                                                      for w in pull_waits(p))) for p in pods]
    first = found["summarised"][0]["pod"]["metadata"]
    return chk.finding(
        "{}: {} more failing pods".format(_scope(facts), len(pods)), FAIL,
        "{} more pods in {} groups wait on an image pull and were not diagnosed one by one: {}{}.".format(
            len(pods), len(found["summarised"]), "; ".join(named[:_SUMMARY_LIMIT]),
            "; ..." if len(named) > _SUMMARY_LIMIT else ""),
        "Diagnose each with az aks diagnose-pull run -g {} -n {} --pod <name> --namespace <namespace>, for example "
        "--pod {} --namespace {}".format(facts.cluster_resource_group, facts.cluster_name, first.get("name"),
                                         first.get("namespace")),
        pods=[{"pod": pod_name(p), "waiting": pull_waits(p)} for p in pods[:200]], podCount=len(pods),
        groups=len(found["summarised"]))


def _exec_format_error(container):
    status = container["status"]
    for state in (status.get("state") or {}, status.get("lastState") or {}):
        for detail in state.values():
            if "exec format error" in ((detail or {}).get("message") or ""):
                return True
    return False


def _pull_failure(chk, facts, pod, container, events, entry, node, others=(), events_error=None):
    found, text, source, event = classify_container(container, events)
    cause, decided_by = decide(facts, found, entry, pod)
    meta = pod.get("metadata") or {}
    waiting = (container["status"].get("state") or {}).get("waiting") or {}
    token = failed_token(text)
    look_at = _look_at(chk, cause, token)
    message = "Container {} waits in {} pulling {}: {}.".format(
        container["name"], waiting.get("reason"), container["image"], found.reason)
    if decided_by:
        check_id, detail = decided_by.split(": ", 1)
        lead = "The text allows several causes; {} decides".format(check_id) if found.ambiguous else \
            "The cluster's facts point further ({})".format(check_id) if cause == "B.proxy" else \
            "The name itself is wrong ({})".format(check_id)
        message += " {}: {}".format(lead, detail.rstrip(".") + ".")
    elif found.ambiguous:
        message += " The text allows several causes and no Azure fact singled one out (a first-pull race right " \
                   "after a role assignment or node start also gives it)."
    if cause == "C1" and token in TOKEN_WORDS:
        message += " " + TOKEN_WORDS[token]
    if look_at:
        message += " Cause {}: see {}.".format(cause, ", ".join(look_at))
    if events_error:
        message += " The pod's events could not be read ({}), so the container status was classified.".format(
            events_error)
    if others:
        message += " {} more pod(s) with the same images wait too: {}.".format(
            len(others), ", ".join((o.get("metadata") or {}).get("name") for o in others[:5]) +
            (", ..." if len(others) > 5 else ""))
    group = GROUP_OF_CAUSE.get(cause)
    remediation = _image_fix(facts, cause, entry, pod, container) or _CAUSE_FIX.get(cause) or (
        "See the failed {} finding(s); on their own: az aks diagnose-pull {} -g {} -n {} --pod {} --namespace "
        "{}".format(", ".join(look_at), group, facts.cluster_resource_group, facts.cluster_name, meta.get("name"),
                    meta.get("namespace")) if group else
        "Read the full error with kubectl describe pod {} -n {}".format(meta.get("name"), meta.get("namespace")))
    evidence = {"cause": cause, "textCause": found.cause, "ambiguous": found.ambiguous, "token": token,
                "reason": found.reason, "decidedBy": decided_by, "waitingReason": waiting.get("reason"),
                "container": container["name"], "containerKind": container["kind"], "image": container["image"],
                "imagePullPolicy": container["imagePullPolicy"], "node": node, "source": source,
                "text": text[:_TEXT_LIMIT], "lookAt": look_at, "eventsRead": events_error is None}
    if events_error:
        evidence["eventsError"] = events_error
    if others:
        evidence.update(podCount=len(others) + 1, samePods=[pod_name(o) for o in others])
    if event is not None:
        evidence.update(eventReason=event.get("reason"), eventCount=event.get("count"), lastSeen=_when(event))
    return chk.finding(pod_target(pod, container), FAIL, message, remediation, **evidence)


def _look_at(chk, cause, token):
    """The checks that decide the cause, in the order to read them: for a 401, the failed token's order first."""
    order = list(TOKEN_CHECKS.get(token, ())) if cause == "C1" else []
    order += [c for c in CAUSE_CHECKS.get(cause, ()) if c not in order]
    return [c for c in order if c in chk.catalog_ids]


def _image_fix(facts, cause, entry, pod, container):
    """The fix itself when the image checks can name it from facts read anyway (same run, same cache)."""
    if cause == "X.qps":
        return _policy_fix(pod, container) if (container["imagePullPolicy"] or "") == "Always" else None
    if entry is None or cause not in ("C2", "C5", "X.arch"):
        return None
    try:
        reference = assess_reference(facts, entry)
        if reference["status"] == FAIL:
            return reference["remediation"]
        registry, _ = acr_image(facts, entry)
        if registry is None:
            return None
        manifest = assess_manifest(facts, entry, registry)
        if manifest["status"] == FAIL:
            return manifest["remediation"]
        if cause in ("C5", "X.arch"):
            platform = platform_verdict(facts, entry, assess_platform(facts, entry, registry, pod), pod)
            return platform["remediation"] or None
    except FactError:
        pass
    return None


def _policy_fix(pod, container):
    field = "initContainers" if container["kind"] == "init container" else "containers"
    return patch_pod_spec_command(pod, {field: [{"name": container["name"], "imagePullPolicy": "IfNotPresent"}]},
                                  "imagePullPolicy: IfNotPresent on container {}".format(container["name"]))


@check("pull-rate-limit", "X.qps", "Kubelet's pull rate limit is not what stops the pull",
       "Looks for 'pull QPS exceeded' in the pod's events and container states: kubelet refuses pulls beyond its "
       "registryPullQPS (5 per second, burst 10, by default). With imagePullPolicy Always every pod start pulls, so "
       "IfNotPresent is the fix. Runs for the --pod, or for the failing pods found when nothing names a pod, an "
       "image or a registry.", groups=("image",),
       needs=("diagnosed_pods", "discovering", "pod_containers", "pod_events"))
def pull_rate_limit(chk, facts):
    if not facts.request.pod and not facts.discovering():
        return _skipped_without_pod(chk, facts)
    pods = facts.diagnosed_pods()
    if not pods:
        return [chk.finding(_scope(facts), SKIPPED, "No pod fails to pull (see pod-pull-events), so no pull was "
                            "refused for kubelet's rate limit.")]
    findings = []
    for pod in pods:
        findings += _rate_limit_of(chk, facts, pod)
    return findings


def _rate_limit_of(chk, facts, pod):
    containers = facts.pod_containers(pod)
    events, events_error = _events(facts, pod)
    node = (pod.get("spec") or {}).get("nodeName")
    findings = []
    for container in containers:
        hits = [e for e in container_events(events, container, containers)
                if _QPS.lower() in (e.get("message") or "").lower()]
        waiting = ((container["status"].get("state") or {}).get("waiting") or {}).get("message") or ""
        if not hits and _QPS.lower() not in waiting.lower():
            continue
        count = sum(e.get("count") or 1 for e in hits) or 1
        policy = container["imagePullPolicy"] or "IfNotPresent"
        evidence = {"container": container["name"], "image": container["image"], "imagePullPolicy": policy,
                    "node": node, "events": count, "lastSeen": _when(hits[0]) if hits else None}
        if policy == "Always":
            findings.append(chk.finding(
                pod_target(pod, container), FAIL,
                "Kubelet on node {} refused to pull {} {} time(s): pull QPS exceeded (registryPullQPS). Container {} "
                "uses imagePullPolicy Always, so every start of a pod pulls again.".format(
                    node, container["image"], count, container["name"]),
                _policy_fix(pod, container), **evidence))
        else:
            findings.append(chk.finding(
                pod_target(pod, container), WARNING,
                "Kubelet on node {} refused to pull {} {} time(s): pull QPS exceeded. Container {} already uses "
                "imagePullPolicy {}; many pods starting on one node at once exceed kubelet's registryPullQPS "
                "(5 pulls per second, burst 10, by default).".format(node, container["image"], count,
                                                                     container["name"], policy),
                "Start fewer pods per node at once (a smaller maxSurge in the rollout strategy) or pre-pull the image "
                "on the nodes; kubelet retries on its own, so the pods start after the burst", **evidence))
    if findings:
        return findings
    if events_error:   # the refusal may be written only in the events
        return [chk.finding(pod_target(pod), ERROR, "Could not reach a verdict: no 'pull QPS exceeded' in the "
                            "container states of pod {}, but its events could not be read ({}).".format(
                                pod_name(pod), events_error), node=node, eventsRead=False, reason=events_error)]
    return [chk.finding(pod_target(pod), PASS, "No 'pull QPS exceeded' in the events of pod {}.".format(
        pod_name(pod)), node=node)]
