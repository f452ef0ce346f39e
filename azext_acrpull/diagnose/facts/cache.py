"""Artifact cache facts: a registry's cache rules and credential sets (REST JSON of Microsoft.ContainerRegistry
``registries/cacheRules`` and ``registries/credentialSets``), each listed once per registry."""
from ..ids import parse_resource_id


class CacheFacts:
    """Mixin: the artifact cache of a registry, read through ARM's child collections."""

    def registry_cache_rules(self, registry):
        return self.once(("cache_rules", registry["id"].lower()), lambda: self._list_child(registry, "cacheRules",
                                                                                           "cache rules"))

    def registry_credential_sets(self, registry):
        return self.once(("credential_sets", registry["id"].lower()),
                         lambda: self._list_child(registry, "credentialSets", "credential sets"))

    def _list_child(self, registry, child, words):
        from .arm import REGISTRY_API
        rid = parse_resource_id(registry["id"])
        return self._read("the {} of registry {}".format(words, rid.name),   # plain GET: see arm.py
                          "Microsoft.ContainerRegistry/registries/{}/read".format(child),
                          lambda: self.arm_list(rid.id + "/" + child, REGISTRY_API, rid.subscription))
