"""Every check module registers its checks on import; one module per cause of the article."""
from . import admission, auth, cache, health, identity, image, network, node, pod, registry, secrets  # noqa: F401
