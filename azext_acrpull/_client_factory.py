"""SDK clients built through az's own factory, so login, cloud, proxies and --subscription apply."""


def _mgmt(cli_ctx, resource_type, subscription_id=None):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    return get_mgmt_service_client(cli_ctx, resource_type, subscription_id=subscription_id)


def cf_container_service(cli_ctx, subscription_id=None):
    from azure.cli.core.profiles import ResourceType
    return _mgmt(cli_ctx, ResourceType.MGMT_CONTAINERSERVICE, subscription_id)


def cf_container_registry(cli_ctx, subscription_id=None):
    from azure.cli.core.profiles import ResourceType
    return _mgmt(cli_ctx, ResourceType.MGMT_CONTAINERREGISTRY, subscription_id)


def cf_authorization(cli_ctx, subscription_id=None):
    from azure.cli.core.profiles import ResourceType
    return _mgmt(cli_ctx, ResourceType.MGMT_AUTHORIZATION, subscription_id)


def cf_compute(cli_ctx, subscription_id=None):
    from azure.cli.core.profiles import ResourceType
    return _mgmt(cli_ctx, ResourceType.MGMT_COMPUTE, subscription_id)


def cf_resources(cli_ctx, subscription_id=None):
    from azure.cli.core.profiles import ResourceType
    return _mgmt(cli_ctx, ResourceType.MGMT_RESOURCE_RESOURCES, subscription_id)


def cf_private_dns(cli_ctx, subscription_id=None):
    from azure.mgmt.privatedns import PrivateDnsManagementClient
    return _mgmt(cli_ctx, PrivateDnsManagementClient, subscription_id)


def cf_graph(cli_ctx):
    from azure.cli.command_modules.role import graph_client_factory
    return graph_client_factory(cli_ctx)
