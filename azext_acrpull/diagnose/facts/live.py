"""Facts for one cluster, read live through az's own clients (ARM, Graph)."""
import threading

from knack.log import get_logger

from ..ids import parse_resource_id
from .base import FactError, Facts
from .kube import KubeFacts

logger = get_logger(__name__)

ACR_PROVIDER = "/providers/microsoft.containerregistry/registries/"


def rest(model):
    """SDK model -> the REST JSON shape (camelCase), the one shape checks and bulk reads share."""
    if model is None or isinstance(model, dict):
        return model
    if hasattr(model, "serialize"):
        return model.serialize(keep_readonly=True)
    return model.as_dict()


def explain(err, what, permission=None):
    """Turn an SDK/HTTP error into a FactError whose reason says what to do."""
    status = getattr(err, "status_code", None)
    message = getattr(err, "message", None) or str(err)
    message = message.splitlines()[0] if message else type(err).__name__
    if status == 403:
        need = " (needs {})".format(permission) if permission else ""
        reason = "the signed-in account may not read {}{}: {}".format(what, need, message)
    elif status == 404:
        reason = "{} was not found: {}".format(what, message)
    elif status:
        reason = "reading {} failed with HTTP {}: {}".format(what, status, message)
    else:
        reason = "reading {} failed: {}".format(what, message)
    return FactError(reason, status)


class LiveFacts(KubeFacts, Facts):
    """Reads each fact from Azure the first time a check asks for it."""

    def __init__(self, cli_ctx, request, max_workers=8):
        super().__init__(request, max_workers)
        self.cli_ctx = cli_ctx
        self._clients = {}
        self._client_lock = threading.Lock()

    def _client(self, factory, subscription_id=None):
        from azure.cli.core.commands.client_factory import get_subscription_id
        sub = subscription_id or get_subscription_id(self.cli_ctx)
        key = (factory.__name__, sub.lower())
        with self._client_lock:
            if key not in self._clients:
                self._clients[key] = factory(self.cli_ctx, subscription_id=sub)
            return self._clients[key]

    def _read(self, what, permission, call):
        from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
        try:
            return call()
        except HttpResponseError as err:
            raise explain(err, what, permission) from None
        except (ServiceRequestError, ServiceResponseError) as err:
            raise FactError("could not reach Azure while reading {}: {}".format(what, err)) from None

    # -- cluster --------------------------------------------------------------------------------
    def cluster(self):
        return self.once("cluster", self._get_cluster)

    def _get_cluster(self):
        from ..._client_factory import cf_container_service
        rg, name = self.request.resource_group, self.request.name
        client = self._client(cf_container_service)
        return rest(self._read("cluster {}/{}".format(rg, name), "Microsoft.ContainerService/managedClusters/read",
                               lambda: client.managed_clusters.get(rg, name)))

    def node_vmss(self):
        return self.once("node_vmss", self._list_node_vmss)

    def _list_node_vmss(self):
        from ..._client_factory import cf_compute
        node_rg = self.node_resource_group()
        if not node_rg:
            raise FactError("the cluster reports no node resource group")
        client = self._client(cf_compute, self.cluster_subscription())
        return [rest(v) for v in self._read(
            "the scale sets in node resource group {}".format(node_rg),
            "Microsoft.Compute/virtualMachineScaleSets/read",
            lambda: list(client.virtual_machine_scale_sets.list(node_rg)))]

    # -- registries -----------------------------------------------------------------------------
    def registries_in_subscription(self, subscription_id=None):
        from azure.cli.core.commands.client_factory import get_subscription_id
        sub = subscription_id or get_subscription_id(self.cli_ctx)
        return self.once(("registries", sub.lower()), lambda: self._list_registries(sub))

    def _list_registries(self, sub):
        from ..._client_factory import cf_container_registry
        client = self._client(cf_container_registry, sub)
        return [rest(r) for r in self._read("the registries of subscription {}".format(sub),
                                            "Microsoft.ContainerRegistry/registries/read",
                                            lambda: list(client.registries.list()))]

    def registry_by_id(self, registry_id):
        rid = parse_resource_id(registry_id)
        return self.once(("registry", registry_id.lower()), lambda: self._get_registry(rid))

    def _get_registry(self, rid):
        from azure.core.exceptions import ResourceNotFoundError

        from ..._client_factory import cf_container_registry
        client = self._client(cf_container_registry, rid.subscription)
        try:
            return rest(self._read("registry {}".format(rid.name), "Microsoft.ContainerRegistry/registries/read",
                                   lambda: client.registries.get(rid.resource_group, rid.name)))
        except FactError as err:
            if err.status_code == 404:
                return None
            raise
        except ResourceNotFoundError:
            return None

    def registry_by_name(self, name):
        """The registry of this name in the current subscription, or None."""
        for registry in self.registries_in_subscription():
            if registry.get("name", "").lower() == name.lower():
                self.prime(("registry", registry["id"].lower()), registry)
                return registry
        return None

    def registry_lookups(self):
        return self.once("registry_lookups", self._registry_lookups)

    def _registry_lookups(self):
        """Which registries this run is about, and whether each exists.

        In order: --acr; the ACR hosts of --image/--pod images; the registries on which the
        pull identity holds a role (an engineer asking 'why can't my cluster pull' rarely knows
        the registry's resource id)."""
        spec = self.request.registry
        if spec is not None:
            return [self._lookup(spec)]
        hosts = self.request.registry_names_from_images()
        if hosts:
            return [self._lookup(("name", n)) for n in hosts]
        identity = self.pull_identity()
        if not identity.get("objectId"):
            return []
        seen, found = set(), []
        for assignment in self.principal_role_assignments(identity["objectId"]):
            scope = assignment.get("properties", {}).get("scope", "")
            if ACR_PROVIDER in scope.lower() and scope.lower() not in seen:
                seen.add(scope.lower())
                found.append(self._lookup(("id", scope)))
        return found

    def _lookup(self, spec):
        kind, value = spec
        if kind == "id":
            registry = self.registry_by_id(value)
            name = parse_resource_id(value).name
        else:
            registry, name = self.registry_by_name(value), value
        return {"name": name, "given": value, "registry": registry}

    def registries(self):
        return [lk["registry"] for lk in self.registry_lookups() if lk["registry"]]

    # -- roles ----------------------------------------------------------------------------------
    def role_assignments(self, scope):
        return self.once(("role_assignments", scope.lower()), lambda: self._list_assignments(scope))

    def _list_assignments(self, scope):
        from ..._client_factory import cf_authorization
        rid = parse_resource_id(scope)
        client = self._client(cf_authorization, rid.subscription if rid else None)
        return [rest(a) for a in self._read("role assignments on {}".format(scope),
                                            "Microsoft.Authorization/roleAssignments/read",
                                            lambda: list(client.role_assignments.list_for_scope(scope)))]

    def principal_role_assignments(self, object_id):
        return self.once(("principal_assignments", object_id), lambda: self._list_principal(object_id))

    def _list_principal(self, object_id):
        from ..._client_factory import cf_authorization
        client = self._client(cf_authorization)
        return [rest(a) for a in self._read(
            "role assignments of principal {}".format(object_id), "Microsoft.Authorization/roleAssignments/read",
            lambda: list(client.role_assignments.list_for_subscription(
                filter="principalId eq '{}'".format(object_id))))]

    def role_definition(self, role_definition_id):
        key = ("role_definition", role_definition_id.rsplit("/", 1)[-1].lower())
        return self.once(key, lambda: self._get_definition(role_definition_id))

    def _get_definition(self, role_definition_id):
        from ..._client_factory import cf_authorization
        rid = role_definition_id.split("/")
        sub = rid[2] if len(rid) > 2 and rid[1].lower() == "subscriptions" else None
        client = self._client(cf_authorization, sub)
        return rest(self._read("role definition {}".format(role_definition_id),
                               "Microsoft.Authorization/roleDefinitions/read",
                               lambda: client.role_definitions.get_by_id(role_definition_id)))

    # -- Microsoft Graph ------------------------------------------------------------------------
    def service_principal(self, app_id):
        return self.once(("service_principal", app_id.lower()), lambda: self._get_sp(app_id))

    def _get_sp(self, app_id):
        from ..._client_factory import cf_graph
        try:
            found = cf_graph(self.cli_ctx).service_principal_list(filter="appId eq '{}'".format(app_id))
        except Exception as err:  # pylint: disable=broad-except
            status = getattr(getattr(err, "response", None), "status_code", None)
            raise explain(_GraphError(err, status), "service principal {} in Microsoft Graph".format(app_id),
                          "Application.Read.All or Directory.Read.All") from None
        return found[0] if found else None


class _GraphError(Exception):
    def __init__(self, err, status):
        super().__init__(str(err))
        self.status_code = status
        self.message = str(err)
