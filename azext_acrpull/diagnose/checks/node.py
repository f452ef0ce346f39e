"""B.disk: the node of a failing pod has no room for the image. The registry answered; the node could not keep it."""
from ..facts import FactError
from ..findings import FAIL, PASS, SKIPPED, check
from ..platform import node_pool_name

DISK_TAINT = "node.kubernetes.io/disk-pressure"
DISK_EVENTS = ("FreeDiskSpaceFailed", "ImageGCFailed")


def _failing_pod_nodes(facts):
    """(pod words, node name) of the pods this run is about that are bound to a node: the --pod, or the failing pods
    the run found; one per node."""
    found = {}
    for pod in facts.diagnosed_pods():
        meta = pod.get("metadata") or {}
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            found.setdefault(node, "pod {}/{}".format(meta.get("namespace"), meta.get("name")))
    return [(who, node) for node, who in found.items()]


def disk_signs(node, events):
    """What says the node is short of disk: the DiskPressure condition, its taint, kubelet's image GC events."""
    signs = []
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "DiskPressure" and cond.get("status") == "True":
            signs.append("condition DiskPressure=True ({})".format(cond.get("message") or cond.get("reason") or
                                                                 "no message"))
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("key") == DISK_TAINT:
            signs.append("taint {}:{}".format(DISK_TAINT, taint.get("effect")))
    for event in events:
        if event.get("reason") in DISK_EVENTS:
            signs.append("event {} x{}: {}".format(event.get("reason"), event.get("count") or 1,
                                                  (event.get("message") or "").strip()[:200]))
    return signs


@check("node-disk-pressure", "B.disk", "The failing pod's node has disk space for the image",
       "Reads the node each failing pod is bound to (the --pod, or the failing pods the run finds): its DiskPressure "
       "condition, the node.kubernetes.io/"
       "disk-pressure taint and kubelet's FreeDiskSpaceFailed / ImageGCFailed events. A full disk fails pulls with "
       "'no space left on device'; the fix is a larger or ephemeral OS disk for the pool.", groups=("image",),
       needs=("diagnosed_pods", "node", "node_events", "node_pools"))
def node_disk_pressure(chk, facts):
    bound = _failing_pod_nodes(facts)
    if not bound:
        why = "pod {}/{} is not bound to a node yet".format(facts.request.namespace, facts.request.pod) \
            if facts.request.pod else "no failing pod was named or found"
        return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED,
                            "No failing pod is bound to a node ({}): disk pressure is judged on the node a failing "
                            "pod runs on.".format(why))]
    findings = []
    for who, node_name in bound:
        findings.append(_one(chk, facts, who, node_name))
    return findings


def _one(chk, facts, who, node_name):
    node = facts.node(node_name)
    if node is None:
        raise FactError("node {} of {} no longer exists".format(node_name, who), 404)
    events = facts.node_events(node_name)
    pool_name = node_pool_name(node)
    pool = next((p for p in facts.node_pools() if p.get("name") == pool_name), {})
    evidence = {"node": node_name, "nodePool": pool_name, "osDiskSizeGB": pool.get("osDiskSizeGB"),
                "osDiskType": pool.get("osDiskType"), "vmSize": pool.get("vmSize")}
    signs = disk_signs(node, events)
    target = "node {} (pool {})".format(node_name, pool_name or "unknown")
    if not signs:
        return chk.finding(target, PASS, "Node {} of {} shows no disk pressure (no DiskPressure condition, taint or "
                           "image garbage collection failure).".format(node_name, who), **evidence)
    size = pool.get("osDiskSizeGB")
    bigger = max(2 * int(size), 128) if size else 256
    remediation = ("Give pool {pool} more OS disk: az aks nodepool add -g {rg} --cluster-name {c} -n {new} "
                   "--node-vm-size {vm} --node-osdisk-size {size} (or --node-osdisk-type Ephemeral where the VM size's "
                   "cache holds it), then move the workloads: kubectl cordon and kubectl drain the nodes of pool "
                   "{pool}".format(pool=pool_name, rg=facts.cluster_resource_group, c=facts.cluster_name,
                                   new=(pool_name or "pool")[:11] + "2", vm=pool.get("vmSize") or "<vm size>",
                                   size=bigger))
    return chk.finding(target, FAIL, "Node {} of {} (pool {}, OS disk {} GB {}) is short of disk space: {}. Image "
                       "pulls on it fail with 'no space left on device'.".format(
                           node_name, who, pool_name, size or "?", pool.get("osDiskType") or "", "; ".join(signs)),
                       remediation, signs=signs, **evidence)
