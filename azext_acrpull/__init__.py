"""Loader for `az aks diagnose-pull`: everything heavy is imported inside the methods."""
from azure.cli.core import AzCommandsLoader

from azext_acrpull._help import helps  # noqa: F401  pylint: disable=unused-import


class AcrPullCommandsLoader(AzCommandsLoader):

    def __init__(self, cli_ctx=None):
        from azure.cli.core.commands import CliCommandType
        custom = CliCommandType(operations_tmpl="azext_acrpull.custom#{}")
        super().__init__(cli_ctx=cli_ctx, custom_command_type=custom)

    def load_command_table(self, args):
        from azext_acrpull.commands import load_command_table
        load_command_table(self, args)
        return self.command_table

    def load_arguments(self, command):
        from azext_acrpull._params import load_arguments
        load_arguments(self, command)


COMMAND_LOADER_CLS = AcrPullCommandsLoader
