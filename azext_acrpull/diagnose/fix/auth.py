"""Remedies for Cause 1 (401 Unauthorized): a pull role for the pull identity, and a reconcile that
puts the kubelet identity back on the node pools' scale sets."""
import json
import shlex
import time
import uuid

from knack.log import get_logger

from ..common.commands import assign_command, repository_condition
from ..common.pull import is_abac
from ..ids import id_name, parse_resource_id, same_id
from ..roles import ACR_PULL_ROLE_ID, REPOSITORY_READER_ROLE_ID
from .changes import Change, ChangeFailed, remedy, write_error

logger = get_logger(__name__)

# Built-in role definition GUIDs are the same in every tenant.
ACR_PULL = ("AcrPull", ACR_PULL_ROLE_ID)
REPOSITORY_READER = ("Container Registry Repository Reader", REPOSITORY_READER_ROLE_ID)

# A new identity may not have replicated to every directory replica yet (PrincipalNotFound): retry,
# as `az aks update --attach-acr` does, but within about half a minute.
PRINCIPAL_RETRY_DELAYS = (1, 2, 4, 8, 15)
ASSIGN_PERMISSION = ("Microsoft.Authorization/roleAssignments/write, e.g. Owner, User Access Administrator or "
                     "Role Based Access Control Administrator on the registry")
CLUSTER_PERMISSION = "Microsoft.ContainerService/managedClusters/write, e.g. Azure Kubernetes Service Contributor"


def _who(ctx, principal_id):
    try:
        identity = ctx.facts.pull_identity()
    except Exception:  # pylint: disable=broad-except
        identity = {}
    if (identity.get("objectId") or "").lower() == principal_id.lower():
        if identity.get("kind") == "kubeletIdentity":
            return "the kubelet identity {}".format(identity.get("name"))
        return "the service principal {} (appId {})".format(identity.get("name") or identity.get("clientId"),
                                                            identity.get("clientId"))
    return "principal {}".format(principal_id)


def pull_role_change(ctx, principal_id, registry, repositories=None):
    """Grant the pull role of the registry's permission mode to one principal at the registry: AcrPull, or on an
    ABAC registry Container Registry Repository Reader (for ``repositories`` only, when given, through the
    condition Azure's portal writes)."""
    abac = is_abac(registry)
    role_name, role_guid = REPOSITORY_READER if abac else ACR_PULL
    rid = parse_resource_id(registry["id"])
    role_id = "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}".format(
        rid.subscription, role_guid)
    condition = repository_condition(repositories) if abac and repositories else None
    who = _who(ctx, principal_id)
    key = ("role", rid.id.lower(), principal_id.lower(), role_guid)
    if condition:
        held = _held_at_registry(ctx, registry, principal_id, role_guid)
        if held:
            return _widen_change(key, held, rid, role_name, repositories, condition, who)
    scope_words = " for repositories {}".format(", ".join(repositories)) if condition else ""
    summary = "Grant {}{} on registry {} to {}{}.".format(
        role_name, scope_words, rid.name, who, " (the registry uses ABAC repository permissions, where AcrPull does "
        "not grant pull)" if abac else "")

    def apply(ctx):
        return _create_role_assignment(ctx, rid, role_id, role_name, principal_id, who, condition)
    command = assign_command(principal_id, registry, role_name, condition)
    return Change(key, command, summary, apply)


def _held_at_registry(ctx, registry, principal_id, role_guid):
    """The principal's assignment of this role at exactly the registry's scope, as the diagnosis read it."""
    for assignment in ctx.facts.role_assignments(registry["id"]):
        props = assignment.get("properties") or {}
        if (props.get("principalId") or "").lower() == principal_id.lower() and \
                (props.get("roleDefinitionId") or "").lower().endswith("/" + role_guid) and \
                same_id(props.get("scope"), registry["id"]):
            return assignment
    return None


def _widen_change(key, held, rid, role_name, repositories, condition, who):
    """Azure keeps one assignment per role, principal and scope, so a role held with a condition that leaves out a
    repository is widened, as `az role assignment update` does, rather than assigned a second time."""
    props = held.get("properties") or {}
    name, scope = held.get("name") or id_name(held.get("id")), props.get("scope")
    widened = _either(props.get("condition"), condition)
    command = "az role assignment update --role-assignment {}".format(shlex.quote(json.dumps(
        {"name": name, "scope": scope, "condition": widened, "conditionVersion": "2.0"})))
    summary = ("Widen the condition of {}'s {} assignment {} on registry {} to also cover repositories {} (Azure "
               "keeps one assignment per role, principal and scope, so a second one cannot be added).".format(
                   who, role_name, name, rid.name, ", ".join(repositories)))

    def apply(ctx):
        return _update_condition(ctx, rid, scope, name, condition, role_name, repositories)
    return Change(key, command, summary, apply)


def _either(current, extra):
    """A condition that holds where either holds (the grammar allows OR between parenthesised conditions)."""
    return "({}) OR ({})".format(current, extra) if current else None


def _update_condition(ctx, registry, scope, name, condition, role_name, repositories):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    from ..._client_factory import cf_authorization
    client = ctx.client(cf_authorization, registry.subscription)
    what = "update role assignment {} on registry {}".format(name, registry.name)
    try:
        # Read it again right before the PUT, as `az role assignment update` does: the PUT replaces it whole.
        current = client.role_assignments.get(scope, name)
        if not current.condition:
            return "Role assignment {} has no condition any more: it covers every repository.".format(name)
        parameters = RoleAssignmentCreateParameters(
            role_definition_id=current.role_definition_id, principal_id=current.principal_id,
            principal_type=current.principal_type, description=current.description,
            condition=_either(current.condition, condition), condition_version="2.0")
        client.role_assignments.create(scope, name, parameters)
    except HttpResponseError as err:
        raise ChangeFailed(write_error(err, what, ASSIGN_PERMISSION)) from None
    return ("Widened {} assignment {} on registry {} to repositories {} too. A condition change can take up to 5 "
            "minutes to be enforced.".format(role_name, name, registry.name, ", ".join(repositories)))


def _create_role_assignment(ctx, registry, role_id, role_name, principal_id, who, condition=None):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    from ..._client_factory import cf_authorization
    from .changes import error_code
    client = ctx.client(cf_authorization, registry.subscription)
    # The principal type is given, as `az role assignment create --assignee-principal-type` does, so that
    # Azure does not look the principal up in the directory; a retry keeps the name, so it stays one assignment.
    parameters = RoleAssignmentCreateParameters(role_definition_id=role_id, principal_id=principal_id,
                                                principal_type="ServicePrincipal", condition=condition,
                                                condition_version="2.0" if condition else None)
    name = str(uuid.uuid4())
    for delay in PRINCIPAL_RETRY_DELAYS + (None,):
        try:
            created = client.role_assignments.create(registry.id, name, parameters)
        except HttpResponseError as err:
            code = error_code(err)
            if code == "RoleAssignmentExists" and condition:
                raise ChangeFailed("{} already holds {} on registry {} in an assignment made since the diagnosis; "
                                   "run fix again to widen its condition.".format(
                                       who[0].upper() + who[1:], role_name, registry.name)) from None
            if code == "RoleAssignmentExists":
                return "{} already holds {} on registry {}; nothing to create.".format(
                    who[0].upper() + who[1:], role_name, registry.name)
            if code == "PrincipalNotFound" and delay is not None:
                logger.warning("%s is not in the directory yet (replication delay); retrying in %s s.", who, delay)
                time.sleep(delay)
                continue
            raise ChangeFailed(write_error(err, "create role assignments on registry {}".format(registry.name),
                                           ASSIGN_PERMISSION)) from None
        return ("Granted {} on registry {} to {} (role assignment {}). It can take up to 30 minutes to take effect; "
                "then restart the failing pods.".format(role_name, registry.name, who, created.name))
    raise ChangeFailed("{} was still not found in the directory after {} s; run the command again later.".format(
        who, sum(PRINCIPAL_RETRY_DELAYS)))


@remedy("acr-role-assignment")
def grant_pull_role(finding, ctx):
    """C1.S1 / X.abac: the identity the nodes pull with holds no pull role on the registry (or, on an ABAC
    registry, none for the image's repository)."""
    decision = finding.decision
    if decision is None or decision.reason not in GRANTABLE:
        return None     # the service principal does not exist: a new one must be made by hand
    return pull_role_change(ctx, decision.params["principal_id"], decision.params["registry"],
                            list(decision.params.get("uncovered") or ()))


# The reasons of acr-role-assignment a pull role assignment fixes.
GRANTABLE = ("no-role", "abac-no-role", "abac-uncovered")


@remedy("sp-role-principal")
def grant_current_identity(finding, ctx):
    """C1.S3: the registry's pull roles point at an earlier service principal; grant one to the current identity
    (the old assignments are left for a person to remove)."""
    decision = finding.decision
    if decision is None or decision.reason != "stale" or not decision.params["principal_id"]:
        return None
    return pull_role_change(ctx, decision.params["principal_id"], decision.params["registry"])


@remedy("kubelet-identity-vmss")
def reconcile_cluster(finding, ctx):
    """C1.S4: a node pool's scale set lost the kubelet identity; reconciling the cluster re-adds it."""
    decision = finding.decision
    if decision is None or decision.reason not in ("lost", "no-vmss"):
        return None     # B.drift: the identity was deleted or recreated; its three steps are for a person
    facts = ctx.facts
    rg, name = facts.cluster_resource_group, facts.cluster_name
    kubelet = decision.params["kubelet"]
    summary = ("Reconcile cluster {} (a PUT of its current settings, as `az aks update` without arguments does); AKS "
               "puts the kubelet identity{} back on every node pool's scale set. Nodes are not reimaged.".format(
                   name, " " + id_name(kubelet) if kubelet else ""))

    def apply(ctx):
        return _reconcile(ctx, rg, name, kubelet)
    return Change(("reconcile", rg.lower(), name.lower()), "az aks update -g {} -n {}".format(rg, name), summary,
                  apply)


def _reconcile(ctx, rg, name, kubelet):
    from azure.core.exceptions import HttpResponseError

    from ..._client_factory import cf_container_service
    client = ctx.client(cf_container_service, ctx.facts.cluster_subscription())
    what = "update cluster {}".format(name)
    try:
        cluster = client.managed_clusters.get(rg, name)
        poller = client.managed_clusters.begin_create_or_update(rg, name, cluster)
        if ctx.show_progress:
            from azure.cli.core.commands import LongRunningOperation
            result = LongRunningOperation(ctx.cli_ctx, start_msg="Reconciling cluster {}".format(name))(poller)
        else:
            result = poller.result()
    except HttpResponseError as err:
        raise ChangeFailed(write_error(err, what, CLUSTER_PERMISSION)) from None
    state = getattr(result, "provisioning_state", None) or "Succeeded"
    if state.lower() != "succeeded":
        raise ChangeFailed("Cluster {} ended the reconcile in state {}; see `az aks show -g {} -n {}`.".format(
            name, state, rg, name))
    profile = (getattr(result, "identity_profile", None) or {}).get("kubeletidentity") if result else None
    kept = not kubelet or profile is None or same_id(getattr(profile, "resource_id", None), kubelet)
    return "Reconciled cluster {} (provisioning state {}){}.".format(
        name, state, "" if kept else "; note: its kubelet identity is now {}".format(
            getattr(profile, "resource_id", None)))
