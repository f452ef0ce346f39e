"""Every check module registers its checks on import; one module per cause of the article."""
from . import auth, health, identity, image, network, pod, registry, secrets  # noqa: F401
