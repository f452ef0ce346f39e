"""Cause 1: 401 Unauthorized. Does the identity the nodes pull with hold a pull role?"""
from datetime import datetime, timedelta, timezone

from ..findings import FAIL, PASS, SKIPPED, WARNING, check
from ..ids import same_id
from ..roles import ABAC_MODE, pull_grants
from .registry import registry_target

PROPAGATION = timedelta(minutes=30)


def _identity_words(identity):
    if identity["kind"] == "kubeletIdentity":
        return "kubelet identity {} (object id {})".format(identity["name"], identity["objectId"])
    return "service principal {} (object id {})".format(identity["clientId"], identity.get("objectId") or "unknown")


def _parse_time(text):
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


@check("acr-role-assignment", "C1.S1,X.abac", "The cluster's pull identity holds a pull role on the registry",
       "Evaluates every role assignment that applies to the registry (inherited ones included) for the kubelet "
       "identity or service principal, by what the role grants (actions, notActions, wildcards), and on ABAC "
       "registries by repository permissions and conditions.", groups=("auth",), fleet=True)
def acr_role_assignment(chk, facts):
    identity = facts.pull_identity()
    cluster, rg = facts.cluster_name, facts.cluster_resource_group
    findings = []
    for registry in facts.registries():
        target = registry_target(registry)
        abac = (registry.get("properties", {}).get("roleAssignmentMode") or "") == ABAC_MODE
        if not identity.get("objectId"):
            findings.append(chk.finding(
                target, FAIL,
                "The cluster's service principal {} does not exist in Microsoft Entra ID, so no role on {} can "
                "apply to it.".format(identity["clientId"], registry["name"]),
                "az aks update-credentials -g {} -n {} --reset-service-principal --service-principal <appId> "
                "--client-secret <secret>".format(rg, cluster), principalKind=identity["kind"],
                clientId=identity["clientId"]))
            continue
        assignments = [a for a in facts.role_assignments(registry["id"])
                       if a.get("properties", {}).get("principalId", "").lower() == identity["objectId"].lower()]
        definition_ids = sorted({a["properties"]["roleDefinitionId"] for a in assignments})
        fetched = _raise_first(facts.parallel(facts.role_definition, definition_ids))
        definitions = dict(zip(definition_ids, fetched, strict=True))
        # list_for_scope returns only the assignments that apply at the registry, so a management group
        # scope among them is one that contains the registry's subscription.
        mgs = frozenset(a["properties"]["scope"].rsplit("/", 1)[-1].lower() for a in assignments
                        if "/managementgroups/" in a["properties"]["scope"].lower())
        repository = _repository_for(facts, registry)
        grants = pull_grants(assignments, definitions, [identity["objectId"]], registry["id"], abac,
                             repository=repository, management_groups=mgs)
        evidence = {"principalKind": identity["kind"], "principalId": identity["objectId"],
                    "clientId": identity.get("clientId"), "registryId": registry["id"],
                    "roleAssignmentMode": "AbacRepositoryPermissions" if abac else "AzureRoleAssignments",
                    "grants": [{"roleAssignmentId": g.assignment_id, "role": g.role_name, "scope": g.scope,
                                "via": g.via} for g in grants],
                    "assignmentsOfIdentity": len(assignments)}
        who = _identity_words(identity)
        if grants:
            fresh = [g for g in grants if _created_recently(assignments, g.assignment_id)]
            roles = ", ".join(sorted({"{} at {}".format(g.role_name, g.scope) for g in grants}))
            if len(fresh) == len(grants):
                findings.append(chk.finding(
                    target, WARNING,
                    "The {} holds {} on {}, but it was created less than 30 minutes ago; role assignments can "
                    "take up to 30 minutes to take effect.".format(who, roles, registry["name"]),
                    "Wait for the assignment to propagate, then restart the pod: kubectl delete pod <pod>",
                    **evidence))
            else:
                findings.append(chk.finding(target, PASS, "The {} may pull from {}: {}.".format(
                    who, registry["name"], roles), **evidence))
            continue
        if abac:
            role = "Container Registry Repository Reader"
            fix = ('az role assignment create --assignee-object-id {} --assignee-principal-type ServicePrincipal '
                   '--role "{}" --scope {}'.format(identity["objectId"], role, registry["id"]))
            why = ("{} uses ABAC repository permissions, so AcrPull does not grant pull; the {} holds no role "
                   "with repository read permission that covers {}.".format(
                       registry["name"], who, "repository '{}'".format(repository) if repository
                       else "its repositories"))
        else:
            fix = "az aks update -n {} -g {} --attach-acr {}".format(cluster, rg, registry["id"])
            why = ("The {} holds no role that grants Microsoft.ContainerRegistry/registries/pull/read on {} "
                   "({} role assignment(s) of this identity apply there).".format(
                       who, registry["name"], len(assignments)))
        findings.append(chk.finding(target, FAIL, why, fix, **evidence))
    return findings


def _raise_first(results):
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def _created_recently(assignments, assignment_id):
    for a in assignments:
        if same_id(a.get("id"), assignment_id):
            created = _parse_time(a.get("properties", {}).get("createdOn"))
            return bool(created) and datetime.now(timezone.utc) - created < PROPAGATION
    return False


def _repository_for(facts, registry):
    """The repository of the first image in this registry, for ABAC conditions."""
    login = (registry.get("properties", {}).get("loginServer") or "").lower()
    for image in facts.request.images:
        if image.registry.lower() == login:
            return image.repository
    return None


@check("kubelet-identity-vmss", "C1.S4", "Every node pool's scale set carries the kubelet identity",
       "Reads each node pool's VMSS in the node resource group and checks that the kubelet identity is among its "
       "user-assigned identities (someone may have removed it through IaaS APIs).", groups=("auth",), fleet=True)
def kubelet_identity_vmss(chk, facts):
    identity = facts.pull_identity()
    cluster, rg = facts.cluster_name, facts.cluster_resource_group
    pools = facts.node_pools()
    if identity["kind"] != "kubeletIdentity":
        return [chk.finding("cluster {}".format(cluster), SKIPPED,
                            "The cluster pulls with its service principal, not a kubelet identity; nodes read it "
                            "from their configuration, not from the scale set's identities.")]
    scale_sets = facts.node_vmss() if any(_is_vmss(p) for p in pools) else []
    findings = []
    for pool in pools:
        name = pool.get("name")
        if not _is_vmss(pool):
            findings.append(chk.finding(
                "node pool {}".format(name), SKIPPED,
                "Node pool {} is a {} pool, not a virtual machine scale set; its VMs are not checked here.".format(
                    name, pool.get("type") or "non-VMSS"), poolType=pool.get("type")))
            continue
        vmss = _vmss_of_pool(scale_sets, name)
        if vmss is None:
            findings.append(chk.finding(
                "node pool {}".format(name), FAIL,
                "No scale set for node pool {} was found in node resource group {}; its nodes cannot carry the "
                "kubelet identity.".format(name, facts.node_resource_group()),
                "az aks update -g {} -n {}".format(rg, cluster), nodeResourceGroup=facts.node_resource_group()))
            continue
        target = "node pool {} ({})".format(name, vmss["name"])
        assigned = list(((vmss.get("identity") or {}).get("userAssignedIdentities") or {}).keys())
        evidence = {"vmssId": vmss["id"], "kubeletIdentity": identity["resourceId"],
                    "userAssignedIdentities": assigned}
        if any(same_id(a, identity["resourceId"]) for a in assigned):
            findings.append(chk.finding(target, PASS, "Scale set {} carries the kubelet identity {}.".format(
                vmss["name"], identity["name"]), **evidence))
        else:
            findings.append(chk.finding(
                target, FAIL,
                "Scale set {} does not carry the kubelet identity {}: nodes of pool {} cannot get a token to pull. "
                "AKS never removes it, so it was removed outside AKS; reconciling the cluster re-adds it, and node "
                "resource group lockdown (--nrg-lockdown-restriction-level ReadOnly) keeps it from happening "
                "again.".format(vmss["name"], identity["name"], name),
                "az aks update -g {} -n {}".format(rg, cluster), **evidence))
    return findings


def _is_vmss(pool):
    return (pool.get("type") or "VirtualMachineScaleSets") == "VirtualMachineScaleSets"


def _vmss_of_pool(scale_sets, pool_name):
    for vmss in scale_sets:
        tags = {k.lower(): v for k, v in (vmss.get("tags") or {}).items()}
        if tags.get("aks-managed-poolname", "").lower() == pool_name.lower():
            return vmss
    for vmss in scale_sets:
        if vmss.get("name", "").lower().startswith("aks-{}-".format(pool_name.lower())):
            return vmss
    return None
