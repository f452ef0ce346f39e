"""A pod's events as the pod checks read them: which belong to one container, newest first."""

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
