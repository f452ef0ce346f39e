"""Findings, statuses and the check catalog.

A check is a plain function from facts to findings. It registers itself with ``@check`` so that
the catalog, ``list-checks`` and the runner all read from one place: a check that is not
registered does not exist.
"""
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

PASS = "Pass"
FAIL = "Fail"
WARNING = "Warning"
SKIPPED = "Skipped"
ERROR = "Error"
STATUSES = (PASS, FAIL, WARNING, SKIPPED, ERROR)

# Table and summary order: what needs attention first.
STATUS_ORDER = {FAIL: 0, ERROR: 1, WARNING: 2, PASS: 3, SKIPPED: 4}


_SCALARS = (str, int, float, bool, type(None))


def _freeze(value):
    if isinstance(value, _SCALARS):   # most evidence values; the Mapping check below is slow (an ABC)
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value):
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Finding:
    check_id: str
    article: str
    title: str
    target: str
    status: str
    message: str
    remediation: str = ""
    evidence: Mapping = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError("unknown status {!r}".format(self.status))
        object.__setattr__(self, "evidence", _freeze(self.evidence or {}))
        if self.status not in (FAIL, WARNING):
            object.__setattr__(self, "remediation", "")

    def to_dict(self):
        """The contract's flat camelCase record; key order is the order az prints tsv columns in."""
        return {
            "checkId": self.check_id,
            "article": self.article,
            "title": self.title,
            "target": self.target,
            "status": self.status,
            "message": self.message,
            "remediation": self.remediation,
            "evidence": _thaw(self.evidence),
        }


@dataclass(frozen=True)
class Check:
    check_id: str
    article: str
    title: str
    description: str
    groups: tuple
    func: Callable
    fleet: bool = False

    def finding(self, target, status, message, remediation="", **evidence):
        return Finding(self.check_id, self.article, self.title, target, status, message, remediation, evidence)

    def catalog_entry(self):
        return {"checkId": self.check_id, "article": self.article, "title": self.title,
                "description": self.description}


# Catalog order is the contract's table order; checks register in any import order.
CATALOG_ORDER = (
    "pod-pull-events", "registry-lookup", "registry-health", "cluster-pull-probe", "acr-role-assignment",
    "sp-credential-expiry", "sp-role-principal", "kubelet-identity-vmss", "pull-secret-sp", "pull-secret-admin",
    "image-reference", "image-manifest", "image-platform", "private-dns-link", "acr-network-rules", "vnet-peering",
    "egress-path", "pull-rate-limit", "node-provisioning-identity", "registry-arm-audience", "registry-tenant",
    "artifact-cache-rule", "pod-admission", "node-disk-pressure",
)

_REGISTRY = {}


def check(check_id, article, title, description, groups, fleet=False):
    """Register a check function; the function receives (check, facts) and returns findings."""
    if check_id not in CATALOG_ORDER:
        raise ValueError("check id {!r} is not in the contract's catalog".format(check_id))

    def register(func):
        _REGISTRY[check_id] = Check(check_id, article, title, description, tuple(groups), func, fleet)
        return func
    return register


def catalog():
    """Registered checks in catalog order."""
    from . import checks  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    return [_REGISTRY[c] for c in CATALOG_ORDER if c in _REGISTRY]
