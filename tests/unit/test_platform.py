"""Image platforms against node pools, where a pod can land, and the workload behind a pod."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose.placement import pool_placement, why_not
from azext_acrpull.diagnose.platform import (
    Platform,
    mismatch,
    mismatch_of,
    node_pool_platform,
    platform_of_config,
    platforms_of_index,
    vm_size_architecture,
    windows_build,
)
from azext_acrpull.diagnose.workload import patch_pod_spec_command, set_image_command, workload_of

# --- VM sizes ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size, arch", [
    ("Standard_D4ps_v5", "arm64"), ("Standard_D4pds_v5", "arm64"), ("Standard_E8pds_v5", "arm64"),
    ("Standard_D16plds_v5", "arm64"), ("Standard_B2pts_v2", "arm64"), ("Standard_D4pds_v6", "arm64"),
    ("standard_d2ps_v6", "arm64"),
    ("Standard_D4ds_v5", "amd64"), ("Standard_D4s_v5", "amd64"), ("Standard_DS2_v2", "amd64"),
    ("Standard_NC24ads_A100_v4", "amd64"), ("Standard_E16-4ds_v5", "amd64"), ("Standard_M416ms_v2", "amd64"),
    ("Standard_NP10s", "amd64"), ("Standard_L8as_v3", "amd64"), ("Standard_A2m_v2", "amd64"),
    ("Standard_F2", "amd64"), ("", None), ("custom", None),
])
def test_vm_size_architecture(size, arch):
    assert vm_size_architecture(size) == arch


# --- manifests -----------------------------------------------------------------------------------------------------

def test_index_platforms_skip_attestations_and_normalise():
    index = {"manifests": [
        {"platform": {"os": "linux", "architecture": "amd64"}},
        {"platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"platform": {"os": "linux", "architecture": "amd64"}},                       # a repeat
        {"platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        {"platform": {"os": "windows", "architecture": "x86_64", "os.version": "10.0.20348.2849"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json"},                  # no platform at all
    ]}
    assert [str(p) for p in platforms_of_index(index)] == ["linux/amd64", "linux/arm64/v8",
                                                           "windows/amd64 10.0.20348.2849"]
    assert platforms_of_index({}) == []


def test_config_platform():
    assert platform_of_config({"os": "linux", "architecture": "aarch64"}) == Platform("linux", "arm64")
    assert platform_of_config({"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1"}).os_version \
        == "10.0.17763.1"
    assert platform_of_config({}) is None and platform_of_config("x") is None


def test_platform_round_trips_through_a_dict():
    p = Platform("linux", "arm", "v7")
    assert Platform.from_dict(p.to_dict()) == p


# --- matching ------------------------------------------------------------------------------------------------------

LINUX_AMD = {"os": "linux", "architecture": "amd64"}
LINUX_ARM = {"os": "linux", "architecture": "arm64"}
WIN2022 = {"os": "windows", "architecture": "amd64", "windowsBuild": "10.0.20348"}


@pytest.mark.parametrize("platform, node, kind", [
    (Platform("linux", "amd64"), LINUX_AMD, None),
    (Platform("linux", "386"), LINUX_AMD, None),                    # amd64 nodes run 32-bit x86
    (Platform("linux", "arm", "v7"), LINUX_ARM, None),              # arm64 nodes run 32-bit arm
    (Platform("linux", "amd64"), LINUX_ARM, "architecture"),
    (Platform("linux", "arm64"), LINUX_AMD, "architecture"),
    (Platform("linux", "amd64"), WIN2022, "os"),
    (Platform("windows", "amd64", os_version="10.0.20348.2849"), WIN2022, None),
    (Platform("windows", "amd64", os_version="10.0.17763.6532"), WIN2022, "osVersion"),
    (Platform("windows", "amd64"), WIN2022, None),                  # no build stated: benefit of the doubt
    (Platform("linux", "amd64"), {"os": "linux", "architecture": None}, None),
])
def test_mismatch_of(platform, node, kind):
    assert mismatch_of(platform, node) == kind


def test_mismatch_reports_the_kind_a_fix_addresses():
    assert mismatch([Platform("linux", "amd64"), Platform("linux", "arm64")], LINUX_ARM) is None
    assert mismatch([Platform("linux", "amd64"), Platform("windows", "amd64")], LINUX_ARM) == "architecture"
    assert mismatch([Platform("linux", "amd64")], WIN2022) == "os"
    assert mismatch([], LINUX_AMD) == "os"


@given(st.lists(st.sampled_from([Platform("linux", "amd64"), Platform("linux", "arm64"), Platform("windows", "amd64"),
                                 Platform("linux", "arm", "v7"), Platform("windows", "amd64", None, "10.0.17763.1")]),
                min_size=1, max_size=5),
       st.sampled_from([LINUX_AMD, LINUX_ARM, WIN2022]))
def test_an_image_fits_a_node_exactly_when_one_of_its_platforms_does(platforms, node):
    assert (mismatch(platforms, node) is None) == any(mismatch_of(p, node) is None for p in platforms)
    assert mismatch(platforms + [Platform(node["os"], node["architecture"])], node) is None


def test_windows_build():
    assert windows_build("10.0.20348.2849") == "10.0.20348"
    assert windows_build("10.0") is None and windows_build(None) is None


# --- node pools ----------------------------------------------------------------------------------------------------

def _node(name, pool, arch, os_name="linux", taints=None, build=None):
    labels = {"kubernetes.azure.com/agentpool": pool, "agentpool": pool, "kubernetes.io/arch": arch,
              "kubernetes.io/os": os_name}
    if build:
        labels["node.kubernetes.io/windows-build"] = build
    return {"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}}


def test_pool_platform_from_node_labels_wins_over_vm_size():
    pool = {"name": "np1", "osType": "Linux", "vmSize": "Standard_D4ds_v5", "mode": "User"}
    seen = node_pool_platform(pool, [_node("n1", "np1", "arm64")])
    assert (seen["architecture"], seen["architectureSource"]) == ("arm64", "node labels")
    guessed = node_pool_platform(pool, [], kube_error="forbidden")
    assert (guessed["architecture"], guessed["architectureSource"]) == ("amd64", "VM size Standard_D4ds_v5")
    assert guessed["labels"]["kubernetes.io/arch"] == "amd64" and guessed["kubeError"] == "forbidden"


def test_windows_pool_build_from_sku_or_labels():
    pool = {"name": "npwin", "osType": "Windows", "osSKU": "Windows2019", "vmSize": "Standard_D4s_v5",
            "nodeTaints": ["os=windows:NoSchedule"]}
    guessed = node_pool_platform(pool)
    assert (guessed["os"], guessed["windowsBuild"]) == ("windows", "10.0.17763")
    assert guessed["taints"] == [{"key": "os", "value": "windows", "effect": "NoSchedule"}]
    assert node_pool_platform(dict(pool, osSKU=None))["windowsBuild"] == "10.0.20348"
    assert node_pool_platform(pool, [_node("akswin000000", "npwin", "amd64", "windows", build="10.0.26100")])[
        "windowsBuild"] == "10.0.26100"
    assert node_pool_platform({"name": "np", "vmSize": "Standard_D4ps_v5"})["windowsBuild"] is None


# --- placement -----------------------------------------------------------------------------------------------------

LABELS = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64", "agentpool": "armpool", "gpu": "2"}


@pytest.mark.parametrize("spec, fits", [
    ({}, True),
    ({"nodeSelector": {"kubernetes.io/os": "linux"}}, True),
    ({"nodeSelector": {"kubernetes.io/os": "windows"}}, False),
    ({"nodeSelector": {"missing": "x"}}, False),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]},
        {"matchExpressions": [{"key": "agentpool", "operator": "In", "values": ["armpool"]}]}]}}}}, True),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "NotIn", "values": ["arm64"]}]}]}}}}, False),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gpu", "operator": "Gt", "values": ["1"]},
                              {"key": "spot", "operator": "DoesNotExist"}]}]}}}}, True),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gpu", "operator": "Lt", "values": ["1"]}]}]}}}}, False),
    ({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "x", "operator": "Exists"}]}}]}}}, True),
])
def test_selectors_and_affinity(spec, fits):
    assert (why_not(spec, LABELS) is None) == fits


@pytest.mark.parametrize("tolerations, fits", [
    ([], False),
    ([{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}], True),
    ([{"key": "sku", "operator": "Equal", "value": "cpu", "effect": "NoSchedule"}], False),
    ([{"key": "sku", "operator": "Exists"}], True),
    ([{"operator": "Exists"}], True),
    ([{"key": "sku", "operator": "Exists", "effect": "NoExecute"}], False),
])
def test_tolerations(tolerations, fits):
    taints = [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}, {"key": "soft", "effect": "PreferNoSchedule"}]
    reason = why_not({"tolerations": tolerations}, LABELS, taints)
    assert (reason is None) == fits
    if not fits:
        assert "sku=gpu:NoSchedule" in reason


def test_pool_placement_uses_nodes_when_known():
    pool = node_pool_platform({"name": "armpool", "vmSize": "Standard_D4ps_v5"},
                              [_node("n1", "armpool", "arm64", taints=[{"key": "a", "effect": "NoSchedule"}]),
                               _node("n2", "armpool", "arm64")])
    assert pool_placement({"nodeSelector": {"agentpool": "armpool"}}, pool) is None
    assert pool_placement({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}},
        pool) is not None      # only n1, and n1's taint is not tolerated
    empty = node_pool_platform({"name": "np", "vmSize": "Standard_D4ds_v5", "nodeLabels": {"team": "a"}})
    assert pool_placement({"nodeSelector": {"team": "a", "kubernetes.io/arch": "amd64"}}, empty) is None


@given(st.dictionaries(st.sampled_from(["a", "b", "kubernetes.io/os"]), st.sampled_from(["1", "2", "linux"]),
                       max_size=3))
def test_a_pod_without_constraints_lands_on_any_untainted_node(labels):
    assert why_not({}, labels) is None
    assert why_not({"nodeSelector": dict(labels)}, labels) is None


# --- workloads -----------------------------------------------------------------------------------------------------

def _pod(owner=None, template_hash=None):
    meta = {"name": "web-5d8f-abcde", "namespace": "shop", "labels": {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if template_hash:
        meta["labels"]["pod-template-hash"] = template_hash
    return {"metadata": meta}


def test_workload_of():
    assert workload_of(_pod(("ReplicaSet", "web-5d8f"), "5d8f")) == ("deployment", "web")
    assert workload_of(_pod(("ReplicaSet", "web-5d8f"))) == ("replicaset", "web-5d8f")
    assert workload_of(_pod(("StatefulSet", "db"))) == ("statefulset", "db")
    assert workload_of(_pod(("Job", "migrate"))) == ("pod", "web-5d8f-abcde")
    assert workload_of(_pod()) == ("pod", "web-5d8f-abcde")


def test_kubectl_commands():
    deployment = _pod(("ReplicaSet", "web-5d8f"), "5d8f")
    assert set_image_command(deployment, "app", "myacr.azurecr.io/app:v1") == \
        "kubectl set image deployment/web app=myacr.azurecr.io/app:v1 -n shop"
    assert patch_pod_spec_command(deployment, {"nodeSelector": {"kubernetes.io/os": "linux", "agentpool": None}},
                                  "x") == ("kubectl patch deployment/web -n shop -p '{\"spec\":{\"template\":{\"spec\":"
                                           "{\"nodeSelector\":{\"kubernetes.io/os\":\"linux\",\"agentpool\":null}}}}}'")
    assert patch_pod_spec_command(_pod(), {}, "nodeSelector a: b").startswith(
        "Recreate pod web-5d8f-abcde with nodeSelector a: b")
