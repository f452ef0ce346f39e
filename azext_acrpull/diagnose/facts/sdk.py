"""What every live reader does with the SDK's answers: models to the REST JSON shape, errors to a FactError.

Kept apart from ``live.py`` so that the readers ``LiveFacts`` is made of (credentials, run command) use them without
importing the module that imports them.
"""
import re

from .base import FactError


def rest(model):
    """SDK model -> the REST JSON shape (camelCase), the one shape checks and bulk reads share."""
    if model is None or isinstance(model, dict):
        return model
    if hasattr(model, "serialize"):
        return model.serialize(keep_readonly=True)
    return model.as_dict()


def explain(err, what, permission=None):
    """Turn an SDK/HTTP error into a FactError whose reason says what to do."""
    status = getattr(err, "status_code", None)
    message = getattr(err, "message", None) or str(err)
    message = message.strip().splitlines()[0] if message.strip() else type(err).__name__
    code = getattr(getattr(err, "error", None), "code", None) or _error_code(str(err))
    if status == 403:
        need = " (needs {})".format(permission) if permission else ""
        reason = "the signed-in account may not read {}{}: {}".format(what, need, message)
    elif status == 404:
        reason = "{} was not found: {}".format(what, message)
    elif status:
        reason = "reading {} failed with HTTP {}: {}".format(what, status, message)
    else:
        reason = "reading {} failed: {}".format(what, message)
    return FactError(reason, status, code)


def _error_code(text):
    """ARM's error code from an SDK error's text: '(ResourceGroupNotFound) ...' or 'Code: ResourceGroupNotFound'."""
    m = re.match(r"^\((\w+)\)", text or "") or re.search(r"^Code: (\w+)$", text or "", re.MULTILINE)
    return m.group(1) if m else None
