"""Facts: what a diagnosis knows about Azure and the cluster, gathered apart from judging it."""
from .base import POD_NOT_FOUND, FactError, Facts  # noqa: F401
