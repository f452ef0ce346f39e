"""The facts contract: every fact a check may ask for, declared once, with what it returns.

Checks judge; readers gather. A reader (``LiveFacts`` for one cluster, ``FleetFacts`` for a fleet's bulk data) is a
``FactsContract`` and overrides the facts it can read. A fact it does not override raises ``FactUnavailable``: the
runner turns that into a ``Skipped`` finding with the reason, never a ``Pass``, and ``fleet`` runs only the checks
whose declared facts its reader provides (``provided_by``). A fact the reader provides but could not read this time
raises ``FactError`` (facts/base.py) instead: the check says ``Error`` and why.

Dicts are the services' REST JSON (ARM, Microsoft Graph, Kubernetes core v1) unless a docstring says otherwise.
This module imports nothing of the project.
"""
import functools
from typing import Any, Optional

Json = dict
Ids = list


class FactUnavailable(Exception):
    """This reader does not read ``fact`` at all (a fleet scan reads no Kubernetes API): not a failure of the read,
    and never a verdict. The runner reports the check as ``Skipped`` with ``reason``."""

    def __init__(self, fact, reason):
        super().__init__("{}: {}".format(fact, reason))
        self.fact = fact
        self.reason = reason


def fact(func):
    """Declare a fact of the contract: its signature and docstring say what a reader returns. A reader that does not
    override it cannot provide it."""
    @functools.wraps(func)
    def unavailable(self, *args, **kwargs):
        raise FactUnavailable(func.__name__, self.unavailable_reason(func.__name__))
    unavailable.contract_fact = True
    return unavailable


class FactsContract:
    """Every fact a check may ask for. ``request`` (the validated DiagnoseRequest), ``cluster_name`` and
    ``cluster_resource_group`` are the run's own; the reader's services (``once``, ``shared_once``, ``parallel``,
    ``prefetch``, ``deadline``) are ``Facts``'."""

    def unavailable_reason(self, name):
        """Why this reader cannot provide ``name``: the words of the Skipped finding of a check that needs it."""
        return "this reader does not read {}".format(name)

    # -- the cluster (ARM) --------------------------------------------------------------------------
    @fact
    def cluster(self) -> Json:
        """The managed cluster resource."""

    @fact
    def cluster_subscription(self) -> Optional[str]:
        """The subscription id of the cluster."""

    @fact
    def node_resource_group(self) -> Optional[str]:
        """The cluster's node resource group name."""

    @fact
    def node_pools(self) -> list:
        """The cluster's agentPoolProfiles."""

    @fact
    def pull_identity(self) -> Json:
        """Who the nodes pull as: {"kind": "kubeletIdentity" | "servicePrincipal", "objectId", "clientId", "name",
        "resourceId" (kubelet) | "exists" (service principal)}."""

    @fact
    def node_vmss(self) -> list:
        """The scale sets in the cluster's node resource group."""

    @fact
    def user_assigned_identity(self, resource_id: str) -> Optional[Json]:
        """A user-assigned managed identity, or None when it is gone."""

    @fact
    def subscription_tenant(self, subscription_id: str) -> Optional[str]:
        """The Entra tenant id (lower case) a subscription belongs to."""

    @fact
    def clusters_in_subscription(self, subscription_id: str) -> list:
        """The AKS clusters of a subscription."""

    @fact
    def readable_subscriptions(self) -> list:
        """The enabled subscriptions the signed-in account can read in the current tenant."""

    @fact
    def service_principal_clusters(self) -> Json:
        """{"byAppId": {appId (lower): [cluster ids]}, "unreadable": [{"subscription", "reason"}]}: the clusters
        that run as each service principal, in every subscription the account can read."""

    # -- registries (ARM) ---------------------------------------------------------------------------
    @fact
    def registry_lookups(self) -> list:
        """The registries this run is about, and whether each exists: [{"name", "given", "registry" (resource or
        None)}, plus "tenant", "tokenTenant", "reason" when ARM named another tenant]."""

    @fact
    def registries(self) -> list:
        """The registries to diagnose against (the lookups that found one)."""

    @fact
    def registries_in_subscription(self, subscription_id: Optional[str] = None) -> list:
        """The registries of a subscription (the current one by default)."""

    @fact
    def registry_by_id(self, registry_id: str) -> Optional[Json]:
        """A registry by resource id, or None when it does not exist."""

    @fact
    def registry_by_name(self, name: str) -> Optional[Json]:
        """A registry by name, or None."""

    @fact
    def registry_names_from_images(self) -> list:
        """The ACR names the run's images (--image, the pods') stand for."""

    @fact
    def registry_replications(self, registry: Json) -> list:
        """The registry's replications (each adds a data endpoint in its region)."""

    @fact
    def registry_cache_rules(self, registry: Json) -> list:
        """The registry's artifact cache rules."""

    @fact
    def registry_credential_sets(self, registry: Json) -> list:
        """The registry's credential sets."""

    @fact
    def registry_admin_credentials(self, registry_id: str) -> Json:
        """{"username", "passwordDigests": {"password": sha256, "password2": sha256}} (never the passwords)."""

    @fact
    def registry_token(self, registry_id: str, token_name: str) -> Optional[Json]:
        """An ACR token resource, or None when it does not exist."""

    @fact
    def registry_scope_map(self, scope_map_id: str) -> Optional[Json]:
        """An ACR scope map resource, or None."""

    @fact
    def key_vault(self, subscription: str, name: str) -> Optional[Json]:
        """The Key Vault of this name in ``subscription`` (with its access policies), or None."""

    # -- roles --------------------------------------------------------------------------------------
    @fact
    def role_assignments(self, scope: str) -> list:
        """Role assignments that apply at ``scope`` (inherited from above included)."""

    @fact
    def principal_role_assignments(self, object_id: str) -> list:
        """The role assignments a principal holds (its own, in the subscriptions read)."""

    @fact
    def role_definition(self, role_definition_id: str) -> Json:
        """A role definition."""

    # -- Microsoft Graph ----------------------------------------------------------------------------
    @fact
    def service_principal(self, app_id: str) -> Optional[Json]:
        """The service principal with this appId, or None when it does not exist."""

    @fact
    def application(self, app_id: str) -> Optional[Json]:
        """The app registration with this appId (passwordCredentials with end dates), or None."""

    @fact
    def directory_objects(self, object_ids: Ids) -> Json:
        """{object id (lower): directory object} of those that still exist."""

    @fact
    def member_groups(self, object_id: str) -> Json:
        """{group id (lower): display name} of the groups a principal belongs to, directly or not."""

    @fact
    def group_joins(self, principal_id: str, since: Any) -> list:
        """[{"groupId" (lower case), "groupName", "at" (aware datetime)}]: the groups ``principal_id`` was added to
        since ``since`` (a UTC datetime), from the Microsoft Entra audit log ('Add member to group')."""

    # -- network ------------------------------------------------------------------------------------
    @fact
    def network_resource(self, resource_id: str) -> Json:
        """A network resource by id; FactError (404 included) when it cannot be read."""

    @fact
    def subnet(self, subnet_id: str) -> Json:
        """A subnet as its VNet lists it."""

    @fact
    def service_endpoint_policy(self, policy_id: str) -> Json:
        """A service endpoint policy (a subnet's ``serviceEndpointPolicies`` reference) with its definitions; FactError
        when it cannot be read."""

    @fact
    def node_subnets(self) -> list:
        """Each node pool's subnet: [{"pool", "subnetId", "source": "vnetSubnetID" | "scaleSet" | "managedVnet"}]."""

    @fact
    def cluster_vnet_ids(self) -> list:
        """The VNets the node pools' subnets are in."""

    @fact
    def node_nic_nsgs(self) -> Json:
        """NSG ids on the node pools' NICs, by pool name."""

    @fact
    def cluster_egress(self) -> Json:
        """The public addresses the nodes leave from: {"outboundType", "known", "addresses", "sources", "note"}."""

    @fact
    def registry_endpoints(self, registry: Json) -> list:
        """The registry's private endpoints: connection state, subnet, and the IPs each host maps to."""

    @fact
    def private_dns_zones(self) -> list:
        """Every privatelink zone for registries the account can list, in any subscription."""

    @fact
    def dns_zone_links(self, zone_id: str) -> list:
        """The virtual network links of a private DNS zone."""

    @fact
    def dns_record(self, zone_id: str, record_type: str, relative_name: str) -> Optional[Json]:
        """A record set of a private DNS zone, or None."""

    @fact
    def firewall_at(self, ip: str) -> Optional[Json]:
        """The Azure Firewall whose private address is ``ip`` (a route's next hop), or None."""

    @fact
    def firewall_rules(self, firewall: Json) -> Json:
        """What an Azure Firewall decides by: its policy chain's rule collection groups, or its classic rules."""

    # -- Kubernetes (through the API server, or run command) ----------------------------------------
    @fact
    def kube_access(self) -> Json:
        """How Kubernetes objects were read: {"via": "apiServer" | "runCommand", "note"}."""

    @fact
    def discovering(self) -> bool:
        """Nothing names a pod, an image or a registry: the run starts from the pods that fail to pull."""

    @fact
    def diagnosed_pod(self) -> Optional[Json]:
        """The --pod; None without --pod. FactError when it cannot be read or does not exist."""

    @fact
    def diagnosed_pods(self) -> list:
        """The pods this run is about: the --pod, or one of each group of failing pods found."""

    @fact
    def failing_pod_groups(self) -> Json:
        """The failing pods found by one LIST: {"reported": [...], "summarised": [...], ...}."""

    @fact
    def pod(self, namespace: str, name: str) -> Optional[Json]:
        """A pod, or None."""

    @fact
    def pod_containers(self, pod: Optional[Json] = None) -> list:
        """A pod's containers (the --pod's by default): name, kind, image, imagePullPolicy, status, pod."""

    @fact
    def pod_events(self, namespace: str, name: str) -> list:
        """Events about a pod, each once."""

    @fact
    def workload_events(self, namespace: Optional[str] = None, reason: str = "FailedCreate") -> list:
        """Events with this reason about any object, in a namespace or the whole cluster."""

    @fact
    def service_account(self, namespace: str, name: str) -> Optional[Json]:
        """A service account, or None."""

    @fact
    def secret(self, namespace: str, name: str) -> Optional[Json]:
        """A secret, or None (its data is digested by the checks, never shown)."""

    @fact
    def image_pull_secrets(self, namespace: str) -> list:
        """The secrets of a namespace kubelet can use as image pull secrets."""

    @fact
    def nodes(self) -> list:
        """Every node."""

    @fact
    def node(self, name: str) -> Optional[Json]:
        """One node, or None."""

    @fact
    def node_events(self, name: str) -> list:
        """Events about a node."""

    @fact
    def probe_enabled(self) -> bool:
        """Whether the run may probe the registry from inside the cluster (run command)."""

    @fact
    def cluster_probe(self, login_server: str, hosts: list) -> Json:
        """Resolve ``hosts`` and open TCP 443 from a pod in the cluster: the parsed answers and the run."""

    @fact
    def private_api_server(self) -> bool:
        """Whether the cluster's API server is private."""

    # -- images and the registry's data plane -------------------------------------------------------
    @fact
    def image_entries(self) -> list:
        """One entry per image text of the run: {"text", "reference" (or None), "problem" (or None),
        "containers"}; empty when the run names no image."""

    @fact
    def image_registry(self, reference: Any) -> tuple:
        """(name, registry resource or None) for an ACR image, the registry it plainly means included."""

    @fact
    def node_pool_platforms(self) -> list:
        """Each node pool's OS, architecture, Windows build, labels and taints (see platform.py)."""

    @fact
    def registry_manifest(self, registry: Json, repository: str, reference: str) -> Json:
        """{"found": True, "mediaType", "digest", "manifest"}, or {"found": False, "missing": ...}."""

    @fact
    def registry_manifest_present(self, registry: Json, repository: str, digest: str) -> bool:
        """Does the registry hold the manifest ``digest``?"""

    @fact
    def registry_tags(self, registry: Json, repository: str) -> Optional[list]:
        """The repository's tags, or None when it does not exist."""

    @fact
    def registry_repositories(self, registry: Json) -> list:
        """Every repository name (ACR's catalog)."""

    @fact
    def image_platforms(self, registry: Json, repository: str, reference: str) -> Optional[list]:
        """The platforms an image is built for, or None when it is missing."""

    @fact
    def registry_health(self, registry: Json) -> Json:
        """{"loginServer", "proxy", "addresses", "steps": [{"step", "ok", "detail"}]} from where az runs."""


FACTS = frozenset(name for name, value in vars(FactsContract).items() if getattr(value, "contract_fact", False))


def provided_by(reader: type) -> frozenset:
    """The facts a reader class provides: those it overrides."""
    return frozenset(name for name in FACTS if not getattr(getattr(reader, name), "contract_fact", False))


def unknown(names) -> list:
    """Names that are not facts of the contract (a check's declaration must name only facts)."""
    return sorted(set(names) - FACTS)


