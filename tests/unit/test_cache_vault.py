"""artifact-cache-rule and Key Vault access: which vaults a credential set's secret URIs name, what grants its
identity getSecret (role assignments on RBAC vaults, access policies otherwise), and how that weighs in the verdict."""
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose.checks.cache import GET_SECRET, judge_rule, policy_grant, rbac_grant, secret_vaults

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
VAULT = SUB + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"
REG = {"name": "myacr", "id": SUB + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myacr"}
PID = "11111111-1111-1111-1111-111111111111"
SECRETS_USER = "/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6"
READER = "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
DEFS = {SECRETS_USER: {"properties": {"roleName": "Key Vault Secrets User", "permissions": [
            {"actions": [], "notActions": [], "dataActions": [GET_SECRET], "notDataActions": []}]}},
        READER: {"properties": {"roleName": "Reader", "permissions": [
            {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}]}}}


def _ra(scope, role, principal=PID):
    return {"id": scope + "/providers/Microsoft.Authorization/roleAssignments/x",
            "properties": {"scope": scope, "roleDefinitionId": role, "principalId": principal}}


def test_secret_vaults_groups_secret_names_by_vault_and_ignores_other_uris():
    assert secret_vaults(["https://KV1.vault.azure.net/secrets/u", "https://kv1.vault.azure.net/secrets/p/abc",
                          "https://kv2.vault.azure.net/secrets/p", "not a uri", None]) == \
        {"kv1": ["u", "p"], "kv2": ["p"]}


def test_rbac_grant_needs_the_data_action_over_every_secret():
    secrets = [VAULT + "/secrets/u", VAULT + "/secrets/p"]
    assert rbac_grant([_ra(VAULT, SECRETS_USER)], DEFS, [PID], secrets) == ("Key Vault Secrets User", VAULT)
    assert rbac_grant([_ra(SUB, SECRETS_USER)], DEFS, [PID], secrets) == ("Key Vault Secrets User", SUB)
    assert rbac_grant([_ra(VAULT, READER)], DEFS, [PID], secrets) is None          # control plane only
    assert rbac_grant([_ra(VAULT, SECRETS_USER, "other")], DEFS, [PID], secrets) is None
    assert rbac_grant([_ra(VAULT + "/secrets/u", SECRETS_USER)], DEFS, [PID], secrets) is None   # one secret only


@given(st.lists(st.sampled_from(["get", "GET", "list", "set", "delete", "all"]), max_size=4))
def test_policy_grant_is_get_or_all_on_secrets_for_that_object(perms):
    vault = {"properties": {"accessPolicies": [{"objectId": PID, "permissions": {"secrets": perms, "keys": ["get"]}}]}}
    expected = PID if {p.lower() for p in perms} & {"get", "all"} else None
    assert policy_grant(vault, [PID.upper()]) == (expected and PID)
    assert policy_grant(vault, ["someone-else"]) is None


def _judge(health, vaults):
    cs = {"id": REG["id"] + "/credentialSets/hub", "name": "hub", "identity": {"principalId": PID},
          "properties": {"authCredentials": [{"name": "Credential1", "credentialHealth": {"status": health} if health
                                              else {}}]}}
    rule = {"name": "r", "properties": {"sourceRepository": "docker.io/library/*", "targetRepository": "library/*",
                                        "credentialSetResourceId": cs["id"]}}
    return judge_rule(REG, rule, [cs], served="myacr.azurecr.io/library/nginx:1", vaults=vaults)


def test_vault_access_decides_with_the_health():
    lacking = [{"vault": "kv1", "vaultId": VAULT, "authorization": "rbac", "access": "lacking", "reason": "no role"}]
    status, message, fix, _ = _judge("Healthy", lacking)
    assert status == "Fail" and "principal {}".format(PID) in message
    assert fix.endswith("--assignee-object-id {} --assignee-principal-type ServicePrincipal --scope {}".format(
        PID, VAULT))
    policy = [dict(lacking[0], authorization="accessPolicies")]
    assert _judge(None, policy)[2].endswith("az keyvault set-policy -n kv1 --object-id {} --secret-permissions get"
                                            .format(PID))
    unknown = [{"vault": "kv1", "access": "unknown", "reason": "forbidden"}]
    assert _judge("Healthy", unknown)[0] == "Warning"
    assert _judge(None, unknown)[0] == "Error"
    granted = [{"vault": "kv1", "access": "granted", "grantedBy": "Key Vault Secrets User at " + VAULT}]
    assert _judge("Healthy", granted)[0] == "Pass"
    assert _judge("Unhealthy", granted)[0] == "Fail"
