"""Facts for one cluster, read live through az's own clients (ARM, Graph)."""
from knack.log import get_logger

from ..ids import parse_resource_id
from .arm import (
    CLUSTER_API,
    IDENTITY_API,
    REGISTRY_API,
    ROLE_ASSIGNMENTS_API,
    ROLE_DEFINITIONS_API,
    SUBSCRIPTIONS_API,
    VMSS_API,
    ArmFacts,
)
from .base import FactError, Facts, foreign_tenant
from .cache import CacheFacts
from .credentials import CredentialFacts
from .graph import GraphFacts
from .images import ImageFacts
from .kube import KubeFacts
from .network import NetworkFacts
from .network_ahead import NetworkAhead
from .reachability import ReachabilityFacts
from .registry_data import RegistryDataFacts
from .runcommand import RunCommandFacts
from .sdk import explain, rest
from .transport import CONNECT_TIMEOUT, READ_TIMEOUT, BoundedHttp, TokenGuard, first_line, sdk_client_kwargs

logger = get_logger(__name__)


class LiveFacts(KubeFacts, GraphFacts, CredentialFacts, NetworkAhead, NetworkFacts, CacheFacts, ReachabilityFacts,
                RunCommandFacts, ImageFacts, RegistryDataFacts, ArmFacts, Facts):
    """Reads each fact from Azure the first time a check asks for it."""

    def __init__(self, cli_ctx, request, max_workers=8):
        super().__init__(request, max_workers)
        self.cli_ctx = cli_ctx
        self._tokens = TokenGuard(self.deadline, self.reading)
        self.http = BoundedHttp(self.deadline)   # plain HTTPS (registry data plane) with the run's bounds
        self._groups_read_by_app = None          # see read_ahead and GraphFacts.member_groups

    def read_ahead(self, check_ids):
        """Start the reads that ``acr-role-assignment`` nearly always makes as soon as their ids are known, instead
        of one round trip later when it finds it needs them: the pull identity's group memberships (wanted when a
        group holds a role at the registry) beside the registry's role assignments, and the pull role's definition
        (AcrPull; Container Registry Repository Reader on an ABAC registry) beside them; and
        ``sp-credential-expiry``'s app registration beside the service principal's look-up. Each is the same read
        the check makes (``once``): it only moves it earlier, and its error is reported only where a check uses
        it. Other checks declare these facts too but read them only in some cases: they do not start them. With a
        registry named at the start, the reads that follow the role assignments start beside them too
        (``_read_by_role_hint``); the network checks' reads are started by ``read_network_ahead`` (network_ahead.py).
        Called in the background by the commands that diagnose one cluster."""
        from ..roles import ABAC_MODE, ACR_PULL_ROLE_ID, REPOSITORY_READER_ROLE_ID
        self.read_network_ahead(check_ids)
        if "registry-health" in check_ids:
            # Its token exchange needs az's token for the registry audience: with an expired one, ask for it now,
            # while the first reads are in flight, not once the registry is known (registry_data.py reads it then,
            # through the same guard and az's token cache).
            from .registry_data import acr_audience
            self.prefetch(lambda: self._warm_token(acr_audience(self.cli_ctx)))
        roles = "acr-role-assignment" in check_ids
        holders = "sp-role-principal" in check_ids
        if (roles or holders) and self.request.registry is not None:
            self.prefetch(lambda: self._read_by_role_hint(holders))
        if roles or holders or "sp-credential-expiry" in check_ids:
            # az's Graph client (its module's import, its token) while the first reads are in flight, not after them.
            self.prefetch(self.graph_client)
        try:
            cluster = self.cluster()
        except FactError:
            return
        props = cluster.get("properties") or {}
        kubelet = (props.get("identityProfile") or {}).get("kubeletidentity") or {}
        app_id = (props.get("servicePrincipalProfile") or {}).get("clientId")
        if kubelet.get("objectId") and roles:
            self.prefetch(lambda: self.member_groups(kubelet["objectId"]))
        elif app_id and app_id.lower() != "msi":
            if roles:
                self._groups_read_by_app = app_id
                self.prefetch(lambda: self.member_groups_of_app(app_id))
            if "sp-credential-expiry" in check_ids:
                self.prefetch(lambda: self.application(app_id))
        if not roles:
            return
        try:
            registries = self.registries()
        except FactError:
            return
        for registry in registries:
            rid = parse_resource_id(registry.get("id"))
            if rid and rid.subscription:
                abac = (registry.get("properties") or {}).get("roleAssignmentMode") == ABAC_MODE
                role = REPOSITORY_READER_ROLE_ID if abac else ACR_PULL_ROLE_ID
                self.prefetch(lambda s=rid.subscription, r=role: self.role_definition(
                    "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}".format(s, r)))

    def _read_by_role_hint(self, holders):
        """Start the role definitions and directory objects the checks of cause 1 will read once the registry's role
        assignments are listed, without waiting for that list: a Resource Graph query sent at the start (it needs
        only the registry's name) says which assignments can apply, and ``role_reads`` (the checks' own decisions)
        what they will lead the checks to read. Only a hint: ARM's list decides every verdict, a read started here is
        the same ``once`` read a check would make, and when Resource Graph fails or lags nothing changes but time.
        ``holders``: sp-role-principal is selected (it reads the other holders of the registry's roles)."""
        from ..common.pull import role_reads
        try:
            rows = self._role_hint_rows()
            identity = self.pull_identity()
            registries = self.registries()
        except FactError as err:
            logger.debug("no role hint: %s", err.reason)
            return
        for registry in registries:
            low = (registry.get("id") or "").lower().rstrip("/")
            applying = [r for r in rows if _scope_applies(r["properties"]["scope"], low)]
            definitions, objects = role_reads(applying, identity.get("objectId"), registry, holders)
            logger.debug("role hint for %s: %d role definition(s), %s directory object(s) read early",
                         registry.get("name"), len(definitions), len(objects) if objects else 0)
            if definitions:
                self.prefetch(lambda d=definitions: self.parallel(self.role_definition, d))
            if objects:
                self.prefetch(lambda o=objects: self.directory_objects(o))

    def _role_hint_rows(self):
        """The role assignments Resource Graph shows at the named registry and at every scope above it in its
        subscription, shaped as ARM lists them; one attempt, no retries (it is only a hint)."""
        return self.once("role_hint", self._query_role_hint)

    def _query_role_hint(self):
        from azure.cli.core.commands.client_factory import get_subscription_id

        kind, value = self.request.registry
        rid = parse_resource_id(value) if kind == "id" else None
        name = (rid.name if rid else value).lower()
        if not name.isalnum():   # registry names are letters and digits: nothing else goes into the query
            raise FactError("not a registry name: {}".format(name))
        sub = rid.subscription if rid else get_subscription_id(self.cli_ctx)
        # The ARM token the reads share, through their guard: an expired one is not asked for twice, nor one that
        # Entra ID would not issue. Not marked as a read in flight (``reading``): no check waits for it.
        self._warm_token()
        rows = self.resource_graph().query(
            ROLE_HINT_QUERY.format(name=name), [sub], authorization_scope="AtScopeAboveAndBelow",
            what="the role assignments at registry {}".format(name))
        return [{"id": r.get("id"), "properties": {k: r.get(k) or "" for k in (
            "scope", "principalId", "principalType", "roleDefinitionId")}} for r in rows if r.get("roleDefinitionId")]

    def _client(self, factory, subscription_id=None):
        """One SDK client per kind and subscription for the run. Each has its own lock (``once``), so a
        thread whose client exists never waits while another imports an SDK for its first client. The token
        comes after the client, so that one thread's token request overlaps another's SDK import."""
        from azure.cli.core.commands.client_factory import get_subscription_id
        sub = subscription_id or get_subscription_id(self.cli_ctx)
        client = self.once(("client", factory.__name__, sub.lower()),
                           lambda: factory(self.cli_ctx, subscription_id=sub, **self._bounds(factory, sub)))
        self._warm_token()
        return client

    def _bounds(self, factory, subscription_id):
        """The run's retry policy, timeouts and guarded credential, for a factory that passes kwargs on."""
        import inspect

        from azure.cli.core._profile import Profile
        from azure.cli.core.azclierror import CLIError
        if not any(p.kind == p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values()):
            logger.debug("client factory %s takes no kwargs: its client is not bounded", factory.__name__)
            return {}
        profile = Profile(cli_ctx=self.cli_ctx)
        try:
            credential, _, _ = profile.get_login_credentials(subscription_id=subscription_id)
        except CLIError:
            # A subscription az's account list does not know (not refreshed since it was created or shared): the
            # signed-in account's token for its tenant may still read it, and ARM says whether it can.
            try:
                credential, _, _ = profile.get_login_credentials()
            except CLIError as err:
                raise FactError("the signed-in account cannot use subscription {} ({})".format(
                    subscription_id, first_line(err))) from None
        return dict(sdk_client_kwargs(self.deadline), credential=self._tokens.credential(credential))

    def resource_graph(self):
        """One Resource Graph client for the run's hints (the role assignments', the private path's): az's login
        through the run's token guard, its deadline, one quota; a query is sent once, as a hint is worth its answer
        only at once."""
        def make():
            from .resourcegraph import AzureRest, ResourceGraph
            return ResourceGraph(AzureRest(self.cli_ctx, self.deadline, self._tokens), tries=1)
        # ARM's token is fetched once for the whole run (_warm_token): with an expired one, the hints' first query
        # waits for that fetch instead of asking Entra ID beside it. Where sign-ins go one at a time (the token cache
        # could not be shared, TokenGuard.share_token_cache), it waits for Graph's too, started with it, so that it
        # does not read az's token cache while that fetch writes it (a read then can miss ARM's token and ask again).
        self._warm_token()
        if not self._tokens.concurrent:
            self.warm_graph_token()
        return self.once("resource_graph", make)

    def graph_client(self):
        """az's Graph client for this run, bounded like every other client (see transport.py)."""
        from ..._client_factory import cf_graph
        # Every Graph read (service principals, applications, directory objects, group memberships) waits for one
        # token fetch, so concurrent first reads with an expired token do not each ask Entra ID.
        self._warm_token(self.cli_ctx.cloud.endpoints.microsoft_graph_resource_id)
        return self.once("graph_client", lambda: cf_graph(self.cli_ctx, deadline=self.deadline, tokens=self._tokens))

    def warm_arm_token(self):
        """ARM's token, before any read starts on a thread of its own. az loads its token cache once per process, in
        the first sign-in object (azure.cli.core.auth.identity: check, then set), so sign-ins made at once on several
        threads each load a cache of their own and can miss the tokens the others just fetched (and ask Entra ID
        again). Loaded here first, the cache is the one every thread uses. With ARM's token cached it sends nothing;
        every read waits for that token anyway. Then the cache is shared safely, and the other sign-ins may run at
        once (TokenGuard.share_token_cache)."""
        self._warm_token()
        if not self._tokens.share_token_cache():
            logger.debug("az's token cache is not of the known shape: one sign-in at a time")

    def warm_graph_token(self):
        """Graph's token, asked for beside ARM's at the start of a run: the group memberships, service principals and
        directory objects are read a few round trips later, and with expired tokens they would otherwise wait for
        Entra ID once more. With a token cached this sends nothing."""
        self._warm_token(self.cli_ctx.cloud.endpoints.microsoft_graph_resource_id)

    def _warm_token(self, resource=None):
        """Get az's access token for ``resource`` (ARM by default) once, before concurrent reads need it.

        Every SDK client has its own credential over az's shared token cache: when the cached token has
        expired, reads started at once would each ask Entra ID for the same token. The first caller fetches
        it; the others wait for it here and then find it in the cache."""
        def fetch():
            # The signed-in account's own tenant, as the clients' credentials use it: asking for the token of a
            # --subscription that az does not know would fail here for a reason the reads do not share.
            try:
                arm = self.cli_ctx.cloud.endpoints.active_directory_resource_id
                self._tokens.raw_token(self.cli_ctx, resource or arm)
            except FactError:   # remembered by the guard: the read itself says why, without asking again
                logger.debug("no token ahead of the first read; the read itself will say why", exc_info=True)
            return True
        self.once(("token", resource), fetch)

    def _read(self, what, permission, call):
        """Run an SDK call; every way it can fail becomes a FactError whose reason says what to do."""
        from json import JSONDecodeError

        from azure.core.exceptions import (
            DecodeError,
            DeserializationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceRequestTimeoutError,
            ServiceResponseError,
            ServiceResponseTimeoutError,
        )
        from azure.core.polling.base_polling import BadResponse, BadStatus
        with self.reading(what):
            try:
                return call()
            except FactError:
                raise
            except (DecodeError, DeserializationError, JSONDecodeError):   # the LRO poller parses JSON itself
                raise FactError("Azure returned an unreadable answer (not valid JSON) for {}".format(what),
                                fault=True) from None
            except (BadResponse, BadStatus) as err:   # a long-running operation's answers made no sense
                raise FactError("Azure returned an unusable answer for {} ({})".format(what, first_line(err)),
                                fault=True) from None
            except HttpResponseError as err:
                raise explain(err, what, permission) from None
            except (ServiceRequestError, ServiceResponseError) as err:
                if self.deadline.expired:
                    raise FactError("timed out reading {}: it did not arrive {}".format(
                        what, self.deadline.words()), fault=True) from None
                if isinstance(err, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
                    raise FactError("timed out reading {}: Azure did not answer within {:g} s".format(
                        what, CONNECT_TIMEOUT if isinstance(err, ServiceRequestTimeoutError) else READ_TIMEOUT),
                        fault=True) from None
                raise FactError("could not reach Azure while reading {}: {}".format(what, first_line(err)),
                                fault=True) from None

    # -- cluster --------------------------------------------------------------------------------
    def cluster(self):
        return self.once("cluster", self._get_cluster)

    def _get_cluster(self):
        rg, name = self.request.resource_group, self.request.name
        return self._read("cluster {}/{}".format(rg, name), "Microsoft.ContainerService/managedClusters/read",
                          lambda: self.arm_get(self.cluster_path(), CLUSTER_API))   # plain GET: see arm.py

    def cluster_path(self):
        from azure.cli.core.commands.client_factory import get_subscription_id
        return "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}".format(
            get_subscription_id(self.cli_ctx), self.request.resource_group, self.request.name)

    def clusters_in_subscription(self, subscription_id):
        return self.once(("clusters", subscription_id.lower()), lambda: self._list_clusters(subscription_id))

    def _list_clusters(self, sub):
        from ..._client_factory import cf_container_service
        client = self._client(cf_container_service, sub)
        return [rest(c) for c in self._read("the AKS clusters of subscription {}".format(sub),
                                            "Microsoft.ContainerService/managedClusters/read",
                                            lambda: list(client.managed_clusters.list()))]

    def node_vmss(self):
        return self.once("node_vmss", self._list_node_vmss)

    def _list_node_vmss(self):
        node_rg = self.node_resource_group()
        if not node_rg:
            raise FactError("the cluster reports no node resource group")
        sub = self.cluster_subscription()
        return self._read("the scale sets in node resource group {}".format(node_rg),   # plain GET: see arm.py
                          "Microsoft.Compute/virtualMachineScaleSets/read",
                          lambda: self.arm_list("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/"
                                                "virtualMachineScaleSets".format(sub, node_rg), VMSS_API, sub))

    def user_assigned_identity(self, resource_id):
        """A user-assigned managed identity's resource (its principalId and clientId), or None when it is gone."""
        return self.once(("user_assigned_identity", resource_id.lower()), lambda: self._get_identity(resource_id))

    def _get_identity(self, resource_id):
        rid = parse_resource_id(resource_id)
        try:   # plain GET: see arm.py
            return self._read("managed identity {}".format(rid.name),
                              "Microsoft.ManagedIdentity/userAssignedIdentities/read",
                              lambda: self.arm_get(rid.id, IDENTITY_API, rid.subscription))
        except FactError as err:
            if err.status_code == 404 and (err.code or "").lower() in ("resourcenotfound", "resourcegroupnotfound",
                                                                       "notfound"):
                return None
            raise

    def subscription_tenant(self, subscription_id):
        """The Entra tenant a subscription belongs to: its tenantId, or the tenant ARM names when it refuses the
        signed-in account's token for it (InvalidAuthenticationTokenTenant)."""
        return self.once(("subscription_tenant", subscription_id.lower()),
                         lambda: self._subscription_tenant(subscription_id))

    def _subscription_tenant(self, sub):
        try:
            found = self._read("subscription {}".format(sub), "Microsoft.Resources/subscriptions/read",
                               lambda: self.arm_get("/subscriptions/{}".format(sub), SUBSCRIPTIONS_API, sub))
        except FactError as err:
            tenants = foreign_tenant(err)
            if tenants:
                return tenants[1]
            raise
        return (found.get("tenantId") or "").lower() or None

    # -- registries -----------------------------------------------------------------------------
    def registries_in_subscription(self, subscription_id=None):
        from azure.cli.core.commands.client_factory import get_subscription_id
        sub = subscription_id or get_subscription_id(self.cli_ctx)
        return self.once(("registries", sub.lower()), lambda: self._list_registries(sub))

    def _list_registries(self, sub):
        return self._read("the registries of subscription {}".format(sub),   # plain GET: see arm.py
                          "Microsoft.ContainerRegistry/registries/read",
                          lambda: self.arm_list("/subscriptions/{}/providers/Microsoft.ContainerRegistry/"
                                                "registries".format(sub), REGISTRY_API, sub))

    def registry_by_id(self, registry_id):
        rid = parse_resource_id(registry_id)
        return self.once(("registry", registry_id.lower()), lambda: self._get_registry(rid))

    def _get_registry(self, rid):
        from azure.core.exceptions import ResourceNotFoundError

        try:   # a subscription the account cannot use is a 404 too (see _bounds); plain GET: see arm.py
            return self._read("registry {}".format(rid.name), "Microsoft.ContainerRegistry/registries/read",
                              lambda: self.arm_get(rid.id, REGISTRY_API, rid.subscription))
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

    # -- roles ----------------------------------------------------------------------------------
    def role_assignments(self, scope):
        return self.once(("role_assignments", scope.lower()), lambda: self._list_assignments(scope))

    def _list_assignments(self, scope):
        rid = parse_resource_id(scope)
        sub = rid.subscription if rid else None
        return self._read("role assignments on {}".format(scope),   # plain GET: see arm.py
                          "Microsoft.Authorization/roleAssignments/read",
                          lambda: self.arm_list("/" + scope.strip("/") + "/providers/Microsoft.Authorization/"
                                                "roleAssignments", ROLE_ASSIGNMENTS_API, sub))

    def principal_role_assignments(self, object_id):
        return self.once(("principal_assignments", object_id), lambda: self._list_principal(object_id))

    def _list_principal(self, object_id):
        from azure.cli.core.commands.client_factory import get_subscription_id
        sub = get_subscription_id(self.cli_ctx)
        return self._read(   # plain GET: see arm.py
            "role assignments of principal {}".format(object_id), "Microsoft.Authorization/roleAssignments/read",
            lambda: self.arm_list("/subscriptions/{}/providers/Microsoft.Authorization/roleAssignments".format(sub),
                                  ROLE_ASSIGNMENTS_API, sub, **{"$filter": "principalId eq '{}'".format(object_id)}))

    def role_definition(self, role_definition_id):
        key = ("role_definition", role_definition_id.rsplit("/", 1)[-1].lower())
        return self.once(key, lambda: self._get_definition(role_definition_id))

    def _get_definition(self, role_definition_id):
        rid = role_definition_id.split("/")
        sub = rid[2] if len(rid) > 2 and rid[1].lower() == "subscriptions" else None
        return self._read("role definition {}".format(role_definition_id),   # plain GET: see arm.py
                          "Microsoft.Authorization/roleDefinitions/read",
                          lambda: self.arm_get("/" + role_definition_id.strip("/"), ROLE_DEFINITIONS_API, sub))

    # -- Microsoft Graph ------------------------------------------------------------------------
    def service_principal(self, app_id):
        return self.once(("service_principal", app_id.lower()), lambda: self._get_sp(app_id))

    def _get_sp(self, app_id):
        self._warm_token(self.cli_ctx.cloud.endpoints.microsoft_graph_resource_id)
        what = "service principal {} in Microsoft Graph".format(app_id)
        with self.reading(what):
            try:
                found = self.graph_client().service_principal_list(filter="appId eq '{}'".format(app_id))
            except FactError:
                raise
            except Exception as err:  # pylint: disable=broad-except
                status = getattr(getattr(err, "response", None), "status_code", None)
                raise explain(_GraphError(err, status), what, "Application.Read.All or Directory.Read.All") from None
        return found[0] if found else None


# The role assignments that can apply to a registry named {name} (names are unique across Azure): at the root,
# management groups and the subscription's scopes that hold no provider's resource, and at the registry or below.
ROLE_HINT_QUERY = (
    "authorizationresources\n| where type =~ 'microsoft.authorization/roleassignments'\n"
    "| extend scope = tolower(tostring(properties.scope))\n"
    "| where scope !contains '/providers/' or scope startswith '/providers/microsoft.management/managementgroups/' "
    "or scope endswith '/providers/microsoft.containerregistry/registries/{name}' "
    "or scope contains '/providers/microsoft.containerregistry/registries/{name}/'\n"
    "| project id, scope, principalId = tostring(properties.principalId), "
    "principalType = tostring(properties.principalType), roleDefinitionId = tostring(properties.roleDefinitionId)\n"
    "| order by id asc")


def _scope_applies(scope, registry_id):
    """Whether an assignment at ``scope`` is in ARM's list at the registry (lower-case id): at the root, a management
    group (Resource Graph shows only those above the subscription), a scope that holds the registry, or below it."""
    low = (scope or "").lower().rstrip("/")
    return not low or low.startswith("/providers/microsoft.management/managementgroups/") or \
        registry_id == low or registry_id.startswith(low + "/") or low.startswith(registry_id + "/")


class _GraphError(Exception):
    def __init__(self, err, status):
        super().__init__(str(err))
        self.status_code = status
        self.message = str(err)
