"""The end-to-end tests that also run on the oldest azure-cli the extension supports (``-m oldest_az``).

The whole suite runs on the newest az; on the oldest (``azext.minCliCoreVersion``, installed by
``scripts/setup.sh --oldest-az`` into .venv-oldaz) a representative subset runs within CI's time: one scenario
per check where it fails for its reason, the install, help, output formats and bad arguments, a `fix` that writes
through the SDKs' models, and a `fleet` scan. Entries are node ids; one without parameters selects every
parametrization of its test.
"""

# check id -> a test in which that check fails for its reason (or, for an egress appliance, warns).
PER_CHECK = {
    "pod-pull-events": "tests/e2e/test_image.py::test_each_article_text_is_classified_from_the_pod[err-c1]",
    "registry-lookup": "tests/e2e/test_image.py::test_registry_named_by_an_image_that_does_not_exist_is_a_finding",
    "registry-health": "tests/e2e/test_network.py::test_registry_health_fails_when_the_login_server_does_not_resolve",
    "cluster-pull-probe": "tests/e2e/test_network.py::test_probe_sees_the_public_address_without_the_zone_link",
    "acr-role-assignment": "tests/e2e/test_auth.py::test_role_assignment[mi-acrpull-missing]",
    "sp-credential-expiry": "tests/e2e/test_auth.py::test_service_principal[auth-sp-expired-sp-credential-expiry]",
    "sp-role-principal": "tests/e2e/test_auth.py::test_service_principal[auth-sp-old-principal-sp-role-principal]",
    "kubelet-identity-vmss": "tests/e2e/test_auth.py::test_removed_kubelet_identity_is_reconciled",
    "pull-secret-sp": "tests/e2e/test_auth.py::test_pull_secret[web-sp-expired-pull-secret-sp]",
    "pull-secret-admin": "tests/e2e/test_auth.py::test_pull_secret[web-admin-stale-pull-secret-admin]",
    "image-reference": "tests/e2e/test_image.py::test_misspelt_login_server",
    "image-manifest": "tests/e2e/test_image.py::test_missing_tag_names_the_closest_tags",
    "image-platform": "tests/e2e/test_image.py::test_amd64_image_on_an_arm64_pool",
    "private-dns-link": "tests/e2e/test_network.py::test_network_verdicts[net-hub-spoke-no-link]",
    "acr-network-rules": "tests/e2e/test_network.py::test_network_verdicts[net-acl-missing-lb-ip]",
    "vnet-peering": "tests/e2e/test_network.py::test_network_verdicts[net-peering-one-way]",
    "egress-path": "tests/e2e/test_network.py::test_nsg_denying_443_names_the_rule",
    "pull-rate-limit": "tests/e2e/test_image.py::test_pull_qps_storm",
    "registry-arm-audience": "tests/e2e/test_beyond.py::test_arm_audience_disabled_fails_with_the_pods_token_error",
    "registry-tenant": "tests/e2e/test_beyond.py::test_registry_in_another_tenant_fails_for_a_managed_identity_cluster",
    # The cluster is read as REST JSON with a pinned API version, so the oldest az sees nodeProvisioningProfile too.
    "node-provisioning-identity":
        "tests/e2e/test_beyond.py::test_pod_on_a_node_made_by_node_auto_provisioning_fails_naming_node_and_pool",
    "artifact-cache-rule":
        "tests/e2e/test_beyond_pull.py::test_unhealthy_credential_set_of_the_rule_serving_the_pods_image_fails",
    "pod-admission": "tests/e2e/test_beyond_pull.py::test_admission_refusals_fail_per_workload_without_pod",
    "node-disk-pressure":
        "tests/e2e/test_beyond_pull.py::test_a_node_short_of_disk_fails_with_the_pool_and_a_bigger_disk",
    "subnet-endpoint-policy":
        "tests/e2e/test_network.py::test_a_storage_policy_on_the_node_subnet_fails_with_the_pods_403_and_detaches_it",
}

# What every az must do besides the checks: install, help, output formats, bad arguments, writes, fleet.
GENERAL = (
    "tests/e2e/test_foundation.py",
    "tests/e2e/test_network.py::test_network_verdicts[net-hub-spoke-healthy]",
    "tests/e2e/test_fix.py::test_demo_broken_fixed_end_to_end",
    "tests/e2e/test_fix.py::test_private_dns_zone_gets_its_missing_vnet_link",
    "tests/e2e/test_fix.py::test_missing_egress_ip_is_added_to_the_registry_ip_rules",
    "tests/e2e/test_fix.py::test_table_output",
    "tests/e2e/test_fleet.py::test_fleet_finds_what_broke_and_no_false_alarm",
    "tests/e2e/test_fleet.py::test_table_and_bad_arguments",
    "tests/e2e/test_users.py::test_tables_fit_120_columns",
    "tests/e2e/test_beyond.py::test_recreated_kubelet_identity_fails_naming_both_principals",
)

ENTRIES = tuple(PER_CHECK.values()) + GENERAL


def selects(entry, nodeid):
    """Whether ``entry`` (a file, a test, or one parametrization) selects the test ``nodeid``."""
    return nodeid == entry or nodeid.startswith(entry + "::") or nodeid.startswith(entry + "[")
