"""Finding the pods that fail to pull, when nothing names a pod, an image or a registry.

One LIST of pods (cluster-wide, or in --namespace) is read page by page. What can be filtered on the server is:
``status.phase`` drops finished pods (Succeeded, Failed), which kubelet no longer pulls for. Pending is not enough:
a Running pod also waits on a pull when a container restarts with ``imagePullPolicy: Always``, when an image is
changed in place, or for an ephemeral (debug) container or a sidecar, so both phases are read. Container states
cannot be selected on the server, so the pages are scanned here, cheaply: a page whose bytes do not name any
waiting reason of a pull holds no failing pod and is not decoded at all; only the items that do are.
"""
import json

from .classify import WAITING_REASONS

ACTIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"
PAGE_SIZE = 5000          # items per LIST page: a 5,000-pod cluster is one round trip; larger ones page
REPORTED_GROUPS = 10      # failing pod groups diagnosed one by one; the others are summarised in one finding
_MARKERS = tuple(reason.encode() for reason in WAITING_REASONS)
_ITEM_START = b'{"metadata":'
_STATUS_LISTS = (("initContainers", "initContainerStatuses", "init container"),
                 ("containers", "containerStatuses", "container"),
                 ("ephemeralContainers", "ephemeralContainerStatuses", "ephemeral container"))


def pull_waits(pod):
    """The pod's containers waiting on a pull: [{"kind", "name", "image", "reason", "message"}], spec order."""
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    found = []
    for spec_field, status_field, kind in _STATUS_LISTS:
        images = {c.get("name"): c.get("image") for c in spec.get(spec_field) or []}
        for item in status.get(status_field) or []:
            waiting = (item.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in WAITING_REASONS:
                found.append({"kind": kind, "name": item.get("name"),
                              "image": images.get(item.get("name")) or item.get("image") or "",
                              "reason": waiting.get("reason"), "message": waiting.get("message") or ""})
    return found


def read_page(raw):
    """One page of a PodList as bytes -> (failing pods, continue token or None, pods on the page).

    The common page holds no failing pod: its bytes name no waiting reason (JSON cannot escape ASCII letters
    away), so only the list's own metadata, before its items, is decoded. Otherwise the items that name one are
    decoded alone when the page has the API server's compact shape; any doubt decodes the whole page."""
    if isinstance(raw, str):
        raw = raw.encode()
    count = raw.count(b'"phase":')     # status.phase: once per pod, never inside a string (quotes are escaped)
    marked = [m for m in _MARKERS if m in raw]
    head = _list_head(raw)
    if head is not None and not marked:
        return [], (head.get("metadata") or {}).get("continue") or None, count
    if head is not None:
        pods = _marked_items(raw, marked)
        if pods is not None:
            return [p for p in pods if pull_waits(p)], (head.get("metadata") or {}).get("continue") or None, count
    page = json.loads(raw)
    items = page.get("items") or []
    return [p for p in items if pull_waits(p)], (page.get("metadata") or {}).get("continue") or None, len(items)


def _list_head(raw):
    """The list's kind, apiVersion and metadata, decoded from the bytes before its items; None when the page is
    not in that order (then it is decoded whole)."""
    at = raw.find(b'"items"')
    if at <= 0:
        return None
    head = raw[:at].rstrip()
    if not head.endswith(b","):
        return None
    try:
        found = json.loads(head[:-1] + b"}")
    except ValueError:
        return None
    return found if isinstance(found, dict) and "metadata" in found else None


def _marked_items(raw, markers):
    """The items that contain a marker, decoded one by one; None when the items cannot be told apart safely.

    The API server writes items as ``{"metadata":...}`` separated by ``,``; a quote inside a string is escaped,
    so ``{"metadata":`` cannot come from a string. Each slice must decode to one pod, or the page is decoded
    whole."""
    starts = []
    at = raw.find(_ITEM_START, raw.find(b'"items"'))
    while at >= 0:
        starts.append(at)
        at = raw.find(b',' + _ITEM_START, at + 1)
        at = at + 1 if at >= 0 else -1
    if not starts:
        return None
    end_of_items = raw.rstrip().rstrip(b"}").rstrip().rstrip(b"]")
    bounds = list(zip(starts, starts[1:] + [len(end_of_items)], strict=True))
    wanted = set()
    for marker in markers:
        at = raw.find(marker)
        while at >= 0:
            index = _bisect(starts, at)
            if index >= 0:
                wanted.add(index)
            at = raw.find(marker, at + 1)
    pods = []
    for index in sorted(wanted):
        start, stop = bounds[index]
        piece = raw[start:stop].rstrip().rstrip(b",")
        try:
            pod = json.loads(piece)
        except ValueError:
            return None
        if not isinstance(pod, dict) or "metadata" not in pod:
            return None
        pods.append(pod)
    return pods


def _bisect(starts, position):
    import bisect
    return bisect.bisect_right(starts, position) - 1


def group_key(pod):
    """Pods that fail alike: same namespace, same containers and images, same pull secrets and service account
    (the replicas of one Deployment, for example)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    containers = tuple((field, c.get("name"), c.get("image")) for field, _, _ in _STATUS_LISTS
                       for c in spec.get(field) or [])
    secrets = tuple(sorted(s.get("name") or "" for s in spec.get("imagePullSecrets") or []))
    return (meta.get("namespace"), containers, secrets, spec.get("serviceAccountName") or "default")


def group_failing(pods):
    """[(representative pod, [the other pods of its group])], in namespace and name order."""
    ordered = sorted(pods, key=lambda p: ((p.get("metadata") or {}).get("namespace") or "",
                                          (p.get("metadata") or {}).get("name") or ""))
    groups = {}
    for pod in ordered:
        groups.setdefault(group_key(pod), []).append(pod)
    return [(members[0], members[1:]) for members in groups.values()]


def pod_name(pod):
    meta = pod.get("metadata") or {}
    return "{}/{}".format(meta.get("namespace"), meta.get("name"))
