"""The images a run is about and the node pools they must run on.

Images come from ``--image`` and from the ``--pod``'s containers (init, regular and ephemeral), each with the
containers that use it, so every image check reports on one list. The pod is read through ``pod()`` like every
other pod read. Pool platforms come from the cluster's agent pool profiles, refined by the nodes' labels when the
Kubernetes API can be read.
"""
from ..platform import node_pool_name, node_pool_platform
from ..reference import InvalidReference, intended_registry_name, parse_reference
from .base import POD_NOT_FOUND, FactError

# Container lists of a pod spec and the word used for each in findings.
CONTAINER_KINDS = (("initContainers", "initContainerStatuses", "init container"),
                   ("containers", "containerStatuses", "container"),
                   ("ephemeralContainers", "ephemeralContainerStatuses", "ephemeral container"))


class ImageFacts:
    """Mixin for LiveFacts: the images to check, the registries behind them, the pools they must run on."""

    def discovering(self):
        """Nothing names a pod, an image or a registry: the run starts from the pods that fail to pull."""
        request = self.request
        return not request.pod and not request.images and request.registry is None

    def diagnosed_pod(self):
        """The --pod object; None without --pod. FactError when it cannot be read or does not exist."""
        if not self.request.pod:
            return None
        pod = self.pod(self.request.namespace, self.request.pod)
        if pod is None:
            raise FactError("pod {}/{} does not exist (kubectl get pods -n {})".format(
                self.request.namespace, self.request.pod, self.request.namespace), 404, POD_NOT_FOUND)
        return pod

    def diagnosed_pods(self):
        """The pods this run is about: the --pod; when the run discovers, one pod of each group of failing pods
        it reports (their replicas fail alike); otherwise none."""
        if self.request.pod:
            return [self.diagnosed_pod()]
        if not self.discovering():
            return []
        return [group["pod"] for group in self.failing_pod_groups()["reported"]]

    def failing_pod_groups(self):
        """The failing pods found by one LIST: {"reported": [{"pod", "others"}], "summarised": [...same],
        "podsRead", "scope", "unreadableNamespaces"}."""
        return self.once("failing_pod_groups", self._failing_pod_groups)

    def _failing_pod_groups(self):
        from ..discovery import REPORTED_GROUPS, group_failing
        found = self.failing_pods()
        groups = [{"pod": pod, "others": others} for pod, others in group_failing(found["pods"])]
        return dict(found, reported=groups[:REPORTED_GROUPS], summarised=groups[REPORTED_GROUPS:])

    def pod_containers(self, pod=None):
        """A pod's containers (the --pod's by default): name, kind, image, imagePullPolicy, status and the pod, in
        spec order."""
        pod = self.diagnosed_pod() if pod is None else pod
        if pod is None:
            return []
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        out = []
        for field, status_field, kind in CONTAINER_KINDS:
            statuses = {s.get("name"): s for s in status.get(status_field) or []}
            for container in spec.get(field) or []:
                out.append({"name": container.get("name"), "kind": kind, "image": container.get("image") or "",
                            "imagePullPolicy": container.get("imagePullPolicy"),
                            "status": statuses.get(container.get("name")) or {}, "pod": pod})
        return out

    def image_entries(self):
        """One entry per image text: {"text", "reference" (or None), "problem" (or None), "containers"}."""
        return self.once("image_entries", self._image_entries)

    def _image_entries(self):
        entries = {}

        def add(text, reference=None, container=None):
            entry = entries.get(text)
            if entry is None:
                problem = None
                if reference is None:
                    try:
                        reference = parse_reference(text)
                    except InvalidReference as err:
                        problem = err.problem
                entry = entries[text] = {"text": text, "reference": reference, "problem": problem, "containers": []}
            if container:
                entry["containers"].append(container)

        for reference in self.request.images:
            add(reference.original, reference)
        for pod in self.diagnosed_pods():
            for container in self.pod_containers(pod):
                add(container["image"], container=container)
        return list(entries.values())

    def registry_names_from_images(self):
        """The ACR names the images stand for. A pod that cannot be read counts for nothing here: the pod
        checks report why, and the registry can still come from --acr, --image or the role assignments."""
        try:
            references = [e["reference"] for e in self.image_entries() if e["reference"]]
        except FactError:
            references = list(self.request.images)
        return self.request.registry_names_from_images(references)

    def image_registry(self, reference):
        """(name, registry resource or None) for an ACR image, the registry it plainly means included;
        (None, None) when the host is no ACR login server of this cloud."""
        name = intended_registry_name(reference.registry, self.request.acr_suffix)
        if not name:
            return None, None
        for lookup in self.registry_lookups():
            registry = lookup["registry"]
            if registry is not None and registry.get("name", "").lower() == name.lower():
                return name, registry
            if registry is None and lookup["name"].lower() == name.lower():
                return name, None
        return name, self.registry_by_name(name)

    def node_pool_platforms(self):
        """Each node pool's OS, architecture, Windows build, node labels and taints (see platform.py)."""
        return self.once("node_pool_platforms", self._node_pool_platforms)

    def _node_pool_platforms(self):
        pools = self.node_pools()
        try:
            nodes, kube_error = self.nodes(), None
        except FactError as err:
            nodes, kube_error = [], err.reason
        return [node_pool_platform(p, [n for n in nodes if (node_pool_name(n) or "").lower() == p["name"].lower()],
                                   kube_error) for p in pools]
