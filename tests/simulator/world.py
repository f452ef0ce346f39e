"""The simulated environment: ARM resources, Entra objects, registry content and Kubernetes objects.

Shapes follow the Azure REST API specs' example responses (ManagedCluster 2026-06-01, Registry,
RoleAssignment/RoleDefinition 2022-04-01, VirtualMachineScaleSet 2024-11-01, Microsoft Graph v1.0).
Builders make whole, realistic resources from a few arguments so that a scenario reads as the
environment it describes.
"""
import base64
import copy
import json
import uuid
from datetime import datetime, timedelta, timezone

TENANT = "7a0f2c1e-5b7d-4f7e-9a63-0c8d2b1e4f10"
SUBSCRIPTION = "3f2b8c4e-1d6a-4e9b-8c7f-5a4d3e2b1c0a"
SUBSCRIPTION_NAME = "Contoso Production"
LOGIN_APP_ID = "0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e"
LOGIN_SECRET = "sim-login-secret-MARKER-7c1d"   # the test's own login; planted as a leak marker too
LOGIN_OBJECT_ID = "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b"
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"   # the AKS AAD server application (kubelogin --server-id)

BUILTIN_ROLES = {
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": ("AcrPull", "acr pull",
                                             [{"actions": ["Microsoft.ContainerRegistry/registries/pull/read"],
                                               "notActions": [], "dataActions": [], "notDataActions": []}]),
    "8311e382-0749-4cb8-b61a-304f252e45ec": ("AcrPush", "acr push",
                                             [{"actions": ["Microsoft.ContainerRegistry/registries/pull/read",
                                                           "Microsoft.ContainerRegistry/registries/push/write"],
                                               "notActions": [], "dataActions": [], "notDataActions": []}]),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": ("Reader", "View all resources, but does not allow you to make any "
                                             "changes.", [{"actions": ["*/read"], "notActions": [], "dataActions": [],
                                                           "notDataActions": []}]),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": ("Contributor", "Grants full access to manage all resources, but does "
                                             "not allow you to assign roles in Azure RBAC.",
                                             [{"actions": ["*"], "notActions": [
                                                 "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                                                 "Microsoft.Authorization/elevateAccess/Action",
                                                 "Microsoft.Blueprint/blueprintAssignments/write",
                                                 "Microsoft.Blueprint/blueprintAssignments/delete",
                                                 "Microsoft.Compute/galleries/share/action",
                                                 "Microsoft.Purview/consents/write",
                                                 "Microsoft.Purview/consents/delete",
                                                 "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
                                                 "Microsoft.Subscription/cancel/action",
                                                 "Microsoft.Subscription/enable/action"],
                                               "dataActions": [], "notDataActions": []}]),
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", "Grants full access to manage all resources, including the "
                                             "ability to assign roles in Azure RBAC.",
                                             [{"actions": ["*"], "notActions": [], "dataActions": [],
                                               "notDataActions": []}]),
    "b93aa761-3e63-49ed-ac28-beffa264f7ac": ("Container Registry Repository Reader",
                                             "Allows read access to container registry repositories.",
                                             [{"actions": [], "notActions": [], "dataActions": [
                                                 "Microsoft.ContainerRegistry/registries/repositories/metadata/read",
                                                 "Microsoft.ContainerRegistry/registries/repositories/content/read"],
                                               "notDataActions": []}]),
    "4633458b-17de-408a-b874-0445c86b69e6": ("Key Vault Secrets User", "Read secret contents. Only works for key "
                                             "vaults that use the 'Azure role-based access control' permission model.",
                                             [{"actions": [], "notActions": [], "dataActions": [
                                                 "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                                                 "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
                                               "notDataActions": []}]),
}
ROLE_IDS = {v[0]: k for k, v in BUILTIN_ROLES.items()}


def iso(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def guid(seed):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "acrpull-sim/" + seed))


def parse_id_parts(resource_id):
    parts = resource_id.split("/")
    return {"sub": parts[2], "rg": parts[4], "name": parts[-1]}


def _under(child, parent):
    child, parent = child.lower().rstrip("/"), parent.lower().rstrip("/")
    return parent in ("", "/") or child == parent or child.startswith(parent + "/")


class World:
    def __init__(self, name="empty"):
        self.name = name
        self.tenant_id = TENANT
        self.subs = {SUBSCRIPTION: SUBSCRIPTION_NAME}
        self.sub_tenants = {}                 # subscription id (lower) -> its Entra tenant, when not tenant_id
        self.management_groups = {}           # subscription id -> [mg names, nearest first]
        self.login_apps = {LOGIN_APP_ID: LOGIN_SECRET}
        self.login_object_ids = {LOGIN_APP_ID: LOGIN_OBJECT_ID}
        self.arm = {}
        self.graph = {"servicePrincipals": [], "applications": []}
        self.registry_content = {}            # login server -> {"repositories": {repo: {...}}}
        self.registry_hosts = {}              # host -> registry id (login server and data endpoints)
        self.admin_credentials = {}           # registry id (lower) -> {"password":..., "password2":...}
        self.kube = {}                        # API server host -> {"cluster": id, "objects": {path: obj}}
        self.kube_tokens = {}                 # API server host -> bearer token in the kubeconfig
        self.ca_pem = ""
        self.post_handlers = {}
        self.addresses = {}                   # host -> address in the hosts file instead of 127.0.0.1; None: none
        self.denied_scopes = []               # scopes the signed-in account may not read (403; hidden in ARG)
        self.arg_quota = [15, 5.0]            # Resource Graph: requests per window of seconds, per user
        self.created = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
        self.quiet = ()                       # parts of the tenant backdrop (tenant.py) this world leaves out
        self.audit_log_readable = True        # the signed-in account holds AuditLog.Read.All (Graph's audit log)

    # -- queries used by the routers ------------------------------------------------------------
    @staticmethod
    def now_iso():
        return iso(datetime.now(timezone.utc))

    def tenant_of_subscription(self, subscription):
        return (getattr(self, "sub_tenants", None) or {}).get(subscription.lower(), self.tenant_id)

    def subscriptions(self):
        return [{"id": "/subscriptions/" + s, "authorizationSource": "RoleBased", "managedByTenants": [],
                 "subscriptionId": s, "tenantId": self.tenant_of_subscription(s), "displayName": n, "state": "Enabled",
                 "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                          "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}
                for s, n in self.subs.items()]

    def _assignments(self):
        return [r for k, r in self.arm.items() if "/providers/microsoft.authorization/roleassignments/" in k]

    def _scope_above(self, assignment_scope, scope):
        """Does an assignment at ``assignment_scope`` apply at ``scope`` (at or above it)?"""
        low = assignment_scope.lower()
        if "/providers/microsoft.management/managementgroups/" in low:
            sub = scope.lower().split("/")[2] if scope.lower().startswith("/subscriptions/") else None
            mgs = [m.lower() for m in self.management_groups.get(sub, [])] if sub else []
            return low.rsplit("/", 1)[-1] in mgs
        return _under(scope, assignment_scope)

    def role_assignments_for(self, scope, odata_filter=None):
        flt = (odata_filter or "").strip()
        principal = None
        if flt.lower().startswith("principalid eq"):
            principal = flt.split("'")[1].lower()
        result = []
        for a in self._assignments():
            a_scope = a["properties"]["scope"]
            above = self._scope_above(a_scope, scope)
            below = _under(a_scope, scope)
            if flt.lower() == "atscope()":
                keep = above
            else:
                keep = above or below
            if keep and (principal is None or a["properties"]["principalId"].lower() == principal):
                result.append(a)
        return result

    def role_definition(self, role_guid, path):
        role_guid = role_guid.lower()
        if role_guid in BUILTIN_ROLES:
            name, desc, perms = BUILTIN_ROLES[role_guid]
            prefix = path.split("/providers/")[0] if path.lower().startswith("/subscriptions/") else ""
            return {"id": "{}/providers/Microsoft.Authorization/roleDefinitions/{}".format(prefix, role_guid),
                    "name": role_guid, "type": "Microsoft.Authorization/roleDefinitions",
                    "properties": {"roleName": name, "type": "BuiltInRole", "description": desc,
                                   "assignableScopes": ["/"], "permissions": copy.deepcopy(perms),
                                   "createdOn": "2018-10-29T17:52:32.5201177Z",
                                   "updatedOn": "2021-11-11T20:13:07.4993029Z", "createdBy": None, "updatedBy": None}}
        for k, r in self.arm.items():
            if k.endswith("/providers/microsoft.authorization/roledefinitions/" + role_guid):
                return r
        return None

    def role_definitions_at(self, scope):
        out = [self.role_definition(g, scope + "/providers/") for g in BUILTIN_ROLES]
        out += [r for k, r in self.arm.items() if "/providers/microsoft.authorization/roledefinitions/" in k]
        return out

    def collection(self, low):
        """Resources listed by a collection URL: resource group or subscription level, or child collections. A key
        is split only when it can be in the listing: ARM lists a registry's children as fast in a tenant of
        thousands of resources as in a tenant of ten, and a listing here stays a prefix scan."""
        found = []
        prefix = low + "/"
        wanted = low.split("/")
        # /subscriptions/S/providers/NS/T lists that type in every resource group of the subscription
        by_type = "/subscriptions/{}/resourcegroups/".format(wanted[2]) if (
            len(wanted) == 6 and wanted[1] == "subscriptions" and wanted[3] == "providers") else None
        for key, res in self.arm.items():
            if key.startswith(prefix):
                if "/" in key[len(prefix):]:
                    continue
            elif by_type is None or not key.startswith(by_type):
                continue
            else:
                parts = key.split("/")
                # /subscriptions/S/resourcegroups/RG/providers/NS/T/name -> /subscriptions/S/providers/NS/T
                if len(parts) != 9 or parts[5] != "providers" or "/".join(parts[:3] + parts[5:8]) != low:
                    continue
            if "/providers/microsoft.authorization/" not in key:
                found.append(res)
        if found:
            return found
        # An empty but well-formed collection (a provider type under an existing group or subscription).
        parts = low.split("/")
        if len(parts) >= 6 and parts[1] == "subscriptions" and "providers" in parts:
            after = len(parts) - parts.index("providers") - 1   # NS/T (2) or NS/T/name/T2 (4) are collections
            return [] if after % 2 == 0 else None
        if len(parts) == 4 and parts[1] == "subscriptions" and parts[3] == "resourcegroups":
            return []
        return None

    def generic_resources(self, subscription, resource_group=None, odata_filter=None):
        """GET .../resources: the generic listing az uses to find a resource by name or type."""
        import re
        conditions = re.findall(r"(resourceType|name)\s+eq\s+'([^']*)'", odata_filter or "", re.IGNORECASE)
        out = []
        for key, res in self.arm.items():
            parts = key.split("/")
            if len(parts) != 9 or parts[2] != subscription.lower() or parts[5] != "providers":
                continue
            if resource_group and parts[4] != resource_group.lower():
                continue
            rtype = "{}/{}".format(parts[6], parts[7])
            if all((rtype if field.lower() == "resourcetype" else parts[8]) == value.lower()
                   for field, value in conditions):
                out.append({k: res.get(k) for k in ("id", "name", "type", "location", "tags", "sku", "kind",
                                                     "identity", "managedBy") if k in res})
        return out

    def registry_for_host(self, host):
        return self.registry_hosts.get(host.lower())

    def cluster_for_host(self, host):
        return self.kube.get(host.lower())

    def hostnames(self):
        return sorted(set(self.registry_hosts) | set(self.kube))

    def kubeconfig_b64(self, cluster):
        fqdn = cluster["properties"]["fqdn"]
        name = cluster["name"]
        rg = cluster["id"].split("/")[4]
        user = "clusterUser_{}_{}".format(rg, name)
        text = "\n".join([
            "apiVersion: v1", "kind: Config", "clusters:", "- cluster:",
            "    certificate-authority-data: " + base64.b64encode(self.ca_pem.encode()).decode(),
            "    server: https://{}:443".format(fqdn), "  name: " + name, "contexts:", "- context:",
            "    cluster: " + name, "    user: " + user, "  name: " + name, "current-context: " + name,
            "preferences: {}", "users:", "- name: " + user, "  user:"] + self._kube_user(cluster, fqdn) + [""])
        return base64.b64encode(text.encode()).decode()

    def _kube_user(self, cluster, fqdn):
        """A token user, or for an Entra ID cluster the exec (kubelogin) user that listClusterUserCredential gives."""
        if not cluster["properties"].get("aadProfile"):
            return ["    token: " + self.kube_tokens.get(fqdn.lower(), "")]
        return ["    exec:", "      apiVersion: client.authentication.k8s.io/v1beta1", "      args:",
                "      - get-token", "      - --environment", "      - AzurePublicCloud", "      - --server-id",
                "      - " + AKS_SERVER_APP, "      - --client-id", "      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a",
                "      - --tenant-id", "      - " + self.tenant_id, "      - --login", "      - devicecode",
                "      command: kubelogin", "      env: null",
                "      installHint: |2", "", "        kubelogin is not installed which is required to connect to AAD "
                "enabled cluster.", "      provideClusterInfo: false"]

    # -- builders -------------------------------------------------------------------------------
    def put(self, resource):
        self.arm[resource["id"].lower()] = resource
        return resource

    def resource_group(self, name, location="eastus", subscription=SUBSCRIPTION, managed_by=None):
        rid = "/subscriptions/{}/resourceGroups/{}".format(subscription, name)
        if rid.lower() not in self.arm:
            self.put({"id": rid, "name": name, "type": "Microsoft.Resources/resourceGroups", "location": location,
                      "managedBy": managed_by, "tags": {}, "properties": {"provisioningState": "Succeeded"}})
        return rid

    def service_principal(self, name, app_id=None, object_id=None, password_end=None, exists=True,
                          secret=None, identifier_uris=(), homepage=None):
        """An app registration and its service principal; ``password_end`` is a list of end datetimes.
        ``identifier_uris`` and ``homepage`` as `az aks create` sets them on the service principal it makes."""
        app_id = app_id or guid("app/" + name)
        object_id = object_id or guid("sp/" + name)
        creds = [{"customKeyIdentifier": None, "displayName": "rbac", "endDateTime": iso(end),
                  "hint": "Xy1", "keyId": guid("key/{}/{}".format(name, i)), "secretText": None,
                  "startDateTime": iso(end - timedelta(days=365))} for i, end in enumerate(password_end or [])]
        if exists:
            self.graph["applications"].append({
                "id": guid("appobj/" + name), "appId": app_id, "displayName": name, "signInAudience": "AzureADMyOrg",
                "identifierUris": list(identifier_uris), "web": {"homePageUrl": homepage, "redirectUris": []},
                "passwordCredentials": creds, "keyCredentials": [], "createdDateTime": iso(self.created)})
            self.graph["servicePrincipals"].append({
                "id": object_id, "appId": app_id, "displayName": name, "appDisplayName": name, "accountEnabled": True,
                "servicePrincipalType": "Application", "appOwnerOrganizationId": self.tenant_id,
                "servicePrincipalNames": list(identifier_uris) + [app_id], "homepage": homepage,
                "alternativeNames": [], "passwordCredentials": [], "keyCredentials": [],
                "tags": ["WindowsAzureActiveDirectoryIntegratedApp"]})
        if secret:
            self.login_apps[app_id] = secret
        return {"appId": app_id, "objectId": object_id, "name": name}

    def user_assigned_identity(self, rg, name, location="eastus", subscription=SUBSCRIPTION):
        rid = ("/subscriptions/{}/resourcegroups/{}/providers/Microsoft.ManagedIdentity/"
               "userAssignedIdentities/{}").format(subscription, rg, name)
        identity = self.put({"id": rid, "name": name, "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                             "location": location, "tags": {},
                             "properties": {"tenantId": self.tenant_id, "principalId": guid("uami-oid/" + rid.lower()),
                                            "clientId": guid("uami-cid/" + rid.lower())}})
        # Every managed identity is also a service principal in Entra ID (servicePrincipalType ManagedIdentity).
        props = identity["properties"]
        self.graph["servicePrincipals"].append({
            "id": props["principalId"], "appId": props["clientId"], "displayName": name, "appDisplayName": None,
            "accountEnabled": True, "servicePrincipalType": "ManagedIdentity", "homepage": None,
            "alternativeNames": ["isExplicit=True", rid],
            "servicePrincipalNames": [props["clientId"], "https://identity.azure.net/" + guid("mi/" + rid)],
            "passwordCredentials": [], "keyCredentials": [], "tags": []})
        return identity

    def recreate_identity(self, resource_id):
        """Delete a user-assigned identity and create it again with the same name: Entra ID gives the new one a new
        principal and client id; whatever recorded the old ones (scale sets, role assignments) keeps them."""
        old = self.arm[resource_id.lower()]
        self.graph["servicePrincipals"] = [sp for sp in self.graph["servicePrincipals"]
                                           if sp["id"] != old["properties"]["principalId"]]
        generation = getattr(self, "identity_generations", {}).get(resource_id.lower(), 0) + 1
        self.identity_generations = dict(getattr(self, "identity_generations", {}), **{resource_id.lower(): generation})
        rid = parse_id_parts(old["id"])
        new = self.user_assigned_identity(rid["rg"], rid["name"], old["location"], rid["sub"])
        props = new["properties"]
        for sp in self.graph["servicePrincipals"]:
            if sp["id"] == props["principalId"]:
                props["principalId"] = sp["id"] = guid("uami-oid/{}/{}".format(resource_id.lower(), generation))
                props["clientId"] = sp["appId"] = guid("uami-cid/{}/{}".format(resource_id.lower(), generation))
        return new

    def delete_identity(self, resource_id):
        old = self.arm.pop(resource_id.lower())
        self.graph["servicePrincipals"] = [sp for sp in self.graph["servicePrincipals"]
                                           if sp["id"] != old["properties"]["principalId"]]

    def cluster(self, name="aks1", rg="rg1", location="eastus", identity="managed", sp=None, pools=None,
                kubernetes_version="1.33.2", subscription=SUBSCRIPTION):
        """An AKS cluster with its node resource group, kubelet identity and one VMSS per pool.

        ``pools`` is a list of dicts: name, osType (Linux), osSKU, vmSize, mode, type, count."""
        self.resource_group(rg, location, subscription)
        node_rg = "MC_{}_{}_{}".format(rg, name, location)
        cluster_id = ("/subscriptions/{}/resourcegroups/{}/providers/Microsoft.ContainerService/"
                      "managedClusters/{}").format(subscription, rg, name)
        self.resource_group(node_rg, location, subscription, managed_by=cluster_id)
        fqdn = "{}-dns-{}.hcp.{}.azmk8s.io".format(name, guid(cluster_id)[:8], location)
        pools = pools or [{"name": "nodepool1"}]
        profiles = []
        for p in pools:
            profiles.append({
                "name": p["name"], "count": p.get("count", 3), "vmSize": p.get("vmSize", "Standard_D4ds_v5"),
                "osDiskSizeGB": 128, "osDiskType": "Ephemeral", "kubeletDiskType": "OS", "maxPods": 250,
                "type": p.get("type", "VirtualMachineScaleSets"), "enableAutoScaling": False,
                "provisioningState": "Succeeded", "powerState": {"code": "Running"},
                "orchestratorVersion": kubernetes_version, "currentOrchestratorVersion": kubernetes_version,
                "enableNodePublicIP": False, "mode": p.get("mode", "System" if not profiles else "User"),
                "osType": p.get("osType", "Linux"),
                "osSKU": p.get("osSKU", "Ubuntu" if p.get("osType", "Linux") == "Linux" else "Windows2022"),
                "nodeImageVersion": "AKSUbuntu-2204gen2containerd-202610.15.0", "enableFIPS": False,
                "vnetSubnetID": p.get("vnetSubnetID"), "nodeLabels": p.get("nodeLabels", {}),
                "nodeTaints": p.get("nodeTaints", []), "upgradeSettings": {"maxSurge": "10%"},
            })
        props = {
            "provisioningState": "Succeeded", "powerState": {"code": "Running"},
            "kubernetesVersion": kubernetes_version, "currentKubernetesVersion": kubernetes_version,
            "dnsPrefix": name + "-dns", "fqdn": fqdn, "azurePortalFQDN": fqdn.replace(".hcp.", ".portal.hcp."),
            "agentPoolProfiles": profiles, "nodeResourceGroup": node_rg, "enableRBAC": True,
            "supportPlan": "KubernetesOfficial", "disableLocalAccounts": False,
            "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay", "networkPolicy": "none",
                               "networkDataplane": "azure", "loadBalancerSku": "standard",
                               "outboundType": "loadBalancer", "podCidr": "10.244.0.0/16",
                               "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10", "ipFamilies": ["IPv4"],
                               "podCidrs": ["10.244.0.0/16"], "serviceCidrs": ["10.0.0.0/16"]},
            "oidcIssuerProfile": {"enabled": False},
        }
        cluster = {"id": cluster_id, "location": location, "name": name,
                   "type": "Microsoft.ContainerService/ManagedClusters", "tags": {},
                   "sku": {"name": "Base", "tier": "Free"}, "properties": props}
        kubelet = None
        if identity == "managed":
            cluster["identity"] = {"type": "SystemAssigned", "principalId": guid("cp/" + cluster_id),
                                   "tenantId": self.tenant_id}
            props["servicePrincipalProfile"] = {"clientId": "msi"}
            kubelet = self.user_assigned_identity(node_rg, name + "-agentpool", location, subscription)
            props["identityProfile"] = {"kubeletidentity": {
                "resourceId": kubelet["id"], "clientId": kubelet["properties"]["clientId"],
                "objectId": kubelet["properties"]["principalId"]}}
        else:
            props["servicePrincipalProfile"] = {"clientId": sp["appId"]}
        self.put(cluster)
        for p in profiles:
            if p["type"] == "VirtualMachineScaleSets":
                self.vmss(node_rg, name, p, kubelet, location, subscription)
        self.kube[fqdn.lower()] = {"cluster": cluster_id, "objects": {}}
        self.kube_tokens[fqdn.lower()] = "sim-kube-token-MARKER-" + guid("kt/" + cluster_id)[:12]
        from .network_builders import cluster_network
        cluster_network(self, cluster)   # the VNet, NSG and load balancer AKS makes in the node resource group
        return cluster

    def vmss(self, node_rg, cluster_name, pool, kubelet, location="eastus", subscription=SUBSCRIPTION):
        name = "aks-{}-{}-vmss".format(pool["name"], guid(cluster_name + node_rg)[:8].translate(
            str.maketrans("abcdef", "123456")))
        rid = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachineScaleSets/{}".format(
            subscription, node_rg, name)
        identity = {"type": "UserAssigned", "userAssignedIdentities": {}}
        if kubelet:
            identity["userAssignedIdentities"][kubelet["id"]] = {
                "principalId": kubelet["properties"]["principalId"], "clientId": kubelet["properties"]["clientId"]}
        windows = pool.get("osType") == "Windows"
        return self.put({
            "id": rid, "name": name, "type": "Microsoft.Compute/virtualMachineScaleSets", "location": location,
            "tags": {"aks-managed-poolName": pool["name"], "aks-managed-orchestrator": "Kubernetes:1.33.2",
                     "aks-managed-createOperationID": guid("op/" + rid), "aks-managed-kubeletIdentityClientID":
                     kubelet["properties"]["clientId"] if kubelet else ""},
            "sku": {"name": pool.get("vmSize", "Standard_D4ds_v5"), "tier": "Standard",
                    "capacity": pool.get("count", 3)},
            "identity": identity,
            "properties": {
                "singlePlacementGroup": False, "orchestrationMode": "Uniform",
                "upgradePolicy": {"mode": "Manual"}, "provisioningState": "Succeeded", "overprovision": False,
                "uniqueId": guid("uid/" + rid), "platformFaultDomainCount": 1,
                "timeCreated": iso(self.created),
                "virtualMachineProfile": {
                    "osProfile": {"computerNamePrefix": name[:-5] if not windows else pool["name"][:6],
                                  "adminUsername": "azureuser"},
                    "storageProfile": {"osDisk": {"osType": "Windows" if windows else "Linux",
                                                  "createOption": "FromImage", "caching": "ReadOnly",
                                                  "diskSizeGB": 128}},
                    "networkProfile": {"networkInterfaceConfigurations": [{
                        "name": name, "properties": {"primary": True, "enableAcceleratedNetworking": True,
                                                     "ipConfigurations": [{"name": "ipconfig1", "properties": {
                                                         "primary": True, "privateIPAddressVersion": "IPv4",
                                                         "subnet": {"id": pool.get("vnetSubnetID") or
                                                                    "/subscriptions/{}/resourceGroups/{}/providers/"
                                                                    "Microsoft.Network/virtualNetworks/aks-vnet-1/"
                                                                    "subnets/aks-subnet".format(subscription,
                                                                                                node_rg)}}}]}}]},
                },
            },
        })

    def registry(self, name="myacr", rg="rg1", location="eastus", sku="Premium", admin=False,
                 role_assignment_mode="LegacyRegistryPermissions", subscription=SUBSCRIPTION, **properties):
        self.resource_group(rg, location, subscription)
        rid = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}".format(
            subscription, rg, name)
        login = "{}.azurecr.io".format(name.lower())
        props = {
            "loginServer": login, "creationDate": iso(self.created), "provisioningState": "Succeeded",
            "adminUserEnabled": admin, "networkRuleSet": {"defaultAction": "Allow", "ipRules": []},
            "policies": {"quarantinePolicy": {"status": "disabled"},
                         "trustPolicy": {"type": "Notary", "status": "disabled"},
                         "retentionPolicy": {"days": 7, "status": "disabled"},
                         "exportPolicy": {"status": "enabled"},
                         "azureADAuthenticationAsArmPolicy": {"status": "enabled"},
                         "softDeletePolicy": {"retentionDays": 7, "status": "disabled"}},
            "encryption": {"status": "disabled"}, "dataEndpointEnabled": False, "dataEndpointHostNames": [],
            "privateEndpointConnections": [], "publicNetworkAccess": "Enabled",
            "networkRuleBypassOptions": "AzureServices", "zoneRedundancy": "Disabled",
            "anonymousPullEnabled": False, "roleAssignmentMode": role_assignment_mode,
        }
        props.update(properties)
        registry = self.put({"id": rid, "name": name, "type": "Microsoft.ContainerRegistry/registries",
                             "location": location, "tags": {}, "sku": {"name": sku, "tier": sku},
                             "systemData": {"createdBy": "ops@contoso.com", "createdByType": "User",
                                            "createdAt": iso(self.created)},
                             "properties": props})
        self.registry_hosts[login] = rid
        self.registry_content.setdefault(login, {"repositories": {}})
        if admin:
            self.admin_credentials[rid.lower()] = {"password": "sim-admin-pw1-MARKER-" + guid("pw1/" + rid)[:10],
                                                   "password2": "sim-admin-pw2-MARKER-" + guid("pw2/" + rid)[:10]}
        return registry

    def assign(self, scope, role, principal_id, principal_type="ServicePrincipal", created=None, condition=None,
               subscription=SUBSCRIPTION):
        """A role assignment of a built-in role (by name) or a role definition id at ``scope``."""
        role_guid = ROLE_IDS.get(role, role.rsplit("/", 1)[-1])
        name = guid("ra/{}/{}/{}".format(scope.lower(), role_guid, principal_id))
        sub = scope.split("/")[2] if scope.lower().startswith("/subscriptions/") else subscription
        created = created or self.created
        props = {"roleDefinitionId": "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}".format(
                     sub, role_guid),
                 "principalId": principal_id, "principalType": principal_type, "scope": scope,
                 "condition": condition, "conditionVersion": "2.0" if condition else None,
                 "createdOn": iso(created), "updatedOn": iso(created), "createdBy": LOGIN_OBJECT_ID,
                 "updatedBy": LOGIN_OBJECT_ID, "delegatedManagedIdentityResourceId": None, "description": None}
        rid = "{}/providers/Microsoft.Authorization/roleAssignments/{}".format(scope.rstrip("/"), name)
        return self.put({"id": rid,
                         "name": name, "type": "Microsoft.Authorization/roleAssignments", "properties": props})

    def custom_role(self, name, actions, not_actions=(), data_actions=(), subscription=SUBSCRIPTION):
        role_guid = guid("role/" + name)
        rid = "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}".format(subscription, role_guid)
        return self.put({"id": rid, "name": role_guid, "type": "Microsoft.Authorization/roleDefinitions",
                         "properties": {"roleName": name, "type": "CustomRole", "description": name,
                                        "assignableScopes": ["/subscriptions/" + subscription],
                                        "permissions": [{"actions": list(actions), "notActions": list(not_actions),
                                                         "dataActions": list(data_actions), "notDataActions": []}],
                                        "createdOn": iso(self.created), "updatedOn": iso(self.created)}})

    def add_to_group(self, group, member_id, at=None):
        """Add a member to an Entra group, as `az ad group member add` does: Entra records 'Add member to group' in
        its audit log at that time (the member is a target with Group.ObjectID and Group.DisplayName among its
        modified properties, the group another target). ``at`` defaults to long before the audit log's 30 days."""
        at = at or self.created - timedelta(days=200)
        group["members"].append(member_id)
        kind = next((k for k in ("servicePrincipals", "users", "groups") for o in self.graph.get(k) or []
                     if o["id"].lower() == member_id.lower()), "servicePrincipals")
        member = next((o for o in self.graph.get(kind) or [] if o["id"].lower() == member_id.lower()), {})
        types = {"servicePrincipals": "ServicePrincipal", "users": "User", "groups": "Group"}
        self.graph.setdefault("directoryAudits", []).append({
            "id": "Directory_" + guid("audit/{}/{}/{}".format(group["id"], member_id, iso(at))),
            "category": "GroupManagement", "correlationId": guid("corr/{}/{}".format(group["id"], member_id)),
            "result": "success", "resultReason": "", "activityDisplayName": "Add member to group",
            "activityDateTime": iso(at), "loggedByService": "Core Directory", "operationType": "Assign",
            "initiatedBy": {"user": None, "app": {"appId": LOGIN_APP_ID, "displayName": "ops-automation",
                                                  "servicePrincipalId": LOGIN_OBJECT_ID,
                                                  "servicePrincipalName": None}},
            "targetResources": [
                {"id": member_id, "displayName": member.get("displayName"), "type": types[kind],
                 "userPrincipalName": member.get("userPrincipalName"), "groupType": None, "modifiedProperties": [
                     {"displayName": "Group.ObjectID", "oldValue": None, "newValue": '"{}"'.format(group["id"])},
                     {"displayName": "Group.DisplayName", "oldValue": None,
                      "newValue": '"{}"'.format(group["displayName"])}]},
                {"id": group["id"], "displayName": None, "type": "Group", "userPrincipalName": None,
                 "groupType": "azureAD", "modifiedProperties": []}],
            "additionalDetails": []})

    def kube_object(self, cluster, obj):
        """Store a Kubernetes object in the cluster's API server, served at its API path."""
        from .kube import object_path
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default") if obj["kind"] not in ("Node", "Namespace") else None
        meta.setdefault("uid", guid("k8s/{}/{}/{}".format(obj["kind"], meta.get("namespace"), meta["name"])))
        meta.setdefault("creationTimestamp", "2026-11-20T08:00:00Z")
        meta.setdefault("resourceVersion", "1")
        host = cluster["properties"]["fqdn"].lower()
        self.kube[host]["objects"][object_path(obj)] = obj
        return obj

    # -- (de)serialisation: a world is also a scenario file ---------------------------------------
    def to_json(self):
        data = {k: v for k, v in self.__dict__.items() if k not in ("post_handlers", "created")}
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        world = cls()
        world.__dict__.update(json.loads(text))
        return world
