"""Facts: what a diagnosis knows about Azure and the cluster, gathered apart from judging it."""
from .base import POD_NOT_FOUND, FactError, Facts  # noqa: F401
from .contract import FACTS, FactsContract, FactUnavailable, provided_by  # noqa: F401
