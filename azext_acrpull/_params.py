"""Arguments of `az aks diagnose-pull`, with completers and typed parsing."""


def load_arguments(self, _):
    from azure.cli.core.commands.parameters import get_resource_name_completion_list, resource_group_name_type

    from azext_acrpull._validators import (
        acr_type,
        check_id_completer,
        check_id_type,
        image_type,
        namespace_type,
        pod_type,
    )

    with self.argument_context("aks diagnose-pull") as c:
        c.argument("resource_group_name", resource_group_name_type,
                   help="Resource group of the AKS cluster.")
        c.argument("name", options_list=["--name", "-n"], help="Name of the AKS cluster.",
                   completer=get_resource_name_completion_list("Microsoft.ContainerService/ManagedClusters"))
        c.argument("acr", type=acr_type(self.cli_ctx),
                   help="The registry: a name (myacr), a login server (myacr.azurecr.io) or a full resource "
                   "ID (needed for a registry in another subscription). Optional when --image or --pod names an "
                   "image in ACR; otherwise the registries the cluster's pull identity holds a role on are used.",
                   completer=get_resource_name_completion_list("Microsoft.ContainerRegistry/registries"))
        c.argument("image", nargs="+", type=image_type, help="One or more image references to check, such as "
                   "myacr.azurecr.io/app:1.2 or myacr.azurecr.io/app@sha256:<digest>.")
        c.argument("pod", type=pod_type, help="Name of a pod stuck in ErrImagePull/ImagePullBackOff: its images, "
                   "pull secrets, node and events are read and its pull error is classified.")
        c.argument("namespace", type=namespace_type,
                   help="Kubernetes namespace of --pod and of the pull secrets to check.")
        c.argument("checks", nargs="+", type=check_id_type, completer=check_id_completer,
                   help="Run only these check ids (see `az aks diagnose-pull list-checks`).")
