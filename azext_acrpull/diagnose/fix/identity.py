"""Remedies beyond the article: a registry that refuses ARM-audience tokens (B.armaud).

A registry's policy is a shared setting: it is changed only when `fix` runs with --yes and the registry is in the
cluster's own subscription; otherwise the finding's command is printed for a person. B.drift, B.nap and B.tenant
are print-only (they recreate identities, recycle nodes or cross tenants)."""
from ..ids import parse_resource_id
from .changes import Change, ChangeFailed, remedy, write_error
from .network import REGISTRY_PERMISSION, _wait


@remedy("registry-arm-audience")
def enable_arm_audience(finding, ctx):
    """Enable azureADAuthenticationAsArmPolicy, as `az acr config authentication-as-arm update --status enabled`."""
    decision = finding.decision
    if decision is None or decision.reason != "refused":
        return None
    registry_id = decision.params["registry"]["id"]
    rid = parse_resource_id(registry_id)
    if not ctx.yes or rid is None or rid.subscription.lower() != (ctx.facts.cluster_subscription() or "").lower():
        return None
    summary = ("Let registry {} accept Microsoft Entra tokens issued for Azure Resource Manager again "
               "(policies.azureADAuthenticationAsArmPolicy enabled); an Azure Policy with effect Modify may disable "
               "it again.".format(rid.name))

    def apply(ctx):
        return _enable(ctx, rid)
    return Change(("arm-audience", registry_id.lower()), finding.remediation, summary, apply)


def _enable(ctx, rid):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.containerregistry.models import (
        AzureADAuthenticationAsArmPolicy,
        Policies,
        RegistryUpdateParameters,
    )

    from ..._client_factory import cf_container_registry
    client = ctx.client(cf_container_registry, rid.subscription)
    try:
        # The policies are sent whole, as az does: read them again right before writing.
        policies = client.registries.get(rid.resource_group, rid.name).policies or Policies()
        policies.azure_ad_authentication_as_arm_policy = AzureADAuthenticationAsArmPolicy(status="enabled")
        _wait(ctx, client.registries.begin_update(rid.resource_group, rid.name,
                                                  RegistryUpdateParameters(policies=policies)),
              "Updating the policies of {}".format(rid.name))
    except HttpResponseError as err:
        raise ChangeFailed(write_error(err, "update the policies of registry {}".format(rid.name),
                                       REGISTRY_PERMISSION)) from None
    return "Registry {} accepts ARM-audience tokens again (azureADAuthenticationAsArmPolicy enabled).".format(rid.name)
