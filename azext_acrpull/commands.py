"""The command table: `az aks diagnose-pull ...` inside the built-in `aks` group."""


def load_command_table(self, _):
    from azext_acrpull._format import transform_catalog, transform_findings, transform_fix
    with self.command_group("aks diagnose-pull", is_preview=True) as g:
        g.custom_command("run", "diagnose_run", table_transformer=transform_findings)
        g.custom_command("check-auth", "diagnose_check_auth", table_transformer=transform_findings)
        g.custom_command("check-registry", "diagnose_check_registry", table_transformer=transform_findings)
        g.custom_command("check-network", "diagnose_check_network", table_transformer=transform_findings)
        g.custom_command("check-image", "diagnose_check_image", table_transformer=transform_findings)
        g.custom_command("list-checks", "list_checks", table_transformer=transform_catalog)
        g.custom_command("fix", "diagnose_fix", table_transformer=transform_fix)
        g.custom_command("fleet", "diagnose_fleet", table_transformer=transform_findings)
