"""Thin handlers: arguments in, findings out. They never print."""
from knack.log import get_logger

logger = get_logger(__name__)


def diagnose_run(cmd, resource_group_name, name, acr=None, image=None, pod=None, namespace="default",
                 checks=None):
    return _diagnose(cmd, "run", resource_group_name, name, acr, image, pod, namespace, checks)


def diagnose_check_auth(cmd, resource_group_name, name, acr=None, image=None, pod=None, namespace="default",
                        checks=None):
    return _diagnose(cmd, "check-auth", resource_group_name, name, acr, image, pod, namespace, checks)


def diagnose_check_registry(cmd, resource_group_name, name, acr=None, image=None, pod=None, namespace="default",
                            checks=None):
    return _diagnose(cmd, "check-registry", resource_group_name, name, acr, image, pod, namespace, checks)


def list_checks(cmd):  # pylint: disable=unused-argument
    from azext_acrpull.diagnose.findings import catalog
    return [c.catalog_entry() for c in catalog()]


def _diagnose(cmd, group, resource_group_name, name, acr, image, pod, namespace, checks):
    import sys

    from azext_acrpull._validators import acr_suffix
    from azext_acrpull.diagnose.facts.live import LiveFacts
    from azext_acrpull.diagnose.request import DiagnoseRequest
    from azext_acrpull.diagnose.runner import run_checks, select_checks, summary

    request = DiagnoseRequest(resource_group=resource_group_name, name=name, registry=acr, images=tuple(image or ()),
                              pod=pod, namespace=namespace or "default", checks=checks, group=group,
                              acr_suffix=acr_suffix(cmd.cli_ctx))
    selected = select_checks(group, checks)
    facts = LiveFacts(cmd.cli_ctx, request)
    progress = None
    if sys.stderr.isatty() and not cmd.cli_ctx.only_show_errors:
        controller = cmd.cli_ctx.get_progress_controller(det=True)
        controller.begin(message="Diagnosing")

        def progress(done, total, check_id):
            controller.add(message=check_id, value=done, total_val=total)
    try:
        _require_cluster_and_registry(facts, request)
        findings = run_checks(selected, facts, progress)
    finally:
        if progress:
            controller.end()
        facts.close()
    logger.warning(summary(findings))
    return [f.to_dict() for f in findings]


def _require_cluster_and_registry(facts, request):
    """The cluster and an explicitly named registry must exist; without them nothing can be judged."""
    from azure.cli.core.azclierror import AzureResponseError, RequiredArgumentMissingError, ResourceNotFoundError

    from azext_acrpull.diagnose.facts import FactError
    try:
        facts.cluster()
    except FactError as err:
        if err.status_code == 404:
            raise ResourceNotFoundError(
                "The AKS cluster '{}' was not found in resource group '{}'. Check the names with "
                "`az aks list -o table` (and --subscription).".format(request.name, request.resource_group)) from None
        raise AzureResponseError("Cannot read the AKS cluster: {}".format(err.reason)) from None
    try:
        lookups = facts.registry_lookups()
    except FactError as err:
        raise AzureResponseError("Cannot find the registry to diagnose: {}".format(err.reason)) from None
    if request.registry is not None and lookups and lookups[0]["registry"] is None:
        raise ResourceNotFoundError(
            "The registry '{}' was not found in the current subscription. Check the name with `az acr list -o table`, "
            "or pass --acr with the registry's resource ID if it is in another subscription.".format(
                lookups[0]["name"]))
    if not lookups:
        raise RequiredArgumentMissingError(
            "No registry to diagnose: the cluster's pull identity holds no role on any registry and no --image or "
            "--pod names one. Pass --acr <registry name, login server or resource ID>.")
