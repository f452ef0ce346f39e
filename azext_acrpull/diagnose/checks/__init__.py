"""Every check module registers its checks on import; one module per cause of the article."""
from . import auth, registry  # noqa: F401
