"""Registry content: push images (repository, tags, platforms) the way docker and buildx store them.

Manifests, indexes and config blobs are real JSON with the real media types, and every digest is the sha256
of the exact bytes served, so a client can verify what it reads. Layers are small stand-ins.
"""
import hashlib
import json

from .world import LOGIN_OBJECT_ID, SUBSCRIPTION, guid

MEDIA = {
    "oci": {"index": "application/vnd.oci.image.index.v1+json",
            "manifest": "application/vnd.oci.image.manifest.v1+json",
            "config": "application/vnd.oci.image.config.v1+json",
            "layer": "application/vnd.oci.image.layer.v1.tar+gzip"},
    "docker": {"index": "application/vnd.docker.distribution.manifest.list.v2+json",
               "manifest": "application/vnd.docker.distribution.manifest.v2+json",
               "config": "application/vnd.docker.container.image.v1+json",
               "layer": "application/vnd.docker.image.rootfs.diff.tar.gzip"},
}
WINDOWS_VERSIONS = {"ltsc2019": "10.0.17763.6532", "ltsc2022": "10.0.20348.2849", "ltsc2025": "10.0.26100.2314"}


def _digest(data):
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def _store(repository, kind, obj, media_type=None):
    body = json.dumps(obj, indent=3)
    digest = _digest(body)
    if kind == "blob":
        repository["blobs"][digest] = body
    else:
        repository["manifests"][digest] = {"mediaType": media_type, "body": body}
    return digest, len(body.encode())


def parse_platform(text):
    """'linux/amd64', 'linux/arm64/v8', 'windows/amd64:ltsc2022' or 'windows/amd64:10.0.20348.2849'."""
    text, _, version = text.partition(":")
    parts = text.split("/")
    platform = {"os": parts[0], "architecture": parts[1]}
    if len(parts) > 2:
        platform["variant"] = parts[2]
    if version:
        platform["os.version"] = WINDOWS_VERSIONS.get(version, version)
    return platform


def _image_manifest(repository, repo, platform, kind):
    media = MEDIA[kind]
    layer = "layer of {} for {}".format(repo, json.dumps(platform, sort_keys=True))
    layer_digest = _digest(layer)
    repository["blobs"][layer_digest] = layer
    config = {"architecture": platform["architecture"], "os": platform["os"], "created": "2026-10-02T08:15:00Z",
              "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                         "Cmd": ["/app"], "WorkingDir": "/"},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer[::-1].encode()).hexdigest()]},
              "history": [{"created": "2026-10-02T08:15:00Z", "created_by": "COPY app /app # buildkit"}]}
    for key in ("variant", "os.version"):
        if key in platform:
            config[key] = platform[key]
    config_digest, config_size = _store(repository, "blob", config)
    manifest = {"schemaVersion": 2, "mediaType": media["manifest"],
                "config": {"mediaType": media["config"], "digest": config_digest, "size": config_size},
                "layers": [{"mediaType": media["layer"], "digest": layer_digest, "size": len(layer.encode())}]}
    digest, size = _store(repository, "manifest", manifest, media["manifest"])
    return {"mediaType": media["manifest"], "digest": digest, "size": size, "platform": platform}


def push(world, registry, repo, tags, platforms=("linux/amd64",), kind="oci", index=None, attestations=None):
    """Push an image and tag it. Several platforms (or ``index=True``) make an index (OCI) or a manifest list
    (``kind="docker"``); an OCI index from buildx carries attestation manifests (platform unknown/unknown).
    Returns the digest the tags point at."""
    login = registry["properties"]["loginServer"]
    content = world.registry_content.setdefault(login, {"repositories": {}})
    repository = content["repositories"].setdefault(repo, {"tags": {}, "manifests": {}, "blobs": {}})
    platforms = [parse_platform(p) for p in platforms]
    index = len(platforms) > 1 if index is None else index
    attestations = (kind == "oci" and index) if attestations is None else attestations
    entries = [_image_manifest(repository, repo, p, kind) for p in platforms]
    if not index:
        digest = entries[0]["digest"]
    else:
        manifests = [{"mediaType": e["mediaType"], "digest": e["digest"], "size": e["size"],
                      "platform": e["platform"]} for e in entries]
        if attestations:
            for entry in entries:
                statement = {"_type": "https://in-toto.io/Statement/v0.1", "subject": [{"digest": {
                    "sha256": entry["digest"].split(":")[1]}}]}
                blob_digest, blob_size = _store(repository, "blob", statement)
                attestation = {"schemaVersion": 2, "mediaType": MEDIA["oci"]["manifest"],
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": _store(repository, "blob", {})[0], "size": 2},
                               "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": blob_digest,
                                           "size": blob_size, "annotations": {
                                               "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}]}
                att_digest, att_size = _store(repository, "manifest", attestation, MEDIA["oci"]["manifest"])
                manifests.append({"mediaType": MEDIA["oci"]["manifest"], "digest": att_digest, "size": att_size,
                                  "annotations": {"vnd.docker.reference.digest": entry["digest"],
                                                  "vnd.docker.reference.type": "attestation-manifest"},
                                  "platform": {"architecture": "unknown", "os": "unknown"}})
        digest, _ = _store(repository, "manifest", {"schemaVersion": 2, "mediaType": MEDIA[kind]["index"],
                                                    "manifests": manifests}, MEDIA[kind]["index"])
    for tag in [tags] if isinstance(tags, str) else tags:
        repository["tags"][tag] = digest
    if registry.get("id"):
        storage_host(world, registry)
    return digest


def push_upstream(world, host, repo, tags, platforms=("linux/amd64",), kind="docker", index=None):
    """An image in an upstream registry outside Azure (docker.io, mcr.microsoft.com), which an ACR artifact cache
    rule fetches from on the first pull (dataplane._pull_through); the simulator serves no upstream itself."""
    return push(world, {"properties": {"loginServer": host}}, repo, tags, platforms, kind=kind, index=index)


def storage_host(world, registry):
    """The storage account the registry's blob downloads are redirected to (served by the simulator too)."""
    host = "{}acr{}.blob.core.windows.net".format(registry["location"][:6].lower(),
                                                  guid("storage/" + registry["id"].lower())[:8])
    world.registry_hosts.setdefault(host, registry["id"])
    return host


# ACR keeps a registry's layers in storage accounts of its own, in a subscription of the service, not the customer's.
ACR_STORAGE_SUBSCRIPTION = "6f3d1c2b-ac70-4e5f-9a8b-7c6d5e4f3a2b"


def storage_account_id(world, registry):
    """The resource id of the storage account behind ``storage_host`` (what a service endpoint policy would have to
    list to let a node subnet download the registry's layers)."""
    account = storage_host(world, registry).split(".", 1)[0]
    return "/subscriptions/{}/resourceGroups/acr-storage-{}/providers/Microsoft.Storage/storageAccounts/{}".format(
        ACR_STORAGE_SUBSCRIPTION, registry["location"].lower(), account)


def signed_in_caller(world, scope, role="Contributor"):
    """A role for the account az is logged in with (people who diagnose usually hold one on the subscription)."""
    return world.assign(scope, role, LOGIN_OBJECT_ID)


# -- artifact cache: cache rules and credential sets (ARM child resources of the registry) ---------------------------
def credential_set(world, registry, name, login_server, vault="contoso-kv", health="Healthy", error=None):
    """A credential set whose username and password are Key Vault secrets; ``health`` is what ACR last found when it
    read them (Healthy, or Unhealthy with ``error`` = (code, message)), None when the API reports none."""
    sid = "{}/credentialSets/{}".format(registry["id"], name)
    credential = {"name": "Credential1",
                  "usernameSecretIdentifier": "https://{}.vault.azure.net/secrets/{}-username".format(vault, name),
                  "passwordSecretIdentifier": "https://{}.vault.azure.net/secrets/{}-password".format(vault, name)}
    if health:
        credential["credentialHealth"] = {"status": health}
        if error:
            credential["credentialHealth"].update(errorCode=error[0], errorMessage=error[1])
    return world.put({"id": sid, "name": name, "type": "Microsoft.ContainerRegistry/registries/credentialSets",
                      "systemData": registry.get("systemData"),
                      "identity": {"type": "SystemAssigned", "principalId": guid("cs-principal/" + sid),
                                   "tenantId": world.tenant_id},
                      "properties": {"loginServer": login_server, "authCredentials": [credential],
                                     "creationDate": "2026-10-02T09:00:00.0000000+00:00",
                                     "provisioningState": "Succeeded"}})


def key_vault(world, name, resource_group, rbac=True, policies=(), location="eastus"):
    """A Key Vault (Microsoft.KeyVault/vaults as ARM returns it): Azure RBAC authorization, or access policies, each
    (objectId, [secret permissions])."""
    vid = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/vaults/{}".format(
        SUBSCRIPTION, resource_group, name)
    return world.put({"id": vid, "name": name, "type": "Microsoft.KeyVault/vaults", "location": location, "tags": {},
                      "systemData": {"createdBy": "admin@contoso.com", "createdByType": "User",
                                     "createdAt": "2026-10-01T08:00:00.0000000Z"},
                      "properties": {"sku": {"family": "A", "name": "standard"}, "tenantId": world.tenant_id,
                                     "accessPolicies": [{"tenantId": world.tenant_id, "objectId": oid, "permissions": {
                                         "keys": [], "secrets": list(secrets), "certificates": []}}
                                         for oid, secrets in policies],
                                     "enabledForDeployment": False, "enabledForDiskEncryption": False,
                                     "enabledForTemplateDeployment": False, "enableSoftDelete": True,
                                     "softDeleteRetentionInDays": 90, "enableRbacAuthorization": rbac,
                                     "vaultUri": "https://{}.vault.azure.net/".format(name),
                                     "provisioningState": "Succeeded", "publicNetworkAccess": "Enabled"}})


def cache_rule(world, registry, name, source, target, credential_set_id=None):
    rid = "{}/cacheRules/{}".format(registry["id"], name)
    props = {"sourceRepository": source, "targetRepository": target,
             "creationDate": "2026-10-02T09:05:00.0000000+00:00", "provisioningState": "Succeeded"}
    if credential_set_id:
        props["credentialSetResourceId"] = credential_set_id
    return world.put({"id": rid, "name": name, "type": "Microsoft.ContainerRegistry/registries/cacheRules",
                      "systemData": registry.get("systemData"), "properties": props})


def delete_manifest(world, registry, repo, digest):
    """Delete one manifest by digest, as acr purge or a retention policy does (the index that names it stays)."""
    login = registry["properties"]["loginServer"]
    del world.registry_content[login]["repositories"][repo]["manifests"][digest]


def index_children(world, registry, repo, tag):
    """{platform "os/arch": digest} of the index a tag points at."""
    import json as _json
    login = registry["properties"]["loginServer"]
    repository = world.registry_content[login]["repositories"][repo]
    index = _json.loads(repository["manifests"][repository["tags"][tag]]["body"])
    return {"{}/{}".format(m["platform"]["os"], m["platform"]["architecture"]): m["digest"]
            for m in index["manifests"] if m["platform"]["os"] != "unknown"}
