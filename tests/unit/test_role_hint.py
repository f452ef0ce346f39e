"""The role hint of `run` (LiveFacts._read_by_role_hint): from the role assignments Resource Graph shows at a registry,
the reads the checks of cause 1 will make after ARM's list are started beside it. A hint that named a read the checks
do not make would cost a request; one that named another set of directory objects than theirs would send getByIds
twice. So: the plan is made by the checks' own decisions (``role_reads``), it names only reads the checks make, and
the hint's rows are ARM's list in every scenario that has a cluster and a registry to diagnose."""
import pytest

from azext_acrpull.diagnose.catalog import catalog
from azext_acrpull.diagnose.common.pull import role_reads
from azext_acrpull.diagnose.roles import (
    ACR_PULL_ROLE_ID,
    ACR_PUSH_ROLE_ID,
    CONTRIBUTOR_ROLE_ID,
    OWNER_ROLE_ID,
    REPOSITORY_READER_ROLE_ID,
)

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
REG = SUB + "/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myacr"
REGISTRY = {"id": REG, "name": "myacr", "properties": {"roleAssignmentMode": "LegacyRegistryPermissions"}}
ABAC = dict(REGISTRY, properties={"roleAssignmentMode": "AbacRepositoryPermissions"})


def assignment(principal, role, scope=REG, kind="ServicePrincipal"):
    return {"id": "{}/providers/Microsoft.Authorization/roleAssignments/{}-{}".format(scope, principal, role[:4]),
            "properties": {"principalId": principal, "principalType": kind, "scope": scope,
                           "roleDefinitionId": SUB + "/providers/Microsoft.Authorization/roleDefinitions/" + role}}


def guids(ids):
    return sorted(i.rsplit("/", 1)[-1] for i in ids)


TENANT = [assignment("operator", OWNER_ROLE_ID, SUB), assignment("dana", OWNER_ROLE_ID, SUB, "User"),
          assignment("ci", ACR_PUSH_ROLE_ID), assignment("orders-web", ACR_PULL_ROLE_ID),
          assignment("platform", CONTRIBUTOR_ROLE_ID, SUB + "/resourceGroups/rg1", "Group")]


def test_without_a_pull_role_of_its_own_the_groups_and_the_other_holders_are_read():
    definitions, objects = role_reads(TENANT, "kubelet", REGISTRY)
    assert guids(definitions) == sorted([OWNER_ROLE_ID, ACR_PUSH_ROLE_ID, ACR_PULL_ROLE_ID, CONTRIBUTOR_ROLE_ID])
    # The principals that are not users or groups, all at once: a built-in pull role shows there are holders.
    assert objects == ["ci", "operator", "orders-web"]
    # acr-role-assignment alone reads the groups' roles, not the other holders'.
    definitions, objects = role_reads(TENANT, "kubelet", REGISTRY, holders=False)
    assert guids(definitions) == [CONTRIBUTOR_ROLE_ID] and objects is None


def test_with_a_pull_role_of_its_own_only_its_roles_are_read():
    held = TENANT + [assignment("kubelet", ACR_PULL_ROLE_ID)]
    assert role_reads(held, "KUBELET", REGISTRY) == ([held[-1]["properties"]["roleDefinitionId"]], None)
    # On an ABAC registry AcrPull is not a pull role: the identity lacks one, and the holders are read one by one
    # (no built-in ABAC pull role among theirs says there are any).
    definitions, objects = role_reads(held, "kubelet", ABAC)
    assert guids(definitions) == sorted([OWNER_ROLE_ID, ACR_PUSH_ROLE_ID, ACR_PULL_ROLE_ID, CONTRIBUTOR_ROLE_ID])
    assert objects is None
    reader = held + [assignment("ci", REPOSITORY_READER_ROLE_ID)]
    assert role_reads(reader, "kubelet", ABAC)[1] == ["ci", "kubelet", "operator", "orders-web"]


def test_no_principal_reads_nothing():
    assert role_reads(TENANT, None, REGISTRY) == ([], None)


# --- on the scenarios' worlds ------------------------------------------------------------------------------------
SCENARIOS = ["demo-broken", "mi-healthy", "sp-healthy", "mi-acrpull-missing", "mi-acrpull-other-identity",
             "auth-group-role", "auth-group-other", "auth-reader-rg", "auth-abac-acrpull", "auth-abac-reader",
             "auth-sp-old-principal", "auth-sp-deleted", "auth-mi-kubelet-recreated", "auth-custom-wildcard"]


def _checked(name):
    """(the reads acr-role-assignment and sp-role-principal made, the hint's plan) on registry myacr of a scenario."""
    from tests.simulator.facts import world_facts
    from tests.simulator.scenarios import build
    facts = world_facts(build(name), registry=("name", "myacr"))
    definitions, objects = set(), []
    role_definition, directory_objects = facts.role_definition, facts.directory_objects
    facts.role_definition = lambda i: definitions.add(i.rsplit("/", 1)[-1].lower()) or role_definition(i)
    facts.directory_objects = lambda ids: objects.append(sorted(i.lower() for i in ids)) or directory_objects(ids)
    facts.prefetch = lambda *reads: [_quietly(r) for r in reads]   # what the live reader starts, it reads
    for chk in catalog():
        if chk.check_id in ("acr-role-assignment", "sp-role-principal"):
            chk.func(chk, facts)
    registry = facts.registries()[0]
    plan = role_reads(facts.role_assignments(registry["id"]), facts.pull_identity().get("objectId"), registry)
    return definitions, objects, plan


def _quietly(read):
    from azext_acrpull.diagnose.facts import FactError
    try:
        read()
    except FactError:
        pass


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_plan_names_only_reads_the_checks_make(name):
    definitions, objects, (planned, planned_objects) = _checked(name)
    assert set(guids(planned)) <= definitions
    assert planned_objects is None or planned_objects in objects


def test_the_plan_covers_what_waited_for_the_list():
    definitions, objects, (planned, planned_objects) = _checked("demo-broken")
    assert set(guids(planned)) == definitions and {tuple(o) for o in objects} == {tuple(planned_objects)}
    definitions, objects, (planned, planned_objects) = _checked("mi-healthy")
    assert guids(planned) == [ACR_PULL_ROLE_ID] and planned_objects is None and not objects


@pytest.mark.parametrize("name", SCENARIOS + ["auth-mg-cross-sub", "net-hub-spoke-healthy",
                                             "fix-abac-reader-missing"])
def test_the_hint_rows_are_arms_list(name):
    """The Resource Graph query and the scope filter give the assignments ARM lists at the registry, so the plan is
    made from the list the checks read (and getByIds is not sent for two sets)."""
    from azext_acrpull.diagnose.facts.live import ROLE_HINT_QUERY, _scope_applies
    from azext_acrpull.diagnose.facts.resourcegraph import ResourceGraph
    from tests.simulator.facts import InProcessRest
    from tests.simulator.scenarios import build
    world = build(name)
    registries = [r for k, r in sorted(world.arm.items()) if r.get("type") == "Microsoft.ContainerRegistry/registries"]
    for registry in registries:
        sub = registry["id"].split("/")[2]
        rows = ResourceGraph(InProcessRest(world), tries=1).query(
            ROLE_HINT_QUERY.format(name=registry["name"].lower()), [sub], authorization_scope="AtScopeAboveAndBelow")
        hinted = {r["id"].lower() for r in rows if _scope_applies(r["scope"], registry["id"].lower())}
        listed = {a["id"].lower() for a in world.role_assignments_for(registry["id"])}
        assert hinted == listed, registry["id"]
