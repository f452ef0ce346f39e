"""SDK clients built through az's own factory, so login, cloud, proxies and --subscription apply."""


def _mgmt(cli_ctx, resource_type, subscription_id=None, **kwargs):
    """``kwargs`` reach the SDK client: the run's retry policy, timeouts and guarded credential (facts/transport.py)."""
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    return get_mgmt_service_client(cli_ctx, resource_type, subscription_id=subscription_id, **kwargs)


def cf_container_service(cli_ctx, subscription_id=None, **kwargs):
    from azure.cli.core.profiles import ResourceType
    return _mgmt(cli_ctx, ResourceType.MGMT_CONTAINERSERVICE, subscription_id, **kwargs)


def cf_container_registry(cli_ctx, subscription_id=None, **kwargs):
    from azure.cli.core.profiles import ResourceType
    return _mgmt(cli_ctx, ResourceType.MGMT_CONTAINERREGISTRY, subscription_id, **kwargs)


def cf_authorization(cli_ctx, subscription_id=None, **kwargs):
    from azure.cli.core.profiles import ResourceType
    return _mgmt(cli_ctx, ResourceType.MGMT_AUTHORIZATION, subscription_id, **kwargs)


def cf_private_dns(cli_ctx, subscription_id=None, **kwargs):
    from azure.mgmt.privatedns import PrivateDnsManagementClient
    return _mgmt(cli_ctx, PrivateDnsManagementClient, subscription_id, **kwargs)


def cf_graph(cli_ctx, deadline=None, tokens=None):
    """az's Graph client; with the run's ``tokens`` (a TokenGuard) its requests are bounded like every other."""
    from azure.cli.command_modules.role import graph_client_factory
    client = graph_client_factory(cli_ctx)
    if tokens is None:
        return client
    from azext_acrpull.diagnose.facts.transport import bound_graph_client
    return bound_graph_client(client, deadline, tokens)
