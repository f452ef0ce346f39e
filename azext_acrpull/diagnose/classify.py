"""Image pull error texts (pod events, container waiting messages) sorted into the article's causes.

The text narrows the cause; Azure and cluster facts decide it. A ``Classification`` therefore says
which cause the text points at, in words, and flags the texts that several causes produce
(``ambiguous``), so the checks know when they must look further.

Precedence, first match wins, because a multi-error ``[err1, err2]`` holds one error per credential
kubelet tried and only one of them is the real story:

1. kubelet's own refusals, made before any registry is asked: pull QPS (X.qps), a reference it
   cannot parse (C2), pull policy Never (unknown).
2. The platform: ``exec format error``, or ``no match for platform`` next to a 401 (X.arch, the
   article's Cause 1b); ``no match for platform`` otherwise (C5). A registry that serves the
   manifest but no matching platform has shown that the image exists and access works.
   The node's own disk (``no space left on device``, B.disk) and an admission webhook's refusal
   (B.admission) come here too: neither is a registry answer.
3. Definitive registry answers: an artifact cache rule's upstream refusing or throttling (B.cache),
   a child manifest of an index that is gone (B.purge), not found (C2), the registry's storage
   refusing the node subnet with AuthorizationFailure (B.sep), 403 / firewall (C3), credentials
   rejected, i.e. an oauth-token 401 or ``requested access to the resource is denied`` (C1),
   throttling (B.throttle).
4. Transport failures: TLS (X.tls), then DNS, the data path (a blob or data-endpoint host that
   cuts or times out the layer download after the token succeeded: B.fqdn), timeouts, EOF, refused
   connections (C4), and a pull that containerd gave up on (``context canceled``,
   ``DeadlineExceeded``, no progress: B.slow). They come after registry answers because an answer
   proves the path works for at least one attempt.
5. The weak signals: ``pull access denied, repository does not exist`` (C2, ambiguous), the
   anonymous-token 401 and other 401s that do not say whether credentials were sent (C1,
   ambiguous), a pull secret kubelet could not read (C1, ambiguous), a bare gRPC NotFound (C2).

Decisions where the error text alone is not enough:

- ``no such host`` for a host written wrongly as an ACR login server (``azureacr.io``, a doubled
  ``.azurecr.us.azurecr.io``, the privatelink alias) is C2: the name is wrong, not the network.
  A correct login server, a data endpoint or a blob host that does not resolve is C4 (DNS).
- A registry 429 (``toomanyrequests``) is B.throttle: X.qps is kubelet's own ``registryPullQPS``
  limit, whose fix (``imagePullPolicy``) differs. A 429 that names a cache rule is B.cache.
- ``x509: certificate signed by unknown authority`` is X.tls; with an HTTP proxy on the cluster
  (a fact, not text) ``pod-pull-events`` makes it B.proxy.
- A missing manifest fetched by digest while the reference was resolved (a child of an index,
  ``could not fetch content descriptor ... (application/vnd...manifest...)``) is B.purge; a missing
  layer stays C2.
- ``x509: certificate is valid for *.azurecr.io, not <x>.privatelink.azurecr.io`` is C2: the
  reference uses the privatelink name. Other certificate errors are X.tls.
"""
import re
from dataclasses import dataclass

from .reference import KNOWN_ACR_SUFFIXES, login_server_problem

CAUSES = ("C1", "C2", "C3", "C4", "C5", "X.arch", "X.qps", "X.tls", "B.cache", "B.throttle", "B.slow", "B.disk",
          "B.purge", "B.fqdn", "B.proxy", "B.admission", "B.sep", "unknown")
WAITING_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
                   "RegistryUnavailable", "ImageInspectError")


@dataclass(frozen=True)
class Classification:
    """The cause an error text points at; ``ambiguous`` means Azure facts must choose among several."""

    cause: str
    reason: str
    token: str | None = None
    ambiguous: bool = False


# Wrappings that vary with the kubelet and containerd version and carry no cause.
_PREFIX = re.compile(r'^(?:Failed to pull image "[^"]*":\s*'
                     r'|Back-off pulling image "[^"]*"(?::\s*|$)'
                     r"|(?:ErrImagePull|ImagePullBackOff):\s*"
                     r"|Error:(?:\s+|$)"
                     r"|Error response from daemon:\s*)")
# Newer kubelets strip "code = Unknown" (old gRPC printed it as "code = 2"); NotFound stays as information.
_RPC_UNKNOWN = re.compile(r"rpc error: code = (?:Unknown|2) desc = ?")
_SPACE = re.compile(r"\s+")
_BACKOFF = re.compile(r"Back-off\s+pulling\s+image")

_QPS = re.compile(r"pull QPS exceeded", re.I)
_NEVER_PULL = re.compile(r"is not present with pull policy of Never", re.I)
_INVALID_NAME = re.compile(r"couldn't parse image reference|invalid reference format|Failed to apply default image tag"
                           r"|repository name must be lowercase", re.I)
_LOWERCASE = re.compile(r"must be lowercase", re.I)
_EXEC_FORMAT = re.compile(r"exec format error", re.I)
_NO_PLATFORM = re.compile(r"no match for platform in manifest", re.I)
_TOKEN_STATUS = re.compile(r"failed to fetch (?P<token>oauth|anonymous) token: "
                           r"unexpected status(?: from [A-Za-z]+ request to \S+)?: (?P<status>\d{3})", re.I)
_STATUS_401 = re.compile(r"\b401 Unauthorized\b|\bstatus(?: code)?:? 401\b", re.I)
_STATUS_403 = re.compile(r"\b403 Forbidden\b|\bHTTP 403\b|\bstatus(?: code)?:? 403\b", re.I)
_FIREWALL = re.compile(r"client with IP '?(?P<ip>[^'\s]+?)'? is not allowed access", re.I)
# Azure Storage refusing the layer download (error code AuthorizationFailure, whose message containerd quotes as the
# response status): from a node subnet, a service endpoint policy that does not list the registry's storage (B.sep).
_STORAGE_403 = re.compile(r"AuthorizationFailure|\b403 This request is not authorized to perform this operation")
_PRIVATELINK_CERT = re.compile(r"certificate is valid for (?P<valid>.+?), not "
                               r"(?P<host>[\w.-]+\.privatelink\.azurecr\.[a-z]+)", re.I)
_TLS_TIMEOUT = re.compile(r"TLS handshake timeout", re.I)
# The x509 detail says most, so it is looked for before the generic TLS failures.
_CERT = (re.compile(r"x509: [^,\]]+", re.I),
         re.compile(r"tls: failed to verify certificate|remote error: tls: [\w ]+"
                    r"|tls: first record does not look like a TLS handshake", re.I))
_LOOKUP = re.compile(r"lookup (?P<host>[^\s:]+)(?: on \S+)?: (?:no such host|server misbehaving)", re.I)
_DNS = re.compile(r"no such host|server misbehaving", re.I)
_TIMEOUT = re.compile(r"(?:dial tcp (?P<addr>\S+?): )?(?P<what>i/o timeout|Client\.Timeout exceeded"
                      r"|connection refused|connection reset by peer|no route to host|network is unreachable)", re.I)
_EOF = re.compile(r'\b(?:Head|Get|Post|Put)\s+"?(?P<url>https?://[^\s"]+?)"?:\s*(?:unexpected )?EOF\b', re.I)
_MEDIA_MANIFEST = re.compile(r"manifest|image\.index", re.I)
# containerd: "could not fetch content descriptor <digest> (<media type>) from remote: not found"; a manifest's media
# type means a child manifest of the index that was resolved.
_DESCRIPTOR_MISSING = re.compile(r"could not fetch content descriptor (?P<digest>\S+) \((?P<media>[^)]*)\) "
                                 r"from remote: not found", re.I)
_CHILD_URL_MISSING = re.compile(r"content at \S*/manifests/(?P<digest>sha256:[0-9a-f]{64})\S* not found"
                                r"|(?P<digest2>sha256:[0-9a-f]{64}): not found: manifest unknown", re.I)
_BLOB_MISSING = re.compile(r"could not fetch content descriptor (?P<digest>\S+)[^,\]]*? from remote: not found", re.I)
_MANIFEST_MISSING = re.compile(r"manifest for (?P<ref>\S+) not found|manifest unknown|MANIFEST_UNKNOWN|NAME_UNKNOWN"
                               r"|repository name not known to registry", re.I)
_REF_NOT_FOUND = re.compile(r'failed to resolve reference "(?P<ref>[^"]+)": (?:[^\s,\]]+: )?not found'
                            r"|(?P<bare>[^\s\[\]\",]+/[^\s\[\]\",]+): not found", re.I)
_CREDS_DENIED = re.compile(r"requested access to the resource is denied", re.I)
_THROTTLED = re.compile(r"toomanyrequests|\b429 Too Many Requests\b", re.I)
_REPO_DENIED = re.compile(r"pull access denied|repository does not exist|does not exist or no pull access", re.I)
_AUTH_REQUIRED = re.compile(r"authentication required|insufficient_scope|\bunauthorized\b", re.I)
_CACHE_RULE = re.compile(r"for cache rule(?: '(?P<rule>[^']+)')?", re.I)
_UPSTREAM_THROTTLED = re.compile(r"too many requests|toomanyrequests|\b429\b", re.I)
_DISK = re.compile(r"no space left on device", re.I)
_ADMISSION = re.compile(r'admission webhook "(?P<hook>[^"]+)" denied the request', re.I)
_DATA_HOST = re.compile(r'(?P<url>https?://(?P<host>[\w-]+\.(?:blob\.core\.windows\.net|blob\.core\.[\w.]+'
                        r"|[\w-]+\.data\.azurecr\.[a-z.]+))[^\s\"]*)\"?:\s*(?:dial tcp (?P<addr>\S+?): )?"
                        r"(?P<what>(?:unexpected )?EOF|i/o timeout|connection reset by peer|connection refused"
                        r"|no route to host|network is unreachable)", re.I)
_SLOW = re.compile(r"because of no progress|code = DeadlineExceeded|context deadline exceeded|context canceled", re.I)
_SECRET_MISSING = re.compile(r"Unable to retrieve some image pull secrets \((?P<names>[^)]*)\)", re.I)
_GRPC_NOT_FOUND = re.compile(r"rpc error: code = NotFound\b")


def _enclosed(text):
    """True when the text is one bracketed multi-error, not ``[a] ... [b]``."""
    if not (text.startswith("[") and text.endswith("]")):
        return False
    depth = 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def normalise(text: str) -> str:
    """The error with the version-dependent wrapping removed, so one set of patterns fits every kubelet."""
    text = _RPC_UNKNOWN.sub("", _SPACE.sub(" ", text or "")).strip()
    while True:
        before = text
        text = _PREFIX.sub("", text, count=1).strip()
        if _enclosed(text):
            text = text[1:-1].strip()
        if text == before:
            return text


_WAITING_DEFAULTS = {
    "ErrImagePull": Classification("unknown", "only the waiting reason ErrImagePull is known, not the error text; "
                                              "the pod's Failed events hold it"),
    "ImagePullBackOff": Classification("unknown", "kubelet is backing off after failed pulls but the message carries "
                                                  "no error text; the pod's Failed events hold it"),
    "InvalidImageName": Classification("C2", "kubelet could not parse the image reference, so the image name is "
                                             "malformed"),
    "ErrImageNeverPull": Classification("unknown", "the image is not on the node and imagePullPolicy is Never, so "
                                                   "kubelet never asks the registry"),
    "RegistryUnavailable": Classification("C4", "kubelet reported the registry unavailable: the node could not reach "
                                                "it"),
    "ImageInspectError": Classification("unknown", "the container runtime could not inspect the image already on the "
                                                   "node, a node-local problem rather than the registry"),
}


def _host_misnamed(host):
    """The login-server problem of a host that did not resolve, when the name itself is wrong."""
    suffix = next((s for s in KNOWN_ACR_SUFFIXES if host.lower().endswith(s)), KNOWN_ACR_SUFFIXES[0])
    problem = login_server_problem(host, suffix)
    if problem and problem.kind not in ("data-endpoint", "other-cloud"):
        return problem
    return None


def _failed_tokens(text):
    """Every failed token request as (token, status), e.g. ("oauth", "401"): a multi-error can hold several."""
    return {(m["token"].lower(), m["status"]) for m in _TOKEN_STATUS.finditer(text)}


def _token(text, status):
    """Which token request got ``status`` (``oauth`` before ``anonymous``), whatever order the errors come in."""
    failed = _failed_tokens(text)
    return next((token for token in ("oauth", "anonymous") if (token, status) in failed), None)


def _has_401(text):
    return bool(_token(text, "401") or _STATUS_401.search(text))


def _kubelet_refusal(text):
    if _QPS.search(text):
        return Classification("X.qps", "kubelet refused to start the pull because its pull rate limit "
                                       "(registryPullQPS) was exceeded; the registry was never asked")
    if _NEVER_PULL.search(text):
        return _WAITING_DEFAULTS["ErrImageNeverPull"]
    if _INVALID_NAME.search(text):
        if _LOWERCASE.search(text):
            return Classification("C2", "the image reference has upper case in its repository name, which kubelet "
                                        "rejects as an invalid image name")
        return _WAITING_DEFAULTS["InvalidImageName"]
    return None


def _node_or_admission(text):
    hook = _ADMISSION.search(text)
    if hook:
        return Classification("B.admission", "the admission webhook {} refused the pod before any pull (an "
                                             "allowed-images policy or signature verification)".format(hook["hook"]))
    if _DISK.search(text):
        return Classification("B.disk", "the node ran out of disk space while storing the image (no space left on "
                                        "device): the registry answered, the node could not keep the layers")
    return None


def _platform(text):
    if _EXEC_FORMAT.search(text):
        return Classification("X.arch", "a program of the image cannot run on the node's CPU (exec format error), "
                                        "so the image was built for another architecture")
    if _NO_PLATFORM.search(text):
        if _has_401(text):
            return Classification("X.arch", "the manifest has no image for the node's platform and the retry was "
                                            "refused with 401, the article's sign of an image built for another CPU "
                                            "architecture", token=_token(text, "401"))
        return Classification("C5", "the image's manifest has no entry for the node's platform, e.g. a Linux image "
                                    "scheduled on a Windows node")
    return None


def _cache_rule(text):
    rule = _CACHE_RULE.search(text)
    if not rule:
        return None
    name = " {}".format(rule["rule"]) if rule["rule"] else ""
    if _UPSTREAM_THROTTLED.search(text):
        return Classification("B.cache", "the upstream registry of the artifact cache rule{} throttled the registry "
                                         "(too many requests to the source registry): an anonymous upstream such as "
                                         "Docker Hub needs a credential set".format(name))
    return Classification("B.cache", "the upstream registry of the artifact cache rule{} refused the registry's "
                                     "credentials (authentication with the source registry failed): the rule's "
                                     "credential set is missing, unhealthy or cannot read its Key Vault "
                                     "secrets".format(name))


def _purged_child(text):
    # Any missing descriptor of a manifest's media type, wherever a multi-error lists it (a missing layer may come
    # first).
    found = next((m for m in _DESCRIPTOR_MISSING.finditer(text) if _MEDIA_MANIFEST.search(m["media"])), None)
    if found:
        digest = found["digest"]
    else:
        found = _CHILD_URL_MISSING.search(text)
        if not found:
            return None
        digest = found["digest"] or found["digest2"]
    return Classification("B.purge", "the image's index was found but its child manifest {} is missing from the "
                                     "registry: a purge or retention policy deleted it".format(digest))


def _registry_answer(text):
    for stage in (_cache_rule, _purged_child):
        found = stage(text)
        if found:
            return found
    if _BLOB_MISSING.search(text):
        return Classification("C2", "a layer ({}) listed in the image's manifest is missing from the registry, so "
                                    "the image is incomplete".format(_BLOB_MISSING.search(text)["digest"]))
    ref = _REF_NOT_FOUND.search(text)
    manifest = _MANIFEST_MISSING.search(text)
    if ref or manifest:
        what = (ref["ref"] or ref["bare"]) if ref else (manifest["ref"] or "the reference")
        return Classification("C2", "the registry has no manifest for {}: the repository, tag or digest does not "
                                    "exist".format(what))
    cert = _PRIVATELINK_CERT.search(text)
    if cert:
        return Classification("C2", "the reference uses the private link name {}, but the registry's certificate is "
                                    "valid for {}: reference the login server instead".format(cert["host"],
                                                                                                cert["valid"]))
    firewall = _FIREWALL.search(text)
    if firewall:
        return Classification("C3", "the registry's firewall does not allow the node's IP {}".format(firewall["ip"]),
                              token=_token(text, "403"))
    if _STORAGE_403.search(text):
        return Classification("B.sep", "the storage behind the registry answered 403 AuthorizationFailure: a service "
                                       "endpoint policy on the node subnet blocks the layer downloads")
    token = _token(text, "403")
    if token or _STATUS_403.search(text):
        return Classification("C3", "the registry answered 403 Forbidden: a network rule (firewall, private endpoint, "
                                    "DNS) denies this client", token=token)
    if ("oauth", "401") in _failed_tokens(text):
        return Classification("C1", "the registry rejected the credentials the node presented (oauth token request "
                                    "answered 401)", token="oauth")
    if _CREDS_DENIED.search(text) and not _REPO_DENIED.search(text):
        return Classification("C1", "the registry denied pull access to the credentials presented (requested access "
                                    "to the resource is denied)")
    if _THROTTLED.search(text):
        return Classification("B.throttle", "the registry throttled the requests (429 toomanyrequests), a registry SKU "
                                            "request-rate limit and not kubelet's pull QPS")
    return None


def _transport(text):
    if _TLS_TIMEOUT.search(text):
        return Classification("X.tls", "the TLS handshake with the registry timed out: a firewall, proxy or network "
                                       "appliance on the path holds up the connection")
    cert = _CERT[0].search(text) or _CERT[1].search(text)
    if cert:
        return Classification("X.tls", "the registry's TLS connection failed ({}), which points at a proxy or firewall "
                                       "that intercepts TLS".format(cert[0].strip()))
    hosts = [m["host"] for m in _LOOKUP.finditer(text)]
    problem = next(filter(None, map(_host_misnamed, hosts)), None)
    if problem:
        return Classification("C2", "the registry host does not resolve because it is written wrongly: {}".format(
            problem.message))
    if hosts:
        return Classification("C4", "the name {} does not resolve from the node: DNS (private DNS zone, its VNet "
                                    "link, custom DNS) does not know it".format(hosts[0]))
    if _DNS.search(text):
        return Classification("C4", "a registry name does not resolve from the node (no such host): DNS does not know "
                                    "it")
    data = _DATA_HOST.search(text)
    if data:
        where = "dial tcp {}: {}".format(data["addr"], data["what"]) if data["addr"] else data["what"]
        return Classification("B.fqdn", "the layer download from the data host {} failed ({}) after the registry "
                                        "answered: an egress firewall that allows the login server but not the data "
                                        "path".format(data["host"], where))
    timeout = _TIMEOUT.search(text)
    if timeout:
        detail = "dial tcp {}: {}".format(timeout["addr"], timeout["what"]) if timeout["addr"] else timeout["what"]
        return Classification("C4", "the connection to the registry failed ({}): the network path (peering, firewall, "
                                    "NSG, routes) drops or refuses the traffic".format(detail))
    eof = _EOF.search(text)
    if eof:
        return Classification("C4", "the connection to {} closed before any answer (EOF): something on the network "
                                    "path cut it".format(eof["url"]))
    if _SLOW.search(text):
        return Classification("B.slow", "containerd gave up on the pull before it finished (context canceled, deadline "
                                        "exceeded or no progress): a very large image over a slow download")
    return None


def _weak(text):
    if _REPO_DENIED.search(text):
        return Classification("C2", "the registry did not let this client see the repository: it does not exist or "
                                    "the client may not pull it", ambiguous=True)
    if ("anonymous", "401") in _failed_tokens(text):
        return Classification("C1", "the node presented no credentials for this registry and the anonymous token "
                                    "request was refused (401); a wrong registry name, another CPU architecture, a "
                                    "first-pull race or node bootstrap can cause this", token="anonymous",
                              ambiguous=True)
    if _has_401(text) or _AUTH_REQUIRED.search(text):
        return Classification("C1", "the registry asked for authentication and got no valid credentials; the text does "
                                    "not say whether any were presented", ambiguous=True)
    secrets = _SECRET_MISSING.search(text)
    if secrets:
        return Classification("C1", "kubelet could not read the image pull secret(s) {}, so it may pull without "
                                    "their credentials".format(secrets["names"]), ambiguous=True)
    if _GRPC_NOT_FOUND.search(text):
        return Classification("C2", "the container runtime answered NotFound: the image name, tag or digest does not "
                                    "exist")
    return None


def classify_pull_error(text: str) -> Classification:
    """The article's cause for one pull error text, wrapped in any kubelet/containerd version's way."""
    original, text = text, normalise(text)
    if not text:
        if _BACKOFF.search(original or ""):
            return _WAITING_DEFAULTS["ImagePullBackOff"]
        return Classification("unknown", "there is no error text to classify")
    if text in _WAITING_DEFAULTS:
        return _WAITING_DEFAULTS[text]
    for stage in (_kubelet_refusal, _node_or_admission, _platform, _registry_answer, _transport, _weak):
        found = stage(text)
        if found:
            return found
    return Classification("unknown", "the text matches no known image pull failure")


TOKENS = ("anonymous", "oauth", "none")


def failed_token(text: str) -> str:
    """Which credential path a pull error says failed (B.token), whatever the wrapping.

    ``oauth``: the node offered a credential and the registry refused it (an oauth-token 401, often next to an
    anonymous attempt in a multi-error: the refusal is the story). ``anonymous``: only the anonymous-token request
    was refused with 401, so the node offered no credential for this host. ``none``: neither, e.g. a 403, a
    timeout, or a 401 that does not say which token was asked for."""
    failed = _failed_tokens(normalise(text))
    if ("oauth", "401") in failed:
        return "oauth"
    if ("anonymous", "401") in failed:
        return "anonymous"
    return "none"


def classify_waiting(reason: str, message: str) -> Classification:
    """The cause for a container waiting in ``reason``; the reason decides when the message cannot."""
    reason = (reason or "").strip()
    if reason in ("ErrImageNeverPull", "ImageInspectError"):
        return _WAITING_DEFAULTS[reason]
    found = classify_pull_error(message)
    if reason == "InvalidImageName" and found.cause != "C2":
        return _WAITING_DEFAULTS[reason]
    if found.cause == "unknown" and reason in _WAITING_DEFAULTS and (
            reason == "RegistryUnavailable" or not normalise(message)):
        return _WAITING_DEFAULTS[reason]
    return found
