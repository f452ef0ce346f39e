"""The catalog: every check, once, in the contract's table order (the table and summary order of findings).

A check exists when its function has a line here. A line that is a bare check id is a row of the contract whose
check has not landed yet: it keeps its place in the order (``CATALOG_ORDER``) and is not run or listed.
"""
import dataclasses
import functools

from .checks import (
    admission,
    auth,
    cache,
    dns_link,
    egress,
    endpoint_policy,
    health,
    identity,
    image,
    network_rules,
    node,
    peering,
    pod,
    probe,
    registry,
    secrets,
)

CATALOG_LINES = (
    pod.pod_pull_events,
    registry.registry_lookup,
    health.registry_health,
    probe.cluster_pull_probe,
    auth.acr_role_assignment,
    auth.sp_credential_expiry,
    auth.sp_role_principal,
    auth.kubelet_identity_vmss,
    secrets.pull_secret_sp,
    secrets.pull_secret_admin,
    image.image_reference,
    image.image_manifest,
    image.image_platform,
    dns_link.private_dns_link,
    network_rules.acr_network_rules,
    peering.vnet_peering,
    egress.egress_path,
    pod.pull_rate_limit,
    identity.node_provisioning_identity,
    identity.registry_arm_audience,
    identity.registry_tenant,
    cache.artifact_cache_rule,
    admission.pod_admission,
    node.node_disk_pressure,
    endpoint_policy.subnet_endpoint_policy,
)


def _id(line):
    return line if isinstance(line, str) else line.check.check_id


CATALOG_ORDER = tuple(_id(line) for line in CATALOG_LINES)
if len(set(CATALOG_ORDER)) != len(CATALOG_ORDER):
    raise ValueError("a check id is in the catalog twice: {}".format(CATALOG_ORDER))

_IMPLEMENTED = frozenset(_id(line) for line in CATALOG_LINES if not isinstance(line, str))
CATALOG = tuple(dataclasses.replace(line.check, catalog_ids=_IMPLEMENTED)
                for line in CATALOG_LINES if not isinstance(line, str))


def catalog():
    """The implemented checks in catalog order."""
    return list(CATALOG)


@functools.lru_cache(maxsize=None)
def fleet_facts():
    """The facts the fleet reader provides (read from its class when first asked: `run` never imports it)."""
    from .facts.contract import provided_by
    from .facts.fleet import FleetFacts
    return provided_by(FleetFacts)


def in_fleet(chk):
    """Does `fleet` run this check? Exactly when its reader provides every fact the check needs."""
    return chk.needs <= fleet_facts()
