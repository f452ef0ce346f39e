"""Turn raw arguments into typed values, or one clear az error that says what to do."""
import re

from azure.cli.core.decorators import Completer

_ACR_NAME = re.compile(r"^[a-zA-Z0-9]{5,50}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def acr_suffix(cli_ctx):
    try:
        return cli_ctx.cloud.suffixes.acr_login_server_endpoint or ".azurecr.io"
    except Exception:  # pylint: disable=broad-except
        return ".azurecr.io"


def parse_acr(value, suffix):
    """('id', resource id) or ('name', registry name) for any form of --acr; ValueError says what is wrong."""
    from azext_acrpull.diagnose.ids import parse_resource_id
    from azext_acrpull.diagnose.reference import host_problem, registry_name_from_host
    text = (value or "").strip()
    if text.lower().startswith("/subscriptions/"):
        rid = parse_resource_id(text)
        if not rid or rid.namespace.lower() != "microsoft.containerregistry" or rid.type.lower() != "registries" \
                or rid.child:
            raise ValueError("{!r} is not a registry resource ID; expected /subscriptions/<sub>/resourceGroups/<rg>/"
                             "providers/Microsoft.ContainerRegistry/registries/<name>.".format(_short(text)))
        return ("id", rid.id)
    if "." in text or "/" in text or ":" in text:
        host = re.sub(r"^[a-z]+://", "", text, flags=re.IGNORECASE).split("/", 1)[0]
        problem = host_problem(host, suffix)
        if problem:
            raise ValueError("{!r}: {}".format(_short(text), problem))
        name = registry_name_from_host(host, suffix)
        if not name:
            raise ValueError("{!r} is not an Azure Container Registry login server; expected <name>{}.".format(
                _short(text), suffix))
        return ("name", name)
    if not _ACR_NAME.fullmatch(text):
        raise ValueError("{!r} is not a valid registry name: use 5-50 letters and digits, a login server "
                         "(<name>{}) or a resource ID.".format(_short(text), suffix))
    return ("name", text)


def _short(text, limit=80):
    """The value cut so that its quoted form (repr: control and odd characters escaped) stays near ``limit``."""
    if len(repr(text)) <= limit + 2:
        return text
    cut = ""
    for char in text:
        if len(repr(cut + char)) > limit + 2:
            break
        cut += char
    return cut + "..."


def _argument_type(convert, name):
    """An argparse type: a bad value exits with status 2 and one line, as other bad arguments do."""
    from argparse import ArgumentTypeError

    def typed(value):
        try:
            return convert(value)
        except ValueError as err:
            raise ArgumentTypeError(str(err)) from None
    typed.__name__ = name
    return typed


def acr_type(cli_ctx):
    return _argument_type(lambda v: parse_acr(v, acr_suffix(cli_ctx)), "registry")


def _image(value):
    from azext_acrpull.diagnose.reference import parse_reference
    try:
        return parse_reference(value)  # InvalidReference is a ValueError
    except ValueError as err:
        raise ValueError(str(err).replace(value, _short(value)) if value else str(err)) from None


def _namespace(value):
    if not _DNS_LABEL.fullmatch(value or ""):
        raise ValueError("{!r} is not a valid Kubernetes namespace name (lower-case letters, digits and '-', at most "
                         "63 characters).".format(_short(value or "")))
    return value


def _pod(value):
    if not value or len(value) > 253 or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", value):
        raise ValueError("{!r} is not a valid pod name (lower-case letters, digits, '-' and '.', at most 253 "
                         "characters).".format(_short(value or "")))
    return value


def _check_id(value):
    from azext_acrpull.diagnose.catalog import catalog
    known = [c.check_id for c in catalog()]
    if (value or "").lower() not in known:
        near = suggest_check_id(value, known)
        if near:
            raise ValueError("unknown check id {!r}; did you mean {!r}? (`az aks diagnose-pull list-checks` lists them "
                             "all)".format(_short(value or "", 40), near))
        raise ValueError("unknown check id {!r}; valid ids: {} (`az aks diagnose-pull list-checks` describes "
                         "them).".format(_short(value or "", 40), ", ".join(known)))
    return value.lower()


def suggest_check_id(typed, known):
    """The check id a misspelt one most likely meant, or None: the same words in another order, a part of one id
    (at least three letters), or a few typos away."""
    from azext_acrpull.diagnose.reference import closest, edit_distance
    text = re.sub(r"[\s_]+", "-", (typed or "").strip().lower())
    if not text or len(text) > 60:
        return None
    words = sorted(w for w in text.split("-") if w)
    for candidate in known:
        if words == sorted(candidate.split("-")):
            return candidate
    if len(text) >= 3:
        parts = [c for c in known if c.startswith(text)] or [c for c in known if text in c]
        if len(parts) == 1:
            return parts[0]
    best = closest(text, known, limit=1)
    if best and edit_distance(text, best[0]) <= max(2, len(best[0]) // 4):
        return best[0]
    return None


def _resource_group(value):
    # ARM: 1-90 letters or digits (Unicode), '_', '-', '.', '(' and ')', not ending in '.'.
    if not value or len(value) > 90 or not re.fullmatch(r"[-\w.()]+", value) or value.endswith("."):
        raise ValueError("{!r} is not a valid resource group name (1-90 letters, digits, '_', '-', '.', '(' and ')', "
                         "not ending in '.'); list yours with `az group list -o table`.".format(_short(value or "")))
    return value


def _cluster_name(value):
    # AKS: 1-63 letters, digits, '_' and '-', starting and ending with a letter or digit.
    if not value or not re.fullmatch(r"[a-zA-Z0-9]([-_a-zA-Z0-9]{0,61}[a-zA-Z0-9])?", value):
        raise ValueError("{!r} is not a valid AKS cluster name (1-63 letters, digits, '_' and '-', starting and ending "
                         "with a letter or digit); list yours with `az aks list -o table`.".format(_short(value or "")))
    return value


def _timeout(value, default=None, command=None):
    from azext_acrpull.diagnose.deadline import DEFAULT_TIMEOUT, MAX_TIMEOUT
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = None
    if seconds is None or not 1 <= seconds <= MAX_TIMEOUT:
        raise ValueError("{!r} is not a number of seconds between 1 and {} ({} default is {}).".format(
            _short(str(value)), MAX_TIMEOUT, "{}'s".format(command) if command else "the",
            default or DEFAULT_TIMEOUT))
    return seconds


def _fleet_timeout(value):
    from azext_acrpull.diagnose.deadline import FLEET_DEFAULT_TIMEOUT
    return _timeout(value, FLEET_DEFAULT_TIMEOUT, "fleet")


image_type = _argument_type(_image, "image")
resource_group_type = _argument_type(_resource_group, "resource group")
cluster_name_type = _argument_type(_cluster_name, "cluster name")
timeout_type = _argument_type(_timeout, "seconds")
fleet_timeout_type = _argument_type(_fleet_timeout, "seconds")
namespace_type = _argument_type(_namespace, "namespace")
pod_type = _argument_type(_pod, "pod")
check_id_type = _argument_type(_check_id, "check")


@Completer
def check_id_completer(cmd, prefix, namespace, **kwargs):  # pylint: disable=unused-argument
    from azext_acrpull.diagnose.catalog import catalog
    return [c.check_id for c in catalog()]


def _fleet_check_id(value):
    from azext_acrpull.diagnose.catalog import catalog, in_fleet
    check_id = _check_id(value)
    fleet = [c.check_id for c in catalog() if in_fleet(c)]
    if check_id not in fleet:
        raise ValueError("check {!r} needs the cluster's Kubernetes API, an image or the registry's data plane, so "
                         "fleet does not run it (use `az aks diagnose-pull run` on one cluster); fleet runs: "
                         "{}.".format(check_id, ", ".join(fleet)))
    return check_id


def _subscription(value):
    text = (value or "").strip()
    if not text or len(text) > 128:
        raise ValueError("{!r} is not a subscription id or name; list yours with `az account list -o table`.".format(
            _short(text)))
    return text


def _management_group(value):
    # Management group ids: up to 90 letters, digits, '-', '_', '(', ')' and '.'.
    if not value or len(value) > 90 or not re.fullmatch(r"[-\w().]+", value):
        raise ValueError("{!r} is not a management group id (up to 90 letters, digits, '-', '_', '(', ')' and '.'); "
                         "list them with `az account management-group list -o table`.".format(_short(value or "")))
    return value


fleet_check_id_type = _argument_type(_fleet_check_id, "check")
subscription_type = _argument_type(_subscription, "subscription")
management_group_type = _argument_type(_management_group, "management group")


@Completer
def fleet_check_id_completer(cmd, prefix, namespace, **kwargs):  # pylint: disable=unused-argument
    from azext_acrpull.diagnose.catalog import catalog, in_fleet
    return [c.check_id for c in catalog() if in_fleet(c)]


def validate_diagnose(cmd, namespace):
    """Command-level checks of a diagnosing command: ``--checks`` must name checks this command runs.

    A ValueError here is az's validation error: one line, exit 2, before any login or request."""
    checks = getattr(namespace, "checks", None)
    if not checks:
        return
    from azext_acrpull.diagnose.runner import select_checks
    group = cmd.name.split()[-1]
    group = "run" if group == "fix" else group
    runs = [c.check_id for c in select_checks(group, pod=bool(getattr(namespace, "pod", None)))]
    outside = [c for c in checks if c not in runs]
    if outside:
        from azext_acrpull.diagnose.runner import commands_running
        where = "; ".join("{} is run by {}".format(c, ", ".join(commands_running(c)) or "no command") for c in outside)
        raise ValueError("`az aks diagnose-pull {}` does not run {} ({}). It runs: {}.".format(
            cmd.name.split()[-1], ", ".join(outside), where, ", ".join(runs)))


def validate_fleet(cmd, namespace):  # pylint: disable=unused-argument
    """--subscriptions and --management-group name the scope two ways: one of them, or neither (the tenant)."""
    if getattr(namespace, "subscriptions", None) and getattr(namespace, "management_group", None):
        raise ValueError("Give either --subscriptions or --management-group, not both: the subscriptions to scan, or "
                         "the management group whose subscriptions to scan.")
