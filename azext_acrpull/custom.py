"""Thin handlers: arguments in, findings out. They never print."""
from knack.log import get_logger

logger = get_logger(__name__)


def diagnose_run(cmd, resource_group_name, name, acr=None, image=None, pod=None, namespace=None,
                 checks=None, probe=False, timeout=None, no_run_command=False):
    return _diagnose(cmd, "run", resource_group_name, name, acr, image, pod, namespace, checks,
                     probe=probe, timeout=timeout, no_run_command=no_run_command)


def diagnose_check_auth(cmd, resource_group_name, name, acr=None, image=None, pod=None, namespace=None,
                        checks=None, probe=False, timeout=None, no_run_command=False):
    return _diagnose(cmd, "check-auth", resource_group_name, name, acr, image, pod, namespace, checks,
                     probe=probe, timeout=timeout, no_run_command=no_run_command)


def diagnose_check_registry(cmd, resource_group_name, name, acr=None, image=None, pod=None, namespace=None,
                            checks=None, probe=False, timeout=None, no_run_command=False):
    return _diagnose(cmd, "check-registry", resource_group_name, name, acr, image, pod, namespace, checks,
                     probe=probe, timeout=timeout, no_run_command=no_run_command)


def diagnose_check_network(cmd, resource_group_name, name, acr=None, image=None, pod=None, namespace=None,
                           checks=None, probe=False, timeout=None, no_run_command=False):
    return _diagnose(cmd, "check-network", resource_group_name, name, acr, image, pod, namespace, checks,
                     probe=probe, timeout=timeout, no_run_command=no_run_command)


def diagnose_check_image(cmd, resource_group_name, name, acr=None, image=None, pod=None, namespace=None,
                         checks=None, probe=False, timeout=None, no_run_command=False):
    return _diagnose(cmd, "check-image", resource_group_name, name, acr, image, pod, namespace, checks,
                     probe=probe, timeout=timeout, no_run_command=no_run_command)


def list_checks(cmd):  # pylint: disable=unused-argument
    from azext_acrpull.diagnose.catalog import catalog, in_fleet
    from azext_acrpull.diagnose.runner import commands_running
    return [dict(c.catalog_entry(), commands=commands_running(c.check_id), fleet=in_fleet(c)) for c in catalog()]


def diagnose_fix(cmd, resource_group_name, name, acr=None, image=None, pod=None, namespace=None, checks=None,
                 yes=False, timeout=None, no_run_command=False):
    """Diagnose, show the plan, apply it after confirmation, then run the affected checks again."""
    import sys

    from azext_acrpull._format import command_in_table
    from azext_acrpull.diagnose import fix
    from azext_acrpull.diagnose.facts.live import LiveFacts
    from azext_acrpull.diagnose.runner import select_checks

    request = _request(cmd, "run", resource_group_name, name, acr, image, pod, namespace, checks, timeout=timeout,
                       no_run_command=no_run_command)
    facts = LiveFacts(cmd.cli_ctx, request)
    try:
        findings = _findings(cmd, facts, select_checks("run", checks, pod=_starts_from_pods(request)))
        ctx = fix.FixContext(cmd.cli_ctx, facts, show_progress=sys.stderr.isatty() and not cmd.cli_ctx.only_show_errors,
                             yes=yes)
        items = fix.plan(findings, ctx)
    finally:
        facts.close()
    if not fix.changes_of(items):
        result = [i.to_dict() for i in items]
        lines = ["Nothing to apply: {}".format("no check failed." if not items else
                                               "{} finding(s) need a step by hand (see `command`).".format(len(items)))]
        if _table_output(cmd) and not command_in_table(result):
            lines.append("Step of each item in the table above:\n" + "\n".join(
                "  {} ({}): {}".format(i["checkId"], i["target"], i["command"]) for i in result if i["command"]))
        _after_output(cmd, lines)
        return result
    if not _confirm_fix(fix.plan_text(items), len(fix.changes_of(items)), yes):
        logger.warning("Nothing was changed.")
        return [i.to_dict() for i in fix.decline(items)]
    fix.apply_plan(items, ctx)
    ids = fix.rechecked_ids(items)
    if ids:
        fresh = LiveFacts(cmd.cli_ctx, request)
        try:
            fix.record_after(items, _findings(cmd, fresh, select_checks("run", ids, pod=_starts_from_pods(request)),
                                              message="Checking again"))
        except Exception as err:  # pylint: disable=broad-except
            logger.warning("The changes were made, but the checks could not run again: %s", err)
        finally:
            fresh.close()
    # The plan above showed every command whole, so the summary under the table need not repeat them.
    _after_output(cmd, [fix.result_text(items)])
    return [i.to_dict() for i in items]


def diagnose_fleet(cmd, subscriptions=None, management_group=None, acr=None, checks=None, timeout=None):
    """Every AKS cluster in scope, the checks that Azure's resource facts decide, read in bulk through Resource
    Graph. Findings carry the cluster's resource ID; a summary with the failing clusters goes to stderr."""
    import sys

    from azure.cli.core.azclierror import AzureResponseError

    from azext_acrpull._format import remediation_in_table
    from azext_acrpull._validators import acr_suffix
    from azext_acrpull.diagnose import fleet
    from azext_acrpull.diagnose.deadline import FLEET_DEFAULT_TIMEOUT
    from azext_acrpull.diagnose.facts import FactError

    ids, unresolved = fleet.resolve_subscriptions(cmd.cli_ctx, subscriptions)
    stream = _json_stream(cmd)
    progress, controller = None, None
    if sys.stderr.isatty() and not cmd.cli_ctx.only_show_errors:
        controller = cmd.cli_ctx.get_progress_controller(det=True)
        controller.begin(message="Reading the fleet from Azure Resource Graph")

        def progress(done, total, name):
            controller.add(message=name, value=done, total_val=total)
    try:
        if subscriptions and not ids:
            result = fleet.FleetResult([], [], [], fleet.not_in_fleet(), unreadable=[
                {"subscription": s, "reason": "no subscription of that name is among those the signed-in account can "
                                              "read (az account list)"} for s in unresolved])
        else:
            result = fleet.run_fleet(cmd.cli_ctx, acr=acr, subscriptions=ids, management_group=management_group,
                                     check_ids=checks, acr_suffix=acr_suffix(cmd.cli_ctx), unresolved=unresolved,
                                     progress=progress, timeout=timeout or FLEET_DEFAULT_TIMEOUT,
                                     emit=stream.write if stream else None)
    except FactError as err:
        raise AzureResponseError("Cannot read the fleet: {}".format(err.reason)) from None
    finally:
        if controller:
            controller.end()
    unreadable = fleet.unreadable_text(result)
    if unreadable:
        logger.warning(unreadable)
    if stream:
        stream.close()
        _after_output(cmd, fleet.summary_lines(result))
        return None
    records = result.to_list()
    below = _table_output(cmd) and not remediation_in_table(records)
    _after_output(cmd, fleet.summary_lines(result, remediations_below=below))
    return records


class _JsonStream:
    """`-o json` without --query: findings are written as each cluster is done (one line each, in a JSON array),
    rather than held, copied by az's output step and formatted at the end; a thousand clusters' findings are
    tens of thousands of objects."""

    def __init__(self, out):
        self.out, self.started = out, False

    def write(self, cluster, finding):
        import json

        from azext_acrpull.diagnose.fleet import record
        self.out.write(",\n" if self.started else "[\n")
        self.started = True
        self.out.write(json.dumps(record(cluster, finding), ensure_ascii=False, sort_keys=True))

    def close(self):
        self.out.write("\n]\n" if self.started else "[]\n")
        self.out.flush()


def _json_stream(cmd):
    """A stream for the findings when az would print them as plain JSON, else None (tables, tsv, yaml, --query and
    colour go through az's output step)."""
    import sys
    data = getattr(getattr(cmd.cli_ctx, "invocation", None), "data", None) or {}
    if data.get("output") != "json" or data.get("query_active"):
        return None
    return _JsonStream(sys.stdout)


def _confirm_fix(plan_text, count, yes):
    """--yes applies; a terminal is asked once; anything else refuses, after showing what it refused."""
    import sys

    from azure.cli.core.azclierror import NoTTYError
    from knack.prompting import NoTTYException, prompt_y_n
    if yes:
        logger.warning(plan_text)
        return True
    print(plan_text, file=sys.stderr)
    try:
        return prompt_y_n("Apply {} change(s) to Azure?".format(count), default="n")
    except NoTTYException:
        raise NoTTYError("fix changes Azure resources and asks first, but there is no terminal to ask on: review the "
                         "plan above and pass --yes to apply it.") from None


# Checks that read the cluster's Kubernetes API whenever a registry is found (starting from pods, every command does).
KUBERNETES_CHECKS = ("pull-secret-sp", "pull-secret-admin")


def _diagnose(cmd, group, resource_group_name, name, acr, image, pod, namespace, checks, probe=False, timeout=None,
              no_run_command=False):
    from azext_acrpull.diagnose.facts.live import LiveFacts

    request = _request(cmd, group, resource_group_name, name, acr, image, pod, namespace, checks, probe=probe,
                       timeout=timeout, no_run_command=no_run_command)
    facts = LiveFacts(cmd.cli_ctx, request)
    try:
        facts.warm_arm_token()
        # In flight while the check modules are imported; Graph's token beside ARM's reads.
        facts.prefetch(facts.cluster, facts.registry_lookups, facts.warm_graph_token)
        if facts.discovering():   # the pod LIST, and the registries its images will be looked up in, at once
            facts.prefetch(facts.failing_pods, facts.registries_in_subscription)
        from azext_acrpull.diagnose.runner import select_checks  # the check modules: after the first reads went out
        selected = select_checks(group, checks, pod=_starts_from_pods(request))
        facts.prefetch(lambda: facts.read_ahead({c.check_id for c in selected}))
        if _starts_from_pods(request) or any(c.check_id in KUBERNETES_CHECKS for c in selected):
            # Its URL needs only -g and -n: the kubeconfig does not wait for the cluster's GET.
            facts.prefetch(facts.kube_connection)
        findings = _findings(cmd, facts, selected)
    finally:
        facts.close()
    from azext_acrpull._format import remediation_in_table
    from azext_acrpull.diagnose.summary import summary_lines
    result = [f.to_dict() for f in findings]
    below = _table_output(cmd) and not remediation_in_table(result)
    _after_output(cmd, summary_lines(findings, remediations_below=below))
    return result


def _table_output(cmd):
    """Whether az prints this command's result through its table transformer (-o table without --query)."""
    invocation = getattr(cmd.cli_ctx, "invocation", None)
    data = getattr(invocation, "data", None) or {}
    return data.get("output") == "table" and not (getattr(cmd.cli_ctx, "data", None) or {}).get("query_active")


def _after_output(cmd, lines):
    """Log ``lines`` on stderr once az has printed the result, so that a summary reads under its table; if the
    result is never printed (an error), they are not logged."""
    import sys

    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE

    def emit(cli_ctx, **_):
        cli_ctx.unregister_event(EVENT_CLI_SUCCESSFUL_EXECUTE, emit)
        sys.stdout.flush()
        for line in lines:
            logger.warning(line)
    cmd.cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, emit)


def _request(cmd, group, resource_group_name, name, acr, image, pod, namespace, checks, probe=False, timeout=None,
             no_run_command=False):
    from azure.cli.core.azclierror import MutuallyExclusiveArgumentError

    from azext_acrpull._validators import acr_suffix
    from azext_acrpull.diagnose.deadline import DEFAULT_TIMEOUT
    from azext_acrpull.diagnose.request import DiagnoseRequest
    if probe and no_run_command:
        raise MutuallyExclusiveArgumentError("--probe runs a pod through AKS run command, which --no-run-command "
                                             "turns off: give one of them.")
    return DiagnoseRequest(resource_group=resource_group_name, name=name, registry=acr, images=tuple(image or ()),
                           pod=pod, namespace=namespace or "default", namespace_given=namespace is not None,
                           checks=checks, group=group, acr_suffix=acr_suffix(cmd.cli_ctx),
                           options={"probe": bool(probe), "timeout": timeout or DEFAULT_TIMEOUT,
                                    "no_run_command": bool(no_run_command)})


def _starts_from_pods(request):
    """The pod checks join every command when it starts from pods: the --pod, or the failing pods it finds when
    nothing names a pod, an image or a registry."""
    return bool(request.pod) or (not request.images and request.registry is None)


def _findings(cmd, facts, selected, message="Diagnosing"):
    """Findings of the selected checks (Finding records), with a progress bar when stderr is a terminal."""
    import sys

    from azext_acrpull.diagnose.runner import run_checks

    progress, shown = None, [True]
    if sys.stderr.isatty() and not cmd.cli_ctx.only_show_errors:
        controller = cmd.cli_ctx.get_progress_controller(det=True)
        controller.begin(message=message)

        def progress(done, total, check_id):
            if shown[0]:
                controller.add(message=check_id, value=done, total_val=total)
    try:
        # The cluster and the registry do not wait for each other: read both at once. Nor do the checks wait
        # for them: each waits only for the facts it uses (on their `once` locks), so the longest chain of
        # dependent reads sets the time. Both are still required before any finding is returned; when one is
        # missing, the checks' work is abandoned.
        from azext_acrpull.diagnose.facts.transport import quiet_sdk_tracebacks
        quiet_sdk_tracebacks()
        facts.prefetch(facts.cluster, facts.registry_lookups)
        findings = _in_background(lambda: run_checks(selected, facts, progress))
        _within_deadline(facts, lambda: _require_cluster_and_registry(facts, facts.request))
        return findings()
    finally:
        shown[0] = False
        if progress:
            controller.end()


def _in_background(func):
    """Start ``func`` on a daemon thread (abandoned if az exits first); the returned function waits for its
    result or raises its error."""
    import threading
    box = {}

    def run():
        try:
            box["value"] = func()
        except BaseException as err:  # pylint: disable=broad-except
            box["error"] = err
    thread = threading.Thread(target=run, name="acrpull-checks", daemon=True)
    thread.start()

    def result():
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]
    return result


def _within_deadline(facts, func):
    """Call ``func`` but wait for it only until the run's deadline (it may wait on a read that never answers);
    its az error, if any, is raised here."""
    from azext_acrpull.diagnose.threads import call_all
    outcome = call_all([func], facts.deadline, name="acrpull-require")[0]
    if outcome.done and outcome.error is not None:
        raise outcome.error


def _require_cluster_and_registry(facts, request):
    """What the user named must exist: the cluster, the registry given with --acr, the pod. A name that does not
    exist is an az error (exit 3); a refused sign-in is one too. Anything else that keeps them from being read
    (a missing permission, throttling, an outage, the deadline) is not: the checks that need them say Error and
    why, and the others still run."""
    from azure.cli.core.azclierror import RequiredArgumentMissingError, ResourceNotFoundError

    from azext_acrpull.diagnose.facts import FactError
    cluster_read = True
    try:
        facts.cluster()
    except FactError as err:
        if err.status_code == 404:
            raise ResourceNotFoundError(_cluster_not_found(err, request, facts)) from None
        _raise_if_sign_in_refused(err)
        cluster_read = False
    if request.pod and cluster_read:
        try:
            missing = facts.pod(request.namespace, request.pod) is None
            # a pod never created (refused at admission) is named by its workload: pod-admission reads that
            missing = missing and not facts.workload_named(request.namespace, request.pod)
        except FactError:  # an unreadable pod is reported by the pod checks; a missing one stops here
            missing = False
        if missing:
            raise ResourceNotFoundError(_pod_not_found(facts, request))
    try:
        lookups = facts.registry_lookups()
    except FactError as err:
        _raise_if_sign_in_refused(err)
        return
    if request.registry is not None and lookups and lookups[0]["registry"] is None and not lookups[0].get("tenant"):
        if request.registry[0] == "id":
            raise ResourceNotFoundError(
                "The registry '{}' was not found, or the signed-in account cannot see its subscription. Check the "
                "ID with `az acr show --ids {}`.".format(request.registry[1], request.registry[1]))
        raise ResourceNotFoundError(
            "The registry '{}' was not found in the current subscription. Check the name with `az acr list -o table`, "
            "or pass --acr with the registry's resource ID if it is in another subscription.".format(
                lookups[0]["name"]))
    if not lookups:
        _raise_if_pods_unreadable(facts, request)
        if not request.pod and not request.images:   # the failing pods name none: the findings say so
            return
        from azext_acrpull.diagnose.common.registry import broader_scopes
        broader = broader_scopes(facts)
        raise RequiredArgumentMissingError(
            "No registry to diagnose: the cluster's pull identity holds no role on any registry{} and no --image or "
            "--pod names one. Pass --acr <registry name, login server or resource ID>.".format(
                " itself (its roles are at broader scopes: {}; a pull role there covers every registry below, so "
                "none can be picked)".format(", ".join(broader)) if broader else ""))


def _raise_if_pods_unreadable(facts, request):
    """With nothing else to diagnose, the pods that could not be read are the error: say why (an API server that
    cannot be reached, a missing permission), not that nothing names a registry."""
    from azure.cli.core.azclierror import AzureConnectionError, AzureResponseError

    from azext_acrpull.diagnose.facts import FactError
    try:
        facts.diagnosed_pods()
        return
    except FactError as err:
        reason = err.reason.rstrip(".")
    what = "pod {}/{}".format(request.namespace, request.pod) if request.pod else "the cluster's pods"
    error = AzureConnectionError if "could not be reached" in reason else AzureResponseError
    raise error("Cannot read {}: {}. Or pass --acr <registry> to diagnose the registry without them.".format(
        what, reason)) from None


def _cluster_not_found(err, request, facts):
    from azure.cli.core.commands.client_factory import get_subscription_id
    if (err.code or "").lower() == "subscriptionnotfound":
        return ("Subscription '{}' was not found, or the signed-in account cannot use it. List yours with `az account "
                "list -o table` and pass --subscription.".format(_short(get_subscription_id(facts.cli_ctx))))
    if (err.code or "").lower() == "resourcegroupnotfound":
        return ("Resource group '{}' was not found in the current subscription. Check the name with `az group list "
                "-o table` (and --subscription).".format(_short(request.resource_group)))
    return ("The AKS cluster '{}' was not found in resource group '{}'. Check the names with `az aks list -o table` "
            "(and --subscription).".format(_short(request.name), _short(request.resource_group)))


def _pod_not_found(facts, request):
    from azext_acrpull.diagnose.facts import FactError
    try:
        namespace_exists = facts.namespace(request.namespace) is not None
    except FactError:   # namespaces may not be readable: then say what is certain
        namespace_exists = True
    if not namespace_exists:
        return ("The namespace '{}' does not exist in cluster {}. List the namespaces with `kubectl get namespaces` "
                "and pass the pod's with --namespace.".format(request.namespace, request.name))
    return ("The pod '{}' was not found in namespace '{}'. List the pods with `kubectl get pods -n {}` and pass "
            "--namespace for another namespace.".format(request.pod, request.namespace, request.namespace))


def _raise_if_sign_in_refused(err):
    """A 401 means az's own sign-in was refused (expired, revoked, wrong secret): nothing else can be read."""
    if err.status_code == 401 and err.code != "KubernetesUnauthorized":
        from azure.cli.core.azclierror import UnauthorizedError
        raise UnauthorizedError("Azure refused the signed-in account: {}. Sign in again with `az login`.".format(
            err.reason.rstrip(".").replace("; sign in again with `az login`", ""))) from None


def _short(text, limit=80):
    return text if len(text or "") <= limit else text[:limit] + "..."
