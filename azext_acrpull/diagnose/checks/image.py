"""Cause 2 (image not found), Cause 5 and X.arch (platform): is the image named right, does it exist, can it run.

Each check reports once per image of ``--image`` and of the ``--pod``. The assessments below are plain functions
of facts so that ``pod-pull-events`` can use them to decide between the causes an ambiguous error text allows.
"""
from ..common.images import acr_image, image_target
from ..common.images import per_image as _per_image
from ..common.registry import closest_registries
from ..facts import FactError, FactUnavailable
from ..findings import FAIL, PASS, SKIPPED, WARNING, check
from ..placement import pool_placement
from ..platform import (
    MEDIA_TYPE_NAMES,
    WINDOWS_NAMES,
    WINDOWS_TAGS,
    Platform,
    describe_node,
    mismatch,
    platforms_of_index,
)
from ..reference import (
    KNOWN_ACR_SUFFIXES,
    closest,
    edit_distance,
    login_server_problem,
    parse_reference,
    registry_name_from_host,
)
from ..workload import patch_pod_spec_command, set_image_command

CLOUD_OF_SUFFIX = {".azurecr.io": "AzureCloud", ".azurecr.cn": "AzureChinaCloud", ".azurecr.us": "AzureUSGovernment"}
MULTI_ARCH_BUILD = "docker buildx build --platform linux/amd64,linux/arm64 -t {} --push ."


def _containers(entry):
    return [c["name"] for c in entry["containers"]]


def entry_pod(entry):
    """The (first) pod whose containers use the image, or None for an image given with --image."""
    return entry["containers"][0]["pod"] if entry["containers"] else None


def _use_image(facts, entry, image):
    """How to make the workload (or the user) reference ``image`` instead of the entry's text."""
    if entry["containers"]:
        return "; ".join(dict.fromkeys(set_image_command(c["pod"], c["name"], image) for c in entry["containers"]))
    return "Reference the image as {}".format(image)


def _with_host(reference, host):
    text = "{}/{}".format(host, reference.repository)
    if reference.tag:
        text += ":" + reference.tag
    if reference.digest:
        text += "@" + reference.digest
    return text


def _lowercase_fix(text):
    """The reference with its host and repository in lower case (tag and digest kept), when that parses."""
    name, at, digest = text.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    path, tag = (name[:colon], name[colon:]) if colon > slash else (name, "")
    fixed = path.lower() + tag + at + digest
    try:
        parse_reference(fixed)
    except ValueError:
        return None
    return fixed if fixed != text else None


# -- assessments shared with pod-pull-events ------------------------------------------------------------------
def assess_reference(facts, entry):
    """How the image is named: {"status", "kind", "message", "suggestion", "remediation"}."""
    verdict = _reference_verdict(facts, entry)
    remediation = _use_image(facts, entry, verdict["suggestion"]) if verdict.get("suggestion") else ""
    if verdict["status"] == FAIL and not remediation:
        remediation = ("Use a registry of this cloud (az acr list --query [].loginServer -o tsv), or sign in to the "
                       "registry's cloud: az cloud set -n <cloud> && az login") if verdict["kind"] == "other-cloud" \
            else "Correct the image reference; list the registries with az acr list --query [].loginServer -o tsv"
    return dict(verdict, remediation=remediation)


def _reference_verdict(facts, entry):
    suffix = facts.request.acr_suffix
    text = entry["text"]
    if entry["problem"]:
        fix = _lowercase_fix(text)
        return {"status": FAIL, "kind": "malformed", "suggestion": fix,
                "message": "'{}' is not a valid image reference: {}; kubelet reports InvalidImageName and never "
                           "asks a registry.".format(text, entry["problem"])}
    reference = entry["reference"]
    problem = login_server_problem(reference.registry, suffix)
    if problem:
        suggestion = problem.suggestion
        message = problem.message[0].upper() + problem.message[1:]
        message += "" if message.endswith(("?", ".")) else "."
        if problem.kind == "other-cloud":
            cloud = next((CLOUD_OF_SUFFIX[s] for s in KNOWN_ACR_SUFFIXES if reference.registry.lower().endswith(s)),
                         "another cloud")
            message = ("'{}' is a login server of {}, but az is set to a cloud whose registries end in {} "
                       "(az cloud show); nodes of this cluster resolve it only if it exists there.".format(
                           reference.registry, cloud, suffix))
            name = reference.registry.split(".")[0]
            same = facts.registry_by_name(name) if registry_name_from_host(name + suffix, suffix) else None
            suggestion = (name + suffix) if same else None
        fixed = _with_host(reference, suggestion) if suggestion else None
        if fixed:
            name, registry = facts.image_registry(parse_reference(fixed))
            message += " Registry {} {}.".format(name, "exists in this subscription" if registry else
                                                 "does not exist in this subscription either")
        return {"status": FAIL, "kind": problem.kind, "message": message, "suggestion": fixed}
    name, registry = facts.image_registry(reference)
    if name is None:
        return {"status": PASS, "kind": "other-registry", "suggestion": None,
                "message": "'{}' is a well-formed reference to {}, which is not an Azure Container Registry of this "
                           "cloud; the ACR checks skip it.".format(text, reference.registry)}
    if registry is None:
        near = closest_registries(facts, name)
        fixed = _with_host(reference, near[0].lower() + suffix) if near else None
        return {"status": FAIL, "kind": "no-registry", "suggestion": fixed, "closestRegistries": near,
                "message": "'{}' names registry '{}', which does not exist in the subscription the signed-in account "
                           "reads{}, so nodes cannot pull from it.".format(
                               text, name, "; the closest registry is '{}'".format(near[0]) if near else "")}
    return {"status": PASS, "kind": None, "suggestion": None, "registry": registry,
            "message": "'{}' is well formed and names registry {} (login server {}), repository '{}', {}.".format(
                text, registry["name"], registry["properties"].get("loginServer"), reference.repository,
                "digest " + reference.digest if reference.digest else "tag '{}'".format(reference.tag or "latest"))}


def assess_manifest(facts, entry, registry):
    """{"status", "missing", "message", "remediation", ...} from the registry's answer for the image's reference."""
    ref = entry["reference"]
    login = registry["properties"].get("loginServer")
    found = facts.registry_manifest(registry, ref.repository, ref.reference)
    shown = "{}@{}".format(ref.repository, ref.digest) if ref.digest else "{}:{}".format(
        ref.repository, ref.tag or "latest")
    if found["found"]:
        return {"status": PASS, "missing": None, "digest": found["digest"], "mediaType": found["mediaType"],
                "message": "{} exists in registry {}: {} {}.".format(
                    shown, registry["name"], MEDIA_TYPE_NAMES.get(found["mediaType"], found["mediaType"]),
                    found["digest"])}
    cached = _cache_rule_verdict(facts, entry, registry, found, shown)
    if cached:
        return cached
    if found["missing"] == "repository":
        try:
            repositories = facts.registry_repositories(registry)
            near, unread = closest(ref.repository, repositories, 3), None
        except FactError as err:
            near, unread = [], err.reason
        close = [r for r in near if edit_distance(r, ref.repository) <= max(2, len(ref.repository) // 3)]
        message = "Repository '{}' does not exist in registry {}{}.".format(
            ref.repository, registry["name"],
            "; the closest repositories are {}".format(", ".join(near)) if near else
            "" if unread is None else " (the repository list could not be read: {})".format(unread))
        fix = _use_image(facts, entry, "{}/{}{}".format(login, close[0], shown[len(ref.repository):])) if close \
            else "List the repositories with az acr repository list -n {} -o table".format(registry["name"])
        return {"status": FAIL, "missing": "repository", "closest": near, "message": message,
                "remediation": "{}, or push the image there first (docker push {}/{}).".format(fix, login, shown)}
    if ref.digest:
        return {"status": FAIL, "missing": "digest", "closest": [],
                "message": "No manifest with digest {} exists in repository '{}' of registry {}.".format(
                    ref.digest, ref.repository, registry["name"]),
                "remediation": "List the manifests with az acr manifest list-metadata -r {} -n {} -o table and "
                               "reference an existing digest".format(registry["name"], ref.repository)}
    tags = facts.registry_tags(registry, ref.repository) or []
    tag = ref.tag or "latest"
    near = closest(tag, tags, 3)
    message = "Tag '{}' does not exist in repository '{}' of registry {}{}.".format(
        tag, ref.repository, registry["name"],
        "; the closest existing tags are {}".format(", ".join(near)) if near else "; the repository has no tags")
    fix = _use_image(facts, entry, "{}/{}:{}".format(login, ref.repository, near[0])) if near else \
        "Push the image: docker push {}/{}".format(login, shown)
    return {"status": FAIL, "missing": "tag", "closest": near, "message": message,
            "remediation": "{} (all tags: az acr repository show-tags -n {} --repository {} -o tsv)".format(
                fix, registry["name"], ref.repository)}


def _cache_rule_verdict(facts, entry, registry, found, shown):
    """The verdict when an artifact cache rule serves the image's repository and the registry does not have the
    image: ACR creates such a repository (and caches each tag) only on the first pull through the rule, fetching
    it from the upstream, so 'not found here' is not the cause. Whether the rule can reach its upstream is
    artifact-cache-rule's to judge, and whether the upstream has the tag cannot be seen from here: a Warning that
    names the rule, never a Fail. None when no rule serves the repository; when the rules cannot be read, the
    registry's own answer stands (a 404 is still a 404) and the evidence says so."""
    from ..common.cache_rules import rule_for, source_repository, upstream
    ref = entry["reference"]
    try:
        rule = rule_for(facts.registry_cache_rules(registry), ref.repository)
    except (FactError, FactUnavailable) as err:
        if found["missing"] == "upstream":
            raise FactError("registry {} could not fetch {} through an artifact cache rule ('{}'), and its cache "
                            "rules could not be read: {}".format(registry["name"], shown, found.get("message"),
                                                                 err.reason.rstrip(".")),
                            getattr(err, "status_code", None)) from None
        return None
    if rule is None:
        if found["missing"] == "upstream":   # the registry named a cache rule, yet none is listed for it
            raise FactError("registry {} answered '{}' for {} but lists no cache rule for repository {}".format(
                registry["name"], found.get("message"), shown, ref.repository), found.get("status"))
        return None
    props = rule.get("properties") or {}
    source = source_repository(rule, ref.repository)
    upstream_ref = "{}{}".format(source, shown[len(ref.repository):])
    what = "cache rule {} of registry {} ({} -> {})".format(rule.get("name"), registry["name"],
                                                           props.get("targetRepository"), props.get("sourceRepository"))
    if found["missing"] == "upstream":
        message = ("{} is served by {}, and the registry could not fetch it from {}: '{}'. The image is not missing "
                   "from the registry: the rule cannot reach its upstream (see artifact-cache-rule).".format(
                       shown, what, upstream(rule), found.get("message")))
    else:
        message = ("{} is not in registry {} yet, and {} serves repository '{}': the registry fetches the image "
                   "from {} ({}) on the first pull through the rule and keeps it, so its absence here is not the "
                   "cause. Whether the rule can authenticate to its upstream is artifact-cache-rule's verdict; "
                   "whether {} has the tag cannot be seen from here.".format(
                       shown, registry["name"], what, ref.repository, upstream(rule), upstream_ref, upstream(rule)))
    return {"status": WARNING, "missing": "upstream" if found["missing"] == "upstream" else "notCachedYet",
            "closest": [], "cacheRule": rule.get("name"), "upstreamImage": upstream_ref, "message": message,
            "remediation": "az aks diagnose-pull check-image -g {} -n {} --image {} --checks artifact-cache-rule; "
                           "check that the upstream has the image: docker manifest inspect {}".format(
                               facts.cluster_resource_group, facts.cluster_name, entry["text"], upstream_ref)}


def pod_node_pool(pod, pools):
    """The name of the pool the pod's node belongs to, or None."""
    node = ((pod or {}).get("spec") or {}).get("nodeName")
    if not node:
        return None
    for pool in pools:
        if any(n["name"] == node for n in pool["nodes"]):
            return pool["name"]
    for pool in pools:  # nodes unread: AKS names VMSS nodes aks-<pool>-<id>-vmss<instance>
        if node.startswith("aks-{}-".format(pool["name"])) or node.startswith("aks" + pool["name"]):
            return pool["name"]
    return None


def assess_platform(facts, entry, registry, pod):
    """Which node pools the image can run on, among those the pod can land on."""
    ref = entry["reference"]
    platforms = [Platform.from_dict(p) for p in facts.image_platforms(registry, ref.repository, ref.reference) or []]
    pools = facts.node_pool_platforms()
    spec = (pod or {}).get("spec") or {}
    rows = []
    for pool in pools:
        excluded = pool_placement(spec, pool) if pod is not None else None
        rows.append({"pool": pool["name"], "os": pool["os"], "architecture": pool["architecture"],
                     "windowsBuild": pool["windowsBuild"], "architectureSource": pool["architectureSource"],
                     "mismatch": mismatch(platforms, pool) if platforms else None, "excludedBecause": excluded})
    return {"platforms": platforms, "pools": pools, "rows": rows, "node": spec.get("nodeName"),
            "nodePool": pod_node_pool(pod, pools) if pod is not None else None}


# -- checks -----------------------------------------------------------------------------------------------------
@check("image-reference", "C2.S1", "The image reference is well formed and names an existing registry",
       "Parses each image of --image and of the pod as kubelet does (distribution reference grammar: default "
       "registry and library/, tags, digests, ports, lower case) and checks the login server: a misspelt suffix "
       "(azureacr.io), another cloud's suffix, the privatelink name, a registry that does not exist (with the "
       "closest registry name). Images of other registries (mcr.microsoft.com, docker.io) are not failures.",
       groups=("image",),
       needs=("image_entries", "image_registry", "registries_in_subscription", "registry_by_name"))
def image_reference(chk, facts):
    return _per_image(chk, facts, _reference_one)


def _reference_one(chk, facts, entry):
    verdict = assess_reference(facts, entry)
    ref = entry["reference"]
    return chk.finding(
        image_target(entry), verdict["status"], verdict["message"], verdict["remediation"], image=entry["text"],
        problem=verdict["kind"], suggestion=verdict.get("suggestion"), containers=_containers(entry),
        registry=ref.registry if ref else None, repository=ref.repository if ref else None,
        tag=ref.tag if ref else None, digest=ref.digest if ref else None,
        closestRegistries=verdict.get("closestRegistries"))


@check("image-manifest", "C2.S1", "The repository and the tag or digest exist in the registry",
       "Reads the image's manifest through the registry's data plane with the signed-in account's own login "
       "(Entra ID token exchange, as az acr login does); on a missing tag names the closest existing tags, on a "
       "missing repository the closest repositories; for an index, HEADs each child manifest the node pools need "
       "(B.purge). An image an artifact cache rule serves that the registry does not hold yet is a Warning naming "
       "the rule (ACR fetches it from the upstream on the first pull; see artifact-cache-rule, B.cache), never a "
       "Fail. Needs pull permission on the registry and a network the registry's firewall allows.",
       groups=("image",),
       needs=("diagnosed_pod", "image_entries", "image_registry", "node_pool_platforms", "registry_manifest",
              "registry_manifest_present", "registry_repositories", "registry_tags"),
       optional=("registry_cache_rules",))
def image_manifest(chk, facts):
    return _per_acr_image(chk, facts, _manifest_one)


def _manifest_one(chk, facts, entry, registry):
    verdict = assess_manifest(facts, entry, registry)
    ref = entry["reference"]
    if verdict["status"] == PASS:
        verdict = _purged_children(facts, entry, registry) or verdict
    return chk.finding(
        image_target(entry), verdict["status"], verdict["message"], verdict.get("remediation", ""),
        image=entry["text"], registryId=registry["id"], repository=ref.repository, reference=ref.reference,
        missing=verdict["missing"], digest=verdict.get("digest"), mediaType=verdict.get("mediaType"),
        closest=verdict.get("closest"), **({"purgedChildren": verdict["purged"]} if verdict.get("purged") else {}),
        **({"cacheRule": verdict["cacheRule"], "upstreamImage": verdict["upstreamImage"]}
           if verdict.get("cacheRule") else {}))


def _purged_children(facts, entry, registry):
    """B.purge: the index exists, but a child manifest a node pool the pod can land on needs is gone (a purge or
    retention policy deleted it). HEAD each needed child; the verdict when one is missing, else None."""
    ref = entry["reference"]
    found = facts.registry_manifest(registry, ref.repository, ref.reference)
    index = found.get("manifest") or {}
    if not index.get("manifests"):
        return None
    pod = facts.diagnosed_pod()
    pools = facts.node_pool_platforms()
    spec = (pod or {}).get("spec") or {}
    landing = [p for p in pools if pod is None or pool_placement(spec, p) is None]
    missing = []
    for child in index["manifests"]:
        if ((child.get("annotations") or {}).get("vnd.docker.reference.type") == "attestation-manifest"
                or not child.get("platform")):
            continue
        platforms = platforms_of_index({"manifests": [child]})
        if not platforms:
            continue
        platform = platforms[0]
        needed = [p["name"] for p in landing if mismatch([platform], p) is None]
        if needed and not facts.registry_manifest_present(registry, ref.repository, child["digest"]):
            missing.append((child["digest"], str(platform), needed))
    if not missing:
        return None
    login = registry["properties"].get("loginServer")
    words = "; ".join("{} for {} (needed by node pool {})".format(d, plat, ", ".join(pools_))
                      for d, plat, pools_ in missing)
    return {"status": FAIL, "missing": "child", "digest": found.get("digest"), "mediaType": found.get("mediaType"),
            "closest": [],
            "message": "The index {} of {} exists in registry {}, but its child manifest {} is missing: a purge or "
                       "retention policy deleted it (B.purge), so nodes of that platform cannot pull the image."
                       .format(found.get("digest"), entry["text"], registry["name"], words),
            "remediation": "Push the image again (docker buildx build --platform {} -t {}/{} --push .), and run acr "
                           "purge without --untagged on repository {} so that it keeps the children of the indexes it "
                           "keeps".format(",".join(dict.fromkeys(p for _, p, _ in missing)), login,
                                          "{}:{}".format(ref.repository, ref.tag or "latest") if not ref.digest else
                                          ref.repository, ref.repository),
            "purged": [{"digest": d, "platform": plat, "nodePools": pools_} for d, plat, pools_ in missing]}


@check("image-platform", "C5.S1,X.arch", "A node pool the pod can land on runs the image's OS and architecture",
       "Reads the image's index (or manifest and config) for its OS, architecture and Windows build, and compares "
       "them with the node pools the pod can be scheduled on (nodeSelector, required node affinity, tolerations): "
       "the pool's OS type and SKU, its architecture from the nodes' labels (else from the VM size).",
       groups=("image",),
       needs=("image_entries", "image_platforms", "image_registry", "node_pool_platforms", "registry_manifest"))
def image_platform(chk, facts):
    return _per_acr_image(chk, facts, _platform_one)


def _platform_one(chk, facts, entry, registry):
    ref = entry["reference"]
    if not facts.registry_manifest(registry, ref.repository, ref.reference)["found"]:
        return chk.finding(image_target(entry), SKIPPED, "Not checked: the image does not exist in registry {} (see "
                                                         "image-manifest).".format(registry["name"]),
                           image=entry["text"])
    pod = entry_pod(entry)
    state = assess_platform(facts, entry, registry, pod)
    verdict = platform_verdict(facts, entry, state, pod)
    return chk.finding(image_target(entry), verdict["status"], verdict["message"], verdict["remediation"],
                       **verdict["evidence"])


def _per_acr_image(chk, facts, judge):
    """``judge(chk, facts, entry, registry)`` for each image in an Azure Container Registry the run reads; an image
    the ACR checks do not apply to is Skipped, saying why."""
    def one(chk, facts, entry):
        registry, skip = acr_image(facts, entry)
        if registry is None:
            return chk.finding(image_target(entry), SKIPPED, "Not checked: {}.".format(skip), image=entry["text"])
        return judge(chk, facts, entry, registry)
    return _per_image(chk, facts, one)


def platform_verdict(facts, entry, state, pod):
    """{"status", "message", "remediation", "evidence"} from assess_platform's state."""
    platforms, rows = state["platforms"], state["rows"]
    built = ", ".join(str(p) for p in platforms)
    evidence = {"image": entry["text"], "platforms": [p.to_dict() for p in platforms], "pools": rows,
                "node": state["node"], "nodePool": state["nodePool"]}

    def verdict(status, message, remediation=""):
        return {"status": status, "message": message, "remediation": remediation, "evidence": evidence}
    if not platforms:
        return verdict(SKIPPED, "The image's manifest states no OS or architecture, so it cannot be matched with the "
                                "node pools.")
    candidates = [r for r in rows if r["excludedBecause"] is None]
    bad = [r for r in candidates if r["mismatch"]]
    fitting = [r for r in rows if not r["mismatch"]]
    if not candidates:
        reasons = "; ".join("{}: {}".format(r["pool"], r["excludedBecause"]) for r in rows)
        return verdict(WARNING, "The pod can land on no node pool ({}), so where the image must run is unknown.".format(
            reasons), "Fix the pod's nodeSelector, node affinity or tolerations so that it matches a node pool that "
                      "runs {}: {}".format(built, ", ".join(r["pool"] for r in fitting) or "none"))
    kinds = sorted({r["mismatch"] for r in bad})
    cause = "X.arch" if "architecture" in kinds else "C5" if bad else None
    evidence.update(mismatch=kinds, cause=cause)
    if not bad:
        return verdict(PASS, "The image is built for {}; every node pool the {} can land on runs it: {}.".format(
            built, "pod" if pod is not None else "image",
            ", ".join("{} ({})".format(r["pool"], describe_node(r)) for r in candidates)))
    on_node = state["nodePool"] is not None and state["nodePool"] in [r["pool"] for r in bad]
    status = FAIL if on_node or len(bad) == len(candidates) else WARNING
    words = "; ".join("node pool {} ({}{}) cannot run it: {}".format(
        r["pool"], describe_node(r), "" if r["architectureSource"] == "node labels" else
        ", architecture from its " + r["architectureSource"], _mismatch_words(r["mismatch"])) for r in bad)
    where = ""
    if on_node:
        where = " The pod is on node {} of pool {}.".format(state["node"], state["nodePool"])
    elif status == WARNING and state["nodePool"]:
        where = " The pod runs on node {} of pool {}, which can run it, but may land on the others when it is " \
                "rescheduled.".format(state["node"], state["nodePool"])
    elif status == WARNING:
        where = " Pods of this image that land there cannot start."
    message = "The image is built for {}; {}.{}".format(built, words, where)
    return verdict(status, message, _platform_fix(facts, entry, state, bad, fitting, pod))


def _mismatch_words(kind):
    return {"os": "another operating system", "architecture": "another CPU architecture",
            "osVersion": "another Windows Server build (process isolation needs the same build)"}[kind]


def _platform_fix(facts, entry, state, bad, fitting, pod):
    platforms = state["platforms"]
    image = entry["text"]
    kinds = {r["mismatch"] for r in bad}
    if not fitting:
        if "architecture" in kinds:
            return "Build a multi-architecture image for the pools' CPUs: " + MULTI_ARCH_BUILD.format(image)
        if "osVersion" in kinds:
            builds = sorted({r["windowsBuild"] for r in bad if r["windowsBuild"]})
            return ("Rebuild the image on the base image for the nodes' Windows build, {} (FROM "
                    "mcr.microsoft.com/windows/servercore:{}), or publish one manifest per Windows build in a "
                    "multi-platform image".format(" / ".join(WINDOWS_NAMES.get(b, b) for b in builds),
                                                  WINDOWS_TAGS.get(builds[0], "ltsc2022") if builds else "ltsc2022"))
        os_name = platforms[0].os
        return ("Add a {} node pool: az aks nodepool add -g {} --cluster-name {} -n {} --os-type {}, or rebuild the "
                "image for the cluster's OS".format(os_name.capitalize(), facts.cluster_resource_group,
                                                     facts.cluster_name, "npwin" if os_name == "windows" else "nplinux",
                                                     os_name.capitalize()))
    # One label per kind of mismatch, with the value the fitting pools share.
    target = fitting[0]
    wanted = {"os": ("kubernetes.io/os", target["os"]), "architecture": ("kubernetes.io/arch", target["architecture"]),
              "osVersion": ("node.kubernetes.io/windows-build", target["windowsBuild"])}
    selector = dict(wanted[k] for k in ("os", "architecture", "osVersion") if k in kinds)
    labels = {p["name"]: p["labels"] for p in state["pools"]}
    lands = [r["pool"] for r in fitting if all(labels[r["pool"]].get(k) == v for k, v in selector.items())]
    shown = ", ".join("{}: {}".format(k, v) for k, v in selector.items())
    if pod is not None:
        for pod_key, pod_value in ((pod.get("spec") or {}).get("nodeSelector") or {}).items():
            if pod_key not in selector and not any(labels[p].get(pod_key) == pod_value for p in lands):
                selector[pod_key] = None  # a selector that pins the pod to a pool that cannot run the image
        fix = patch_pod_spec_command(pod, {"nodeSelector": selector}, "nodeSelector " + shown)
    else:
        fix = "Give the pods of this image nodeSelector {} so that they land only on {}".format(shown, ", ".join(lands))
    if "architecture" in kinds:
        fix += "; or build a multi-architecture image: " + MULTI_ARCH_BUILD.format(image)
    return fix
