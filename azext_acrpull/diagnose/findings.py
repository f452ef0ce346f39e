"""Findings, statuses and the record of a check.

A check is a plain function from facts to findings, declared with ``@check`` (its id, article key, title,
groups). This module imports nothing of the project; the ordered catalog that ``list-checks``, the runner
and ``fleet`` read is ``catalog.py``.
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
class Decision:
    """What a check decided about one target, apart from its words: the status, the reason (the key of the check's
    table of messages and commands) and the values both the words and ``fix`` are made from."""
    status: str
    reason: str
    params: Mapping = field(default_factory=dict)
    evidence: Mapping = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError("unknown status {!r}".format(self.status))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


def decided(status, reason, evidence=None, **params):
    return Decision(status, reason, params, evidence if evidence is not None else {})


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
    # The decision the finding words (checks split in decision and words); read by ``fix``, never printed.
    decision: Decision = field(default=None, compare=False, repr=False)

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
    # The facts of the contract (facts/contract.py) the check reads: ``needs`` for every verdict, ``optional`` only
    # when they are there (the images or pods a run names, the registries it found). A reader that provides every
    # fact a check needs runs it (``catalog.in_fleet``); an optional fact it lacks leaves that part of the verdict out.
    needs: frozenset = frozenset()
    optional: frozenset = frozenset()
    # The ids of the implemented checks (set by the catalog), so a check can name the others that decide a cause.
    catalog_ids: frozenset = frozenset()

    def finding(self, target, status, message, remediation="", **evidence):
        return Finding(self.check_id, self.article, self.title, target, status, message, remediation, evidence)

    def worded(self, target, decision, words, *context):
        """The finding of a decision: ``words[decision.reason](*context, **params)`` gives (message, remediation)."""
        message, remediation = words[decision.reason](*context, **decision.params)
        return Finding(self.check_id, self.article, self.title, target, decision.status, message, remediation,
                       decision.evidence, decision)

    def catalog_entry(self):
        return {"checkId": self.check_id, "article": self.article, "title": self.title,
                "description": self.description}


def check(check_id, article, title, description, groups, needs=(), optional=()):
    """Declare a check function's record and the facts it reads; the function receives (check, facts) and returns
    findings.

    Declaring is not registering: a check exists once its function has a line in ``catalog.CATALOG``."""
    def declare(func):
        func.check = Check(check_id, article, title, description, tuple(groups), func, frozenset(needs),
                           frozenset(optional))
        return func
    return declare
