"""A pod's events as the pod checks read them: which belong to one container, newest first; and the pull errors of
the run's failing containers that pull from one registry."""

_FIELD_PATHS = {"init container": "spec.initContainers{{{}}}", "container": "spec.containers{{{}}}",
                "ephemeral container": "spec.ephemeralContainers{{{}}}"}


def _when(event):
    return event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or ""


def container_events(events, container, containers):
    """The pod's events about one container, newest first: by field path, or for events without one, by the
    image they quote (or all containers when they quote none, such as a pull secret kubelet could not read)."""
    path = _FIELD_PATHS[container["kind"]].format(container["name"])
    others = ['"{}"'.format(c["image"]) for c in containers if c["image"] != container["image"]]
    mine = []
    for event in events:
        field = (event.get("involvedObject") or {}).get("fieldPath")
        message = event.get("message") or ""
        if field == path or (not field and ('"{}"'.format(container["image"]) in message
                                            or not any(o in message for o in others))):
            mine.append(event)
    return sorted(mine, key=_when, reverse=True)


def registry_pull_errors(facts, registry):
    """The containers of the run's pods (the --pod, or the failing pods it found) waiting on a pull from
    ``registry``, each with its error texts (waiting message first, then its events): [{"pod", "container", "image",
    "texts"}]. Empty without pods, for a reader that reads none, or when they may not be read (the pod's own checks
    say why); a failure of the Kubernetes API raises, since then the errors are not known. Events that cannot be
    read leave the waiting message."""
    from ..classify import WAITING_REASONS
    from ..facts import FactError, FactUnavailable
    login = (registry.get("properties", {}).get("loginServer") or "").lower()
    try:
        pods = facts.diagnosed_pods()
    except FactUnavailable:   # a reader that reads no pods (fleet): no pull error to read
        return []
    except FactError as err:
        if err.fault:
            raise
        return []
    found = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        containers = facts.pod_containers(pod)
        try:
            events = facts.pod_events(meta.get("namespace"), meta.get("name"))
        except FactError:
            events = []
        for container in containers:
            waiting = (container["status"].get("state") or {}).get("waiting") or {}
            if waiting.get("reason") not in WAITING_REASONS or container["image"].split("/")[0].lower() != login:
                continue
            texts = [waiting.get("message") or ""] + [e.get("message") or "" for e in
                                                      container_events(events, container, containers)]
            found.append({"pod": "{}/{}".format(meta.get("namespace"), meta.get("name")),
                          "container": container["name"], "image": container["image"], "texts": texts})
    return found
