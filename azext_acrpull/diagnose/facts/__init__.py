"""Facts: what a diagnosis knows about Azure and the cluster, gathered apart from judging it."""
from .base import FactError, Facts  # noqa: F401
