"""Every check module registers its checks on import; one module per cause of the article."""
from . import auth, health, image, network, pod, registry, secrets  # noqa: F401
