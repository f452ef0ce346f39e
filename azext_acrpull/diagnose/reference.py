"""Container image references and ACR login servers.

Parsing follows the grammar kubelet and containerd use (github.com/distribution/reference,
``ParseNormalizedNamed``), so a reference rejected here is one kubelet reports as
``InvalidImageName``, and the registry of an accepted one is the host the node will contact.
The login-server helpers are pure: the cloud's registry suffix is passed in, never looked up.
"""
import re
from dataclasses import dataclass, field

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
NAME_TOTAL_LENGTH_MAX = 255
KNOWN_ACR_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_REMAINDER_RE = re.compile(rf"(?P<path>{_PATH})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?", re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
# Digest algorithms containerd can verify, with their hex lengths (opencontainers/go-digest).
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

# Hosts that are plainly other registries: never reported as a misspelt ACR login server.
_OTHER_REGISTRIES = ("docker.io", "index.docker.io", "registry-1.docker.io", "mcr.microsoft.com", "ghcr.io",
                     "quay.io", "registry.k8s.io", "k8s.gcr.io", "gcr.io", "public.ecr.aws", "localhost")
_ACR_LABEL = "azurecr"
_REGISTRY_NAME_RE = re.compile(r"[a-z0-9]{5,50}")
# A registry created with a domain name label scope has a login server "<name>-<hash>.azurecr.io".
_DNL_LABEL_RE = re.compile(r"(?P<name>[a-z0-9]{5,50})-[a-z0-9]{8,}")
_IPV4_RE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


class InvalidReference(ValueError):
    """A reference kubelet would refuse (``InvalidImageName``); the message says what is wrong in one line."""

    def __init__(self, text, problem):
        self.text = text
        self.problem = problem
        super().__init__('invalid image reference "{}": {}'.format(text, problem))


@dataclass(frozen=True)
class ImageReference:
    """A parsed reference; two spellings of one image (``nginx``, ``docker.io/library/nginx``) compare equal."""

    original: str = field(compare=False)
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What the node asks the registry for: the digest wins over the tag, as in containerd."""
        return self.digest or self.tag or "latest"

    def __str__(self):
        text = "{}/{}".format(self.registry, self.repository)
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text


def _split_domain(text):
    """Domain and remainder, with the same guesses as distribution/reference's splitDockerDomain."""
    first, sep, rest = text.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + text
    if first == "localhost" or any(c in first for c in ".:"):
        domain, remainder = first, rest
    elif first == LEGACY_DEFAULT_DOMAIN:
        domain, remainder = DEFAULT_DOMAIN, rest
    elif first.lower() != first:
        # Upper case is never valid in a repository, so upstream takes such a first component as a host.
        domain, remainder = first, rest
    else:
        domain, remainder = DEFAULT_DOMAIN, text
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def _format_problem(text, domain, remainder):
    """The most specific reason a reference does not match the grammar, for a one-line message."""
    if any(c.isspace() for c in text):
        return "it contains whitespace"
    if "://" in text:
        return "it must not start with a scheme such as https://"
    if not _DOMAIN_RE.fullmatch(domain):
        return 'registry host "{}" is not a valid host name'.format(domain)
    name, _, digest = remainder.partition("@")
    path, _, tag = name.partition(":")
    if not path or "" in path.split("/"):
        return "the repository path has an empty component"
    if not re.fullmatch(_PATH, path, re.ASCII):
        return 'repository "{}" may only hold a-z, 0-9 and single separators (. _ __ -) inside components'.format(path)
    if ":" in name and not _TAG_RE.fullmatch(tag):
        return 'tag "{}" is invalid (1-128 characters of A-Z a-z 0-9 _ . -, not starting with . or -)'.format(tag)
    if "@" in remainder and _digest_problem(digest):
        return _digest_problem(digest)
    return "invalid reference format"


def _digest_problem(digest):
    """What containerd would object to in a digest, or None when it can verify it."""
    algorithm, _, hex_part = digest.partition(":")
    length = _DIGEST_LENGTHS.get(algorithm)
    if length is None:
        return 'unsupported digest algorithm "{}"'.format(algorithm)
    if not re.fullmatch(r"[0-9a-fA-F]+", hex_part):
        return 'digest "{}" is not of the form algorithm:hex'.format(digest)
    if len(hex_part) != length:
        return "a {} digest has {} hex characters, not {}".format(algorithm, length, len(hex_part))
    if hex_part != hex_part.lower():
        return "digest hex must be lower case"
    return None


def parse_reference(text: str) -> ImageReference:
    """Parse as kubelet does, so the verdict matches what the node would do with the pod's image."""
    if not isinstance(text, str) or not text:
        raise InvalidReference(text or "", "the reference is empty")
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference(text, "a bare 64-character hex identifier is not a repository name")
    domain, remainder = _split_domain(text)
    remote = re.split(r"[:@]", remainder, maxsplit=1)[0]
    if remote.lower() != remote:
        raise InvalidReference(text, "repository name must be lowercase")
    match = _REMAINDER_RE.fullmatch(remainder)
    if not match or not _DOMAIN_RE.fullmatch(domain):
        raise InvalidReference(text, _format_problem(text, domain, remainder))
    name = domain + "/" + match["path"]
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(text, "repository name must not be more than {} characters (it has {})".format(
            NAME_TOTAL_LENGTH_MAX, len(name)))
    if match["digest"]:
        problem = _digest_problem(match["digest"])
        if problem:
            raise InvalidReference(text, problem)
    return ImageReference(text, domain, match["path"], match["tag"], match["digest"])


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: a swapped pair of letters (``azrue``) counts as one typo."""
    if a == b:
        return 0
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def closest(name: str, candidates, limit: int = 3) -> list[str]:
    """The candidates nearest to ``name`` (case-insensitive), for "did you mean" hints; ties keep input order."""
    seen, ranked = set(), []
    for index, candidate in enumerate(candidates):
        if candidate in seen:
            continue
        seen.add(candidate)
        ranked.append((edit_distance(name.lower(), candidate.lower()), index, candidate))
    ranked.sort()
    return [candidate for _, _, candidate in ranked[:max(limit, 0)]]


def _split_port(host):
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("["):
        return host, None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name.rstrip("."), port
    return host, None


def _registry_label(label):
    """The registry name inside a login server's first label, or None when no registry can have it."""
    if _REGISTRY_NAME_RE.fullmatch(label):
        return label
    dnl = _DNL_LABEL_RE.fullmatch(label)
    return dnl["name"] if dnl else None


def registry_name_from_host(host: str, suffix: str) -> str | None:
    """The ACR name behind a login server (or its privatelink alias) of the cloud whose suffix is given."""
    name, port = _split_port(host)
    suffix = suffix.lower()
    if port not in (None, "443") or not name.endswith(suffix):
        return None
    labels = name[:-len(suffix)].split(".")
    if len(labels) == 2 and labels[1] == "privatelink":
        labels = labels[:1]
    if len(labels) != 1:
        return None
    return _registry_label(labels[0])


@dataclass(frozen=True)
class HostProblem:
    """Why a host that looks like an ACR login server is not a usable one, and what to write instead."""

    kind: str           # misspelt-suffix, doubled-suffix, other-cloud, privatelink, data-endpoint,
    #                     extra-labels, no-name, invalid-name, port
    message: str
    suggestion: str | None = None


def _looks_like_acr(rest):
    """True when the part after the first label is an ACR suffix written wrongly (typo, missing or extra bit)."""
    if any(edit_distance(rest, s[1:]) <= 2 for s in KNOWN_ACR_SUFFIXES):
        return True
    return any(edit_distance(label, _ACR_LABEL) <= 1 for label in rest.split("."))


def login_server_problem(host: str, suffix: str) -> HostProblem | None:
    """What is wrong with a host written as an ACR login server; None when it is right or not ACR at all.

    Checked in this order because the first match is the most useful advice: a doubled suffix also
    ends in a valid suffix, and a privatelink or data-endpoint name also has extra labels.
    """
    name, port = _split_port(host)
    suffix = suffix.lower()
    if not name or name in _OTHER_REGISTRIES or _IPV4_RE.fullmatch(name) or name.startswith("["):
        return None
    first, _, rest = name.partition(".")
    if sum(name.count(s[1:]) for s in KNOWN_ACR_SUFFIXES) > 1:
        suggestion = first + suffix
        return HostProblem("doubled-suffix", '"{}" repeats the registry suffix; the login server is "{}"'.format(
            name, suggestion), suggestion)
    own = next((s for s in KNOWN_ACR_SUFFIXES + (suffix,) if name.endswith(s) or name == s[1:]), None)
    if own is None:
        if rest and _looks_like_acr(rest):
            suggestion = first + suffix
            return HostProblem("misspelt-suffix", '"{}" is not an ACR login server: the suffix is misspelt, '
                                                  'did you mean "{}"?'.format(name, suggestion), suggestion)
        return None
    if own != suffix:
        return HostProblem("other-cloud", '"{}" is a login server of another Azure cloud ({}); registries of this '
                                          "cloud end in {}".format(name, own, suffix))
    labels = name[:-len(own)].split(".") if name != own[1:] else []
    registry = _registry_label(labels[0]) if labels else None
    if not labels:
        return HostProblem("no-name", '"{}" names no registry; the login server is "<registry>{}"'.format(name, own))
    if len(labels) == 2 and labels[1] == "privatelink" and registry:
        suggestion = registry + own
        return HostProblem("privatelink", '"{}" is the private link alias, whose certificate does not match; '
                                          'reference the login server "{}"'.format(name, suggestion), suggestion)
    if len(labels) == 3 and labels[2] == "data" and registry:
        suggestion = registry + own
        return HostProblem("data-endpoint", '"{}" is a data endpoint, not a login server; reference "{}"'.format(
            name, suggestion), suggestion)
    if len(labels) > 1:
        suggestion = (registry + own) if registry else None
        return HostProblem("extra-labels", '"{}" has extra labels before {}; a login server is "<registry>{}"'.format(
            name, own, own), suggestion)
    if registry is None:
        return HostProblem("invalid-name", '"{}" cannot be a registry name (5-50 letters and digits)'.format(
            labels[0]))
    if port not in (None, "443"):
        suggestion = labels[0] + own
        return HostProblem("port", "ACR login servers listen on port 443 only, not {}; reference \"{}\"".format(
            port, suggestion), suggestion)
    return None


# Problems whose suggestion is the login server the reference meant, in this cloud.
_MEANT_KINDS = ("misspelt-suffix", "doubled-suffix", "privatelink", "data-endpoint", "extra-labels", "port")


def intended_registry_name(host: str, suffix: str) -> str | None:
    """The ACR name a host stands for, also when it is written wrongly but the meaning is plain (``azureacr.io``)."""
    name = registry_name_from_host(host, suffix)
    if name:
        return name
    problem = login_server_problem(host, suffix)
    if problem and problem.kind in _MEANT_KINDS and problem.suggestion:
        return registry_name_from_host(problem.suggestion, suffix)
    return None


def host_problem(host: str, suffix: str) -> str | None:
    """One line saying how an ACR-looking host is written wrongly, or None; see ``login_server_problem``."""
    problem = login_server_problem(host, suffix)
    return problem.message if problem else None
