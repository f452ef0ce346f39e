"""The foundation's scenarios: the two most common 401 causes on both kinds of cluster identity."""
from datetime import datetime, timedelta, timezone

from ..world import World
from . import scenario


def kubelet_object_id(world, cluster):
    return cluster["properties"]["identityProfile"]["kubeletidentity"]["objectId"]


def _mi_base(name):
    w = World(name)
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "mode": "System"},
                                              {"name": "userpool", "mode": "User"}])
    registry = w.registry("myacr", "rg1")
    return w, cluster, registry


@scenario("mi-healthy", "Managed-identity cluster whose kubelet identity holds AcrPull on the registry.")
def mi_healthy():
    w, cluster, registry = _mi_base("mi-healthy")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    return w


@scenario("mi-acrpull-missing", "Managed-identity cluster; nobody holds a pull role on the registry (C1.S1).")
def mi_acrpull_missing():
    w, _, _ = _mi_base("mi-acrpull-missing")
    return w


@scenario("mi-acrpull-other-identity", "AcrPull on the registry is held by another identity only (C1.S1).")
def mi_acrpull_other_identity():
    w, _, registry = _mi_base("mi-acrpull-other-identity")
    other = w.user_assigned_identity("rg1", "ci-pipeline-identity")
    w.assign(registry["id"], "AcrPull", other["properties"]["principalId"])
    return w


@scenario("mi-kubelet-removed", "Kubelet identity removed from the user pool's VMSS by hand (C1.S4).")
def mi_kubelet_removed():
    w, cluster, registry = _mi_base("mi-kubelet-removed")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    for key, res in w.arm.items():
        if "/virtualmachinescalesets/aks-userpool-" in key:
            res["identity"] = {"type": "None"}
    return w


def _sp_base(name, password_end):
    w = World(name)
    sp = w.service_principal("aks1-sp", password_end=[password_end])
    cluster = w.cluster("aks1", "rg1", identity="sp", sp=sp)
    registry = w.registry("myacr", "rg1")
    return w, sp, cluster, registry


@scenario("sp-healthy", "Service-principal cluster; the service principal holds AcrPull and a valid secret.")
def sp_healthy():
    w, sp, _, registry = _sp_base("sp-healthy", datetime.now(timezone.utc) + timedelta(days=300))
    w.assign(registry["id"], "AcrPull", sp["objectId"])
    return w


@scenario("sp-acrpull-missing", "Service-principal cluster whose service principal holds no pull role (C1.S1).")
def sp_acrpull_missing():
    w, _, _, _ = _sp_base("sp-acrpull-missing", datetime.now(timezone.utc) + timedelta(days=300))
    return w


@scenario("demo-broken", "A managed-identity cluster whose kubelet identity lost AcrPull and was removed from a "
                         "node pool's VMSS.")
def demo_broken():
    w, _, _ = _mi_base("demo-broken")
    for key, res in w.arm.items():
        if "/virtualmachinescalesets/aks-userpool-" in key:
            res["identity"] = {"type": "None"}
    return w
