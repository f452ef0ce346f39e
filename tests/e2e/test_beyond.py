"""Beyond the article (B.*), end to end through the real az against the simulated Azure: which token failed
(B.token), a registry refusing ARM-audience tokens (B.armaud)."""
import json

from tests.e2e.test_auth import SHARED_ID, check_auth, one, refresh_subscriptions
from tests.simulator.scenarios.beyond import PARTNER_SUB, PARTNER_TENANT
from tests.simulator.world import SUBSCRIPTION, TENANT

REGISTRY_ID = "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myacr"


def _registry_reads(sc):
    return [e for e in sc.sim.log if e["method"] == "GET" and
            "/providers/microsoft.containerregistry/registries" in e["path"].lower() and
            e["host"].startswith("management.")]


# --- B.token ----------------------------------------------------------------------------------------------------

def test_no_credential_offered_steers_to_the_node_identity_path(scenario):
    sc = scenario("beyond-armaud-disabled")
    findings, result = check_auth(sc, "--pod", "web")
    pod = one(sc, findings, "pod-pull-events")
    assert pod["status"] == "Fail" and pod["evidence"]["token"] == "anonymous", pod
    assert pod["evidence"]["cause"] == "C1"
    assert "offered no credential" in pod["message"]
    assert pod["evidence"]["lookAt"][0] == "kubelet-identity-vmss"
    assert pod["evidence"]["lookAt"].index("registry-arm-audience") < pod["evidence"]["lookAt"].index(
        "acr-role-assignment")
    # The first fix follows the token: the registry's policy, not pod-pull-events' pointer.
    assert "First fix to try (registry-arm-audience, registry myacr, as the pod's error says no credential was " \
           "offered): az acr config authentication-as-arm update -r myacr --status enabled" in result.stderr


def test_a_refused_credential_steers_to_the_pull_role(scenario):
    sc = scenario("beyond-armaud-role-missing")
    findings, result = check_auth(sc, "--pod", "web")
    pod = one(sc, findings, "pod-pull-events")
    assert pod["status"] == "Fail" and pod["evidence"]["token"] == "oauth", pod
    assert "refused it (oauth-token 401)" in pod["message"]
    assert pod["evidence"]["lookAt"][:2] == ["acr-role-assignment", "registry-arm-audience"]
    assert "First fix to try (acr-role-assignment, registry myacr, as the pod's error says the credential offered " \
           "was refused): az aks update -n aks1 -g rg1 --attach-acr" in result.stderr
    assert one(sc, findings, "registry-arm-audience")["status"] == "Pass"


# --- B.armaud ---------------------------------------------------------------------------------------------------

def test_arm_audience_disabled_fails_with_the_pods_token_error(scenario):
    sc = scenario("beyond-armaud-disabled")
    findings, _ = check_auth(sc, "--pod", "web", "--checks", "registry-arm-audience")
    f = one(sc, findings, "registry-arm-audience", "registry myacr")
    assert f["status"] == "Fail", f
    assert f["article"] == "B.armaud"
    assert "policies.azureADAuthenticationAsArmPolicy is disabled" in f["message"]
    assert "container app of pod default/web" in f["message"] and "anonymous-token 401" in f["message"]
    assert "Azure Policy" in f["message"]
    assert f["remediation"] == "az acr config authentication-as-arm update -r myacr --status enabled"
    assert f["evidence"]["azureADAuthenticationAsArmPolicy"] == "disabled"
    assert f["evidence"]["failedPulls"] == [{"container": "app", "image": "myacr.azurecr.io/web:1.4",
                                             "token": "anonymous"}]
    assert len(_registry_reads(sc)) == 1


def test_arm_audience_disabled_without_a_pull_error_is_a_warning(scenario):
    sc = scenario("beyond-armaud-disabled")
    findings, _ = check_auth(sc, "--acr", "myacr", "--checks", "registry-arm-audience")
    f = one(sc, findings, "registry-arm-audience", "registry myacr")
    assert f["status"] == "Warning", f
    assert "no pull error read here" in f["message"]
    assert f["remediation"] == "az acr config authentication-as-arm update -r myacr --status enabled"


def test_arm_audience_enabled_passes(scenario):
    sc = scenario("mi-healthy")
    findings, _ = check_auth(sc, "--acr", "myacr", "--checks", "registry-arm-audience")
    f = one(sc, findings, "registry-arm-audience", "registry myacr")
    assert f["status"] == "Pass" and f["evidence"]["azureADAuthenticationAsArmPolicy"] == "enabled", f
    assert f["remediation"] == ""


# --- B.drift ----------------------------------------------------------------------------------------------------

def _identity_reads(sc):
    return [e for e in sc.sim.log if e["method"] == "GET" and
            "/providers/microsoft.managedidentity/userassignedidentities/" in e["path"].lower()]


def test_recreated_kubelet_identity_fails_naming_both_principals(scenario):
    sc = scenario("beyond-drift-recreated")
    identity = sc.world.arm[[k for k in sc.world.arm if "/userassignedidentities/" in k][0]]
    profile = [c for c in sc.world.arm.values() if c.get("type") == "Microsoft.ContainerService/ManagedClusters"][0][
        "properties"]["identityProfile"]["kubeletidentity"]
    findings, _ = check_auth(sc, "--acr", "myacr", "--checks", "kubelet-identity-vmss")
    f = one(sc, findings, "kubelet-identity-vmss", "kubelet identity aks1-agentpool")
    assert f["status"] == "Fail" and f["article"] == "C1.S4,B.drift", f
    assert "was recreated" in f["message"]
    for value in (profile["objectId"], profile["clientId"], identity["properties"]["principalId"],
                  identity["properties"]["clientId"]):
        assert value in f["message"], value
    assert profile["objectId"] != identity["properties"]["principalId"]
    steps = f["remediation"].split(" && ")
    assert steps[0].startswith("az aks update -g rg1 -n aks1 --enable-managed-identity --assign-identity ")
    assert "--assign-kubelet-identity " + profile["resourceId"] in steps[0]
    assert steps[1] == "az aks nodepool upgrade -g rg1 --cluster-name aks1 -n nodepool1 --node-image-only"
    assert steps[2] == "az aks update -g rg1 -n aks1 --attach-acr " + REGISTRY_ID.format(
        profile["resourceId"].split("/")[2])
    assert f["evidence"]["resource"]["principalId"] == identity["properties"]["principalId"]
    pool = one(sc, findings, "kubelet-identity-vmss", "node pool nodepool1")
    assert pool["status"] == "Fail" and "was recreated with a new principal" in pool["message"]
    assert len(_identity_reads(sc)) == 1


def test_deleted_kubelet_identity_fails(scenario):
    sc = scenario("beyond-drift-deleted")
    findings, _ = check_auth(sc, "--acr", "myacr", "--checks", "kubelet-identity-vmss")
    f = one(sc, findings, "kubelet-identity-vmss", "kubelet identity aks1-agentpool")
    assert f["status"] == "Fail" and "no longer exists" in f["message"] and "404" in f["message"], f
    assert f["remediation"].startswith("az identity create -g MC_rg1_aks1_eastus -n aks1-agentpool && ")
    assert f["evidence"]["resource"] is None


def test_kubelet_identity_that_matches_its_profile_passes(scenario):
    sc = scenario("mi-healthy")
    findings, _ = check_auth(sc, "--acr", "myacr", "--checks", "kubelet-identity-vmss")
    assert not [f for f in findings if f["target"].startswith("kubelet identity")]
    assert {f["status"] for f in findings} == {"Pass"}
    assert len(_identity_reads(sc)) == 1


# --- B.tenant ---------------------------------------------------------------------------------------------------

PARTNER_ID = "/subscriptions/{}/resourceGroups/rg-registry/providers/Microsoft.ContainerRegistry/registries/" \
    "partneracr".format(PARTNER_SUB)


def test_registry_in_another_tenant_fails_for_a_managed_identity_cluster(scenario):
    sc = scenario("beyond-tenant-other")
    findings, result = check_auth(sc, "--acr", PARTNER_ID)
    f = one(sc, findings, "registry-tenant", "registry partneracr")
    assert f["status"] == "Fail" and f["article"] == "B.tenant", f
    assert "InvalidAuthenticationTokenTenant, naming tenant {}".format(PARTNER_TENANT) in f["message"]
    assert "managed identity, which cannot be granted a role in another tenant" in f["message"]
    assert "--sign-in-audience AzureADMultipleOrgs" in f["remediation"]
    assert "az login --tenant {}".format(PARTNER_TENANT) in f["remediation"]
    assert "--role AcrPull --scope " + PARTNER_ID in f["remediation"]
    assert "kubectl create secret docker-registry partneracr-pull -n default --docker-server partneracr.azurecr.io" \
        in f["remediation"]
    assert f["evidence"]["registryTenant"] == PARTNER_TENANT and f["evidence"]["clusterTenant"] == TENANT
    # ARM was asked once for the registry and refused it; nothing was written.
    refused = [e for e in sc.sim.log if e["status"] == 401 and e["host"].startswith("management.")]
    assert len(refused) == 1 and refused[0]["path"].lower().endswith("/registries/partneracr"), refused
    # The registry lookup says why the registry cannot be read, instead of calling it missing (exit 0, not 3).
    findings, _ = sc.diagnose("--acr", PARTNER_ID, "--checks", "registry-lookup", command="check-registry")
    lookup = one(sc, findings, "registry-lookup", "registry partneracr")
    assert lookup["status"] == "Fail" and "belongs to Microsoft Entra tenant " + PARTNER_TENANT in lookup["message"]
    assert lookup["remediation"] == "To read it, sign in to that tenant too: az login --tenant " + PARTNER_TENANT


def test_registry_in_another_subscription_of_the_same_tenant_passes(scenario):
    sc = scenario("auth-mg-cross-sub")
    refresh_subscriptions(sc)
    findings, _ = check_auth(sc, "--acr", SHARED_ID, "--checks", "registry-tenant")
    f = one(sc, findings, "registry-tenant", "registry sharedacr")
    assert f["status"] == "Pass" and "another subscription of the cluster's Microsoft Entra tenant" in f["message"]
    assert f["evidence"]["registryTenant"] == f["evidence"]["clusterTenant"] == TENANT


def test_registry_in_the_clusters_subscription_passes_without_asking_for_tenants(scenario):
    sc = scenario("mi-healthy")
    findings, _ = check_auth(sc, "--acr", "myacr", "--checks", "registry-tenant")
    assert one(sc, findings, "registry-tenant", "registry myacr")["status"] == "Pass"
    assert not [e for e in sc.sim.log if e["path"].lower().rstrip("/").count("/") == 2 and
                e["path"].lower().startswith("/subscriptions/")]


# --- fix ----------------------------------------------------------------------------------------------------------

def _fix(sc, *args):
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "fix", "-g", "rg1", "-n", "aks1", *args, "-o", "json")
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    sc.assert_no_unknown_routes()
    return result.json(), result


def _writes(sc):
    return [(e["method"], e["path"]) for e in sc.sim.writes() if e["status"] < 400]


def test_fix_enables_arm_audience_only_with_yes(scenario):
    sc = scenario("beyond-armaud-disabled")
    items, result = _fix(sc, "--pod", "web", "--yes")
    (armaud,) = [i for i in items if i["checkId"] == "registry-arm-audience"]
    assert (armaud["action"], armaud["status"], armaud["statusAfter"]) == ("apply", "Applied", "Pass"), armaud
    assert armaud["command"] == "az acr config authentication-as-arm update -r myacr --status enabled"
    assert _writes(sc) == [("PATCH", REGISTRY_ID.format(SUBSCRIPTION))], _writes(sc)
    registry = sc.world.arm[REGISTRY_ID.format(SUBSCRIPTION).lower()]
    policies = registry["properties"]["policies"]
    assert policies["azureADAuthenticationAsArmPolicy"]["status"] == "enabled"
    assert policies["exportPolicy"] == {"status": "enabled"}          # the other policies are kept
    assert "Azure Policy" in result.stderr


def test_fix_on_a_terminal_without_yes_leaves_arm_audience_to_a_person(scenario):
    import os
    import pty
    import subprocess
    sc = scenario("beyond-armaud-disabled")
    sc.sim.clear_log()
    env = sc.env
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([env.az, "aks", "diagnose-pull", "fix", "-g", "rg1", "-n", "aks1", "--pod", "web",
                                 "-o", "json"], env=env.env, stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        os.write(master, b"y\n")
        out, err = proc.communicate(timeout=300)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0 and "Traceback" not in err, (out, err)
    items = json.loads(out[out.index("["):])
    (armaud,) = [i for i in items if i["checkId"] == "registry-arm-audience"]
    assert (armaud["action"], armaud["status"]) == ("manual", "Manual"), armaud
    assert sc.sim.writes() == []


def test_fix_leaves_a_recreated_kubelet_identity_to_a_person(scenario):
    sc = scenario("beyond-drift-recreated")
    items, _ = _fix(sc, "--acr", "myacr", "--yes")
    drift = [i for i in items if i["checkId"] == "kubelet-identity-vmss"]
    assert drift and all((i["action"], i["status"]) == ("manual", "Manual") for i in drift), drift
    assert "--assign-kubelet-identity" in drift[0]["command"]
    assert sc.sim.writes() == []


def test_fix_leaves_a_registry_in_another_tenant_to_a_person(scenario):
    sc = scenario("beyond-tenant-other")
    items, _ = _fix(sc, "--acr", PARTNER_ID, "--yes")
    (tenant,) = [i for i in items if i["checkId"] == "registry-tenant"]
    assert (tenant["action"], tenant["status"]) == ("manual", "Manual") and "AzureADMultipleOrgs" in tenant["command"]
    assert sc.sim.writes() == []


# --- B.wi ---------------------------------------------------------------------------------------------------------

def test_pull_role_held_by_the_workload_identity_is_named(scenario):
    sc = scenario("beyond-wi")
    findings, _ = check_auth(sc, "--pod", "web", "--checks", "acr-role-assignment", "pod-pull-events")
    f = one(sc, findings, "acr-role-assignment", "registry myacr")
    assert f["status"] == "Fail", f
    assert "held instead by the workload identity web-wi" in f["message"]
    assert "service account default/web" in f["message"]
    assert f["remediation"].startswith("az aks update -n aks1 -g rg1 --attach-acr ")
    assert f["evidence"]["workloadIdentity"]["roles"] == ["AcrPull at " + REGISTRY_ID.format(SUBSCRIPTION)]
    assert one(sc, findings, "pod-pull-events")["evidence"]["token"] == "oauth"


def test_without_the_pod_the_generic_message_stays(scenario):
    sc = scenario("beyond-wi")
    findings, _ = check_auth(sc, "--acr", "myacr", "--checks", "acr-role-assignment")
    f = one(sc, findings, "acr-role-assignment", "registry myacr")
    assert f["status"] == "Fail" and "workload identity" not in f["message"] and "workloadIdentity" not in f["evidence"]


def test_first_command_names_the_workload_identity_of_a_failing_pod_it_finds(scenario):
    """Without --pod, the service accounts of the failing pods the run finds are read (each once) for a workload
    identity holding the pull role."""
    sc = scenario("beyond-wi")
    findings, _ = sc.diagnose("--checks", "acr-role-assignment")
    f = one(sc, findings, "acr-role-assignment", "registry myacr")
    assert f["status"] == "Fail", f
    assert "held instead by the workload identity web-wi" in f["message"]
    assert "service account default/web" in f["message"]
    assert f["evidence"]["workloadIdentity"]["serviceAccount"] == "default/web"
    assert f["remediation"].startswith("az aks update -n aks1 -g rg1 --attach-acr ")
    reads = [e for e in sc.sim.log if "/serviceaccounts/" in e["path"]]
    assert [e["path"] for e in reads] == ["/api/v1/namespaces/default/serviceaccounts/web"], reads
    sc.assert_no_duplicate_reads()


def test_first_command_passes_when_the_kubelet_identity_holds_the_role_too(scenario):
    sc = scenario("beyond-wi-attached")
    findings, _ = sc.diagnose("--checks", "acr-role-assignment", "registry-arm-audience")
    f = one(sc, findings, "acr-role-assignment", "registry myacr")
    assert f["status"] == "Pass" and "workload identit" not in f["message"], f
    assert "workloadIdentity" not in f["evidence"]
    assert one(sc, findings, "registry-arm-audience")["status"] == "Fail"


def test_fix_grants_the_kubelet_identity_for_a_workload_identity_mixup(scenario):
    sc = scenario("beyond-wi")
    items, _ = _fix(sc, "--pod", "web", "--yes")
    (role,) = [i for i in items if i["checkId"] == "acr-role-assignment"]
    assert (role["action"], role["status"]) == ("apply", "Applied"), role
    kubelet = [c for c in sc.world.arm.values() if c.get("type") == "Microsoft.ContainerService/ManagedClusters"][0][
        "properties"]["identityProfile"]["kubeletidentity"]["objectId"]
    assert kubelet in role["command"] and "AcrPull" in role["command"]


# --- B.nap ----------------------------------------------------------------------------------------------------------

def test_pod_on_a_node_made_by_node_auto_provisioning_fails_naming_node_and_pool(scenario):
    sc = scenario("beyond-nap")
    findings, result = check_auth(sc, "--pod", "web")
    f = one(sc, findings, "node-provisioning-identity", "pod default/web")
    assert f["status"] == "Fail" and f["article"] == "B.nap", f
    assert "Node aks-default-x7k2p" in f["message"] and "node pool default" in f["message"]
    assert "although the kubelet identity may pull from myacr" in f["message"]
    assert f["remediation"].startswith("az aks update -g rg1 -n aks1 --attach-acr " + REGISTRY_ID.format(SUBSCRIPTION))
    assert "kubectl delete nodeclaim" in f["remediation"] and 'nodeName=="aks-default-x7k2p"' in f["remediation"]
    assert f["evidence"]["kubeletMayPull"] is True and f["evidence"]["failedPulls"][0]["token"] == "anonymous"
    assert one(sc, findings, "acr-role-assignment")["status"] == "Pass"
    assert "First fix to try (node-provisioning-identity" in result.stderr


def test_pod_on_a_scale_set_node_of_a_nap_cluster_passes(scenario):
    sc = scenario("beyond-nap")
    findings, _ = check_auth(sc, "--pod", "api", "--checks", "node-provisioning-identity")
    f = one(sc, findings, "node-provisioning-identity")
    assert f["status"] == "Pass" and "scale set node of pool nodepool1" in f["message"], f


def test_first_command_finds_the_pod_on_a_node_auto_provisioning_node(scenario):
    """Without --pod, the failing pods the run finds are judged: the one on a node that node auto-provisioning made
    fails, and no pod that pulls fine is blamed."""
    sc = scenario("beyond-nap")
    findings, _ = sc.diagnose("--checks", "node-provisioning-identity")
    naps = [f for f in findings if f["checkId"] == "node-provisioning-identity"]
    failed = [f for f in naps if f["status"] == "Fail"]
    assert [f["target"] for f in failed] == ["pod default/web"], naps
    assert failed[0]["evidence"]["node"] == "aks-default-x7k2p" and "--attach-acr" in failed[0]["remediation"]
    assert not [f for f in naps if f["target"] == "pod default/api" and f["status"] == "Fail"], naps


def test_cluster_without_node_auto_provisioning_is_skipped_with_the_reason(scenario):
    sc = scenario("beyond-armaud-disabled")
    findings, _ = check_auth(sc, "--pod", "web", "--checks", "node-provisioning-identity")
    f = one(sc, findings, "node-provisioning-identity")
    assert f["status"] == "Skipped" and "does not use node auto-provisioning" in f["message"], f
    assert not [e for e in sc.sim.log if "/api/v1/nodes" in e["path"]]


# --- fleet: the same verdicts from Resource Graph's bulk facts --------------------------------------------------------

def _fleet(sc, *args):
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "fleet", *args, "-o", "json")
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    assert not sc.sim.writes() and not sc.sim.unknown()
    return result.json()


def test_fleet_finds_a_recreated_kubelet_identity_from_resource_graph(scenario):
    sc = scenario("beyond-drift-recreated")
    findings = _fleet(sc, "--checks", "kubelet-identity-vmss")
    drift = [f for f in findings if f["target"] == "kubelet identity aks1-agentpool"]
    assert len(drift) == 1 and drift[0]["status"] == "Fail" and "was recreated" in drift[0]["message"], findings
    assert not [e for e in sc.sim.log if "/userassignedidentities/" in e["path"].lower()]   # no per-resource GET
    live, _ = check_auth(sc, "--acr", "myacr", "--checks", "kubelet-identity-vmss")
    assert sorted((f["target"], f["status"], f["message"]) for f in findings) == \
        sorted((f["target"], f["status"], f["message"]) for f in live)


def test_fleet_warns_on_a_registry_refusing_arm_audience_tokens(scenario):
    sc = scenario("beyond-armaud-disabled")
    findings = _fleet(sc, "--checks", "registry-arm-audience", "registry-tenant")
    armaud = [f for f in findings if f["checkId"] == "registry-arm-audience"]
    assert [f["status"] for f in armaud] == ["Warning"], findings     # no pod in fleet: no pull error to tie it to
    assert [f["status"] for f in findings if f["checkId"] == "registry-tenant"] == ["Pass"]
