"""The per-image loop and the image's registry, shared by the image checks and the cache rule check."""
from ..facts import FactError
from ..findings import ERROR, SKIPPED


def image_target(entry):
    return "image {}".format(entry["text"])


def no_images(chk):
    return [chk.finding("images", SKIPPED, "No image to check: pass --image <reference> or --pod <name>.")]


def image_error(chk, entry, err):
    return chk.finding(image_target(entry), ERROR, "Could not reach a verdict: {}.".format(err.reason.rstrip(".")),
                       reason=err.reason, image=entry["text"])


def per_image(chk, facts, judge):
    """One finding per image of --image and of the pod: ``judge(chk, facts, entry)``; a fact it could not read
    makes that image's finding Error, and the other images are still judged."""
    entries = facts.image_entries()
    if not entries:
        return no_images(chk)
    findings = []
    for entry in entries:
        try:
            findings.append(judge(chk, facts, entry))
        except FactError as err:
            findings.append(image_error(chk, entry, err))
    return findings


def acr_image(facts, entry):
    """(registry resource, None) for an image in an existing ACR of this cloud, else (None, why the ACR checks
    skip it)."""
    if entry["problem"]:
        return None, "the reference is malformed (see image-reference)"
    name, registry = facts.image_registry(entry["reference"])
    if name is None:
        return None, "{} is not an Azure Container Registry of this cloud; the ACR checks skip images of other " \
                     "registries".format(entry["reference"].registry)
    if registry is None:
        return None, "registry {} does not exist (see registry-lookup and image-reference)".format(name)
    return registry, None
