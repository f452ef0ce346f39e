"""A change ``fix`` makes, the registry of remedies, and the words of a failed write.

Apart from the engine (``fix/__init__.py``) so that the remedy modules, which the engine loads, import nothing
that imports them.
"""
from dataclasses import dataclass
from typing import Callable

PLANNED = "Planned"

_REMEDIES = {}


def remedy(check_id):
    """Register the remedy of one check: ``func(finding, ctx) -> Change | None``."""
    def register(func):
        _REMEDIES[check_id] = func
        return func
    return register


class ChangeFailed(Exception):
    """A change could not be made; the reason says why and what to do."""


@dataclass
class Change:
    """One write to Azure, shown before it is made.

    ``key`` identifies the write (two findings needing the same write share it); ``apply(ctx)``
    makes it and returns a sentence on what was done, or raises ChangeFailed / an SDK error."""
    key: tuple
    command: str
    summary: str
    apply: Callable
    status: str = PLANNED
    result: str = ""


def write_error(err, what=None, permission=None):
    """An SDK error on a write as one sentence that says what is missing."""
    status = getattr(err, "status_code", None)
    code = getattr(getattr(err, "error", None), "code", None)
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    message = message.strip().splitlines()[0]
    what = what or "make this change"
    if status == 403:
        need = " (needs {})".format(permission) if permission else ""
        return "The signed-in account may not {}{}: {}".format(what, need, message)
    if status:
        return "Could not {}: HTTP {}{}: {}".format(what, status, " " + code if code else "", message)
    return "Could not {}: {}".format(what, message)


def error_code(err):
    """The ARM error code of an SDK error (PrincipalNotFound, RoleAssignmentExists...), or ''."""
    code = getattr(getattr(err, "error", None), "code", None)
    if code:
        return code
    text = str(err)
    for known in ("PrincipalNotFound", "RoleAssignmentExists"):
        if known in text:
            return known
    return ""
