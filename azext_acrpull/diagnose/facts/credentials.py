"""Registry credential facts: admin credentials, ACR tokens and scope maps, and the image pull secrets in use.

Admin passwords are kept only as digests, and the SDK's network trace is switched off for the calls that return
secrets, so nothing secret reaches the log even with --debug.
"""
from ..credentials import DOCKER_CFG, DOCKER_CONFIG_JSON, digest
from ..ids import parse_resource_id
from .base import FactError


class CredentialFacts:
    """Mixin for LiveFacts."""

    def registry_admin_credentials(self, registry_id):
        """{"username": ..., "passwordDigests": {"password": sha256, "password2": sha256}} from listCredentials."""
        return self.once(("admin_credentials", registry_id.lower()), lambda: self._list_admin(registry_id))

    def _list_admin(self, registry_id):
        from ..._client_factory import cf_container_registry
        rid = parse_resource_id(registry_id)
        client = self._client(cf_container_registry, rid.subscription)
        result = self._read("the admin credentials of registry {}".format(rid.name),
                            "Microsoft.ContainerRegistry/registries/listCredentials/action",
                            lambda: client.registries.list_credentials(rid.resource_group, rid.name,
                                                                       logging_enable=False))
        passwords = {}
        for item in getattr(result, "passwords", None) or []:
            name = getattr(item, "name", None)
            passwords[str(getattr(name, "value", name))] = digest(getattr(item, "value", None))
        return {"username": getattr(result, "username", None), "passwordDigests": passwords}

    def registry_token(self, registry_id, token_name):
        """The ACR token resource (scope map id, status, password expiries), or None when it does not exist."""
        return self.once(("acr_token", registry_id.lower(), token_name.lower()),
                         lambda: self._get_child(registry_id, "tokens", token_name))

    def registry_scope_map(self, scope_map_id):
        rid = parse_resource_id(scope_map_id)
        if not rid or "/scopemaps/" not in rid.child.lower():
            raise FactError("{} is not a scope map resource id".format(scope_map_id))
        registry_id = scope_map_id[:len(scope_map_id) - len(rid.child)]
        name = rid.child.rstrip("/").rsplit("/", 1)[-1]
        return self.once(("acr_scope_map", scope_map_id.lower()),
                         lambda: self._get_child(registry_id, "scope_maps", name))

    def _get_child(self, registry_id, kind, name):
        from ..._client_factory import cf_container_registry
        from .sdk import rest
        rid = parse_resource_id(registry_id)
        client = self._client(cf_container_registry, rid.subscription)
        operations = getattr(client, kind)
        words = "token" if kind == "tokens" else "scope map"
        try:
            return rest(self._read("{} {} of registry {}".format(words, name, rid.name),
                                   "Microsoft.ContainerRegistry/registries/{}/read".format(
                                       "tokens" if kind == "tokens" else "scopeMaps"),
                                   lambda: operations.get(rid.resource_group, rid.name, name)))
        except FactError as err:
            if err.status_code == 404:
                return None
            raise

    def image_pull_secrets(self, namespace):
        """The secrets of a namespace that kubelet can use as image pull secrets (both docker config types, listed
        at once: neither list waits for the other)."""
        out = []
        for found in self.parallel(lambda kind: self.kube_get("/api/v1/namespaces/{}/secrets".format(namespace),
                                                              {"fieldSelector": "type=" + kind}),
                                   (DOCKER_CONFIG_JSON, DOCKER_CFG)):
            if isinstance(found, Exception):
                raise found
            out.extend((found or {}).get("items") or [])
        return out
