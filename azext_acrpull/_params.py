"""Arguments of `az aks diagnose-pull`, with completers and typed parsing."""


def load_arguments(self, _):
    from azure.cli.core.commands.parameters import get_resource_name_completion_list, resource_group_name_type

    from azext_acrpull._validators import (
        acr_type,
        check_id_completer,
        check_id_type,
        cluster_name_type,
        image_type,
        namespace_type,
        pod_type,
        resource_group_type,
        timeout_type,
    )

    with self.argument_context("aks diagnose-pull") as c:
        c.argument("resource_group_name", resource_group_name_type, type=resource_group_type,
                   help="Resource group of the AKS cluster.")
        c.argument("name", options_list=["--name", "-n"], type=cluster_name_type, help="Name of the AKS cluster.",
                   completer=get_resource_name_completion_list("Microsoft.ContainerService/ManagedClusters"))
        c.argument("acr", type=acr_type(self.cli_ctx),
                   help="The registry: a name (myacr), a login server (myacr.azurecr.io) or a full resource "
                   "ID (needed for a registry in another subscription). Optional: without --acr, --image and --pod, "
                   "the pods that fail to pull are found and their images' registries are diagnosed, then the "
                   "registries the cluster's pull identity holds a role on.",
                   completer=get_resource_name_completion_list("Microsoft.ContainerRegistry/registries"))
        c.argument("image", nargs="+", type=image_type, help="One or more image references to check, such as "
                   "myacr.azurecr.io/app:1.2 or myacr.azurecr.io/app@sha256:<digest>.")
        c.argument("pod", type=pod_type, help="Name of a pod stuck in ErrImagePull/ImagePullBackOff: its images, "
                   "pull secrets, node and events are read and its pull error is classified.")
        c.argument("namespace", type=namespace_type,
                   help="Kubernetes namespace of --pod (default: default). Without --pod, --image and --acr, the "
                   "failing pods are looked for in this namespace only instead of every namespace you can read.")
        c.argument("checks", nargs="+", type=check_id_type, completer=check_id_completer,
                   help="Run only these check ids (see `az aks diagnose-pull list-checks`).")
        c.argument("timeout", type=timeout_type,
                   help="Bound the whole run to this many seconds (default 60). Checks still waiting for a "
                   "service then report Error (\"timed out reading ...\") and say which reads they were waiting "
                   "for, never Fail; the other findings are printed. Each request gives up well before it, and "
                   "retries of throttled or failed requests stay within it too.")
        c.argument("probe", action="store_true",
                   help="Also look from inside the cluster: through AKS run command (a short-lived pod; works for "
                   "private clusters) resolve the registry's names and open TCP 443 (check cluster-pull-probe), and "
                   "read Kubernetes objects of a private cluster whose API server cannot be reached from here.")
        c.argument("no_run_command", options_list=["--no-run-command"], action="store_true",
                   help="Never use AKS run command. By default, when the cluster's API server cannot be reached from "
                   "here (a private cluster, or authorized IP ranges that exclude this machine), its Kubernetes "
                   "objects are read with `kubectl get` through AKS run command, as stderr says; with this flag the "
                   "checks that need them report Error instead.")

    with self.argument_context("aks diagnose-pull fleet") as c:
        from azext_acrpull._validators import (
            fleet_check_id_completer,
            fleet_check_id_type,
            fleet_timeout_type,
            management_group_type,
            subscription_type,
        )
        c.argument("subscriptions", nargs="+", type=subscription_type,
                   help="Scan the clusters of these subscriptions (ids or names). Default: every subscription of the "
                   "current tenant that the signed-in account can read.")
        c.argument("management_group", options_list=["--management-group"], type=management_group_type,
                   help="Scan the clusters of every subscription under this management group (its id).")
        c.argument("acr", type=acr_type(self.cli_ctx),
                   help="Check every cluster in scope against this registry: a name, a login server or a resource ID. "
                   "Without it, each cluster is checked against the registries its pull identity holds a role on.",
                   completer=get_resource_name_completion_list("Microsoft.ContainerRegistry/registries"))
        c.argument("checks", nargs="+", type=fleet_check_id_type, completer=fleet_check_id_completer,
                   help="Run only these of the fleet checks (see `az aks diagnose-pull list-checks`).")
        c.argument("timeout", type=fleet_timeout_type,
                   help="Bound the whole scan to this many seconds (default 600: fleet reads a whole tenant). A "
                   "bulk read that has not answered by "
                   "then is reported: the checks that needed it say Error, or the command stops with one error when "
                   "the clusters themselves could not be read.")

    with self.argument_context("aks diagnose-pull fix") as c:
        c.argument("checks", nargs="+", type=check_id_type, completer=check_id_completer,
                   help="Diagnose and fix only these check ids (see `az aks diagnose-pull list-checks`).")
        c.argument("yes", options_list=["--yes", "-y"], action="store_true",
                   help="Apply the plan without asking. Without it, fix asks on the terminal and refuses when there "
                   "is none.")
