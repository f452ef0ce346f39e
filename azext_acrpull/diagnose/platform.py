"""Image platforms (OS, CPU architecture, Windows build) and the node pools that can run them.

A node runs an image when one of the image's manifests is for the node's OS and an architecture its CPU
executes, matched as containerd does (``platforms.Only``: an amd64 node also runs 386, an arm64 node also 32-bit
arm). AKS runs Windows containers with process isolation, so a Windows image must also be built for the node's
Windows build (``10.0.<build>``); an image that does not say its build is given the benefit of the doubt.
Pure functions over the JSON the registry and the APIs return.
"""
import re
from dataclasses import dataclass

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MEDIA_TYPE_NAMES = {OCI_INDEX: "OCI image index", DOCKER_MANIFEST_LIST: "Docker manifest list",
                    DOCKER_MANIFEST: "Docker image manifest", OCI_MANIFEST: "OCI image manifest"}

# AKS Windows node pool OS SKUs and the Windows Server build their nodes run.
WINDOWS_BUILDS = {"windows2019": "10.0.17763", "windows2022": "10.0.20348", "windows2025": "10.0.26100"}
WINDOWS_NAMES = {"10.0.17763": "Windows Server 2019", "10.0.20348": "Windows Server 2022",
                 "10.0.26100": "Windows Server 2025"}
WINDOWS_TAGS = {"10.0.17763": "ltsc2019", "10.0.20348": "ltsc2022", "10.0.26100": "ltsc2025"}

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "x64": "amd64", "aarch64": "arm64", "i386": "386"}
# What each node architecture executes besides itself (containerd's platforms.Only).
_RUNS_ALSO = {"amd64": ("386",), "arm64": ("arm",)}
# Azure VM size names: Standard_<family><vCPUs>[-<constrained vCPUs>]<features>_<version>. The feature letter
# 'p' marks an Arm-based (Ampere Altra, Cobalt) CPU: Standard_D4ps_v5, Standard_E8pds_v5, Standard_D4pds_v6.
_VM_SIZE = re.compile(r"^(?:standard|basic)_(?P<family>[a-z]+)(?P<cpus>\d+)(?:-\d+)?(?P<features>[a-z]*)(?:_|$)",
                      re.IGNORECASE)


def normalise_architecture(arch):
    arch = (arch or "").strip().lower()
    return _ARCH_ALIASES.get(arch, arch)


@dataclass(frozen=True)
class Platform:
    """One platform an image is built for, as an OCI index or image config states it."""

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None

    def __str__(self):
        text = "{}/{}".format(self.os, self.architecture)
        if self.variant:
            text += "/" + self.variant
        if self.os_version:
            text += " " + self.os_version
        return text

    def to_dict(self):
        return {"os": self.os, "architecture": self.architecture, "variant": self.variant,
                "osVersion": self.os_version}

    @classmethod
    def from_dict(cls, data):
        return cls(data["os"], data["architecture"], data.get("variant"), data.get("osVersion"))


def _platform(obj):
    if not isinstance(obj, dict):
        return None
    os_name = (obj.get("os") or "").strip().lower()
    arch = normalise_architecture(obj.get("architecture"))
    if not os_name or not arch or "unknown" in (os_name, arch):
        return None
    return Platform(os_name, arch, (obj.get("variant") or "").strip().lower() or None,
                    (obj.get("os.version") or "").strip() or None)


def platforms_of_index(index):
    """The runnable platforms of an OCI index or Docker manifest list; attestation manifests are not images."""
    found = []
    for entry in (index or {}).get("manifests") or []:
        annotations = entry.get("annotations") or {}
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        platform = _platform(entry.get("platform"))
        if platform and platform not in found:
            found.append(platform)
    return found


def platform_of_config(config):
    """The platform in an image config blob (application/vnd.oci.image.config.v1+json and Docker's)."""
    return _platform(config)


def windows_build(version):
    """'10.0.20348' from '10.0.20348.2340': the part process isolation must match."""
    parts = (version or "").split(".")
    return ".".join(parts[:3]) if len(parts) >= 3 else None


def vm_size_architecture(vm_size):
    """arm64 or amd64 from an Azure VM size name, or None when the name does not follow the naming scheme."""
    m = _VM_SIZE.match((vm_size or "").strip())
    if not m:
        return None
    return "arm64" if "p" in m["features"].lower() else "amd64"


def runs(platform, node):
    """Does a node (dict with os, architecture, windowsBuild) run an image built for ``platform``?"""
    return mismatch_of(platform, node) is None


def mismatch_of(platform, node):
    """None when the node runs the platform, else what differs: 'os', 'architecture' or 'osVersion'."""
    if platform.os != (node.get("os") or "").lower():
        return "os"
    arch = normalise_architecture(node.get("architecture"))
    if arch and platform.architecture != arch and platform.architecture not in _RUNS_ALSO.get(arch, ()):
        return "architecture"
    if platform.os == "windows":
        image_build, node_build = windows_build(platform.os_version), node.get("windowsBuild")
        if image_build and node_build and image_build != node_build:
            return "osVersion"
    return None


def mismatch(platforms, node):
    """None when some platform of the image runs on the node, else the closest kind of mismatch.

    The closest is the one a fix addresses: an image with the node's OS but another CPU needs another
    architecture (X.arch), an image of another OS needs another node (C5)."""
    kinds = [mismatch_of(p, node) for p in platforms]
    if not kinds or None in kinds:
        return None if kinds else "os"
    for kind in ("osVersion", "architecture", "os"):
        if kind in kinds:
            return kind
    return kinds[0]


def describe_node(node):
    text = "{}/{}".format(node.get("os") or "?", node.get("architecture") or "?")
    if node.get("windowsBuild"):
        text += " " + node["windowsBuild"]
    return text


def _pool_labels(pool, architecture, build):
    """The labels AKS puts on every node of a pool, for pools whose nodes could not be read."""
    name = pool.get("name")
    os_type = (pool.get("osType") or "Linux").lower()
    labels = {"agentpool": name, "kubernetes.azure.com/agentpool": name, "kubernetes.io/os": os_type,
              "beta.kubernetes.io/os": os_type, "kubernetes.azure.com/mode": (pool.get("mode") or "User").lower(),
              "node.kubernetes.io/instance-type": pool.get("vmSize"),
              "beta.kubernetes.io/instance-type": pool.get("vmSize")}
    if pool.get("osSKU"):
        labels["kubernetes.azure.com/os-sku"] = pool["osSKU"]
    if architecture:
        labels["kubernetes.io/arch"] = labels["beta.kubernetes.io/arch"] = architecture
    if build:
        labels["node.kubernetes.io/windows-build"] = build
    labels.update(pool.get("nodeLabels") or {})
    return {k: v for k, v in labels.items() if v is not None}


def parse_taint(text):
    """'key=value:NoSchedule' (AKS nodeTaints) as a Kubernetes taint object."""
    body, _, effect = (text or "").rpartition(":")
    key, _, value = body.partition("=")
    return {"key": key, "value": value or None, "effect": effect}


def node_pool_platform(pool, nodes=(), kube_error=None):
    """What a node pool runs and how its nodes are labelled and tainted.

    Node labels decide the architecture and Windows build when the nodes could be read (they are what the
    scheduler and kubelet see); otherwise the VM size's name and the pool's OS SKU do."""
    os_type = (pool.get("osType") or "Linux").lower()
    # A Windows pool created without an OS SKU runs Windows Server 2022 on current Kubernetes versions.
    sku_build = WINDOWS_BUILDS.get((pool.get("osSKU") or "windows2022").lower()) if os_type == "windows" else None
    size_arch = vm_size_architecture(pool.get("vmSize"))
    node_views = []
    for node in nodes:
        labels = dict((node.get("metadata") or {}).get("labels") or {})
        node_views.append({"name": (node.get("metadata") or {}).get("name"), "labels": labels,
                           "taints": list((node.get("spec") or {}).get("taints") or [])})
    arches = {normalise_architecture(n["labels"].get("kubernetes.io/arch")) for n in node_views} - {""}
    builds = {n["labels"].get("node.kubernetes.io/windows-build") for n in node_views} - {None, ""}
    if arches:
        architecture, source = sorted(arches)[0], "node labels"
    else:
        architecture, source = size_arch, "VM size {}".format(pool.get("vmSize"))
    build = sorted(builds)[0] if builds else sku_build
    return {
        "name": pool.get("name"), "mode": pool.get("mode"), "osType": pool.get("osType") or "Linux",
        "osSKU": pool.get("osSKU"), "vmSize": pool.get("vmSize"), "os": os_type, "architecture": architecture,
        "windowsBuild": build if os_type == "windows" else None, "architectureSource": source,
        "labels": _pool_labels(pool, architecture, build if os_type == "windows" else None),
        "taints": [parse_taint(t) for t in pool.get("nodeTaints") or []],
        "nodes": node_views, "kubeError": kube_error,
    }


def node_pool_name(node):
    labels = (node.get("metadata") or {}).get("labels") or {}
    return labels.get("kubernetes.azure.com/agentpool") or labels.get("agentpool")
