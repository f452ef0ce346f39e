"""What finding the failing pods costs in a large cluster: round trips and CPU of the pod LIST.

    .venv/bin/python -m bench.discovery [--pods 5000] [--runs 5]

``scripts/bench.sh`` runs it too (``measure``) and puts its worst case into the README's table of every target.

A PodList page as the API server writes it (compact JSON, items without kind and apiVersion, each pod about 3.6 KB
with managedFields, as real pods carry them) is built for ``--pods`` pods, with no failing pod, with the three
replicas of one Deployment failing (adjacent in the list, as the API server orders pods by namespace and name),
and with 50 failing pods spread over the list. For each, the CPU time of ``discovery.read_page`` (what the
extension does with the bytes) is measured against decoding the whole page, the way a plain ``response.json()``
would. Pages of ``PAGE_SIZE`` items: the number of LIST round trips is printed too.

Targets (issue 21): at most one extra round trip and 0.3 s of CPU for 5,000 pods. Exit status 1 when missed.
"""
import argparse
import copy
import json
import statistics
import sys
import time

from azext_acrpull.diagnose.discovery import PAGE_SIZE, read_page

TARGET_CPU = 0.3


def _pod(i, failing=False):
    name = "web-7d9f8c6b5d-{:05d}".format(i)
    managed = {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                              "f:ownerReferences": {".": {}, 'k:{"uid":"1b1c"}': {}}},
               "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:imagePullPolicy": {},
                                                                  "f:name": {}, "f:ports": {}, "f:resources": {}}},
                          "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}}}
    status = {"name": "web", "ready": True, "restartCount": 0, "started": True, "image": "myacr.azurecr.io/web:1.2.3",
              "imageID": "myacr.azurecr.io/web@sha256:" + "ab" * 32, "containerID": "containerd://" + "cd" * 32,
              "state": {"running": {"startedAt": "2026-11-20T08:00:09Z"}}, "lastState": {}}
    if failing:
        status.update(ready=False, started=False, imageID="", containerID=None, state={"waiting": {
            "reason": "ImagePullBackOff", "message": 'Back-off pulling image "myacr.azurecr.io/web:1.2.4"'}})
    return {
        "metadata": {"name": name, "generateName": "web-7d9f8c6b5d-", "namespace": "team-{:02d}".format(i // 250),
                     "uid": "0b1c2d3e-4f50-6172-8394-{:012d}".format(i), "resourceVersion": str(123456789 + i),
                     "creationTimestamp": "2026-11-20T08:00:00Z",
                     "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5d", "app.kubernetes.io/name": "web"},
                     "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8c6b5d",
                                          "uid": "1b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "controller": True,
                                          "blockOwnerDeletion": True}],
                     "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
                                        "apiVersion": "v1", "time": "2026-11-20T08:00:00Z", "fieldsType": "FieldsV1",
                                        "fieldsV1": managed},
                                       {"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
                                        "time": "2026-11-20T08:00:10Z", "fieldsType": "FieldsV1",
                                        "subresource": "status", "fieldsV1": {"f:status": {
                                            "f:conditions": {}, "f:containerStatuses": {}, "f:hostIP": {},
                                            "f:phase": {}, "f:podIP": {}, "f:startTime": {}}}}]},
        "spec": {"volumes": [{"name": "kube-api-access-abcde", "projected": {"sources": [
                     {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                     {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}],
                     "defaultMode": 420}}],
                 "containers": [{"name": "web", "image": "myacr.azurecr.io/web:1.2.4" if failing else
                                 "myacr.azurecr.io/web:1.2.3", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                 "env": [{"name": "LOG_LEVEL", "value": "info"}],
                                 "resources": {"limits": {"cpu": "500m", "memory": "512Mi"},
                                               "requests": {"cpu": "100m", "memory": "128Mi"}},
                                 "volumeMounts": [{"name": "kube-api-access-abcde", "readOnly": True,
                                                   "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                                 "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                                                   "timeoutSeconds": 1, "periodSeconds": 10},
                                 "terminationMessagePath": "/dev/termination-log",
                                 "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
                 "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                 "serviceAccountName": "default", "serviceAccount": "default",
                 "nodeName": "aks-nodepool1-12345678-vmss{:06d}".format(i % 40), "securityContext": {},
                 "schedulerName": "default-scheduler",
                 "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 300}],
                 "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"},
        "status": {"phase": "Pending" if failing else "Running",
                   "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                                   "lastTransitionTime": "2026-11-20T08:00:05Z"}
                                  for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                   "hostIP": "10.224.0.5", "podIP": "10.244.{}.{}".format(i // 250, i % 250),
                   "startTime": "2026-11-20T08:00:00Z", "containerStatuses": [status], "qosClass": "Burstable"}}


def page(count, failing):
    template, broken = _pod(0), _pod(0, failing=True)
    items = []
    for i in range(count):
        pod = copy.deepcopy(broken if i in failing else template)
        pod["metadata"]["name"] = "web-7d9f8c6b5d-{:05d}".format(i)
        items.append(pod)
    return json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "987654321"},
                       "items": items}, separators=(",", ":")).encode()


def cpu(func, runs):
    times = []
    for _ in range(runs):
        start = time.process_time()
        func()
        times.append(time.process_time() - start)
    return statistics.median(times)


def peak_memory(func):
    """Peak of the Python memory ``func`` allocates (tracemalloc), in MB."""
    import tracemalloc
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def measure(pods=5000, runs=5):
    """Each case's figures, the LIST round trips, and whether the targets are met (what the README table shows)."""
    cases = [("no failing pod", set()), ("3 replicas failing", {pods // 2, pods // 2 + 1, pods // 2 + 2}),
             ("50 pods failing, spread", set(range(0, pods, max(1, pods // 50))))]
    rounds = -(-pods // PAGE_SIZE)
    out = []
    for name, failing in cases:
        raw = page(pods, failing)
        found = read_page(raw)[0]
        assert len(found) == len(failing), (name, len(found))
        scan = cpu(lambda raw=raw: read_page(raw), runs)
        whole = cpu(lambda raw=raw: json.loads(raw), runs)
        wall = statistics.median(_wall(lambda raw=raw: read_page(raw)) for _ in range(runs))
        out.append({"case": name, "pageMb": len(raw) / 1e6, "cpu": scan, "wall": wall, "wholePageCpu": whole,
                    "found": len(found), "peakMb": peak_memory(lambda raw=raw: read_page(raw))})
    worst = max(c["cpu"] for c in out)
    return {"pods": pods, "pageSize": PAGE_SIZE, "rounds": rounds, "runs": runs, "targetCpu": TARGET_CPU,
            "targetRounds": 1, "cases": out, "met": rounds <= 1 and worst <= TARGET_CPU}


def _wall(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.discovery")
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    result = measure(args.pods, args.runs)
    print("{} pods, {} per page: {} LIST round trip(s); target: at most 1 and {:.1f} s CPU".format(
        args.pods, PAGE_SIZE, result["rounds"], TARGET_CPU))
    print("| case | page MB | read_page CPU s | whole-page json CPU s | peak MB | failing found |")
    print("|---|---:|---:|---:|---:|---:|")
    for c in result["cases"]:
        print("| {} | {:.1f} | {:.3f} | {:.3f} | {:.1f} | {} |".format(c["case"], c["pageMb"], c["cpu"],
                                                                      c["wholePageCpu"], c["peakMb"], c["found"]))
    print("target {}".format("met" if result["met"] else "MISSED"))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
