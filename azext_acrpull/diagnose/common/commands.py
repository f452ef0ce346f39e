"""az commands that findings and ``fix`` show: pull role assignments and the subscription flag of `az acr`."""
from ..ids import parse_resource_id
from ..roles import REPOSITORY_CONTENT_READ, REPOSITORY_METADATA_READ
from .pull import is_abac

REPOSITORY_READER = "Container Registry Repository Reader"


def assign_command(object_id, registry, role=None, repository_condition=None):
    """`az role assignment create` for a pull role on the registry (the only way to grant an ABAC role)."""
    role = role or (REPOSITORY_READER if is_abac(registry) else "AcrPull")
    command = ('az role assignment create --assignee-object-id {} --assignee-principal-type ServicePrincipal '
               '--role "{}" --scope {}'.format(object_id, role, registry["id"]))
    if repository_condition:
        command += ' --condition "{}" --condition-version 2.0'.format(repository_condition)
    return command


def repository_condition(repositories):
    """A condition limiting repository reads to these repositories, as Azure's portal writes it (with NOT for `!`,
    which an interactive shell would expand inside double quotes)."""
    names = " OR ".join("@Request[Microsoft.ContainerRegistry/registries/repositories:name] "
                        "StringEqualsIgnoreCase '{}'".format(r) for r in repositories)
    return ("((NOT ActionMatches{{'{}'}} AND NOT ActionMatches{{'{}'}}) OR ({}))".format(
        REPOSITORY_CONTENT_READ, REPOSITORY_METADATA_READ, names))


def acr_args(facts, registry):
    """-n/-g (and --subscription when it differs from the cluster's) for `az acr ...` commands."""
    rid = parse_resource_id(registry["id"])
    args = "-n {} -g {}".format(registry["name"], rid.resource_group)
    if rid.subscription.lower() != (facts.cluster_subscription() or "").lower():
        args += " --subscription {}".format(rid.subscription)
    return args


def reset_sp_command(facts, app_id, app_exists=True):
    """Give the cluster a new secret of its service principal (kept alongside the others, so nothing else that
    uses the service principal breaks)."""
    kind = "app" if app_exists else "sp"
    return ('az aks update-credentials -g {} -n {} --reset-service-principal --service-principal {} '
            '--client-secret "$(az ad {} credential reset --id {} --append --query password -o tsv)"'.format(
                facts.cluster_resource_group, facts.cluster_name, app_id, kind, app_id))


def new_sp_command(facts):
    """A new service principal for a cluster whose own no longer exists."""
    return ('read -r APP_ID SECRET <<< "$(az ad sp create-for-rbac --name {}-sp --query "[[appId, password]]" -o tsv)" '
            '&& az aks update-credentials -g {} -n {} --reset-service-principal --service-principal "$APP_ID" '
            '--client-secret "$SECRET"'.format(facts.cluster_name, facts.cluster_resource_group, facts.cluster_name))
