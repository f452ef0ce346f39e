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


# -- through AKS run command ------------------------------------------------------------------------------------
# AKS run command returns at most 512 KB of a command's output (`az aks command invoke` documents the limit): a
# LIST of thousands of pods is several MB of JSON. So discovery through run command does not fetch whole pods: one
# command prints, for each active pod, a few short tagged lines (its names, service account, pull secrets, each
# container's image and waiting reason) and awk keeps, inside the cluster, only the pods waiting on a pull; a
# second command fetches the full objects of the pods diagnosed one by one. Images are last on their line, so
# that free text (an InvalidImageName) cannot shift the other fields. kubectl prints nothing for a missing key and
# an empty range (client-go jsonpath since Kubernetes 1.20: kubernetes/kubernetes PRs 88464 and 95933).
RUN_COMMAND_OUTPUT_LIMIT = 512 * 1024   # bytes of logs AKS run command returns
LINES_BUDGET = 400 * 1024               # bytes of pod lines printed, so that the trailer always fits
POD_TAG, SPEC_TAG, WAIT_TAG, END_TAG = "acrpull-pod", "acrpull-spec", "acrpull-wait", "acrpull-pods"
SKELETON = "acrpullPodLines"            # key of a pod built from the lines; replaced by the object when fetched
_KINDS = (("init", "initContainers", "initContainerStatuses"), ("container", "containers", "containerStatuses"),
          ("ephemeral", "ephemeralContainers", "ephemeralContainerStatuses"))


def _pod_lines_template():
    tab, newline = '{"\\t"}', '{"\\n"}'
    parts = ["{range .items[*]}", POD_TAG, tab, "{.metadata.namespace}", tab, "{.metadata.name}", tab,
             "{.spec.serviceAccountName}", tab, '{range .spec.imagePullSecrets[*]}{.name}{","}{end}', newline]
    for kind, spec_field, _ in _KINDS:
        parts += ["{range .spec.", spec_field, "[*]}", SPEC_TAG, tab, kind, tab, "{.name}", tab, "{.image}", newline,
                  "{end}"]
    for kind, _, status_field in _KINDS:
        parts += ["{range .status.", status_field, "[*]}", WAIT_TAG, tab, kind, tab, "{.name}", tab,
                  "{.state.waiting.reason}", newline, "{end}"]
    return "".join(parts + ["{end}"])


def _pod_lines_filter():
    """awk: each pod's block of lines is printed only when a container waits on a pull, within LINES_BUDGET; the
    last line counts the pods read, those failing and those printed."""
    reasons = "|".join(WAITING_REASONS)
    return "\n".join([
        'BEGIN { FS = "\\t"; pods = 0; failing = 0; printed = 0; size = 0; block = ""; hit = 0 }',
        "function flush() {",
        "  if (hit) { failing++; if (size + length(block) <= %d) { printf \"%%s\", block; size += length(block); "
        "printed++ } }" % LINES_BUDGET,
        '  block = ""; hit = 0',
        "}",
        '$1 == "%s" { flush(); pods++ }' % POD_TAG,
        '$1 == "%s" && $4 ~ /^(%s)$/ { hit = 1 }' % (WAIT_TAG, reasons),
        '$1 == "%s" || $1 == "%s" || $1 == "%s" { block = block $0 "\\n" }' % (POD_TAG, SPEC_TAG, WAIT_TAG),
        'END { flush(); printf "%s\\t%%d\\t%%d\\t%%d\\n", pods, failing, printed }' % END_TAG,
    ])


def pod_lines_command(namespace=None):
    """The shell command AKS run command runs: kubectl's exit status decides (``&&``), so a kubectl that fails is
    never read as "no failing pod"; its error (``Error from server (Forbidden): ...``) is in the logs."""
    import shlex
    scope = "--namespace {}".format(shlex.quote(namespace)) if namespace else "--all-namespaces"
    return ("kubectl get pods {} {} -o jsonpath={} > /tmp/acrpull-pods && awk {} "
            "/tmp/acrpull-pods".format(scope, shlex.quote("--field-selector=" + ACTIVE_PODS),
                                       shlex.quote(_pod_lines_template()),
                                       shlex.quote(_pod_lines_filter())))


class LinesCut(ValueError):
    """The pod lines are not whole: the output was cut, or more pods fail than the lines could carry."""

    def __init__(self, read, failing, printed):
        super().__init__("{} of {} pods listed".format(printed, failing))
        self.read, self.failing, self.printed = read, failing, printed


def parse_pod_lines(text):
    """The lines of pod_lines_command -> (failing pods as skeletons, pods read).

    A skeleton has what grouping and the summary need: metadata namespace and name, spec (containers' names and
    images, pull secrets, service account) and the containers' waiting reasons; ``SKELETON`` marks it. Raises
    ValueError when the trailer is missing (the output was cut) and LinesCut when fewer pods came than failed."""
    pods, current, trailer = [], None, None
    for line in (text or "").splitlines():
        fields = line.split("\t")
        tag = fields[0]
        if tag == POD_TAG and len(fields) >= 5:
            secrets = [s for s in fields[4].split(",") if s]
            current = {SKELETON: True, "metadata": {"namespace": fields[1], "name": fields[2]},
                       "spec": {"serviceAccountName": fields[3] or None}, "status": {}}
            if secrets:
                current["spec"]["imagePullSecrets"] = [{"name": s} for s in secrets]
            pods.append(current)
        elif tag == SPEC_TAG and len(fields) >= 4 and current is not None:
            field = _field_of(fields[1], 1)
            if field:   # the image is the rest of the line: free text may hold a tab
                current["spec"].setdefault(field, []).append({"name": fields[2], "image": "\t".join(fields[3:])})
        elif tag == WAIT_TAG and len(fields) >= 4 and current is not None:
            field = _field_of(fields[1], 2)
            if field:
                state = {"waiting": {"reason": fields[3]}} if fields[3] else {}
                current["status"].setdefault(field, []).append({"name": fields[2], "state": state})
        elif tag == END_TAG and len(fields) >= 4:
            try:
                trailer = tuple(int(f) for f in fields[1:4])
            except ValueError:
                trailer = None
    if trailer is None:
        raise ValueError("the pod lines end without their trailer")
    read, failing, printed = trailer
    pods = [p for p in pods if pull_waits(p)]
    if printed < failing or len(pods) < printed:
        raise LinesCut(read, failing, len(pods))
    return pods, read


def _field_of(kind, index):
    return next((k[index] for k in _KINDS if k[0] == kind), None)


def objects_command(pods):
    """One shell command that prints the objects of ``pods`` as JSON: one ``kubectl get pods`` per namespace (a
    Pod for one name, a List for several); a pod deleted since it was listed is left out, not an error."""
    import shlex
    names = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        names.setdefault(meta.get("namespace"), []).append(meta.get("name"))
    return " && ".join("kubectl get pods --namespace {} --ignore-not-found -o json {}".format(
        shlex.quote(ns), " ".join(shlex.quote(n) for n in found)) for ns, found in sorted(names.items()))


def parse_objects(text):
    """The pods in kubectl's JSON output, one document after the other; ValueError when it does not parse."""
    decoder, pods, at, text = json.JSONDecoder(), [], 0, text or ""
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return pods
        found, at = decoder.raw_decode(text, at)
        if not isinstance(found, dict):
            raise ValueError("not a Kubernetes object")
        if found.get("kind") == "Pod":
            pods.append(found)
        elif isinstance(found.get("items"), list):
            pods += [p for p in found["items"] if isinstance(p, dict)]
        else:
            raise ValueError("not a pod or a list of pods")
