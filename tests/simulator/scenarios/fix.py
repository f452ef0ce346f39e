"""Scenarios for `fix`: broken clusters whose remedies differ from the foundation's."""
from datetime import datetime, timedelta, timezone

from ..world import World
from . import scenario
from .foundation import kubelet_object_id


def _remove_kubelet_from_vmss(w, pool_prefix="aks-"):
    for key, res in w.arm.items():
        if "/virtualmachinescalesets/" + pool_prefix in key:
            res["identity"] = {"type": "None"}


@scenario("fix-abac-reader-missing", "ABAC registry: the kubelet identity holds AcrPull only, which does not grant "
                                     "pull there (X.abac).")
def fix_abac_reader_missing():
    w = World("fix-abac-reader-missing")
    cluster = w.cluster("aks1", "rg1")
    registry = w.registry("myacr", "rg1", role_assignment_mode="AbacRepositoryPermissions")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    return w


@scenario("fix-kubelet-removed-everywhere", "The kubelet identity was removed from both node pools' scale sets "
                                            "(C1.S4); one reconcile heals both.")
def fix_kubelet_removed_everywhere():
    w = World("fix-kubelet-removed-everywhere")
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "mode": "System"},
                                              {"name": "userpool", "mode": "User"}])
    registry = w.registry("myacr", "rg1")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    _remove_kubelet_from_vmss(w)
    return w


@scenario("fix-sp-deleted", "Service-principal cluster whose service principal was deleted from Entra ID: no role can "
                            "be granted; its credentials must be reset by hand (C1.S1, C1.S2).")
def fix_sp_deleted():
    w = World("fix-sp-deleted")
    sp = w.service_principal("aks1-sp", password_end=[datetime.now(timezone.utc) + timedelta(days=300)],
                             exists=False)
    w.cluster("aks1", "rg1", identity="sp", sp=sp)
    w.registry("myacr", "rg1")
    return w


@scenario("fix-public-disabled", "Public network access to the registry is Disabled and it has no private endpoint: "
                                 "every pull is refused (C3.S2); fix must say it switches access to selected "
                                 "networks.")
def fix_public_disabled():
    w = World("fix-public-disabled")
    cluster = w.cluster("aks1", "rg1")
    registry = w.registry("myacr", "rg1", publicNetworkAccess="Disabled",
                          networkRuleSet={"defaultAction": "Deny", "ipRules": []})
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    return w
