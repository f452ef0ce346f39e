"""B.admission: the pod is never created. An admission webhook refuses it, so no pull error exists to classify;
the refusal sits in the FailedCreate events of the ReplicaSet, Job or StatefulSet that tried to create it."""
import re

from ..classify import classify_pull_error
from ..findings import FAIL, PASS, check

OWNER_KINDS = ("ReplicaSet", "Job", "StatefulSet", "DaemonSet")
_CONSTRAINT = re.compile(r"\[(?P<name>[\w.-]+)\]")
_IMAGE = re.compile(r"(?:Container image|image) (?P<image>[\w.-]+(?::\d+)?/[\w./-]+(?:[:@][\w.:-]+)?)", re.I)
_ANY_IMAGE = re.compile(r"(?P<image>[\w-]+(?:\.[\w-]+)+(?::\d+)?/[\w./-]+(?:@sha256:[0-9a-f]{64}|:[\w.-]+)?)")


def refusal(message):
    """(webhook, policy, image) of an admission refusal, or None when the message is not one."""
    found = classify_pull_error(message or "")
    if found.cause != "B.admission":
        return None
    hook = re.search(r'admission webhook "([^"]+)"', message).group(1)
    policy = _CONSTRAINT.search(message)
    image = _IMAGE.search(message) or _ANY_IMAGE.search(message)
    return hook, policy["name"] if policy else None, image["image"] if image else None


def _owns(event, pod_name, owners):
    """Is the event's object the --pod's owner (or, for a pod that does not exist, the workload it names)?"""
    name = ((event.get("involvedObject") or {}).get("name") or "")
    if owners:
        return name in owners
    return name == pod_name or pod_name.startswith(name + "-") or name.startswith(pod_name + "-")


def where_to_change(hook, policy, image, namespace):
    """The place to allow the image: the Azure Policy assignment behind an azurepolicy-* constraint, the Ratify
    verification, or the Gatekeeper constraint itself."""
    if policy and policy.startswith("azurepolicy-"):
        return ("Allow the image in the Azure Policy assignment that created constraint {0} (its allowed images "
                "parameter, e.g. allowedContainerImagesRegex, must match {1}), or exempt namespace {2}: az policy "
                "assignment list --disable-scope-strict-match --query \"[?contains(displayName, 'image')]\" then az "
                "policy assignment update (parameters) or az policy exemption create".format(policy, image, namespace))
    if (policy and "ratify" in policy) or "ratify" in hook:
        return ("Sign {} with a key the Ratify verifier trusts (notation sign), or fix the verifier's trust policy "
                "(kubectl get verifiers,keymanagementproviders -A); constraint {}".format(image, policy or hook))
    return ("Allow {} in Gatekeeper constraint {} (kubectl get constraints -A | grep {}; edit its parameters) or "
            "exclude namespace {} from it".format(image, policy or hook, policy or hook, namespace))


@check("pod-admission", "B.admission", "No admission webhook refuses the workload's pods",
       "Reads the FailedCreate events of ReplicaSets, Jobs, StatefulSets and DaemonSets (the --pod's owner, or the "
       "workload a pod name that does not exist belongs to; without --pod every namespace): an admission webhook "
       "(Azure Policy / Gatekeeper allowed images, Ratify signature verification) that refuses the pods leaves no pod "
       "and no pull error behind.", groups=("image",),
       needs=("pod", "workload_events"))
def pod_admission(chk, facts):
    request = facts.request
    owners = set()
    if request.pod:
        pod = facts.pod(request.namespace, request.pod)
        owners = {o.get("name") for o in ((pod or {}).get("metadata") or {}).get("ownerReferences") or []}
        events = facts.workload_events(request.namespace)
        events = [e for e in events if _owns(e, request.pod, owners)]
        scope = "the workload of pod {}/{}".format(request.namespace, request.pod)
    else:
        events = facts.workload_events()
        scope = "any namespace"
    refused = {}
    for event in events:
        obj = event.get("involvedObject") or {}
        if obj.get("kind") not in OWNER_KINDS:
            continue
        found = refusal(event.get("message"))
        if found:
            key = (obj.get("namespace") or (event.get("metadata") or {}).get("namespace"), obj.get("kind"),
                   obj.get("name"))
            refused.setdefault(key, (found, event))
    if not refused:
        return [chk.finding("cluster {}".format(facts.cluster_name), PASS,
                            "No FailedCreate event from an admission webhook in {}.".format(scope),
                            eventsRead=len(events))]
    findings = []
    for (namespace, kind, name), ((hook, policy, image), event) in sorted(refused.items()):
        findings.append(chk.finding(
            "{} {}/{}".format(kind.lower(), namespace, name), FAIL,
            "{} {}/{} cannot create its pods: admission webhook {} refused them{}{} ({} time(s), last {}). No pod "
            "exists, so there is no pull error: the image is never pulled.".format(
                kind, namespace, name, hook, " by policy {}".format(policy) if policy else "",
                " for image {}".format(image) if image else "", event.get("count") or 1,
                event.get("lastTimestamp") or event.get("eventTime") or "unknown"),
            where_to_change(hook, policy, image or "the image", namespace),
            webhook=hook, policy=policy, image=image, kind=kind, namespace=namespace, name=name,
            text=(event.get("message") or "")[:2000]))
    return findings
