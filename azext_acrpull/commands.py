"""The command table: `az aks diagnose-pull ...` inside the built-in `aks` group."""


def load_command_table(self, _):
    from azext_acrpull._format import transform_catalog, transform_findings, transform_fix
    from azext_acrpull._validators import validate_diagnose, validate_fleet
    with self.command_group("aks diagnose-pull", is_preview=True) as g:
        for name, handler in (("run", "diagnose_run"), ("check-auth", "diagnose_check_auth"),
                              ("check-registry", "diagnose_check_registry"),
                              ("check-network", "diagnose_check_network"), ("check-image", "diagnose_check_image")):
            g.custom_command(name, handler, table_transformer=transform_findings, validator=validate_diagnose)
        g.custom_command("list-checks", "list_checks", table_transformer=transform_catalog)
        g.custom_command("fix", "diagnose_fix", table_transformer=transform_fix, validator=validate_diagnose)
        g.custom_command("fleet", "diagnose_fleet", table_transformer=transform_findings, validator=validate_fleet)
