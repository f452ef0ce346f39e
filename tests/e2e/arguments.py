"""Arguments that make a diagnosis read as much of a scenario's world as it can, for suites that run every
scenario (read-only, secrets)."""

WAITING = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def _resources(world, rtype):
    return [r for r in world.arm.values() if (r.get("type") or "").lower() == rtype]


def diagnose_args(world):
    """Arguments that make a run read as much of the world as it can: its cluster, its first registry (by
    resource ID, so that one in another subscription is found too) and its first pod stuck pulling."""
    clusters = _resources(world, "microsoft.containerservice/managedclusters")
    if not clusters:
        return None
    cluster = clusters[0]
    args = ["-g", cluster["id"].split("/")[4], "-n", cluster["name"]]
    registries = sorted(_resources(world, "microsoft.containerregistry/registries"), key=lambda r: r["name"] != "myacr")
    if registries:
        args += ["--acr", registries[0]["id"]]
    host = (cluster.get("properties") or {}).get("fqdn", "").lower()
    for obj in ((world.kube.get(host) or {}).get("objects") or {}).values():
        statuses = (obj.get("status") or {}).get("containerStatuses") or []
        if obj.get("kind") == "Pod" and any(((s.get("state") or {}).get("waiting") or {}).get("reason") in WAITING
                                            for s in statuses):
            args += ["--pod", obj["metadata"]["name"], "--namespace", obj["metadata"].get("namespace", "default")]
            break
    return args
