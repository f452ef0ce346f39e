"""subnet-endpoint-policy (B.sep): which node subnets a service endpoint policy keeps from the registry's storage.

The check's rule and the simulator's model of Azure (``network_builders.storage_admitted``, what decides the pull
error the simulated kubelet gets) must agree for every subnet and policy: a storage account outside every scope a
policy lists (a registry's, which ACR keeps in a subscription of its own) is refused exactly when the check says
a policy restricts the subnet.
"""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose.checks.endpoint_policy import (
    allowed_resources,
    data_endpoints,
    restricting_policies,
    storage_endpoint_regions,
)
from tests.simulator import network_builders as nb
from tests.simulator.world import SUBSCRIPTION, World

ACR_STORAGE = ("/subscriptions/6f3d1c2b-ac70-4e5f-9a8b-7c6d5e4f3a2b/resourceGroups/acr-storage-eastus/providers/"
               "Microsoft.Storage/storageAccounts/eastusacr1a2b3c4d")
CUSTOMER = ["/subscriptions/{}".format(SUBSCRIPTION), "/subscriptions/{}/resourceGroups/rg-data".format(SUBSCRIPTION),
            "/subscriptions/{}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/contosodata".format(
                SUBSCRIPTION)]
ALIASES = ["/services/Azure", "/services/Azure/Batch", "/services/Azure/MachineLearning",
           "/services/Azure/ManagedInstance", "/services/Azure/DataFactory"]
REGIONS = ["eastus", "westus", "westeurope", "North Europe"]
SERVICES = ["Microsoft.Storage", "Microsoft.Storage.Global", "Microsoft.Sql", "Microsoft.KeyVault"]

_endpoints = st.dictionaries(st.sampled_from(SERVICES), st.lists(st.sampled_from(REGIONS + ["*"]), min_size=1,
                                                                 max_size=3), max_size=3)
_definition = st.one_of(st.tuples(st.just("Microsoft.Storage"), st.lists(st.sampled_from(CUSTOMER), min_size=1,
                                                                          max_size=3)),
                        st.tuples(st.just("Global"), st.lists(st.sampled_from(ALIASES), min_size=1, max_size=3)))
_policies = st.lists(st.dictionaries(st.sampled_from(["d1", "d2", "d3"]), _definition, min_size=1, max_size=3),
                     max_size=3)


def _subnet(world, endpoints, definitions):
    policies = [nb.service_endpoint_policy(world, "rg-net", "sep{}".format(i), d) for i, d in enumerate(definitions)]
    vnet = nb.vnet(world, "rg1", "spoke-vnet", ["10.1.0.0/16"], [
        {"name": "aks-nodes", "prefix": "10.1.0.0/22", "service_endpoints": endpoints,
         "service_endpoint_policies": [p["id"] for p in policies]}])
    return vnet["properties"]["subnets"][0], policies


@given(_endpoints, _policies, st.sampled_from(REGIONS))
def test_the_check_and_the_simulated_azure_agree_on_the_registrys_storage(endpoints, definitions, region):
    world = World("sep-property")
    subnet, policies = _subnet(world, endpoints, definitions)
    restricting = restricting_policies(subnet, policies, [region])
    assert bool(restricting) == (not nb.storage_admitted(world, subnet, ACR_STORAGE, region.replace(" ", "")))
    assert all(p in policies for p in restricting)


@given(_endpoints, _policies, st.sampled_from(REGIONS), st.sampled_from(CUSTOMER))
def test_a_listed_account_is_always_reached(endpoints, definitions, region, scope):
    world = World("sep-listed")
    definitions = [dict(d, listed=("Microsoft.Storage", [scope])) for d in definitions]
    subnet, _ = _subnet(world, endpoints, definitions)
    assert nb.storage_admitted(world, subnet, CUSTOMER[2], region.replace(" ", ""))


def test_regions_of_the_storage_service_endpoints_only():
    subnet = {"properties": {"serviceEndpoints": [
        {"service": "Microsoft.Storage", "locations": ["eastus", "westus"]},
        {"service": "Microsoft.Sql", "locations": ["westeurope"]},
        {"service": "Microsoft.Storage.Global", "locations": ["*"]}]}}
    assert storage_endpoint_regions(subnet) == {"eastus", "westus", "*"}
    assert storage_endpoint_regions({"properties": {}}) == set()
    assert restricting_policies({"properties": {}}, [{"properties": {"serviceEndpointPolicyDefinitions": [
        {"properties": {"service": "Microsoft.Storage", "serviceResources": CUSTOMER}}]}}], ["eastus"]) == []


def test_a_policy_names_what_it_allows_and_its_aliases():
    policy = {"properties": {"serviceAlias": "/services/Azure/ManagedInstance", "serviceEndpointPolicyDefinitions": [
        {"properties": {"service": "Microsoft.Storage", "serviceResources": CUSTOMER[:2]}},
        {"properties": {"service": "Global", "serviceResources": ["/services/Azure/Batch"]}}]}}
    assert allowed_resources(policy) == (CUSTOMER[:2], ["/services/Azure/Batch", "/services/Azure/ManagedInstance"])


def test_dedicated_data_endpoints_or_a_private_endpoint_keep_layers_off_storage():
    assert data_endpoints({"properties": {"dataEndpointEnabled": False, "privateEndpointConnections": []}}) is None
    assert "dedicated data endpoints are enabled" in data_endpoints({"properties": {"dataEndpointEnabled": True}})
    assert "private endpoint" in data_endpoints({"properties": {"privateEndpointConnections": [{"id": "x"}]}})


# -- the check, on the worlds of its end-to-end scenarios (in-memory reader: Resource Graph and the API server) -------
def _run(name, **request):
    from azext_acrpull.diagnose.catalog import catalog
    from tests.simulator.facts import world_facts
    from tests.simulator.scenarios import build
    chk = next(c for c in catalog() if c.check_id == "subnet-endpoint-policy")
    return chk.func(chk, world_facts(build(name), **request))


@pytest.mark.parametrize("name, request_args, status, words", [
    ("net-sep-storage-blocked", {"pod": "web"}, "Fail", "got 403 AuthorizationFailure"),
    ("net-sep-storage-blocked", {}, "Warning", "no pull error read here shows one"),
    ("net-sep-other-subnet", {}, "Pass", "No node subnet (aks-nodes)"),
    ("net-sep-data-endpoints", {}, "Skipped", "dedicated data endpoints are enabled"),
])
def test_the_scenarios_worlds(name, request_args, status, words):
    (f,) = _run(name, registry=("name", "myacr"), **request_args)
    assert (f.status, f.target) == (status, "registry myacr") and words in f.message, f.message
    assert bool(f.remediation) == (status in ("Fail", "Warning"))
