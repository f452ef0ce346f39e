# Facts these tests pin down, and where they were confirmed:
# - ABAC mode ("RBAC Registry + ABAC Repository Permissions"): AcrPull, AcrPush and AcrDelete are not honoured;
#   Owner, Contributor and Reader grant control plane only; pulls need Container Registry Repository
#   Reader/Writer/Contributor. Condition shape from the portal editor, conditionVersion 2.0:
#   ((!(ActionMatches{'.../repositories/content/read'}) AND !(ActionMatches{'.../repositories/metadata/read'}))
#    OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase 'hello-world'))
#   and StringStartsWithIgnoreCase 'backend/' (OR-ed for several prefixes).
#   https://learn.microsoft.com/azure/container-registry/container-registry-rbac-abac-repository-permissions
#   (MicrosoftDocs/azure-management-docs, articles/container-registry/container-registry-rbac-abac-...md)
# - Container Registry Data Importer and Data Reader reads all repositories in the ABAC mode, no conditions:
#   https://learn.microsoft.com/azure/container-registry/container-registry-rbac-built-in-roles-overview
#   https://learn.microsoft.com/azure/container-registry/container-registry-rbac-built-in-roles-directory-reference
# - roleAssignmentMode values AbacRepositoryPermissions / LegacyRegistryPermissions: azure-mgmt-containerregistry
#   models (RoleAssignmentMode) shipped with azure-cli 2.91.
# - AcrPull 7f951dda-4ed3-4680-a7ca-43fe172d538d, actions [Microsoft.ContainerRegistry/registries/pull/read]:
#   https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers
# - Container Registry Repository Reader b93aa761-3e63-49ed-ac28-beffa264f7ac, dataActions
#   [.../repositories/content/read, .../repositories/metadata/read], no actions:
#   https://www.azadvertizer.net/azrolesadvertizer/b93aa761-3e63-49ed-ac28-beffa264f7ac.html
# - Condition syntax: ActionMatches/SubOperationMatches, AND/&&, OR/||, NOT/!, @Request/@Resource/@Environment/
#   @Principal sources, String[Not]Equals/StartsWith/Like[IgnoreCase] (Like: * and ?, backslash escapes),
#   ForAnyOfAnyValues:/ForAllOfAnyValues:/ForAnyOfAllValues:/ForAllOfAllValues: with {'a', 'b'} sets:
#   https://learn.microsoft.com/azure/role-based-access-control/conditions-format
# - Wildcards in actions, NotActions subtract from Actions and are not a deny:
#   https://learn.microsoft.com/azure/role-based-access-control/role-definitions
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose.roles import (
    ABAC_MODE,
    ACR_PULL_ROLE_ID,
    DATA_IMPORTER_ROLE_ID,
    PULL_ACTION,
    REPOSITORY_CONTENT_READ,
    REPOSITORY_METADATA_READ,
    REPOSITORY_READER_ROLE_ID,
    ConditionResult,
    PullGrant,
    action_matches,
    denial,
    evaluate_repository_condition,
    grants,
    pull_grants,
    scope_covers,
)

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
RG = SUB + "/resourceGroups/rg1"
REGISTRY = RG + "/providers/Microsoft.ContainerRegistry/registries/myacr"
KUBELET = "11111111-1111-1111-1111-111111111111"
OTHER = "22222222-2222-2222-2222-222222222222"
MG = "/providers/Microsoft.Management/managementGroups/platform"
REPO_ATTR = "@Request[Microsoft.ContainerRegistry/registries/repositories:name]"
GUARD = ("!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND "
         "!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})")

OWNER_ID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR_ID = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER_ID = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CUSTOM_ID = "33333333-3333-3333-3333-333333333333"


def block(actions=(), not_actions=(), data_actions=(), not_data_actions=()):
    return {"actions": list(actions), "notActions": list(not_actions), "dataActions": list(data_actions),
            "notDataActions": list(not_data_actions)}


def definition(guid, name, *blocks, scope=SUB):
    return {"id": scope + "/providers/Microsoft.Authorization/roleDefinitions/" + guid, "name": guid,
            "properties": {"roleName": name, "type": "BuiltInRole", "permissions": list(blocks),
                           "assignableScopes": ["/"]}}


ACR_PULL = definition(ACR_PULL_ROLE_ID, "AcrPull", block([PULL_ACTION]))
READER = definition(READER_ID, "Reader", block(["*/read"]))
OWNER = definition(OWNER_ID, "Owner", block(["*"]))
CONTRIBUTOR = definition(CONTRIBUTOR_ID, "Contributor", block(
    ["*"], ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action"]))
REPO_READER = definition(REPOSITORY_READER_ROLE_ID, "Container Registry Repository Reader",
                         block(data_actions=[REPOSITORY_METADATA_READ, REPOSITORY_CONTENT_READ]))
ALL_DEFINITIONS = {d["id"]: d for d in (ACR_PULL, READER, OWNER, CONTRIBUTOR, REPO_READER)}


def perms(d):
    return d["properties"]["permissions"]


def assignment(role_guid, principal=KUBELET, scope=REGISTRY, condition=None, name="a1"):
    props = {"roleDefinitionId": SUB + "/providers/Microsoft.Authorization/roleDefinitions/" + role_guid,
             "principalId": principal, "principalType": "ServicePrincipal", "scope": scope}
    if condition is not None:
        props.update(condition=condition, conditionVersion="2.0")
    return {"id": scope + "/providers/Microsoft.Authorization/roleAssignments/" + name, "name": name,
            "properties": props}


def repo_condition(expression):
    return f"(({GUARD}) OR ({expression}))"


# --- roles ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [ACR_PULL, READER, OWNER, CONTRIBUTOR], ids=lambda d: d["properties"]["roleName"])
def test_roles_that_grant_pull(role):
    assert grants(perms(role), PULL_ACTION)


def test_repository_reader_grants_no_pull_action_only_data_actions():
    assert not grants(perms(REPO_READER), PULL_ACTION)
    assert grants(perms(REPO_READER), REPOSITORY_CONTENT_READ, data=True)
    assert grants(perms(REPO_READER), REPOSITORY_METADATA_READ, data=True)


def test_actions_and_data_actions_do_not_mix():
    assert not grants(perms(ACR_PULL), PULL_ACTION, data=True)
    assert not grants(perms(OWNER), REPOSITORY_CONTENT_READ, data=True)
    assert not grants([block(["*"])], REPOSITORY_CONTENT_READ, data=True)
    assert grants([block(data_actions=["Microsoft.ContainerRegistry/*"])], REPOSITORY_CONTENT_READ, data=True)


def test_not_action_in_the_same_block_removes_the_grant():
    custom = [block(["Microsoft.ContainerRegistry/*"], [PULL_ACTION])]
    assert not grants(custom, PULL_ACTION)
    assert grants(custom, "Microsoft.ContainerRegistry/registries/read")


def test_wildcard_not_action_removes_the_grant():
    assert not grants([block(["*"], ["Microsoft.ContainerRegistry/registries/*/read"])], PULL_ACTION)


def test_not_action_in_another_block_does_not_remove():
    assert grants([block([PULL_ACTION]), block(["Microsoft.ContainerRegistry/*"], [PULL_ACTION])], PULL_ACTION)


def test_not_data_action_removes_only_data_grant():
    role = [block([PULL_ACTION], data_actions=["Microsoft.ContainerRegistry/*"],
                  not_data_actions=[REPOSITORY_CONTENT_READ])]
    assert grants(role, PULL_ACTION)
    assert not grants(role, REPOSITORY_CONTENT_READ, data=True)
    assert grants(role, REPOSITORY_METADATA_READ, data=True)


def test_grants_tolerates_empty_and_pascal_case():
    assert not grants([], PULL_ACTION)
    assert not grants(None, PULL_ACTION)
    assert not grants([{"actions": None}], PULL_ACTION)
    assert grants([{"Actions": ["*/read"], "NotActions": []}], PULL_ACTION)


@pytest.mark.parametrize("pattern", [
    "*", "*/read", "Microsoft.ContainerRegistry/*", "Microsoft.ContainerRegistry/registries/*/read",
    "microsoft.containerregistry/REGISTRIES/pull/READ", "Microsoft.ContainerRegistry/registries/pu*",
    "*/registries/*", "Microsoft.*/read", PULL_ACTION,
])
def test_action_matches(pattern):
    assert action_matches(pattern, PULL_ACTION)


@pytest.mark.parametrize("pattern", [
    "*/write", "Microsoft.ContainerRegistry/registries/push/*", "Microsoft.Compute/*",
    "Microsoft.ContainerRegistry/registries/pull", "Microsoft.ContainerRegistry/registries/pull/read/x", "",
    "Microsoft.ContainerRegistry/registries/?ull/read",
])
def test_action_does_not_match(pattern):
    assert not action_matches(pattern, PULL_ACTION)


# --- scopes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [REGISTRY, RG, SUB, "/", REGISTRY.upper(), RG + "/", SUB.lower() + "/"])
def test_scope_inheritance(scope):
    assert scope_covers(scope, REGISTRY)


@pytest.mark.parametrize("scope", [
    REGISTRY + "2", SUB + "/resourceGroups/rg", SUB + "/resourceGroups/rg10", SUB + "1",
    SUB + "/resourceGroups/rg2", REGISTRY + "/replications/westeurope", "", None,
])
def test_scope_does_not_cover_siblings_or_children(scope):
    assert not scope_covers(scope, REGISTRY)


def test_management_group_scope_needs_membership():
    assert scope_covers(MG, REGISTRY, frozenset({"Platform"}))
    assert scope_covers(MG.upper() + "/", REGISTRY, frozenset({"root", "platform"}))
    assert not scope_covers(MG, REGISTRY)
    assert not scope_covers(MG, REGISTRY, frozenset({"platform-dev"}))
    assert not scope_covers(MG + "/subscriptions/x", REGISTRY, frozenset({"platform"}))


# --- ABAC conditions -----------------------------------------------------------------------------------------

DOC_SINGLE = """(
 (
  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})
  AND
  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})
 )
 OR
 (
  @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase 'hello-world'
 )
)"""
# As `az role assignment create` echoes it back: on one line, with doubled spaces.
DOC_PREFIX_ECHOED = ("( (  !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})  AND  "
                     "!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'}) ) OR  (  "
                     "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase "
                     "'backend/' ))")
DOC_TWO_PREFIXES = repo_condition(f"{REPO_ATTR} StringStartsWithIgnoreCase 'backend/' OR "
                                  f"{REPO_ATTR} StringStartsWithIgnoreCase 'frontend/js/'")


def test_no_condition_covers_all_repositories():
    assert evaluate_repository_condition(None, "app") == ConditionResult(True, "all repositories")
    assert evaluate_repository_condition("  ", "app").covers is True


def test_documented_single_repository_condition():
    assert evaluate_repository_condition(DOC_SINGLE, "hello-world") == ConditionResult(
        True, "repositories named 'hello-world'")
    assert evaluate_repository_condition(DOC_SINGLE, "Hello-World").covers is True
    assert evaluate_repository_condition(DOC_SINGLE, "hello-world2").covers is False
    assert evaluate_repository_condition(DOC_SINGLE, "team/hello-world").covers is False


def test_documented_prefix_condition_as_echoed_by_the_cli():
    assert evaluate_repository_condition(DOC_PREFIX_ECHOED, "backend/nginx") == ConditionResult(
        True, "repositories starting with 'backend/'")
    # The documented pitfall: without the slash 'backend-infra/k8s' would match; with it, it does not.
    assert evaluate_repository_condition(DOC_PREFIX_ECHOED, "backend-infra/k8s").covers is False


def test_documented_two_prefixes():
    result = evaluate_repository_condition(DOC_TWO_PREFIXES, "frontend/js/react")
    assert result == ConditionResult(True, "repositories starting with 'backend/' or starting with 'frontend/js/'")
    assert evaluate_repository_condition(DOC_TWO_PREFIXES, "frontend/css/x").covers is False


@pytest.mark.parametrize("expression, covered, not_covered, description", [
    (f"{REPO_ATTR} StringEquals 'app'", "app", "App", "named 'app'"),
    (f"{REPO_ATTR} StringStartsWith 'team-a/'", "team-a/api", "team-b/api", "starting with 'team-a/'"),
    (f"{REPO_ATTR} StringLike 'team-*/app?'", "team-x/y/app1", "team-x/app12", "matching 'team-*/app?'"),
    (f"{REPO_ATTR} StringLikeIgnoreCase 'TEAM/*'", "team/api", "teams/api", "matching 'TEAM/*'"),
    (f"{REPO_ATTR} StringLike 'lit\\*'", "lit*", "literal", "matching 'lit\\*'"),
    (f"{REPO_ATTR} ForAnyOfAnyValues:StringEquals {{'a', 'b'}}", "b", "c", "named 'a' or 'b'"),
    (f"{REPO_ATTR} ForAnyOfAnyValues:StringStartsWith {{'x/','y/'}}", "y/z", "z/y", "starting with 'x/' or 'y/'"),
    (f"{REPO_ATTR} StringNotEquals 'secret'", "app", "secret", "not named 'secret'"),
    (f"{REPO_ATTR} StringNotStartsWith 'internal/'", "app", "internal/x", "not starting with 'internal/'"),
    (f"{REPO_ATTR} StringNotEqualsIgnoreCase 'Secret'", "app", "secret", "not named 'Secret'"),
    (f"{REPO_ATTR} StringEquals 'app' OR {REPO_ATTR} StringStartsWith 'team-a/'", "team-a/x", "team-b/x",
     "named 'app' or starting with 'team-a/'"),
    (f"{REPO_ATTR} StringStartsWith 'team-a/' AND {REPO_ATTR} StringNotEquals 'team-a/secret'", "team-a/api",
     "team-a/secret", "starting with 'team-a/' and not named 'team-a/secret'"),
    (f"{REPO_ATTR} StringEquals 'app' OR ({REPO_ATTR} StringStartsWith 'a/' AND {REPO_ATTR} StringNotEquals 'a/b')",
     "a/c", "a/b", "named 'app' or (starting with 'a/' and not named 'a/b')"),
    (f"NOT {REPO_ATTR} StringStartsWith 'x/'", "y/a", "x/a", "not starting with 'x/'"),
    (f"!({REPO_ATTR} StringEquals 'a' || {REPO_ATTR} StringEquals 'b')", "c", "a", "not (named 'a' or named 'b')"),
    (f"{REPO_ATTR} StringStartsWith 'a' && {REPO_ATTR} StringLike '*z'", "abz", "abc",
     "starting with 'a' and matching '*z'"),
    ("@Resource[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'app'", "app", "api",
     "named 'app'"),
])
def test_condition_forms(expression, covered, not_covered, description):
    condition = repo_condition(expression)
    assert evaluate_repository_condition(condition, covered) == ConditionResult(True, "repositories " + description)
    assert evaluate_repository_condition(condition, not_covered).covers is False


def test_condition_that_only_guards_other_actions_leaves_pull_alone():
    writes_only = (f"((!(ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/content/write'}})) "
                   f"OR ({REPO_ATTR} StringEquals 'app'))")
    assert evaluate_repository_condition(writes_only, "anything") == ConditionResult(True, "all repositories")
    metadata_only = (f"((!(ActionMatches{{'{REPOSITORY_METADATA_READ}'}})) OR ({REPO_ATTR} StringEquals 'app'))")
    assert evaluate_repository_condition(metadata_only, "other").covers is True


def test_wildcard_action_in_condition_applies_to_pull():
    condition = (f"((!(ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/*'}})) "
                 f"OR ({REPO_ATTR} StringEquals 'app'))")
    assert evaluate_repository_condition(condition, "app").covers is True
    assert evaluate_repository_condition(condition, "api").covers is False


def test_separate_conditions_per_action_are_and_ed():
    condition = (f"((!(ActionMatches{{'{REPOSITORY_CONTENT_READ}'}})) OR ({REPO_ATTR} StringEquals 'content'))"
                 f" AND ((!(ActionMatches{{'{REPOSITORY_METADATA_READ}'}})) OR ({REPO_ATTR} StringEquals 'meta'))")
    assert evaluate_repository_condition(condition, "content") == ConditionResult(True, "repositories named 'content'")
    assert evaluate_repository_condition(condition, "meta").covers is False
    assert evaluate_repository_condition(condition, "meta", action=REPOSITORY_METADATA_READ).covers is True


def test_condition_that_blocks_pull_everywhere():
    condition = f"(!(ActionMatches{{'{REPOSITORY_CONTENT_READ}'}}))"
    assert evaluate_repository_condition(condition, "app") == ConditionResult(False, "no repositories")


def test_unknown_repository_leaves_a_limiting_condition_undecided():
    result = evaluate_repository_condition(DOC_SINGLE, None)
    assert result == ConditionResult(None, "repositories named 'hello-world'")


def test_attributes_other_than_the_repository_cannot_be_evaluated():
    condition = repo_condition(f"{REPO_ATTR} StringEquals 'app' AND @Environment[isPrivateLink] BoolEquals true")
    result = evaluate_repository_condition(condition, "app")
    assert result.covers is None
    assert "named 'app'" in result.description and "cannot be evaluated" in result.description
    # ...but a repository the condition rules out anyway is still decided.
    assert evaluate_repository_condition(condition, "api").covers is False


@pytest.mark.parametrize("condition", [
    "((", "garbage", f"{REPO_ATTR} StringEquals", f"({REPO_ATTR} StringEquals 'a'", f"{REPO_ATTR} 'a'",
    "ActionMatches{'x'} )", "'just a string'", "(" * 5000 + ")" * 5000,
])
def test_unparseable_conditions(condition):
    result = evaluate_repository_condition(condition, "app")
    assert result.covers is None
    assert "could not be evaluated" in result.description


@pytest.mark.parametrize("expression, words", [
    (f"{REPO_ATTR} NumericEquals 3", "operator NumericEquals"),
    (f"{REPO_ATTR} StringEquals {{'a', 'b'}}", "operator StringEquals with a list of values"),
])
def test_unsupported_operator_on_repository_is_undecided(expression, words):
    result = evaluate_repository_condition(repo_condition(expression), "app")
    assert result.covers is None and words in result.description


@given(st.text(max_size=200))
def test_condition_evaluation_never_raises(text):
    result = evaluate_repository_condition(text, "app")
    assert result.covers in (True, False, None) and isinstance(result.description, str)


# --- pull grants ---------------------------------------------------------------------------------------------


def test_rbac_acr_pull_on_the_registry():
    found = pull_grants([assignment(ACR_PULL_ROLE_ID), assignment(ACR_PULL_ROLE_ID, principal=OTHER, name="a2")],
                        ALL_DEFINITIONS, [KUBELET], REGISTRY, abac=False)
    assert found == [PullGrant(REGISTRY + "/providers/Microsoft.Authorization/roleAssignments/a1", "AcrPull",
                               REGISTRY, KUBELET, f"action {PULL_ACTION} via '{PULL_ACTION}'")]


def test_rbac_reader_at_subscription_and_owner_at_management_group():
    found = pull_grants([assignment(READER_ID, scope=SUB), assignment(OWNER_ID, scope=MG, name="a2")],
                        ALL_DEFINITIONS, [KUBELET.upper()], REGISTRY, abac=False,
                        management_groups=frozenset({"platform"}))
    assert [(g.role_name, g.via) for g in found] == [
        ("Reader", f"action {PULL_ACTION} via '*/read'"), ("Owner", f"action {PULL_ACTION} via '*'")]


def test_rbac_ignores_sibling_registry_and_no_pull_roles():
    custom = definition(CUSTOM_ID, "No pull", block(["Microsoft.ContainerRegistry/*"], [PULL_ACTION]))
    found = pull_grants([assignment(ACR_PULL_ROLE_ID, scope=REGISTRY + "2"), assignment(CUSTOM_ID, name="a2"),
                         assignment(REPOSITORY_READER_ROLE_ID, name="a3")],
                        {**ALL_DEFINITIONS, custom["id"]: custom}, [KUBELET], REGISTRY, abac=False)
    assert found == []


def test_definitions_match_by_guid_whatever_scope_they_are_addressed_at():
    tenant_scoped = {"/providers/Microsoft.Authorization/roleDefinitions/" + ACR_PULL_ROLE_ID.upper(): ACR_PULL}
    found = pull_grants([assignment(ACR_PULL_ROLE_ID)], tenant_scoped, [KUBELET], REGISTRY, abac=False)
    assert [g.role_name for g in found] == ["AcrPull"]


def test_well_known_roles_do_not_need_a_definition():
    found = pull_grants([assignment(ACR_PULL_ROLE_ID)], {}, [KUBELET], REGISTRY, abac=False)
    assert [g.role_name for g in found] == ["AcrPull"]
    assert pull_grants([assignment(CUSTOM_ID)], {}, [KUBELET], REGISTRY, abac=False) == []


def test_flattened_cli_output_is_accepted():
    flat = {"id": "ra1", "principalId": KUBELET, "scope": REGISTRY,
            "roleDefinitionId": SUB + "/providers/Microsoft.Authorization/roleDefinitions/" + CUSTOM_ID}
    role = {"id": SUB + "/providers/Microsoft.Authorization/roleDefinitions/" + CUSTOM_ID, "name": CUSTOM_ID,
            "roleName": "Puller", "permissions": [block(["Microsoft.ContainerRegistry/registries/*/read"])]}
    found = pull_grants([flat], {role["id"]: role}, [KUBELET], REGISTRY, abac=False)
    assert [(g.assignment_id, g.role_name) for g in found] == [("ra1", "Puller")]


@pytest.mark.parametrize("role_guid", [ACR_PULL_ROLE_ID, OWNER_ID, CONTRIBUTOR_ID, READER_ID])
def test_abac_mode_ignores_pull_read_roles(role_guid):
    assert pull_grants([assignment(role_guid)], ALL_DEFINITIONS, [KUBELET], REGISTRY, abac=True) == []


def test_abac_repository_reader_without_condition():
    found = pull_grants([assignment(REPOSITORY_READER_ROLE_ID, scope=RG)], ALL_DEFINITIONS, [KUBELET], REGISTRY,
                        abac=True, repository="app")
    assert found == [PullGrant(RG + "/providers/Microsoft.Authorization/roleAssignments/a1",
                               "Container Registry Repository Reader", RG, KUBELET,
                               f"data action {REPOSITORY_CONTENT_READ} via '{REPOSITORY_CONTENT_READ}'")]


def test_abac_condition_must_reach_the_repository():
    assignments = [assignment(REPOSITORY_READER_ROLE_ID, condition=DOC_SINGLE)]
    assert pull_grants(assignments, ALL_DEFINITIONS, [KUBELET], REGISTRY, abac=True, repository="app") == []
    (found,) = pull_grants(assignments, ALL_DEFINITIONS, [KUBELET], REGISTRY, abac=True, repository="hello-world")
    assert found.certain and found.via.endswith("; condition: repositories named 'hello-world'")


def test_abac_conditional_grant_without_repository_is_limited():
    (found,) = pull_grants([assignment(REPOSITORY_READER_ROLE_ID, condition=DOC_SINGLE)], ALL_DEFINITIONS,
                           [KUBELET], REGISTRY, abac=True)
    assert not found.certain and "repositories named 'hello-world'" in found.via


def test_abac_unreadable_condition_is_kept_but_uncertain():
    (found,) = pull_grants([assignment(REPOSITORY_READER_ROLE_ID, condition="((")], ALL_DEFINITIONS,
                           [KUBELET], REGISTRY, abac=True, repository="app")
    assert not found.certain and "could not be evaluated" in found.via


def test_abac_custom_data_action_role_and_data_importer():
    custom = definition(CUSTOM_ID, "Registry data", block(data_actions=["Microsoft.ContainerRegistry/*"]))
    found = pull_grants([assignment(CUSTOM_ID), assignment(DATA_IMPORTER_ROLE_ID, name="a2")],
                        {custom["id"]: custom}, [KUBELET], REGISTRY, abac=True, repository="app")
    assert [(g.role_name, g.certain) for g in found] == [
        ("Registry data", True), ("Container Registry Data Importer and Data Reader", True)]
    assert found[0].via == f"data action {REPOSITORY_CONTENT_READ} via 'Microsoft.ContainerRegistry/*'"


def test_abac_mode_constant():
    assert ABAC_MODE == "AbacRepositoryPermissions"


# --- properties ----------------------------------------------------------------------------------------------

SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "._-", min_size=1, max_size=12)
ACTION = st.lists(SEGMENT, min_size=2, max_size=6).map("/".join)
POOL = ["*", "*/read", "*/write", "Microsoft.ContainerRegistry/*", "Microsoft.Compute/*", PULL_ACTION,
        "Microsoft.ContainerRegistry/registries/*/read", "Microsoft.ContainerRegistry/registries/push/write"]
BLOCK = st.builds(lambda a, n: block(a, n), st.lists(st.sampled_from(POOL), max_size=3),
                  st.lists(st.sampled_from(POOL), max_size=2))


@given(ACTION)
def test_an_action_matches_itself_and_star(action):
    assert action_matches(action, action)
    assert action_matches("*", action)


@given(ACTION)
def test_matching_ignores_case(action):
    assert action_matches(action.upper(), action.lower())
    assert action_matches(action.lower(), action.upper())
    assert action_matches(action.swapcase(), action)


@given(st.lists(SEGMENT, min_size=2, max_size=6), st.data())
def test_replacing_a_segment_with_star_still_matches(segments, data):
    i = data.draw(st.integers(min_value=0, max_value=len(segments) - 1))
    pattern = "/".join(segments[:i] + ["*"] + segments[i + 1:])
    assert action_matches(pattern, "/".join(segments))


@given(st.lists(BLOCK, max_size=4), st.data())
def test_grant_does_not_depend_on_block_order(blocks, data):
    shuffled = data.draw(st.permutations(blocks))
    for action in (PULL_ACTION, "Microsoft.ContainerRegistry/registries/read", "Microsoft.Compute/disks/write"):
        assert grants(blocks, action) == grants(shuffled, action)


@given(BLOCK, ACTION)
def test_not_action_equal_to_the_action_removes_the_block_grant(b, action):
    for target in (action, PULL_ACTION):
        denied = dict(b, notActions=b["notActions"] + [target])
        assert not grants([denied], target)
        assert grants([denied, block([target])], target)


@given(st.lists(SEGMENT, min_size=1, max_size=4), st.lists(SEGMENT, min_size=1, max_size=3))
def test_a_scope_covers_what_lies_under_it(scope_parts, child_parts):
    scope = "/" + "/".join(scope_parts)
    assert scope_covers(scope, scope)
    assert scope_covers(scope, scope + "/" + "/".join(child_parts))
    assert not scope_covers(scope + "x", scope + "/" + "/".join(child_parts))


@given(st.lists(BLOCK, max_size=3))
def test_a_role_is_denied_exactly_when_it_does_not_grant(blocks):
    why = denial(blocks, PULL_ACTION)
    assert (why is None) == grants(blocks, PULL_ACTION)
    if why and any(action_matches(p, PULL_ACTION) for b in blocks for p in b["actions"]):
        assert "notActions" in why


def test_denial_names_the_exclusion():
    custom = [block(["Microsoft.ContainerRegistry/*"], [PULL_ACTION])]
    assert denial(custom, PULL_ACTION) == (f"actions 'Microsoft.ContainerRegistry/*' matches it but notActions "
                                           f"'{PULL_ACTION}' removes it")
    assert denial([block(["Microsoft.Compute/*"])], PULL_ACTION) == f"none of its actions matches {PULL_ACTION}"


def test_grant_says_which_repositories_it_reaches():
    (found,) = pull_grants([assignment(REPOSITORY_READER_ROLE_ID, condition=DOC_PREFIX_ECHOED)], ALL_DEFINITIONS,
                           [KUBELET], REGISTRY, abac=True, repository="backend/api")
    assert found.repositories == "repositories starting with 'backend/'"
    (plain,) = pull_grants([assignment(ACR_PULL_ROLE_ID)], ALL_DEFINITIONS, [KUBELET], REGISTRY, abac=False)
    assert plain.repositories == "all repositories"
