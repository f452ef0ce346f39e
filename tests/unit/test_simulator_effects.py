"""The simulated resource providers' write behaviour that `fix` relies on."""
from tests.simulator.effects import merge, reapply_kubelet_identity
from tests.simulator.scenarios import build


def test_put_keeps_read_only_values_and_merges_node_pools_by_name():
    stored = {"properties": {"fqdn": "aks1.hcp", "provisioningState": "Succeeded",
                             "agentPoolProfiles": [{"name": "a", "count": 3, "currentOrchestratorVersion": "1.33.2"},
                                                   {"name": "b", "count": 1}]}}
    body = {"properties": {"agentPoolProfiles": [{"name": "a", "count": 5}], "tags": {"x": "y"}}}
    merged = merge(stored, body)
    assert merged["properties"]["fqdn"] == "aks1.hcp"
    assert merged["properties"]["agentPoolProfiles"] == [{"name": "a", "count": 5,
                                                          "currentOrchestratorVersion": "1.33.2"}]
    assert stored["properties"]["agentPoolProfiles"][0]["count"] == 3, "the stored resource is not changed in place"


def test_reconcile_puts_the_kubelet_identity_back_on_every_pool():
    world = build("fix-kubelet-removed-everywhere")
    cluster = next(r for k, r in world.arm.items() if k.endswith("/managedclusters/aks1"))
    kubelet = cluster["properties"]["identityProfile"]["kubeletidentity"]
    scale_sets = [r for k, r in world.arm.items() if "/virtualmachinescalesets/" in k]
    assert all(v["identity"] == {"type": "None"} for v in scale_sets)
    reapply_kubelet_identity(world, cluster)
    for vmss in scale_sets:
        assert vmss["identity"]["type"] == "UserAssigned"
        assert vmss["identity"]["userAssignedIdentities"] == {kubelet["resourceId"]: {
            "principalId": kubelet["objectId"], "clientId": kubelet["clientId"]}}
