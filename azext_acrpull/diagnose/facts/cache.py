"""Artifact cache facts: a registry's cache rules and credential sets (REST JSON of Microsoft.ContainerRegistry
``registries/cacheRules`` and ``registries/credentialSets``), each listed once per registry."""
from ..ids import parse_resource_id

KEYVAULT_API = "2023-07-01"


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

    def key_vault(self, subscription, name):
        """The Key Vault of this name in ``subscription`` (ARM JSON of Microsoft.KeyVault/vaults, with its
        accessPolicies and enableRbacAuthorization), or None when the subscription holds no vault of that name. A
        credential set names its secrets by URI only, so the vault is found by name."""
        return self.once(("key_vault", subscription.lower(), name.lower()),
                         lambda: self._find_vault(subscription, name))

    def _find_vault(self, subscription, name):
        listed = self.resources_of_type(subscription, "Microsoft.KeyVault/vaults", name=name)
        found = next((v for v in listed or () if (v.get("name") or "").lower() == name.lower()), None)
        if found is None:
            return None
        rid = parse_resource_id(found["id"])
        return self._read("Key Vault {}".format(rid.name), "Microsoft.KeyVault/vaults/read",   # plain GET: arm.py
                          lambda: self.arm_get(rid.id, KEYVAULT_API, rid.subscription))
