"""Cause 1 (401 Unauthorized), every path: role assignments and ABAC, service principals, the kubelet identity on
the scale sets, and image pull secrets (admin user, service principal, ACR token, refresh token)."""
import base64
import json
from datetime import datetime, timedelta, timezone

from ..server import make_jwt
from ..world import SUBSCRIPTION, World, guid, iso
from . import scenario
from .foundation import kubelet_object_id

SUB2 = "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
SUB2_NAME = "Contoso Shared Services"
NOW = datetime.now(timezone.utc)
REPO_READER = "Container Registry Repository Reader"
REPO_ATTR = "@Request[Microsoft.ContainerRegistry/registries/repositories:name]"
ABAC_GUARD = ("!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND "
              "!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})")


# --- builders for this area ------------------------------------------------------------------------------------


def _mi(name, **registry):
    w = World(name)
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "mode": "System"}])
    reg = w.registry("myacr", "rg1", **registry)
    return w, cluster, reg


def _sp(name, password_end, **registry):
    w = World(name)
    sp = w.service_principal("aks1-sp", password_end=[password_end] if password_end else [])
    cluster = w.cluster("aks1", "rg1", identity="sp", sp=sp)
    reg = w.registry("myacr", "rg1", **registry)
    return w, sp, cluster, reg


def sp_with_secret(w, name, password, ends, exists=True):
    """A service principal whose password credentials end at `ends`; the first one is `password` (its hint is
    the password's first three characters, as Entra keeps it)."""
    sp = w.service_principal(name, password_end=ends, exists=exists)
    for app in w.graph["applications"]:
        if app["appId"] == sp["appId"]:
            for i, cred in enumerate(app["passwordCredentials"]):
                cred["hint"] = password[:3] if i == 0 else "Zz{}".format(i)
    return sp


def dockerconfig_secret(w, cluster, name, server, username, password, namespace="default",
                        kind="kubernetes.io/dockerconfigjson", auth_only=False):
    entry = {"auth": base64.b64encode("{}:{}".format(username, password).encode()).decode()}
    if not auth_only:
        entry.update(username=username, password=password)
    if kind == "kubernetes.io/dockercfg":
        key, config = ".dockercfg", {server: entry}
    else:
        key, config = ".dockerconfigjson", {"auths": {server: entry}}
    data = {key: base64.b64encode(json.dumps(config).encode()).decode()}
    return w.kube_object(cluster, {"apiVersion": "v1", "kind": "Secret", "type": kind, "data": data,
                                   "metadata": {"name": name, "namespace": namespace}})


def pod(w, cluster, name, image, secrets=(), service_account="default", namespace="default", owned=True):
    """A pod stuck in ImagePullBackOff with kubelet's events for a 401 from the registry."""
    from .. import pods
    obj = pods.pod(w, cluster, name, [{"name": "app", "image": image}], namespace=namespace,
                   node=pods.node_name(w, cluster, "nodepool1"), deployment=name if owned else None,
                   image_pull_secrets=secrets)
    obj["spec"]["serviceAccountName"] = obj["spec"]["serviceAccount"] = service_account
    error = ('rpc error: code = Unknown desc = failed to pull and unpack image "{0}": failed to resolve reference '
             '"{0}": failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized'
             .format(image))
    return pods.pull_failure(w, cluster, obj, "app", error)


def service_account(w, cluster, name, secrets=(), namespace="default"):
    return w.kube_object(cluster, {"apiVersion": "v1", "kind": "ServiceAccount",
                                   "metadata": {"name": name, "namespace": namespace},
                                   "imagePullSecrets": [{"name": s} for s in secrets]})


def acr_token(w, registry, name, actions, expiries, status="enabled", scope_map=None):
    """An ACR token and its scope map (Tokens_Get / ScopeMaps_Get shapes); `expiries` for password1, password2
    (None: no end date); a password value cannot be read back, as in Azure."""
    scope_map = scope_map or name + "-scope"
    map_id = "{}/scopeMaps/{}".format(registry["id"], scope_map)
    w.put({"id": map_id, "name": scope_map, "type": "Microsoft.ContainerRegistry/registries/scopeMaps",
           "properties": {"type": "UserDefined", "actions": list(actions), "description": "",
                          "creationDate": iso(w.created), "provisioningState": "Succeeded"}})
    passwords = [{"creationTime": iso(w.created), "expiry": iso(e) if e else None, "name": "password{}".format(i + 1)}
                 for i, e in enumerate(expiries)]
    return w.put({"id": "{}/tokens/{}".format(registry["id"], name), "name": name,
                  "type": "Microsoft.ContainerRegistry/registries/tokens",
                  "properties": {"creationDate": iso(w.created), "provisioningState": "Succeeded",
                                 "scopeMapId": map_id, "status": status,
                                 "credentials": {"certificates": [], "passwords": passwords}}})


def sp_password(tag):
    """A distinct, recognisable client secret (the 3-character prefix is what Entra's hint keeps)."""
    return "{}~sim-sp-secret-MARKER-{}".format(tag, guid("pw/" + tag)[:12])


# --- role assignments (C1.S1) ----------------------------------------------------------------------------------


@scenario("auth-reader-rg", "Kubelet identity holds only the built-in Reader role on the registry's resource "
                            "group: */read includes pull/read (passes).")
def auth_reader_rg():
    w, cluster, _ = _mi("auth-reader-rg")
    w.assign(w.resource_group("rg1"), "Reader", kubelet_object_id(w, cluster))
    return w


@scenario("auth-custom-notactions", "A custom role with Microsoft.ContainerRegistry/* that excludes pull/read in "
                                    "notActions, on the resource group (C1.S1).")
def auth_custom_notactions():
    w, cluster, _ = _mi("auth-custom-notactions")
    role = w.custom_role("Registry Operator", ["Microsoft.ContainerRegistry/*"],
                         not_actions=["Microsoft.ContainerRegistry/registries/pull/read"])
    w.assign(w.resource_group("rg1"), role["id"], kubelet_object_id(w, cluster))
    return w


@scenario("auth-custom-wildcard", "A custom role granting Microsoft.ContainerRegistry/registries/*/read at the "
                                  "subscription (passes).")
def auth_custom_wildcard():
    w, cluster, _ = _mi("auth-custom-wildcard")
    role = w.custom_role("Registry Reader Everywhere", ["Microsoft.ContainerRegistry/registries/*/read"])
    w.assign("/subscriptions/" + SUBSCRIPTION, role["id"], kubelet_object_id(w, cluster))
    return w


def _cross_sub(name):
    w = World(name)
    w.subs[SUB2] = SUB2_NAME
    w.management_groups[SUB2] = ["platform", "contoso-root"]
    cluster = w.cluster("aks1", "rg1")
    registry = w.registry("sharedacr", "rg-shared", subscription=SUB2)
    return w, cluster, registry


@scenario("auth-mg-cross-sub", "Registry in another subscription; AcrPull inherited from the management group that "
                               "holds that subscription (passes).")
def auth_mg_cross_sub():
    w, cluster, _ = _cross_sub("auth-mg-cross-sub")
    w.assign("/providers/Microsoft.Management/managementGroups/platform", "AcrPull", kubelet_object_id(w, cluster),
             subscription=SUB2)
    return w


@scenario("auth-cross-sub-missing", "Registry in another subscription; the kubelet identity holds no role there "
                                    "(C1.S1).")
def auth_cross_sub_missing():
    w, _, _ = _cross_sub("auth-cross-sub-missing")
    return w


@scenario("auth-group-role", "AcrPull held by an Entra group that holds the kubelet identity through a nested group "
                             "(passes).")
def auth_group_role():
    w, cluster, registry = _mi("auth-group-role")
    inner = {"id": guid("grp/aks-nodes"), "displayName": "aks-node-identities",
             "members": [kubelet_object_id(w, cluster)]}
    outer = {"id": guid("grp/pullers"), "displayName": "registry-pullers", "members": [inner["id"]]}
    w.graph.setdefault("groups", []).extend([inner, outer])
    w.assign(registry["id"], "AcrPull", outer["id"], principal_type="Group")
    return w


def _group_joined(name, joined):
    """AcrPull was given long ago to an Entra group; the kubelet identity was added to it at ``joined`` (the audit
    log records the join; a join older than the log's 30 days is past its retention, as in Entra)."""
    w, cluster, registry = _mi(name)
    group = {"id": guid("grp/" + name), "displayName": "aks-registry-pullers", "members": [],
             "securityEnabled": True, "mailEnabled": False, "groupTypes": []}
    w.graph.setdefault("groups", []).append(group)
    w.assign(registry["id"], "AcrPull", group["id"], principal_type="Group")
    w.add_to_group(group, kubelet_object_id(w, cluster), at=joined)
    return w


@scenario("auth-group-joined-minutes-ago", "AcrPull is held by a group the kubelet identity joined four minutes ago: "
                                           "the membership is still propagating (B.recent, warns).")
def auth_group_joined_minutes_ago():
    return _group_joined("auth-group-joined-minutes-ago", NOW - timedelta(minutes=4))


@scenario("auth-group-joined-long-ago", "AcrPull is held by a group the kubelet identity joined two hours ago "
                                        "(passes).")
def auth_group_joined_long_ago():
    return _group_joined("auth-group-joined-long-ago", NOW - timedelta(hours=2))


@scenario("auth-group-joined-audit-denied", "AcrPull is held by a group the kubelet identity joined four minutes ago, "
                                            "but the signed-in account may not read the Entra audit log (no "
                                            "AuditLog.Read.All): the join time is unknown.")
def auth_group_joined_audit_denied():
    w = _group_joined("auth-group-joined-audit-denied", NOW - timedelta(minutes=4))
    w.audit_log_readable = False
    return w


@scenario("auth-group-other", "AcrPull held by an Entra group the kubelet identity is not in (C1.S1).")
def auth_group_other():
    w, cluster, registry = _mi("auth-group-other")
    group = {"id": guid("grp/ci"), "displayName": "ci-pullers", "members": [guid("someone-else")]}
    w.graph.setdefault("groups", []).append(group)
    w.assign(registry["id"], "AcrPull", group["id"], principal_type="Group")
    return w


@scenario("auth-fresh-assignment", "AcrPull was assigned five minutes ago: still propagating (warns).")
def auth_fresh_assignment():
    w, cluster, registry = _mi("auth-fresh-assignment")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster), created=NOW - timedelta(minutes=5))
    return w


# --- ABAC registries (X.abac) ----------------------------------------------------------------------------------


@scenario("auth-abac-acrpull", "ABAC registry; the kubelet identity holds AcrPull, which that mode ignores (X.abac).")
def auth_abac_acrpull():
    w, cluster, registry = _mi("auth-abac-acrpull", role_assignment_mode="AbacRepositoryPermissions")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    return w


@scenario("auth-abac-reader", "ABAC registry; the kubelet identity holds Container Registry Repository Reader on "
                              "every repository (passes).")
def auth_abac_reader():
    w, cluster, registry = _mi("auth-abac-reader", role_assignment_mode="AbacRepositoryPermissions")
    w.assign(registry["id"], REPO_READER, kubelet_object_id(w, cluster))
    return w


@scenario("auth-abac-condition", "ABAC registry; Repository Reader limited by a condition to repositories starting "
                                 "with 'backend/' or named 'tools/cli' (X.abac for other repositories).")
def auth_abac_condition():
    w, cluster, registry = _mi("auth-abac-condition", role_assignment_mode="AbacRepositoryPermissions")
    condition = "(({}) OR ({} StringStartsWithIgnoreCase 'backend/' OR {} StringEquals 'tools/cli'))".format(
        ABAC_GUARD, REPO_ATTR, REPO_ATTR)
    w.assign(registry["id"], REPO_READER, kubelet_object_id(w, cluster), condition=condition)
    pod(w, cluster, "web-frontend", "myacr.azurecr.io/frontend/web:1.4")
    return w


# --- service principal clusters (C1.S2, C1.S3) -----------------------------------------------------------------


@scenario("auth-sp-expired", "Service-principal cluster whose only client secret expired 12 days ago (C1.S2).")
def auth_sp_expired():
    w, sp, _, registry = _sp("auth-sp-expired", NOW - timedelta(days=12))
    w.assign(registry["id"], "AcrPull", sp["objectId"])
    return w


@scenario("auth-sp-expiring", "Service-principal cluster whose client secret ends in 10 days (warns, C1.S2).")
def auth_sp_expiring():
    w, sp, _, registry = _sp("auth-sp-expiring", NOW + timedelta(days=10))
    w.assign(registry["id"], "AcrPull", sp["objectId"])
    return w


@scenario("auth-sp-deleted", "Service-principal cluster whose service principal was deleted from Entra ID (C1.S2).")
def auth_sp_deleted():
    w = World("auth-sp-deleted")
    sp = w.service_principal("aks1-sp", exists=False)
    w.cluster("aks1", "rg1", identity="sp", sp=sp)
    w.registry("myacr", "rg1")
    return w


@scenario("auth-sp-old-principal", "Service-principal cluster whose credentials were reset to a new service "
                                   "principal; AcrPull still points at the old one (C1.S3).")
def auth_sp_old_principal():
    w, _, _, registry = _sp("auth-sp-old-principal", NOW + timedelta(days=300))
    old = w.service_principal("aks1-sp-2024", password_end=[NOW + timedelta(days=20)])
    w.assign(registry["id"], "AcrPull", old["objectId"])
    return w


@scenario("auth-sp-shared-registry", "Two service-principal clusters share a registry; aks1 lost its AcrPull, and the "
                                     "one left belongs to aks2, whose service principal is in use (C1.S1, not C1.S3).")
def auth_sp_shared_registry():
    w, _, _, registry = _sp("auth-sp-shared-registry", NOW + timedelta(days=300))
    other = w.service_principal("aks2-sp", password_end=[NOW + timedelta(days=200)])
    w.cluster("aks2", "rg2", identity="sp", sp=other)
    w.assign(registry["id"], "AcrPull", other["objectId"])
    return w


@scenario("auth-sp-deleted-principal", "Service-principal cluster; AcrPull points at a principal that was deleted "
                                       "(C1.S3).")
def auth_sp_deleted_principal():
    w, _, _, registry = _sp("auth-sp-deleted-principal", NOW + timedelta(days=300))
    w.assign(registry["id"], "AcrPull", guid("deleted-principal"))
    return w


@scenario("auth-mi-moved-from-sp", "Cluster moved from a service principal to managed identity; AcrPull still "
                                   "points at the old service principal (C1.S3).")
def auth_mi_moved_from_sp():
    w, _, registry = _mi("auth-mi-moved-from-sp")
    old = w.service_principal("aks1-sp", password_end=[NOW + timedelta(days=200)])
    w.assign(registry["id"], "AcrPull", old["objectId"])
    return w


@scenario("auth-sp-aks-made-principal", "Service-principal cluster moved to a new service principal; AcrPull still "
                                        "points at the one `az aks create` made for it (its identifier URI carries "
                                        "the cluster's DNS prefix), since renamed (C1.S3).")
def auth_sp_aks_made_principal():
    w, _, cluster, registry = _sp("auth-sp-aks-made-principal", NOW + timedelta(days=300))
    uri = "https://3f9a1c.{}.eastus.cloudapp.azure.com".format(cluster["properties"]["dnsPrefix"])
    old = w.service_principal("k8s-runtime-identity", password_end=[NOW + timedelta(days=900)],
                              identifier_uris=[uri], homepage=uri)
    w.assign(registry["id"], "AcrPull", old["objectId"])
    return w


@scenario("auth-sp-namesake-cluster", "Service-principal cluster aks1 without a pull role; AcrPull is held by the "
                                      "service principal `az aks create` named after another cluster called aks1, "
                                      "in another resource group, which still runs as it (passes C1.S3).")
def auth_sp_namesake_cluster():
    w, _, _, registry = _sp("auth-sp-namesake-cluster", NOW + timedelta(days=300))
    other = w.service_principal("aks1", password_end=[NOW + timedelta(days=900)])
    w.cluster("aks1", "rg-west", identity="sp", sp=other)
    w.assign(registry["id"], "AcrPull", other["objectId"])
    return w


def recreate_kubelet_identity(w, cluster):
    """The kubelet identity deleted and recreated under the same name (its old service principal is gone with it),
    then given to the cluster again (`az aks update --assign-kubelet-identity`): the cluster's profile names the new
    principal; the scale sets, until the node images are upgraded, still record the old one. Returns the old
    principal id."""
    profile = cluster["properties"]["identityProfile"]["kubeletidentity"]
    old = profile["objectId"]
    new = w.recreate_identity(profile["resourceId"])["properties"]
    profile.update(objectId=new["principalId"], clientId=new["clientId"])
    return old


@scenario("auth-mi-kubelet-recreated", "Managed-identity cluster whose kubelet identity was deleted and recreated; "
                                       "AcrPull still points at the old (deleted) principal, which the node pools' "
                                       "scale sets still record for the identity (C1.S3).")
def auth_mi_kubelet_recreated():
    w, cluster, registry = _mi("auth-mi-kubelet-recreated")
    old = recreate_kubelet_identity(w, cluster)
    w.assign(registry["id"], "AcrPull", old)
    return w


# --- kubelet identity on the scale sets (C1.S4) ----------------------------------------------------------------


@scenario("auth-vm-pool", "A VMSS pool and a VirtualMachines pool; node resource group lockdown is ReadOnly "
                          "(passes; the VM pool is not a scale set).")
def auth_vm_pool():
    w = World("auth-vm-pool")
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "mode": "System"},
                                              {"name": "vmpool", "type": "VirtualMachines"}])
    cluster["properties"]["nodeResourceGroupProfile"] = {"restrictionLevel": "ReadOnly"}
    registry = w.registry("myacr", "rg1")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    return w


# --- image pull secrets (C1.S5, C1.S6) -------------------------------------------------------------------------


def _secrets_world(name):
    """One managed-identity cluster, registry myacr (admin enabled) and oldacr (admin disabled), and a pod per
    kind of pull secret."""
    w = World(name)
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "mode": "System"}])
    myacr = w.registry("myacr", "rg1", admin=True)
    w.registry("oldacr", "rg1")
    kubelet = kubelet_object_id(w, cluster)
    w.assign(myacr["id"], "AcrPull", kubelet)
    login, image = "myacr.azurecr.io", "myacr.azurecr.io/app:1.0"
    admin = w.admin_credentials[myacr["id"].lower()]

    def add(pod_name, secret, username, password, server=login, **kwargs):
        dockerconfig_secret(w, cluster, secret, server, username, password, **kwargs)
        pod(w, cluster, pod_name, image if server != "oldacr.azurecr.io" else "oldacr.azurecr.io/app:1.0", [secret])

    # C1.S6: admin user
    add("web-admin-current", "acr-admin-current", "myacr", admin["password2"])
    add("web-admin-stale", "acr-admin-stale", "myacr", "sim-admin-old-MARKER-0f1e2d3c4b")
    add("web-admin-disabled", "oldacr-admin", "oldacr", "sim-admin-gone-MARKER-5a6b7c8d", server="oldacr.azurecr.io")
    # C1.S5: service principals
    ok_pw, expired_pw, reset_pw, norole_pw = (sp_password(t) for t in ("Ok1", "Ex2", "Rs3", "Nr4"))
    ok = sp_with_secret(w, "ci-pull", ok_pw, [NOW + timedelta(days=200)])
    w.assign(myacr["id"], "AcrPull", ok["objectId"])
    expired = sp_with_secret(w, "ci-pull-2023", expired_pw, [NOW - timedelta(days=40), NOW + timedelta(days=300)])
    w.assign(myacr["id"], "AcrPull", expired["objectId"])
    reset = sp_with_secret(w, "ci-pull-reset", "Xx9" + reset_pw[3:], [NOW + timedelta(days=300)])
    w.assign(myacr["id"], "AcrPull", reset["objectId"])
    norole = sp_with_secret(w, "ci-pull-norole", norole_pw, [NOW + timedelta(days=300)])
    add("web-sp-ok", "acr-sp-ok", ok["appId"], ok_pw, auth_only=True)
    add("web-sp-expired", "acr-sp-expired", expired["appId"], expired_pw)
    add("web-sp-reset", "acr-sp-reset", reset["appId"], reset_pw)
    add("web-sp-deleted", "acr-sp-deleted", guid("app/deleted-ci"), sp_password("Dl5"))
    add("web-sp-norole", "acr-sp-norole", norole["appId"], norole_pw, kind="kubernetes.io/dockercfg")
    # ACR tokens and refresh tokens
    acr_token(w, myacr, "puller", ["repositories/app/content/read", "repositories/app/metadata/read"],
              [NOW + timedelta(days=200), None])
    acr_token(w, myacr, "team-b", ["repositories/team-b/*/content/read"], [NOW + timedelta(days=200)])
    acr_token(w, myacr, "old-puller", ["repositories/*/content/read"],
              [NOW - timedelta(days=3), NOW - timedelta(days=1)])
    add("web-token-ok", "acr-token-ok", "puller", "sim-token-pw-MARKER-1a2b3c")
    add("web-token-scope", "acr-token-scope", "team-b", "sim-token-pw-MARKER-4d5e6f")
    add("web-token-expired", "acr-token-expired", "old-puller", "sim-token-pw-MARKER-7a8b9c")
    add("web-token-deleted", "acr-token-deleted", "gone-token", "sim-token-pw-MARKER-0d0e0f")
    refresh = make_jwt({"aud": login, "exp": int((NOW - timedelta(hours=5)).timestamp()), "grant_type": "refresh_token",
                        "tenant": w.tenant_id, "jti": "sim-refresh-MARKER"})
    add("web-refresh", "acr-refresh", "00000000-0000-0000-0000-000000000000", refresh)
    # what kubelet does not use, or does not see
    pod(w, cluster, "web-nosecret", image)
    pod(w, cluster, "web-missing-secret", image, ["does-not-exist"])
    opaque = dockerconfig_secret(w, cluster, "acr-opaque", login, "myacr", admin["password"])
    opaque["type"] = "Opaque"
    pod(w, cluster, "web-opaque", image, ["acr-opaque"])
    service_account(w, cluster, "builder", ["acr-sp-ok"])
    pod(w, cluster, "web-sa", image, service_account="builder")
    pod(w, cluster, "web-sa-bare", image, service_account="builder", owned=False)
    pod(w, cluster, "web-sa-own", image, ["acr-admin-current"], service_account="builder")
    # namespace mode: team-a's secrets (one for Docker Hub, ignored)
    dockerconfig_secret(w, cluster, "team-admin", login, "myacr", "sim-admin-old-MARKER-9e8d7c", namespace="team-a")
    dockerconfig_secret(w, cluster, "dockerhub", "https://index.docker.io/v1/", "teama", "sim-hub-MARKER-3c2b1a",
                        namespace="team-a")
    return w, cluster


@scenario("auth-secrets", "Pods whose image pull secrets use the admin user, service principals, ACR tokens and a "
                          "refresh token, current and stale (C1.S5, C1.S6).")
def auth_secrets():
    return _secrets_world("auth-secrets")[0]


@scenario("auth-secrets-entra", "Entra ID cluster (kubeconfig needs kubelogin): the pull secrets are read with az's "
                                "own token for the AKS server application.")
def auth_secrets_entra():
    w, cluster = _secrets_world("auth-secrets-entra")
    cluster["properties"]["aadProfile"] = {"managed": True, "enableAzureRBAC": False, "tenantID": w.tenant_id,
                                           "adminGroupObjectIDs": [guid("aks-admins")]}
    cluster["properties"]["disableLocalAccounts"] = True
    return w


@scenario("auth-secrets-private", "Private cluster: its API server cannot be reached from where az runs.")
def auth_secrets_private():
    w, cluster = _secrets_world("auth-secrets-private")
    props = cluster["properties"]
    props["apiServerAccessProfile"] = {"enablePrivateCluster": True, "enablePrivateClusterPublicFQDN": False,
                                       "privateDNSZone": "system"}
    private = "aks1-dns-{}.{}.privatelink.eastus.azmk8s.io".format(guid("priv")[:8], guid("privzone")[:8])
    old = props.pop("fqdn").lower()
    props["privateFQDN"] = private
    props["fqdn"] = private    # the kubeconfig points at the private name, which nothing here resolves
    w.kube.pop(old)
    w.kube_tokens[private] = w.kube_tokens.pop(old)
    return w
