"""Kubernetes objects of a scenario: nodes for the cluster's pools, pods, and the events kubelet records.

Shapes are the API server's (core v1 Node, Pod, Event; events.k8s.io/v1 Event), with the labels AKS puts on
its nodes and the event sequence kubelet writes for a failed pull (pkg/kubelet/images).
"""
from datetime import datetime, timedelta, timezone

from .world import guid

NOW = datetime(2026, 11, 26, 9, 0, 0, tzinfo=timezone.utc)
WINDOWS_BUILD_OF_SKU = {"Windows2019": "10.0.17763", "Windows2022": "10.0.20348", "Windows2025": "10.0.26100"}
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]


def _ts(seconds_ago=0):
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _arm64(vm_size):
    import re
    m = re.match(r"^standard_[a-z]+\d+(?:-\d+)?([a-z]*)", vm_size.lower())
    return bool(m and "p" in m.group(1))


def _vmss_name(world, cluster, pool):
    for res in world.arm.values():
        if res.get("type") == "Microsoft.Compute/virtualMachineScaleSets" and \
                (res.get("tags") or {}).get("aks-managed-poolName") == pool and \
                cluster["properties"]["nodeResourceGroup"].lower() in res["id"].lower():
            return res["name"]
    return "aks-{}-00000000-vmss".format(pool)


def node_name(world, cluster, pool, index=0):
    profile = next(p for p in cluster["properties"]["agentPoolProfiles"] if p["name"] == pool)
    if profile.get("osType") == "Windows":
        return "aks{}{:06d}".format(pool, index)
    return "{}{:06d}".format(_vmss_name(world, cluster, pool), index)


def nodes(world, cluster, count=1):
    """Node objects for every pool, labelled as AKS labels them."""
    made = []
    for pool in cluster["properties"]["agentPoolProfiles"]:
        windows = pool.get("osType") == "Windows"
        arch = "arm64" if _arm64(pool["vmSize"]) else "amd64"
        for i in range(count):
            name = node_name(world, cluster, pool["name"], i)
            os_name = "windows" if windows else "linux"
            labels = {
                "agentpool": pool["name"], "kubernetes.azure.com/agentpool": pool["name"],
                "kubernetes.azure.com/mode": pool["mode"].lower(),
                "kubernetes.azure.com/cluster": cluster["properties"]["nodeResourceGroup"],
                "kubernetes.azure.com/os-sku": pool["osSKU"], "kubernetes.azure.com/role": "agent",
                "kubernetes.io/arch": arch, "kubernetes.io/os": os_name, "beta.kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": os_name, "kubernetes.io/hostname": name,
                "node.kubernetes.io/instance-type": pool["vmSize"], "beta.kubernetes.io/instance-type": pool["vmSize"],
                "topology.kubernetes.io/region": cluster["location"], "topology.kubernetes.io/zone": "0",
            }
            labels.update(pool.get("nodeLabels") or {})
            if windows:
                labels["node.kubernetes.io/windows-build"] = WINDOWS_BUILD_OF_SKU.get(pool["osSKU"], "10.0.20348")
            taints = []
            for text in pool.get("nodeTaints") or []:
                body, _, effect = text.rpartition(":")
                key, _, value = body.partition("=")
                taints.append({"key": key, "value": value or None, "effect": effect})
            made.append(world.kube_object(cluster, {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": labels, "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach":
                    "true"}},
                "spec": {"providerID": "azure://{}/virtualMachines/{}".format(
                    "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachineScaleSets/{}".format(
                        cluster["id"].split("/")[2], cluster["properties"]["nodeResourceGroup"],
                        _vmss_name(world, cluster, pool["name"])), i), "taints": taints or None,
                         "podCIDR": "10.244.{}.0/24".format(len(made))},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                    "message": "kubelet is posting ready status", "lastHeartbeatTime": _ts(20),
                                    "lastTransitionTime": _ts(86400)}],
                    "addresses": [{"type": "InternalIP", "address": "10.224.0.{}".format(4 + len(made))},
                                  {"type": "Hostname", "address": name}],
                    "nodeInfo": {"architecture": arch, "operatingSystem": "windows" if windows else "linux",
                                 "osImage": "Windows Server 2022 Datacenter" if windows else "Ubuntu 22.04.5 LTS",
                                 "kernelVersion": "10.0.20348.2849" if windows else "5.15.0-1079-azure",
                                 "containerRuntimeVersion": "containerd://1.7.25-1",
                                 "kubeletVersion": "v" + cluster["properties"]["kubernetesVersion"],
                                 "kubeProxyVersion": "v" + cluster["properties"]["kubernetesVersion"]}},
            }))
    return made


def _default_policy(image):
    tail = image.rsplit("/", 1)[-1]
    return "Always" if "@" not in tail and (":" not in tail or tail.endswith(":latest")) else "IfNotPresent"


def _container_status(container):
    state = container.get("state", "running")
    status = {"name": container["name"], "image": container["image"], "imageID": "", "ready": False,
              "restartCount": 0, "started": False}
    if state == "running":
        status.update(ready=True, started=True, state={"running": {"startedAt": _ts(600)}},
                      imageID="{}@sha256:{}".format(container["image"].split(":")[0], "ab" * 32))
    elif state[0] == "waiting":
        status["state"] = {"waiting": {"reason": state[1], **({"message": state[2]} if len(state) > 2 else {})}}
    elif state[0] == "crash":
        status.update(restartCount=5, state={"waiting": {"reason": "CrashLoopBackOff", "message":
                      "back-off 2m40s restarting failed container={} pod=x".format(container["name"])}},
                      lastState={"terminated": {"exitCode": 128, "reason": "StartError", "message": state[1]}})
    return status


def pod(world, cluster, name, containers, namespace="default", node=None, node_selector=None, affinity=None,
        tolerations=None, deployment=None, init_containers=(), ephemeral_containers=(), phase=None,
        image_pull_secrets=()):
    """A pod; each container is {"name", "image", "imagePullPolicy"?, "state"?} where state is "running",
    ("waiting", reason, message) or ("crash", message). ``deployment`` names the Deployment that owns it."""
    meta = {"name": name, "namespace": namespace, "labels": {"app": deployment or name}}
    if deployment:
        template_hash = guid("rs/" + deployment)[:10].replace("-", "")
        meta["labels"]["pod-template-hash"] = template_hash
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                    "name": "{}-{}".format(deployment, template_hash),
                                    "uid": guid("rs-uid/" + deployment), "controller": True,
                                    "blockOwnerDeletion": True}]

    def spec_of(c):
        return {"name": c["name"], "image": c["image"],
                "imagePullPolicy": c.get("imagePullPolicy") or _default_policy(c["image"]), "resources": {},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    spec = {"containers": [spec_of(c) for c in containers], "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "serviceAccountName": "default",
            "serviceAccount": "default", "schedulerName": "default-scheduler", "priority": 0,
            "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
            "tolerations": DEFAULT_TOLERATIONS + list(tolerations or [])}
    if init_containers:
        spec["initContainers"] = [spec_of(c) for c in init_containers]
    if ephemeral_containers:
        spec["ephemeralContainers"] = [dict(spec_of(c), targetContainerName=containers[0]["name"])
                                       for c in ephemeral_containers]
    if node:
        spec["nodeName"] = node
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if affinity:
        spec["affinity"] = affinity
    if image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in image_pull_secrets]
    all_running = all(c.get("state", "running") == "running" for c in containers)
    status = {"phase": phase or ("Running" if all_running and node else "Pending"), "qosClass": "BestEffort",
              "conditions": [{"type": "PodScheduled", "status": "True" if node else "False",
                              "lastTransitionTime": _ts(900)}],
              "containerStatuses": [_container_status(c) for c in containers]}
    if node:
        status.update(hostIP="10.224.0.4", podIP="10.244.0.{}".format(10 + len(name) % 200), startTime=_ts(900))
    if init_containers:
        status["initContainerStatuses"] = [_container_status(c) for c in init_containers]
    if ephemeral_containers:
        status["ephemeralContainerStatuses"] = [_container_status(c) for c in ephemeral_containers]
    return world.kube_object(cluster, {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                                       "status": status})


def event(world, cluster, pod_obj, reason, message, type_="Warning", container=None, kind="containers", count=1,
          seconds_ago=30, api="v1"):
    """An event about the pod, written by kubelet, in either event API's shape."""
    meta = pod_obj["metadata"]
    seed = "ev/{}/{}/{}/{}".format(meta["name"], container, reason, message)
    name = "{}.{}".format(meta["name"], guid(seed)[:18].replace("-", ""))
    regarding = {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"],
                 "apiVersion": "v1", "resourceVersion": "4242"}
    if container:
        regarding["fieldPath"] = "spec.{}{{{}}}".format(kind, container)
    node = pod_obj["spec"].get("nodeName")
    if api == "v1":
        obj = {"apiVersion": "v1", "kind": "Event",
               "metadata": {"name": name, "namespace": meta["namespace"]}, "involvedObject": regarding,
               "reason": reason, "message": message, "source": {"component": "kubelet", "host": node},
               "firstTimestamp": _ts(seconds_ago + 300 * (count > 1)), "lastTimestamp": _ts(seconds_ago),
               "count": count, "type": type_, "eventTime": None, "reportingComponent": "kubelet",
               "reportingInstance": node}
    else:
        obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
               "metadata": {"name": name, "namespace": meta["namespace"]}, "regarding": regarding,
               "reason": reason, "note": message, "type": type_, "eventTime": _ts(seconds_ago) + ".000000",
               "reportingController": "kubelet", "reportingInstance": node, "action": reason,
               "series": {"count": count, "lastObservedTime": _ts(seconds_ago) + ".000000"} if count > 1 else None}
    return world.kube_object(cluster, obj)


def pull_failure(world, cluster, pod_obj, container, error, count=4, backoff_with_error=False, kind="containers",
                 api="v1"):
    """What kubelet records for a failing pull: Pulling, Failed (the error), Error: ErrImagePull, BackOff and
    Error: ImagePullBackOff; the container waits in ImagePullBackOff. Newer kubelets (Kubernetes PR #127918) put
    the error into the back-off message too."""
    image = next(c["image"] for c in pod_obj["spec"].get(kind) or [] if c["name"] == container)
    event(world, cluster, pod_obj, "Pulling", 'Pulling image "{}"'.format(image), "Normal", container, kind, count,
          90, api)
    event(world, cluster, pod_obj, "Failed", 'Failed to pull image "{}": {}'.format(image, error), "Warning",
          container, kind, count, 85, api)
    event(world, cluster, pod_obj, "Failed", "Error: ErrImagePull", "Warning", container, kind, count, 85, api)
    event(world, cluster, pod_obj, "BackOff", 'Back-off pulling image "{}"'.format(image), "Normal", container, kind,
          count * 3, 20, api)
    event(world, cluster, pod_obj, "Failed", "Error: ImagePullBackOff", "Warning", container, kind, count * 3, 20, api)
    message = 'Back-off pulling image "{}"'.format(image)
    if backoff_with_error:
        message += ": ErrImagePull: " + error
    status_field = {"containers": "containerStatuses", "initContainers": "initContainerStatuses",
                    "ephemeralContainers": "ephemeralContainerStatuses"}[kind]
    for status in pod_obj["status"][status_field]:
        if status["name"] == container:
            status.update(ready=False, started=False, imageID="",
                          state={"waiting": {"reason": "ImagePullBackOff", "message": message}})
    pod_obj["status"]["phase"] = "Pending"
    return pod_obj


# -- what a node's kubelet gets when it pulls ------------------------------------------------------------------
# The credential provider on an AKS node (acr-credential-provider) gets a token for the node's kubelet identity from
# IMDS, with the audience of Azure Resource Manager, and exchanges it at the registry's /oauth2/exchange; the refresh
# token becomes containerd's password. When any step fails kubelet has no credential for the host and containerd
# asks for an anonymous token; with a credential, a registry that grants nothing refuses the oauth token.
NODE_TOKEN_AUDIENCE = "https://management.azure.com/"


def _node_of(world, cluster, node_name):
    objects = world.kube[cluster["properties"]["fqdn"].lower()]["objects"]
    return next((o for o in objects.values() if o.get("kind") == "Node" and o["metadata"]["name"] == node_name), None)


def node_identity(world, cluster, node_name):
    """The kubelet identity IMDS gives a token for on this node: (principal id, tenant), or None when the node has
    no VMSS carrying a user-assigned identity that still exists with the principal the scale set recorded."""
    node = _node_of(world, cluster, node_name)
    provider = ((node or {}).get("spec") or {}).get("providerID") or ""
    if "/virtualmachinescalesets/" not in provider.lower():
        return None   # a standalone VM made by node auto-provisioning carries no kubelet identity
    vmss = world.arm.get(provider[len("azure://"):].lower().split("/virtualmachines/")[0])
    kubelet = ((cluster["properties"].get("identityProfile") or {}).get("kubeletidentity") or {})
    if vmss is None or not kubelet.get("resourceId"):
        return None
    assigned = {k.lower(): v for k, v in ((vmss.get("identity") or {}).get("userAssignedIdentities") or {}).items()}
    entry = assigned.get(kubelet["resourceId"].lower())
    identity = world.arm.get(kubelet["resourceId"].lower())
    if entry is None or identity is None or identity["properties"]["principalId"] != entry.get("principalId"):
        return None   # removed from the scale set, deleted, or recreated with a new principal
    return identity["properties"]["principalId"], identity["properties"]["tenantId"]


def kubelet_pull_error(world, cluster, node_name, image):
    """The error kubelet records pulling ``image`` on ``node_name``, from the world's state; None when it pulls."""
    from . import dataplane
    host, _, rest = image.partition("/")
    repo = rest.split("@")[0].rsplit(":", 1)[0] if ":" in rest.split("/")[-1] or "@" in rest else rest
    registry_id = world.registry_for_host(host)
    registry = world.arm.get((registry_id or "").lower())
    if registry is None:
        return None
    resolve = 'failed to pull and unpack image "{0}": failed to resolve reference "{0}": failed to authorize: '.format(
        image)
    anonymous = resolve + ("failed to fetch anonymous token: unexpected status from GET request to https://{0}/oauth2/"
                           "token?scope=repository%3A{1}%3Apull&service={0}: 401 Unauthorized".format(
                               host, repo.replace("/", "%2F")))
    oauth = resolve + ("failed to fetch oauth token: unexpected status from POST request to https://{}/oauth2/token: "
                       "401 Unauthorized".format(host))
    if registry["properties"].get("anonymousPullEnabled"):
        return None
    identity = node_identity(world, cluster, node_name)
    if identity is None:
        return anonymous
    principal, tenant = identity
    policy = ((registry["properties"].get("policies") or {}).get("azureADAuthenticationAsArmPolicy") or {})
    registry_tenant = world.tenant_of_subscription(registry["id"].split("/")[2])
    if (policy.get("status") or "enabled").lower() != "enabled" or tenant != registry_tenant:
        return anonymous   # the exchange refused the node's token: the credential provider returns no credential
    if not dataplane.caller_may(world, registry, principal, dataplane.PULL):
        return oauth
    return _layer_download_error(world, cluster, node_name, registry, image)


def _node_subnet(world, node_name, cluster):
    """The subnet of the node's NIC (its scale set's IP configuration), as the world holds it."""
    node = _node_of(world, cluster, node_name)
    provider = ((node or {}).get("spec") or {}).get("providerID") or ""
    vmss = world.arm.get(provider[len("azure://"):].lower().split("/virtualmachines/")[0])
    for nic in (((vmss or {}).get("properties") or {}).get("virtualMachineProfile") or {}).get(
            "networkProfile", {}).get("networkInterfaceConfigurations") or []:
        for ipc in nic["properties"]["ipConfigurations"]:
            subnet = (ipc["properties"].get("subnet") or {}).get("id")
            if subnet:
                return world.arm.get(subnet.lower())
    return None


def _layer_download_error(world, cluster, node_name, registry, image):
    """A registry without dedicated data endpoints (nor a private endpoint, which enables them) redirects layer
    downloads to its storage account; the node's subnet may not be allowed to reach it (service endpoint policy)."""
    from .network_builders import storage_admitted
    from .registry_content import storage_account_id, storage_host
    props = registry["properties"]
    if props.get("dataEndpointEnabled") or props.get("privateEndpointConnections"):
        return None
    subnet = _node_subnet(world, node_name, cluster)
    if subnet is None or storage_admitted(world, subnet, storage_account_id(world, registry), registry["location"]):
        return None
    digest = guid("layer/" + image).replace("-", "") * 2
    return ('failed to pull and unpack image "{0}": failed to copy: httpReadSeeker: failed open: unexpected status '
            "code https://{1}/{2}/docker/registry/v2/blobs/sha256/{3}/{4}/data: 403 This request is not authorized "
            "to perform this operation.".format(image, storage_host(world, registry), registry["name"].lower(),
                                                digest[:2], digest))


def failing_pod(world, cluster, name, image, node, namespace="default", service_account="default"):
    """A pod on ``node`` stuck pulling ``image`` with the error the world gives its kubelet."""
    error = kubelet_pull_error(world, cluster, node, image)
    assert error, "the world lets node {} pull {}".format(node, image)
    obj = pod(world, cluster, name, [{"name": "app", "image": image}], namespace=namespace, node=node,
              deployment=name)
    obj["spec"]["serviceAccountName"] = obj["spec"]["serviceAccount"] = service_account
    return pull_failure(world, cluster, obj, "app", error)


def provisioned_node(world, cluster, name, nodepool="default", vm_size="Standard_D4ds_v5"):
    """A node made by node auto-provisioning (Karpenter): a standalone VM in the node resource group, labelled
    with its Karpenter node pool, not an instance of any scale set."""
    arch = "arm64" if _arm64(vm_size) else "amd64"
    labels = {"karpenter.sh/nodepool": nodepool, "karpenter.sh/capacity-type": "on-demand",
              "karpenter.sh/registered": "true", "karpenter.sh/initialized": "true",
              "karpenter.azure.com/sku-name": vm_size, "kubernetes.azure.com/mode": "user",
              "kubernetes.azure.com/cluster": cluster["properties"]["nodeResourceGroup"],
              "kubernetes.azure.com/role": "agent", "kubernetes.io/arch": arch, "kubernetes.io/os": "linux",
              "kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": vm_size,
              "topology.kubernetes.io/region": cluster["location"]}
    return world.kube_object(cluster, {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": "azure:///subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/"
                               "virtualMachines/{}".format(cluster["id"].split("/")[2],
                                                           cluster["properties"]["nodeResourceGroup"], name)},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                   "nodeInfo": {"architecture": arch, "operatingSystem": "linux",
                                "kubeletVersion": "v" + cluster["properties"]["kubernetesVersion"]}}})


# -- workloads, their events, node conditions ----------------------------------------------------------------------
_WORKLOAD_API = {"ReplicaSet": "apps/v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
                 "Job": "batch/v1"}


def workload(world, cluster, kind, name, image, namespace="default", replicas=1, owner=None):
    """A ReplicaSet, Deployment, StatefulSet, DaemonSet or Job with one container; ``owner`` (kind, name) sets its
    ownerReferences (a Deployment's ReplicaSet)."""
    meta = {"name": name, "namespace": namespace, "labels": {"app": name}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": _WORKLOAD_API[owner[0]], "kind": owner[0], "name": owner[1],
                                    "uid": guid("k8s/{}/{}/{}".format(owner[0], namespace, owner[1])),
                                    "controller": True, "blockOwnerDeletion": True}]
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": image}]}}
    spec = {"template": template} if kind in ("Job", "DaemonSet") else {"replicas": replicas, "template": template}
    status = {"active": 0, "failed": 0} if kind == "Job" else {"replicas": 0, "readyReplicas": 0}
    return world.kube_object(cluster, {"apiVersion": _WORKLOAD_API[kind], "kind": kind, "metadata": meta,
                                       "spec": spec, "status": status})


def object_event(world, cluster, obj, reason, message, component, type_="Warning", count=1, seconds_ago=30,
                 namespace=None):
    """A core v1 event about any object (a ReplicaSet's FailedCreate, a node's ImageGCFailed), written by
    ``component``; node events live in the default namespace, as kubelet writes them."""
    meta = obj["metadata"]
    namespace = namespace or meta.get("namespace") or "default"
    name = "{}.{}".format(meta["name"], guid("ev/{}/{}/{}/{}".format(obj["kind"], meta["name"], reason,
                                                                     message))[:18].replace("-", ""))
    involved = {"kind": obj["kind"], "name": meta["name"], "uid": meta.get("uid"),
                "apiVersion": obj.get("apiVersion", "v1"), "resourceVersion": "4242"}
    if meta.get("namespace"):
        involved["namespace"] = meta["namespace"]
    return world.kube_object(cluster, {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace},
        "involvedObject": involved, "reason": reason, "message": message, "source": {"component": component},
        "firstTimestamp": _ts(seconds_ago + 300 * (count > 1)), "lastTimestamp": _ts(seconds_ago), "count": count,
        "type": type_, "eventTime": None, "reportingComponent": component, "reportingInstance": ""})


def node_condition(world, cluster, node_name, type_, status, reason, message):
    """Set a condition on a node (DiskPressure, MemoryPressure, ...), as kubelet reports it."""
    host = cluster["properties"]["fqdn"].lower()
    node = world.kube[host]["objects"]["/api/v1/nodes/" + node_name]
    conditions = [c for c in node["status"]["conditions"] if c["type"] != type_]
    conditions.append({"type": type_, "status": status, "reason": reason, "message": message,
                       "lastHeartbeatTime": _ts(20), "lastTransitionTime": _ts(900)})
    node["status"]["conditions"] = conditions
    return node


def node_taint(world, cluster, node_name, key, effect):
    host = cluster["properties"]["fqdn"].lower()
    node = world.kube[host]["objects"]["/api/v1/nodes/" + node_name]
    node["spec"]["taints"] = [t for t in node["spec"].get("taints") or [] if t["key"] != key] + [
        {"key": key, "effect": effect, "timeAdded": _ts(900)}]
    return node
