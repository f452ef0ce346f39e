"""Causes beyond the article on the node and before the pull: a node short of disk (B.disk), and workloads whose
pods an admission webhook refuses (B.admission)."""
from ..pods import node_condition, node_name, node_taint, nodes, object_event, pod, pull_failure, workload
from ..registry_content import (
    cache_rule,
    credential_set,
    delete_manifest,
    index_children,
    key_vault,
    push,
    push_upstream,
    signed_in_caller,
)
from ..world import SUBSCRIPTION, World
from . import scenario
from .foundation import kubelet_object_id

IMAGE = "myacr.azurecr.io/app:1.0"
NO_SPACE = ('rpc error: code = Unknown desc = failed to pull and unpack image "{0}": failed to extract layer '
            "sha256:{1}: write /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/412/fs/usr/lib/"
            "libLLVM.so.17: no space left on device: unknown".format(IMAGE, "9f" * 32))
GATEKEEPER = ('admission webhook "validation.gatekeeper.sh" denied the request: '
              "[azurepolicy-k8sazurev2containerallowedimages-8f3c2d1e0b] Container image {} for container web has "
              "not been allowed.".format("docker.io/library/nginx:1.27"))
RATIFY = ('admission webhook "validation.gatekeeper.sh" denied the request: [ratify-constraint] Subject failed '
          "verification: {}@sha256:{}".format("myacr.azurecr.io/batch/report", "7a" * 32))


def _world(name):
    w = World(name)
    cluster = w.cluster("aks1", "rg1")
    registry = w.registry("myacr", "rg1")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    nodes(w, cluster)
    return w, cluster


def _disk_pod(w, cluster, error=NO_SPACE):
    node = node_name(w, cluster, "nodepool1")
    app = pod(w, cluster, "app", [{"name": "app", "image": IMAGE}], node=node)
    pull_failure(w, cluster, app, "app", error)
    return node


@scenario("node-disk-full", "A pod's pull fails with 'no space left on device': its node reports DiskPressure, "
                            "carries the disk-pressure taint and kubelet's image garbage collection fails (B.disk).")
def node_disk_full():
    w, cluster = _world("node-disk-full")
    node = _disk_pod(w, cluster)
    node_condition(w, cluster, node, "DiskPressure", "True", "KubeletHasDiskPressure",
                   "kubelet has disk pressure")
    node_taint(w, cluster, node, "node.kubernetes.io/disk-pressure", "NoSchedule")
    host = cluster["properties"]["fqdn"].lower()
    obj = w.kube[host]["objects"]["/api/v1/nodes/" + node]
    object_event(w, cluster, obj, "ImageGCFailed", "Failed to garbage collect required amount of images. Attempted "
                 "to free 4832102400 bytes, but only found 0 bytes eligible to free.", "kubelet", count=7)
    object_event(w, cluster, obj, "FreeDiskSpaceFailed", "Failed to garbage collect required amount of images. "
                 "Attempted to free 4832102400 bytes, but only found 0 bytes eligible to free.", "kubelet", count=7)
    return w


@scenario("node-disk-fine", "A pod fails to pull for another reason (a missing tag) on a node with room to spare.")
def node_disk_fine():
    w, cluster = _world("node-disk-fine")
    _disk_pod(w, cluster, error='rpc error: code = NotFound desc = failed to pull and unpack image "{0}": failed to '
              'resolve reference "{0}": {0}: not found'.format(IMAGE))
    return w


@scenario("admission-refused", "Azure Policy's allowed-images constraint (Gatekeeper) refuses the pods of Deployment "
                               "web, and Ratify refuses a Job's unsigned image: no pod exists (B.admission).")
def admission_refused():
    w, cluster = _world("admission-refused")
    workload(w, cluster, "Deployment", "web", "docker.io/library/nginx:1.27", namespace="shop")
    rs = workload(w, cluster, "ReplicaSet", "web-6d8f7b9c4d", "docker.io/library/nginx:1.27", namespace="shop",
                  owner=("Deployment", "web"))
    object_event(w, cluster, rs, "FailedCreate", "Error creating: " + GATEKEEPER, "replicaset-controller", count=12)
    job = workload(w, cluster, "Job", "nightly-report", "myacr.azurecr.io/batch/report@sha256:" + "7a" * 32,
                   namespace="batch")
    object_event(w, cluster, job, "FailedCreate", "Error creating: " + RATIFY, "job-controller", count=3)
    # a FailedCreate for another reason (quota) is not an admission refusal
    other = workload(w, cluster, "ReplicaSet", "api-5c7d9f8b6a", "myacr.azurecr.io/api:2.0", namespace="shop")
    object_event(w, cluster, other, "FailedCreate", 'Error creating: pods "api-5c7d9f8b6a-x" is forbidden: exceeded '
                 "quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8", "replicaset-controller")
    return w


@scenario("admission-allowed", "Workloads whose pods were all created; one FailedCreate from a quota, none from an "
                               "admission webhook.")
def admission_allowed():
    w, cluster = _world("admission-allowed")
    rs = workload(w, cluster, "ReplicaSet", "api-5c7d9f8b6a", "myacr.azurecr.io/api:2.0", namespace="shop")
    object_event(w, cluster, rs, "FailedCreate", 'Error creating: pods "api-5c7d9f8b6a-x" is forbidden: exceeded '
                 "quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8", "replicaset-controller")
    pod(w, cluster, "api-5c7d9f8b6a-q2w3e", [{"name": "api", "image": "myacr.azurecr.io/api:2.0"}],
        namespace="shop", node=node_name(w, cluster, "nodepool1"))
    return w


# -- B.cache: artifact cache rules ----------------------------------------------------------------------------------
CACHED = "myacr.azurecr.io/docker.io/library/nginx:1.27"
CACHE_AUTH = ('rpc error: code = Unknown desc = failed to pull and unpack image "{0}": failed to resolve reference '
              '"{0}": unexpected status from HEAD request to https://myacr.azurecr.io/v2/docker.io/library/nginx/'
              "manifests/1.27: 401 Unauthorized - Server message: unauthorized: authentication required with source "
              "registry for cache rule".format(CACHED))


def _cache_world(name, health=None, with_set=True, vault=None):
    """``vault``: None (the vault the credential set names is not in the subscription), "policy" (an access-policy
    vault giving its identity get on secrets), "rbac" (an RBAC vault where it holds Key Vault Secrets User) or
    "rbac-none" (an RBAC vault where it holds only Reader, and another identity the secrets role)."""
    w, cluster = _world(name)
    registry = next(r for k, r in w.arm.items() if k.endswith("/registries/myacr"))
    set_id = None
    if with_set:
        cs = credential_set(w, registry, "dockerhub", "docker.io", health=health[0] if health else "Healthy",
                            error=health[1] if health else None)
        set_id, principal = cs["id"], cs["identity"]["principalId"]
        if vault == "policy":
            key_vault(w, "contoso-kv", "rg-secrets", rbac=False, policies=[(principal, ["get", "list"])])
        elif vault:
            kv = key_vault(w, "contoso-kv", "rg-secrets")
            w.assign(kv["id"], "Key Vault Secrets User" if vault == "rbac" else "Reader", principal)
            if vault == "rbac-none":
                w.assign(kv["id"], "Key Vault Secrets User", kubelet_object_id(w, cluster))
    push_upstream(w, "docker.io", "library/nginx", "1.27", ["linux/amd64", "linux/arm64"])   # Docker Hub has it
    cache_rule(w, registry, "dockerhub-library", "docker.io/library/*", "docker.io/library/*", set_id)
    cache_rule(w, registry, "mcr-dotnet", "mcr.microsoft.com/dotnet/*", "dotnet/*")
    app = pod(w, cluster, "web", [{"name": "web", "image": CACHED}], node=node_name(w, cluster, "nodepool1"))
    if (health and health[0] == "Unhealthy") or vault == "rbac-none":
        pull_failure(w, cluster, app, "web", CACHE_AUTH)
    return w


@scenario("cache-credentials-unhealthy", "Pods pull Docker Hub's nginx through an artifact cache rule whose credential "
                                         "set cannot read its Key Vault secrets (Unhealthy): 'authentication required "
                                         "with source registry for cache rule' (B.cache).")
def cache_credentials_unhealthy():
    return _cache_world("cache-credentials-unhealthy", health=("Unhealthy", (
        "KeyVaultSecretRetrievalFailed", "The credential set identity does not have get permission on the secret.")))


@scenario("cache-docker-hub-anonymous", "A cache rule for Docker Hub without a credential set: anonymous upstream "
                                        "pulls are rate limited (B.cache, Warning).")
def cache_docker_hub_anonymous():
    return _cache_world("cache-docker-hub-anonymous", with_set=False)


@scenario("cache-credentials-healthy", "A cache rule for Docker Hub with a Healthy credential set whose identity an "
                                       "access policy of its Key Vault lets get secrets.")
def cache_credentials_healthy():
    return _cache_world("cache-credentials-healthy", vault="policy")


@scenario("cache-vault-access-missing", "Pods pull Docker Hub's nginx through a cache rule whose credential set still "
                                        "reports Healthy, but its identity holds no role that reads the secrets of "
                                        "its RBAC Key Vault (B.cache).")
def cache_vault_access_missing():
    return _cache_world("cache-vault-access-missing", vault="rbac-none")


@scenario("cache-vault-access-rbac", "A cache rule whose credential set's identity holds Key Vault Secrets User on "
                                     "its RBAC Key Vault.")
def cache_vault_access_rbac():
    return _cache_world("cache-vault-access-rbac", vault="rbac")


# -- B.purge: a child manifest of an index deleted ----------------------------------------------------------------
MULTI = "myacr.azurecr.io/app:2.0"
POOLS = [{"name": "nodepool1", "mode": "System", "vmSize": "Standard_D4ds_v5"},
         {"name": "armpool", "mode": "User", "vmSize": "Standard_D4ps_v5"}]


def _purge_world(name, purge):
    w = World(name)
    cluster = w.cluster("aks1", "rg1", pools=POOLS)
    registry = w.registry("myacr", "rg1")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    signed_in_caller(w, "/subscriptions/" + SUBSCRIPTION)
    nodes(w, cluster)
    push(w, registry, "app", "2.0", ["linux/amd64", "linux/arm64"])
    child = index_children(w, registry, "app", "2.0")["linux/arm64"]
    app = pod(w, cluster, "app-arm", [{"name": "app", "image": MULTI}], node=node_name(w, cluster, "armpool"),
              node_selector={"kubernetes.io/arch": "arm64"})
    if purge:
        delete_manifest(w, registry, "app", child)
        pull_failure(w, cluster, app, "app", 'rpc error: code = NotFound desc = failed to pull and unpack image "{}": '
                     "failed to copy: httpReadSeeker: failed open: could not fetch content descriptor {} "
                     "(application/vnd.oci.image.manifest.v1+json) from remote: not found".format(MULTI, child))
    return w


@scenario("purge-child-missing", "A retention purge deleted the arm64 child manifest of app:2.0's index: pods on the "
                                 "arm64 pool cannot pull it (B.purge).")
def purge_child_missing():
    return _purge_world("purge-child-missing", purge=True)


@scenario("purge-children-intact", "The same multi-architecture index with every child manifest in place.")
def purge_children_intact():
    return _purge_world("purge-children-intact", purge=False)
