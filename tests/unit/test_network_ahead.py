"""What `run` reads ahead for a private registry's path: which checks start it, the Resource Graph query (run by the
simulated Resource Graph's engine) and the reads its rows name."""
import json

from azext_acrpull.diagnose.facts.network_ahead import hints_query, may_read_private_path, plan, reads_private_path
from azext_acrpull.diagnose.netpath import record_name, registry_host_names
from tests.simulator import resourcegraph
from tests.simulator.scenarios import build
from tests.simulator.server import Request

SUFFIX = ".azurecr.io"


def _registry(world, name="myacr"):
    return next(r for k, r in world.arm.items() if k.endswith("/registries/" + name))


def _query(world, kql):
    req = Request("POST", "management.azure.com", "/providers/Microsoft.ResourceGraph/resources", {}, {},
                  json.dumps({"query": kql}).encode(), world)
    reply = resourcegraph.query(req, world)
    body = reply.body if reply.raw is None else json.loads(reply.raw)
    assert reply.status == 200, body
    return body["data"]


def _private(**props):
    conn = {"properties": {"privateEndpoint": {"id": "/subscriptions/s/resourceGroups/h/providers/Microsoft.Network/"
                                                     "privateEndpoints/pe"},
                           "privateLinkServiceConnectionState": {"status": "Approved"}}}
    return {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myacr",
            "name": "myacr", "location": "eastus",
            "properties": dict({"loginServer": "myacr.azurecr.io", "privateEndpointConnections": [conn]}, **props)}


def test_which_checks_start_the_private_path_ahead():
    assert may_read_private_path({"private-dns-link"}, probe=False)
    assert may_read_private_path({"acr-network-rules"}, probe=False)
    assert not may_read_private_path({"cluster-pull-probe", "acr-role-assignment"}, probe=False)
    assert may_read_private_path({"cluster-pull-probe"}, probe=True)
    private = _private(publicNetworkAccess="Disabled")
    assert reads_private_path({"egress-path"}, private, probe=False)
    assert reads_private_path({"acr-network-rules"}, private, probe=False)
    # open to all networks: acr-network-rules passes it without a look at the private path
    assert not reads_private_path({"acr-network-rules"}, _private(publicNetworkAccess="Enabled"), probe=False)
    assert not reads_private_path({"cluster-pull-probe"}, private, probe=False)
    public = dict(private, properties={"loginServer": "myacr.azurecr.io"})
    assert not reads_private_path({"private-dns-link", "vnet-peering", "egress-path"}, public, probe=True)


def test_the_query_finds_the_endpoint_subnet_zones_and_replicas_the_checks_read():
    world = build("net-data-record-missing")   # hub and spoke, a replica in westeurope
    registry = _registry(world)
    rows = _query(world, hints_query("myacr", SUFFIX))
    ahead = plan(rows, registry, SUFFIX)
    endpoint = next(r for k, r in world.arm.items() if k.endswith("/privateendpoints/myacr-pe"))
    subnet = endpoint["properties"]["subnet"]["id"]
    assert ahead["vnets"] == [subnet[:subnet.lower().index("/subnets/")]]
    zones = [r["id"] for k, r in world.arm.items() if k.endswith("/privatednszones/privatelink.azurecr.io")]
    assert ahead["zones"] == zones and len(zones) == 1
    # the names common/network.registry_hosts gives, from the replicas ARM lists
    replicas = [r["location"] for k, r in world.arm.items() if "/registries/myacr/replications/" in k]
    assert replicas == ["westeurope"]
    hosts = registry_host_names(registry, SUFFIX, True, replicas)
    assert sorted(ahead["names"]) == sorted(record_name(h, SUFFIX) for h in hosts) == [
        "myacr", "myacr.eastus.data", "myacr.westeurope.data"]


def test_only_what_the_registry_names_and_approved_endpoints_are_read_ahead():
    registry = _private()
    pe = registry["properties"]["privateEndpointConnections"][0]["properties"]["privateEndpoint"]["id"]
    vnet = "/subscriptions/s/resourceGroups/h/providers/Microsoft.Network/virtualNetworks/hub"
    rows = [{"id": pe.upper(), "type": "microsoft.network/privateendpoints", "subnet": vnet + "/subnets/pe"},
            {"id": pe + "2", "type": "microsoft.network/privateendpoints", "subnet": vnet + "2/subnets/pe"},
            {"id": registry["id"] + "2/replications/westus", "type": "microsoft.containerregistry/registries/"
             "replications", "location": "westus"},
            {"id": "/subscriptions/s/resourceGroups/d/providers/Microsoft.Network/privateDnsZones/privatelink."
                   "azurecr.io.example", "type": "microsoft.network/privatednszones"}]
    assert plan(rows, registry, SUFFIX) == {"vnets": [vnet], "zones": [], "names": ["myacr", "myacr.eastus.data"]}
    state = registry["properties"]["privateEndpointConnections"][0]["properties"]["privateLinkServiceConnectionState"]
    state["status"] = "Pending"
    assert plan(rows, registry, SUFFIX)["vnets"] == []
    assert plan([], registry, SUFFIX) == {"vnets": [], "zones": [], "names": ["myacr", "myacr.eastus.data"]}
