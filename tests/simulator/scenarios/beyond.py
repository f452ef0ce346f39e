"""Causes beyond the article on the node and before the pull: a node short of disk (B.disk), and workloads whose
pods an admission webhook refuses (B.admission)."""
from ..pods import node_condition, node_name, node_taint, nodes, object_event, pod, pull_failure, workload
from ..world import World
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
