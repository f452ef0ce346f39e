"""Beyond the article (B.*): identities, tokens and registry policy that make a node's pull fail with 401 although
every role looks right: a registry that refuses ARM-audience tokens (B.armaud), a registry in another Entra tenant
(B.tenant)."""
from ..classify import failed_token
from ..common.pods import registry_pull_errors
from ..common.registry import no_registry, per_registry, registry_target
from ..findings import ERROR, FAIL, PASS, SKIPPED, WARNING, check, decided
from ..ids import parse_resource_id

ARM_POLICY = "azureADAuthenticationAsArmPolicy"
TOKEN_WORDS = {"oauth": "the registry refused the credential it offered (oauth-token 401)",
               "anonymous": "no credential to offer (anonymous-token 401), which is what a node's credential provider "
                            "leaves when the registry refuses its token exchange"}


def pod_pull_tokens(facts, registry):
    """The containers of the run's pods waiting on a pull from ``registry``, each with the token its error says
    failed (B.token): [{"pod", "container", "image", "token"}]."""
    found = []
    for entry in registry_pull_errors(facts, registry):
        tokens = {failed_token(t) for t in entry.pop("texts")}
        entry["token"] = next((t for t in ("oauth", "anonymous") if t in tokens), "none")
        found.append(entry)
    return found


def _subscription_args(facts, registry):
    sub = parse_resource_id(registry["id"]).subscription
    return " --subscription {}".format(sub) if sub.lower() != (facts.cluster_subscription() or "").lower() else ""


# --- B.armaud --------------------------------------------------------------------------------------------------


@check("registry-arm-audience", "B.armaud", "The registry accepts the Entra tokens nodes present",
       "Reads the registry's policies.azureADAuthenticationAsArmPolicy: when it is disabled, the registry refuses "
       "Microsoft Entra tokens issued for Azure Resource Manager, which node credential providers present. Fail "
       "when the --pod's pull error shows a 401 token failure for that registry, Warning otherwise; an Azure Policy "
       "can disable it again after it is enabled.", groups=("auth",),
       needs=("cluster_subscription", "registries", "registry_lookups"),
       optional=("diagnosed_pods", "pod_containers", "pod_events"))
def registry_arm_audience(chk, facts):
    return per_registry(chk, facts, _arm_audience)


def _arm_audience(chk, facts, registry):
    return chk.worded(registry_target(registry), decide_arm_audience(facts, registry), ARM_WORDS, facts)


def decide_arm_audience(facts, registry):
    """Does the registry accept ARM-audience tokens; when not, did a pull of this run fail for it (Fail) or not
    (Warning)?"""
    policy = (registry.get("properties", {}).get("policies") or {}).get(ARM_POLICY)
    status = ((policy or {}).get("status") or "").lower()
    evidence = {"registryId": registry["id"], "azureADAuthenticationAsArmPolicy": (policy or {}).get("status")}
    if status not in ("enabled", "disabled"):
        return decided(ERROR, "unknown", dict(reason="field missing", **evidence), registry=registry, policy=policy)
    if status == "enabled":
        return decided(PASS, "enabled", evidence, registry=registry)
    failed = [p for p in pod_pull_tokens(facts, registry) if p["token"] in TOKEN_WORDS]
    evidence["failedPulls"] = [{k: v for k, v in p.items() if k != "pod"} for p in failed]
    if failed:
        return decided(FAIL, "refused", evidence, registry=registry, first=failed[0])
    return decided(WARNING, "disabled", evidence, registry=registry)


def _arm_fix(facts, registry):
    return "az acr config authentication-as-arm update -r {} --status enabled{}".format(
        registry["name"], _subscription_args(facts, registry))


ARM_POLICY_WORDS = ("A built-in Azure Policy ('Configure container registries to disable ARM audience token "
                    "authentication', effect Modify) may have disabled it and can disable it again: exempt the "
                    "registry from that assignment after enabling it.")


def _arm_unknown(facts, registry, policy):
    name = registry["name"]
    return ("Could not reach a verdict: registry {}'s properties do not say whether it accepts ARM-audience tokens "
            "(policies.{} is {}). `az acr config authentication-as-arm show -r {}` shows it.".format(
                name, ARM_POLICY, "missing" if policy is None else repr((policy or {}).get("status")), name)), ""


def _arm_enabled(facts, registry):
    return ("Registry {} accepts Microsoft Entra tokens issued for Azure Resource Manager as well as for the registry "
            "(policies.{} is enabled), whichever a node's credential provider presents.".format(
                registry["name"], ARM_POLICY)), ""


def _arm_refused(facts, registry, first):
    return ("Registry {} refuses Microsoft Entra tokens issued for Azure Resource Manager (policies.{} is disabled), "
            "and container {} of pod {} pulling {} got {}: nodes whose credential provider presents an ARM-audience "
            "token are turned away. {}".format(registry["name"], ARM_POLICY, first["container"], first["pod"],
                                               first["image"], TOKEN_WORDS[first["token"]], ARM_POLICY_WORDS),
            _arm_fix(facts, registry))


def _arm_disabled(facts, registry):
    return ("Registry {} refuses Microsoft Entra tokens issued for Azure Resource Manager (policies.{} is disabled). "
            "Nodes whose credential provider presents an ARM-audience token get 401 from it; no pull error read here "
            "shows one (pass --pod to read a failing pod's). {}".format(registry["name"], ARM_POLICY,
                                                                         ARM_POLICY_WORDS),
            _arm_fix(facts, registry))


ARM_WORDS = {"unknown": _arm_unknown, "enabled": _arm_enabled, "refused": _arm_refused, "disabled": _arm_disabled}


# --- B.tenant ---------------------------------------------------------------------------------------------------


@check("registry-tenant", "B.tenant", "The registry is in the cluster's Microsoft Entra tenant",
       "Compares the Entra tenant of the registry's subscription (its tenantId, or the tenant ARM names when it "
       "refuses the signed-in account's token with InvalidAuthenticationTokenTenant) with the cluster's. A managed "
       "identity cannot hold a role in another tenant, so a managed-identity cluster needs a multi-tenant "
       "application with AcrPull there, used through a pull secret. Another subscription of the same tenant is "
       "fine.", groups=("auth",),
       needs=("cluster_subscription", "pull_identity", "registry_lookups", "subscription_tenant"))
def registry_tenant(chk, facts):
    identity = facts.pull_identity()
    findings = [_tenant_finding(chk, facts, identity, lookup) for lookup in facts.registry_lookups()
                if lookup["registry"] is not None or lookup.get("tenant")]
    if not findings:
        return no_registry(chk, facts)
    return findings


def _tenant_finding(chk, facts, identity, lookup):
    registry = lookup["registry"]
    name = registry["name"] if registry else lookup["name"]
    registry_id = registry["id"] if registry else lookup["given"]
    target = registry_target(name)
    registry_sub = parse_resource_id(registry_id).subscription.lower()
    cluster_sub = (facts.cluster_subscription() or "").lower()
    evidence = {"registryId": registry_id, "registrySubscription": registry_sub, "clusterSubscription": cluster_sub,
                "pullIdentity": identity["kind"]}
    if registry_sub == cluster_sub:
        return chk.finding(target, PASS, "Registry {} is in the cluster's own subscription {}, so in its Microsoft "
                           "Entra tenant.".format(name, cluster_sub), **evidence)
    registry_tenant_id = lookup.get("tenant") or facts.subscription_tenant(registry_sub)
    cluster_tenant = facts.subscription_tenant(cluster_sub)
    evidence.update(registryTenant=registry_tenant_id, clusterTenant=cluster_tenant,
                    tenantFrom="InvalidAuthenticationTokenTenant" if lookup.get("tenant") else "subscription")
    if not registry_tenant_id or not cluster_tenant:
        return chk.finding(target, ERROR, "Could not reach a verdict: the tenant of subscription {} is not "
                           "known.".format(registry_sub if not registry_tenant_id else cluster_sub),
                           reason="tenant unknown", **evidence)
    if registry_tenant_id.lower() == cluster_tenant.lower():
        return chk.finding(target, PASS, "Registry {} is in subscription {}, another subscription of the cluster's "
                           "Microsoft Entra tenant {}: roles there apply to the cluster's identity.".format(
                               name, registry_sub, cluster_tenant), **evidence)
    how = ("ARM refused the signed-in account's token for it with InvalidAuthenticationTokenTenant, naming tenant {}"
           .format(registry_tenant_id) if lookup.get("tenant") else
           "its subscription {} belongs to tenant {}".format(registry_sub, registry_tenant_id))
    login = (registry or {}).get("properties", {}).get("loginServer") or "{}{}".format(
        name.lower(), facts.request.acr_suffix)
    if identity["kind"] == "kubeletIdentity":
        app = "{}-acr-pull".format(facts.cluster_name)
        route = ('APP_ID=$(az ad app create --display-name {app} --sign-in-audience AzureADMultipleOrgs --query appId '
                 '-o tsv) && az ad sp create --id "$APP_ID" && SECRET=$(az ad app credential reset --id "$APP_ID" '
                 '--query password -o tsv) && az login --tenant {tenant} && az ad sp create --id "$APP_ID" && '
                 'az role assignment create --assignee "$APP_ID" --role AcrPull --scope {rid} && '
                 'kubectl create secret docker-registry {secret} -n {ns} --docker-server {login} '
                 '--docker-username "$APP_ID" --docker-password "$SECRET"').format(
                     app=app, tenant=registry_tenant_id, rid=registry_id, secret="{}-pull".format(name.lower()),
                     ns=facts.request.namespace, login=login)
        return chk.finding(
            target, FAIL,
            "Registry {} belongs to another Microsoft Entra tenant than the cluster ({}; the cluster's is {}). The "
            "cluster pulls with its kubelet identity {}, a managed identity, which cannot be granted a role in "
            "another tenant (`az aks update --attach-acr` fails with 'Principal ... does not exist in the "
            "directory'). The documented route: a multi-tenant application registered in the cluster's tenant, "
            "provisioned in the registry's tenant with AcrPull on {}, used through an image pull secret that the "
            "pods (or their service account) name in imagePullSecrets.".format(
                name, how, cluster_tenant, identity["name"], name), route, **evidence)
    return chk.finding(
        target, WARNING,
        "Registry {} belongs to another Microsoft Entra tenant than the cluster ({}; the cluster's is {}). The "
        "cluster pulls with service principal {}, which can pull there only if its application is multi-tenant and "
        "its service principal in tenant {} holds AcrPull on {}; roles in that tenant cannot be read from this "
        "one.".format(name, how, cluster_tenant, identity["clientId"], registry_tenant_id, name),
        'az ad app show --id {} --query signInAudience -o tsv && az login --tenant {} && az role assignment list '
        '--assignee {} --scope {} -o table'.format(identity["clientId"], registry_tenant_id, identity["clientId"],
                                                   registry_id), **evidence)


# --- B.nap ------------------------------------------------------------------------------------------------------

NODEPOOL_LABEL = "karpenter.sh/nodepool"


@check("node-provisioning-identity", "B.nap", "Nodes made by node auto-provisioning can present the kubelet identity",
       "On a cluster with node auto-provisioning (nodeProvisioningProfile.mode Auto), reads the node of each failing "
       "pod (the --pod, or the failing pods the run finds): a node made by it (label karpenter.sh/nodepool, not a "
       "scale set instance) whose pull fails with the anonymous-token 401 offered no credential, although the "
       "kubelet identity may pull from the registry.",
       groups=("auth",),
       needs=("cluster", "diagnosed_pods", "member_groups", "nodes", "pod_containers", "pod_events", "pull_identity",
              "registries", "role_assignments", "role_definition"))
def node_provisioning_identity(chk, facts):
    cluster = facts.cluster()
    mode = ((cluster.get("properties") or {}).get("nodeProvisioningProfile") or {}).get("mode")
    target = "cluster {}".format(facts.cluster_name)
    if (mode or "").lower() != "auto":
        return [chk.finding(target, SKIPPED, "Cluster {} does not use node auto-provisioning "
                            "(nodeProvisioningProfile.mode is {}): its nodes come from node pools' scale sets.".format(
                                facts.cluster_name, mode or "not set"), nodeProvisioningMode=mode)]
    pods = facts.diagnosed_pods()
    if not pods:
        return [chk.finding(target, SKIPPED, "No failing pod was named with --pod or found in the cluster: the node "
                            "of a failing pod is read to tell whether node auto-provisioning made it.",
                            nodeProvisioningMode=mode)]
    return [f for pod in pods for f in _nap_pod(chk, facts, pod, mode)]


def _nap_pod(chk, facts, pod, mode):
    """The verdict for one failing pod: is its node one that node auto-provisioning made, presenting no identity?"""
    meta = pod.get("metadata") or {}
    who = "{}/{}".format(meta.get("namespace"), meta.get("name"))
    node_name = (pod.get("spec") or {}).get("nodeName")
    target = "pod {}".format(who)
    node = next((n for n in facts.nodes() if (n.get("metadata") or {}).get("name") == node_name), None) \
        if node_name else None
    if node is None:
        return [chk.finding(target, SKIPPED, "Pod {} is not on a node (node {!r} not found), so no node's "
                            "identity is in play.".format(who, node_name), node=node_name)]
    labels = (node.get("metadata") or {}).get("labels") or {}
    provider = (node.get("spec") or {}).get("providerID") or ""
    nodepool = labels.get(NODEPOOL_LABEL)
    scale_set = "/virtualmachinescalesets/" in provider.lower()
    evidence = {"node": node_name, "nodePool": nodepool, "providerID": provider, "nodeProvisioningMode": mode}
    if not nodepool or scale_set:
        return [chk.finding(target, PASS, "Node {} of pod {} is a scale set node{}, not one made by node "
                            "auto-provisioning.".format(node_name, who, " of pool {}".format(labels.get("agentpool"))
                                                        if labels.get("agentpool") else ""), **evidence)]
    findings = []
    for registry in facts.registries():
        failed = [p for p in pod_pull_tokens(facts, registry) if p["token"] == "anonymous" and p["pod"] == who]
        if not failed:
            continue
        evidence = dict(evidence, registryId=registry["id"], failedPulls=failed)
        may_pull = _kubelet_may_pull(facts, registry)
        words = ("Node {} of pod {} was made by node auto-provisioning (node pool {}, a standalone VM, not a scale "
                 "set instance), and its pull of {} from {} offered no credential (anonymous-token 401)".format(
                     node_name, who, nodepool, failed[0]["image"], registry["name"]))
        fix = ("az aks update -g {rg} -n {name} --attach-acr {rid} && kubectl delete nodeclaim $(kubectl get "
               "nodeclaims -o jsonpath='{{.items[?(@.status.nodeName==\"{node}\")].metadata.name}}')").format(
                   rg=facts.cluster_resource_group, name=facts.cluster_name, rid=registry["id"], node=node_name)
        if may_pull:
            findings.append(chk.finding(
                target, FAIL, words + ", although the kubelet identity may pull from {}: the node presents no "
                "identity. Attach the registry again so AKS passes it to node auto-provisioning, then replace the "
                "node (delete its node claim; Karpenter makes a new one).".format(registry["name"]), fix,
                kubeletMayPull=True, **evidence))
        else:
            findings.append(chk.finding(
                target, WARNING, words + "; the kubelet identity holds no pull role on {} either (see "
                "acr-role-assignment), so fix that first, then replace the node if it still pulls "
                "anonymously.".format(registry["name"]), fix, kubeletMayPull=False, **evidence))
    if findings:
        return findings
    return [chk.finding(target, PASS, "Node {} of pod {} was made by node auto-provisioning (node pool {}), but "
                        "no pull error of the pod says it offered no credential.".format(node_name, who, nodepool),
                        **evidence)]


def _kubelet_may_pull(facts, registry):
    from ..common.pull import principals_of, registry_grants
    from ..roles import assignments_of
    identity = facts.pull_identity()
    if not identity.get("objectId"):
        return False
    assignments = facts.role_assignments(registry["id"])
    ids, _ = principals_of(facts, identity["objectId"], assignments)
    return bool(registry_grants(facts, registry, assignments_of(assignments, ids), ids))
