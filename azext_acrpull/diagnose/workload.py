"""The workload behind a pod, and kubectl commands that change it there rather than on a pod it will replace."""
import json

_CONTROLLERS = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset",
                "ReplicaSet": "replicaset", "ReplicationController": "replicationcontroller"}


def workload_of(pod):
    """('deployment', 'web'), ('statefulset', 'db'), ... or ('pod', name) for a pod no controller owns.

    A Deployment's pods are owned by a ReplicaSet named '<deployment>-<pod-template-hash>'."""
    meta = (pod or {}).get("metadata") or {}
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is None or owner.get("kind") not in _CONTROLLERS:
        return "pod", meta.get("name")
    name = owner.get("name") or ""
    template_hash = (meta.get("labels") or {}).get("pod-template-hash")
    if owner["kind"] == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return "deployment", name[:-len(template_hash) - 1]
    return _CONTROLLERS[owner["kind"]], name


def _namespace(pod):
    return ((pod or {}).get("metadata") or {}).get("namespace") or "default"


def set_image_command(pod, container, image):
    kind, name = workload_of(pod)
    return "kubectl set image {}/{} {}={} -n {}".format(kind, name, container, image, _namespace(pod))


def patch_pod_spec_command(pod, spec_patch, what):
    """A kubectl patch of the pod template; a bare pod's spec is mostly immutable, so it is recreated instead."""
    kind, name = workload_of(pod)
    if kind == "pod":
        return ("Recreate pod {} with {} (a pod's spec cannot be changed in place): kubectl get pod {} -n {} "
                "-o yaml > pod.yaml, edit it, then kubectl replace --force -f pod.yaml".format(
                    name, what, name, _namespace(pod)))
    patch = json.dumps({"spec": {"template": {"spec": spec_patch}}}, separators=(",", ":"))
    return "kubectl patch {}/{} -n {} -p '{}'".format(kind, name, _namespace(pod), patch)
