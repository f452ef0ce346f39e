"""Discovery scenarios: the first command names only the cluster, and the diagnosis finds the pods that fail.

A cluster running a realistic mix of workloads in several namespaces (system pods, a finished Job's pod, running
Deployments), some of which are stuck on a pull: the replicas of a Deployment, a Job's init container, and a
running pod whose sidecar restarts with ``imagePullPolicy: Always``. Variants take the pull role away or give it,
narrow the caller's Kubernetes RBAC, and close the API server to the caller (private, authorized IP ranges).
"""
from .. import network_builders as nb
from ..pods import node_name, nodes, pod, pull_failure
from ..registry_content import push, signed_in_caller
from ..world import SUBSCRIPTION, World
from . import scenario
from .foundation import kubelet_object_id
from .image import article_text

LOGIN = "myacr.azurecr.io"
STUCK = {"shop/web": "app", "batch/migrate": "migrate", "ops/agent": "log-shipper"}   # group -> failing container


def _world(name, pull_role, failing=True, newer_kubelet=False):
    w = World(name)
    cluster = w.cluster("aks1", "rg1", pools=[{"name": "nodepool1", "mode": "System"},
                                              {"name": "userpool", "mode": "User"}])
    registry = w.registry("myacr", "rg1")
    if pull_role:
        w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    signed_in_caller(w, "/subscriptions/" + SUBSCRIPTION)
    nodes(w, cluster)
    push(w, registry, "app", ["v1", "v2"], ["linux/amd64", "linux/arm64"])
    push(w, registry, "tools", "1.0", ["linux/amd64"])
    push(w, registry, "log-shipper", "2.1", ["linux/amd64"])
    node = node_name(w, cluster, "userpool")
    system = node_name(w, cluster, "nodepool1")
    # What runs fine: system pods, a Deployment of the registry's image, a finished Job's pod.
    for i in range(2):
        pod(w, cluster, "coredns-6d9c8b7f4-{}".format("ab"[i] * 5), [{"name": "coredns", "image":
            "mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.11.3-8"}], namespace="kube-system", node=system,
            deployment="coredns")
    pod(w, cluster, "metrics-server-7b5f9c8d6-x9k2p", [{"name": "metrics-server", "image":
        "mcr.microsoft.com/oss/v2/kubernetes/metrics-server:v0.7.2"}], namespace="kube-system", node=system,
        deployment="metrics-server")
    for i in range(2):
        pod(w, cluster, "cart-5c7d9f8b6-{}".format("cd"[i] * 5), [{"name": "app", "image": LOGIN + "/app:v1"}],
            namespace="shop", node=node, deployment="cart")
    done = pod(w, cluster, "report-29113920-7xk4m", [{"name": "report", "image": LOGIN + "/tools:1.0"}],
               namespace="batch", node=node, phase="Succeeded")
    done["status"]["containerStatuses"][0].update(ready=False, started=False, state={"terminated": {
        "exitCode": 0, "reason": "Completed", "startedAt": "2026-11-26T08:00:00Z",
        "finishedAt": "2026-11-26T08:01:00Z"}})
    if not failing:
        return w, cluster
    error = article_text("C1", LOGIN + "/app:v2")
    # The replicas of one Deployment, stuck on a new image the nodes may not pull.
    for suffix in ("7k2xq", "9m4tz", "p8w3n"):
        web = pod(w, cluster, "web-5f8b9c7d4-" + suffix, [{"name": "app", "image": LOGIN + "/app:v2"}],
                  namespace="shop", node=node, deployment="web")
        pull_failure(w, cluster, web, "app", error, backoff_with_error=newer_kubelet)
    # A Job's pod whose init container cannot be pulled: the pod stays Pending.
    tools = LOGIN + "/tools:1.0"
    migrate = pod(w, cluster, "migrate-28h7d", [{"name": "main", "image": LOGIN + "/app:v1"}], namespace="batch",
                  node=node, init_containers=[{"name": "migrate", "image": tools}])
    migrate["status"]["containerStatuses"][0].update(ready=False, started=False, state={"waiting": {
        "reason": "PodInitializing"}})
    pull_failure(w, cluster, migrate, "migrate", article_text("C1", tools, "tools"), kind="initContainers",
                 backoff_with_error=newer_kubelet)
    # A running pod whose sidecar restarted and pulls again (imagePullPolicy Always): the pod stays Running.
    shipper = LOGIN + "/log-shipper:2.1"
    agent = pod(w, cluster, "agent-x7p2k", [{"name": "agent", "image": LOGIN + "/app:v1"},
                                            {"name": "log-shipper", "image": shipper, "imagePullPolicy": "Always"}],
                namespace="ops", node=node, deployment="agent")
    pull_failure(w, cluster, agent, "log-shipper", article_text("C1", shipper, "log-shipper"),
                 backoff_with_error=newer_kubelet)
    agent["status"]["phase"] = "Running"
    for status in agent["status"]["containerStatuses"]:
        if status["name"] == "log-shipper":
            status.update(restartCount=3, lastState={"terminated": {"exitCode": 137, "reason": "Error",
                                                                    "startedAt": "2026-11-26T08:30:00Z",
                                                                    "finishedAt": "2026-11-26T08:55:00Z"}})
    return w, cluster


@scenario("discover-stuck", "Only the cluster is named: a Deployment's replicas, a Job's init container and a "
                            "running pod's sidecar are stuck in ImagePullBackOff, and the kubelet identity holds no "
                            "pull role on the registry their images name (C1.S1).")
def discover_stuck():
    return _world("discover-stuck", pull_role=False)[0]


@scenario("discover-healthy", "Only the cluster is named: every pod runs, and the kubelet identity holds AcrPull on "
                              "its registry.")
def discover_healthy():
    return _world("discover-healthy", pull_role=True, failing=False)[0]


@scenario("discover-nothing", "Only the cluster is named: every pod runs, and no registry is named anywhere (the "
                              "pull identity holds no role on one).")
def discover_nothing():
    return _world("discover-nothing", pull_role=False, failing=False)[0]


@scenario("discover-many", "Only the cluster is named: fourteen groups of pods fail to pull, more than are diagnosed "
                           "one by one.")
def discover_many():
    w, cluster = _world("discover-many", pull_role=False)
    node = node_name(w, cluster, "userpool")
    for i in range(11):
        image = "{}/svc{:02d}:1.0".format(LOGIN, i)
        p = pod(w, cluster, "svc{:02d}-6b8c9d7f5-q{:02d}xz".format(i, i), [{"name": "svc", "image": image}],
                namespace="load", node=node, deployment="svc{:02d}".format(i))
        pull_failure(w, cluster, p, "svc", article_text("C2", image))
    return w


@scenario("discover-partial-rbac", "Only the cluster is named, by a caller whose Kubernetes RBAC lets it read pods in "
                                   "some namespaces only (not cluster-wide) and no events; the kubelet reports the "
                                   "pull error in the container status.")
def discover_partial_rbac():
    w, cluster = _world("discover-partial-rbac", pull_role=False, newer_kubelet=True)
    w.kube[cluster["properties"]["fqdn"].lower()]["readable"] = {"pods": ["default", "shop", "batch", "ops"],
                                                                 "events": []}
    return w


@scenario("discover-no-events", "A caller that may read pods but not events: a healthy cluster (no pod fails).")
def discover_no_events():
    w, cluster = _world("discover-no-events", pull_role=True, failing=False)
    w.kube[cluster["properties"]["fqdn"].lower()]["readable"] = {"events": []}
    return w


@scenario("discover-private", "A private cluster (its API server cannot be reached from where az runs) with the pods "
                              "of discover-stuck.")
def discover_private():
    w, cluster = _world("discover-private", pull_role=False)
    nb.make_private(w, cluster)
    return w


@scenario("discover-private-partial-rbac", "A private cluster with the pods of discover-stuck, read by a caller whose "
                                           "Kubernetes RBAC lets it read pods in some namespaces only, and no events.")
def discover_private_partial_rbac():
    w, cluster = _world("discover-private-partial-rbac", pull_role=False, newer_kubelet=True)
    nb.make_private(w, cluster)
    w.kube[cluster["properties"]["fqdn"].lower()]["readable"] = {"pods": ["default", "shop", "batch", "ops"],
                                                                 "events": []}
    return w


@scenario("discover-authorized-ips", "A cluster whose API server accepts only authorized IP ranges that exclude the "
                                     "machine running az, with the pods of discover-stuck.")
def discover_authorized_ips():
    w, cluster = _world("discover-authorized-ips", pull_role=False)
    cluster["properties"]["apiServerAccessProfile"] = {"authorizedIPRanges": ["198.51.100.0/24"],
                                                       "enablePrivateCluster": False, "disableRunCommand": False}
    w.addresses[cluster["properties"]["fqdn"].lower()] = "203.0.113.80"   # public, but not answering this machine
    return w


@scenario("demo-stuck", "The demo: a managed-identity cluster whose kubelet identity lost AcrPull and was removed "
                        "from a node pool's scale set; the replicas of Deployment web are stuck in ImagePullBackOff.")
def demo_stuck():
    from .foundation import demo_broken
    w = demo_broken()
    w.name = "demo-stuck"
    cluster = next(r for r in w.arm.values() if r.get("type") == "Microsoft.ContainerService/ManagedClusters")
    registry = next(r for r in w.arm.values() if r.get("type") == "Microsoft.ContainerRegistry/registries")
    signed_in_caller(w, "/subscriptions/" + SUBSCRIPTION)
    nodes(w, cluster)
    push(w, registry, "shop/web", ["2.3", "2.4"], ["linux/amd64", "linux/arm64"])
    node = node_name(w, cluster, "userpool")
    image = LOGIN + "/shop/web:2.4"
    pod(w, cluster, "coredns-6d9c8b7f4-aaaaa", [{"name": "coredns", "image":
        "mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.11.3-8"}], namespace="kube-system",
        node=node_name(w, cluster, "nodepool1"), deployment="coredns")
    for suffix in ("x2x4q", "m7k9t"):
        web = pod(w, cluster, "web-7c9d8f6b5-" + suffix, [{"name": "web", "image": image}], namespace="shop",
                  node=node, deployment="web")
        pull_failure(w, cluster, web, "web", article_text("C1", image, "shop/web"))
    return w


@scenario("discover-private-large", "A private cluster with the pods of discover-stuck among 3,000 running pods: a "
                                    "LIST of the active pods is several MB, more than AKS run command returns.")
def discover_private_large():
    w, cluster = _world("discover-private-large", pull_role=False)
    nb.make_private(w, cluster)
    bulk(w, cluster, 3000)
    return w


@scenario("discover-private-flood", "A private cluster where 3,000 pods of 100 Deployments in 10 namespaces wait on "
                                    "an image pull: more than AKS run command's output can list at once.")
def discover_private_flood():
    w, cluster = _world("discover-private-flood", pull_role=False, failing=False)
    nb.make_private(w, cluster)
    bulk(w, cluster, 3000, failing=True)
    return w


def bulk(w, cluster, count, failing=False):
    """``count`` pods of 100 Deployments (one image each) in 10 namespaces, running or waiting on a pull of the
    image, cheaply: copies of one pod, renamed."""
    import copy
    node = node_name(w, cluster, "userpool")
    containers = [{"name": "app", "image": LOGIN + "/svc:1.0"},
                  {"name": "proxy", "image": "mcr.microsoft.com/oss/envoyproxy/envoy:v1.31"}]
    model = pod(w, cluster, "bulk-model", containers, namespace="load-0", node=node, deployment="bulk")
    objects = w.kube[cluster["properties"]["fqdn"].lower()]["objects"]
    del objects["/api/v1/namespaces/load-0/pods/bulk-model"]
    if failing:
        model["status"]["phase"] = "Pending"
        model["status"]["containerStatuses"][0].update(ready=False, started=False, state={"waiting": {
            "reason": "ImagePullBackOff", "message": 'Back-off pulling image "{}"'.format(containers[0]["image"])}})
    for i in range(count):
        item = copy.deepcopy(model)
        namespace, deployment = "load-{}".format(i % 10), "svc-{:02d}".format(i % 100)
        image = "{}/{}:1.0".format(LOGIN, deployment)
        item["metadata"].update(name="{}-7d4b9c-{:05d}".format(deployment, i), namespace=namespace,
                                uid="bulk-{:05d}".format(i), labels={"app": deployment})
        item["spec"]["containers"][0]["image"] = item["status"]["containerStatuses"][0]["image"] = image
        if failing:
            item["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = \
                'Back-off pulling image "{}"'.format(image)
        objects["/api/v1/namespaces/{}/pods/{}".format(namespace, item["metadata"]["name"])] = item
