"""Network paths: private DNS, the registry's firewall, peering, the path out of the node subnet, the registry
as seen from where az runs, and the look from inside the cluster through AKS run command."""
import re

import pytest

from tests.e2e.conftest import shared_run
from tests.simulator import resourcegraph
from tests.simulator.scenarios.network import (
    DATA_ACCOUNT,
    FIREWALL_PUBLIC_IP,
    HUB_SUB,
    PRIVATE_PULL_PASSWORD,
    SEP_IMAGE,
    lb_ip,
)
from tests.simulator.server import Fault
from tests.simulator.world import SUBSCRIPTION

NETWORK = ("private-dns-link", "acr-network-rules", "vnet-peering", "egress-path")
SPOKE = "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/spoke-vnet".format(
    SUBSCRIPTION)

EXPECTED = {
    # scenario: statuses of private-dns-link, acr-network-rules, vnet-peering, egress-path
    "net-hub-spoke-healthy": ("Pass", "Pass", "Pass", "Pass"),
    "net-hub-spoke-no-link": ("Fail", "Fail", "Pass", "Pass"),
    "net-data-record-missing": ("Fail", "Pass", "Pass", "Pass"),
    "net-public-endpoint-elsewhere": ("Fail", "Pass", "Fail", "Pass"),
    "net-selected-endpoint-elsewhere": ("Fail", "Pass", "Fail", "Pass"),
    "net-selected-endpoint-unused": ("Fail", "Fail", "Fail", "Pass"),
    "net-peering-one-way": ("Pass", "Pass", "Fail", "Pass"),
    "net-peering-disconnected": ("Pass", "Pass", "Fail", "Pass"),
    "net-route-to-firewall": ("Pass", "Pass", "Pass", "Fail"),
    "net-route-pe-policies-off": ("Pass", "Pass", "Pass", "Pass"),
    "net-nsg-deny-443": ("Skipped", "Pass", "Skipped", "Fail"),
    "net-acl-missing-lb-ip": ("Skipped", "Fail", "Skipped", "Pass"),
    "net-acl-lb-ip-allowed": ("Skipped", "Pass", "Skipped", "Pass"),
    "net-nat-gateway": ("Skipped", "Pass", "Skipped", "Pass"),
    "net-managed-nat-missing": ("Skipped", "Fail", "Skipped", "Pass"),
    "net-udr-firewall": ("Skipped", "Warning", "Skipped", "Fail"),
    "net-fw-policy-login-only": ("Skipped", "Pass", "Skipped", "Fail"),
    "net-fw-policy-allows-both": ("Skipped", "Pass", "Skipped", "Pass"),
    "net-appliance-third-party": ("Skipped", "Pass", "Skipped", "Warning"),
    "net-proxy-wildcard-no-proxy": ("Pass", "Pass", "Pass", "Warning"),
    "net-proxy-no-proxy-right": ("Pass", "Pass", "Pass", "Pass"),
    "net-private-cluster": ("Fail", "Fail", "Pass", "Pass"),
    "mi-healthy": ("Skipped", "Pass", "Skipped", "Pass"),
}


def load(scenario, name):
    """Load a scenario; when it adds a subscription, refresh az's account list as a user who logged in after it
    existed would have it."""
    sc = scenario(name)
    if len(sc.world.subs) > 1:
        result = sc.az("account", "list", "--refresh", "-o", "none")
        assert result.rc == 0, result
    return sc


def network(scenario, name, *args):
    """check-network on an unchanged scenario: one az run shared by the tests that assert on parts of it."""
    def run(sc):
        if len(sc.world.subs) > 1:
            refresh = sc.az("account", "list", "--refresh", "-o", "none")
            assert refresh.rc == 0, refresh
        return sc.diagnose("--acr", "myacr", *args, command="check-network")
    sc, (findings, result) = shared_run(scenario, name, ("check-network", "--acr", "myacr") + args, run)
    return sc, findings, result


def check_contract(sc, findings):
    for f in findings:
        assert set(f) == {"checkId", "article", "title", "target", "status", "message", "remediation", "evidence"}
        assert (f["remediation"] != "") == (f["status"] in ("Fail", "Warning")), f
        assert f["status"] != "Error", f
    sc.assert_read_only()
    sc.assert_no_duplicate_reads()
    sc.assert_no_unknown_routes()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_network_verdicts(scenario, name):
    sc, findings, _ = network(scenario, name)
    got = tuple(sc.status_of(findings, c)["status"] for c in NETWORK)
    assert got == EXPECTED[name], [(f["checkId"], f["status"], f["message"]) for f in findings]
    assert {f["checkId"] for f in findings} == set(NETWORK) | {"cluster-pull-probe", "subnet-endpoint-policy"}
    check_contract(sc, findings)
    assert not [e for e in sc.sim.log if e["path"].lower().endswith("/runcommand")], "run command without --probe"


# -- C3.S1 -------------------------------------------------------------------------------------------
def test_no_link_names_the_zone_and_links_the_spoke(scenario):
    _, findings, result = network(scenario, "net-hub-spoke-no-link")
    f = next(f for f in findings if f["checkId"] == "private-dns-link")
    assert f["remediation"] == ("az network private-dns link vnet create -g rg-dns -z privatelink.azurecr.io -n "
                                "spoke-vnet-link -v {} -e false --subscription {}".format(SPOKE, HUB_SUB))
    assert f["evidence"]["linkedVnets"] == ["hub-vnet"]
    assert "10.0.2.5" in f["message"] and "spoke-vnet" in f["message"]
    rules = next(f for f in findings if f["checkId"] == "acr-network-rules")
    assert "private-dns-link" in rules["remediation"] and "Disabled" in rules["message"]
    assert "First fix to try" in result.stderr


def test_missing_data_endpoint_record(scenario):
    _, findings, _ = network(scenario, "net-data-record-missing")
    f = next(f for f in findings if f["checkId"] == "private-dns-link")
    assert f["remediation"] == ("az network private-dns record-set a add-record -g rg-dns -z privatelink.azurecr.io "
                                "-n myacr.westeurope.data --subscription {} -a 10.0.2.7".format(HUB_SUB))
    assert f["evidence"]["records"]["myacr.westeurope.data.azurecr.io"] is None
    assert f["evidence"]["records"]["myacr.eastus.data.azurecr.io"] == ["10.0.2.6"]
    assert "myacr.westeurope.data.azurecr.io" in f["message"]


# -- C3.S2 -------------------------------------------------------------------------------------------
def test_load_balancer_ip_missing_from_selected_networks(scenario):
    sc, findings, _ = network(scenario, "net-acl-missing-lb-ip")
    cluster = next(r for k, r in sc.world.arm.items() if k.endswith("/managedclusters/aks1"))
    ip = lb_ip(sc.world, cluster)
    f = next(f for f in findings if f["checkId"] == "acr-network-rules")
    assert f["remediation"] == "az acr network-rule add --name myacr --ip-address {}".format(ip)
    assert f["evidence"]["outboundType"] == "loadBalancer" and f["evidence"]["missing"] == [ip]
    assert "198.51.100.0/24" in f["message"]


def test_nat_gateway_prefix_inside_an_allowed_range(scenario):
    _, findings, _ = network(scenario, "net-nat-gateway")
    f = next(f for f in findings if f["checkId"] == "acr-network-rules")
    assert f["evidence"]["outboundType"] == "userAssignedNATGateway"
    assert f["evidence"]["egressAddresses"] == ["20.61.17.0/30"]


def test_managed_nat_gateway_ip_missing(scenario):
    sc, findings, _ = network(scenario, "net-managed-nat-missing")
    cluster = next(r for k, r in sc.world.arm.items() if k.endswith("/managedclusters/aks1"))
    ref = cluster["properties"]["networkProfile"]["natGatewayProfile"]["effectiveOutboundIPs"][0]["id"]
    nat_ip = sc.world.arm[ref.lower()]["properties"]["ipAddress"]
    f = next(f for f in findings if f["checkId"] == "acr-network-rules")
    assert f["evidence"]["outboundType"] == "managedNATGateway"
    assert f["remediation"] == "az acr network-rule add --name myacr --ip-address {}".format(nat_ip)


def test_user_defined_routing_egress_is_the_firewalls(scenario):
    _, findings, _ = network(scenario, "net-udr-firewall")
    rules = next(f for f in findings if f["checkId"] == "acr-network-rules")
    assert "cannot be known from the cluster" in rules["message"] and "hub-fw" in rules["message"]
    assert rules["remediation"] == "az acr network-rule add --name myacr --ip-address " + FIREWALL_PUBLIC_IP
    path = next(f for f in findings if f["checkId"] == "egress-path")
    assert path["remediation"].startswith("az network firewall application-rule create -g rg-hub -f hub-fw ")
    assert "--target-fqdns myacr.azurecr.io *.blob.core.windows.net" in path["remediation"]
    assert path["evidence"]["path"] == "public"


# -- C4.S1 -------------------------------------------------------------------------------------------
def test_one_way_peering_names_the_missing_side(scenario):
    _, findings, _ = network(scenario, "net-peering-one-way")
    f = next(f for f in findings if f["checkId"] == "vnet-peering")
    assert "VNet hub-vnet has no peering to spoke-vnet" in f["message"] and "Initiated" in f["message"]
    assert f["remediation"] == ("az network vnet peering create -g rg-hub --vnet-name hub-vnet -n "
                                "hub-vnet-to-spoke-vnet --remote-vnet {} --allow-vnet-access --subscription {}".format(
                                    SPOKE, HUB_SUB))


def test_disconnected_peering_is_recreated_on_both_sides(scenario):
    _, findings, _ = network(scenario, "net-peering-disconnected")
    f = next(f for f in findings if f["checkId"] == "vnet-peering")
    assert "spoke-vnet-to-hub-vnet on VNet spoke-vnet is Disconnected" in f["message"]
    steps = f["remediation"].split(" && ")
    assert [s.split(" -g ")[0] for s in steps] == ["az network vnet peering delete"] * 2 + \
        ["az network vnet peering create"] * 2
    assert "i/o timeout" in f["message"]


# -- C4.S2, M.fw, M.nsg --------------------------------------------------------------------------------
def test_route_to_firewall_when_endpoint_policies_apply(scenario):
    _, findings, _ = network(scenario, "net-route-to-firewall")
    f = next(f for f in findings if f["checkId"] == "egress-path")
    assert "10.0.2.5, 10.0.2.6" in f["message"] and "Azure Firewall hub-fw" in f["message"]
    assert f["remediation"] == (
        "az network firewall network-rule create -g rg-hub -f hub-fw --collection-name allow-container-registry "
        "--priority 200 --action Allow --source-addresses 10.1.0.0/22 -n myacr-443 --protocols TCP "
        "--destination-addresses 10.0.2.5 10.0.2.6 --destination-ports 443 --subscription " + HUB_SUB)
    assert f["evidence"]["path"] == "privateEndpoint"


def test_nsg_denying_443_names_the_rule(scenario):
    _, findings, _ = network(scenario, "net-nsg-deny-443")
    f = next(f for f in findings if f["checkId"] == "egress-path")
    assert "NSG aks-nodes-nsg rule DenyRegistryOut (priority 300)" in f["message"]
    assert f["remediation"] == ("az network nsg rule create -g rg1 --nsg-name aks-nodes-nsg -n "
                                "AllowContainerRegistry443 --priority 299 --direction Outbound --access Allow "
                                "--protocol Tcp --destination-port-ranges 443 --destination-address-prefixes "
                                "AzureContainerRegistry")
    assert "*.blob.core.windows.net" in f["message"]


def test_nsg_deny_alone_is_a_failed_check_in_the_summary(scenario):
    """The contract's Fail: a run whose only problem is the NSG deny must not say that no check failed."""
    _, findings, result = network(scenario, "net-nsg-deny-443")
    assert [f["checkId"] for f in findings if f["status"] == "Fail"] == ["egress-path"]
    assert "1 of " in result.stderr and "0 of " not in result.stderr, result.stderr
    assert "First fix to try (egress-path" in result.stderr


# -- B.fqdn: the Azure Firewall's rules ----------------------------------------------------------------
POLICY_ID = ("/subscriptions/{}/resourceGroups/rg-hub/providers/Microsoft.Network/firewallPolicies/hub-fw-policy"
             .format(HUB_SUB))


def test_firewall_policy_that_allows_only_the_login_server_fails(scenario):
    sc, findings, _ = network(scenario, "net-fw-policy-login-only")
    f = sc.status_of(findings, "egress-path")
    assert f["status"] == "Fail", f
    assert "Azure Firewall hub-fw at 10.0.1.4 allows the login server but not the data path (*.blob.core.windows.net)" \
        in f["message"], f["message"]
    assert "no rule allows it" in f["message"]
    assert f["evidence"]["firewallDenied"] == ["*.blob.core.windows.net"]
    decisions = {d["host"]: d["verdict"] for d in f["evidence"]["firewallDecisions"]}
    assert decisions == {"myacr.azurecr.io": "allowed", "*.blob.core.windows.net": "denied"}
    assert f["remediation"] == (
        "az network firewall policy rule-collection-group collection add-filter-collection -g rg-hub --policy-name "
        "hub-fw-policy --rule-collection-group-name aks-egress --name allow-myacr --collection-priority 100 --action "
        "Allow --rule-name myacr-443 --source-addresses 10.1.0.0/22 --rule-type ApplicationRule --protocols Https=443 "
        "--target-fqdns *.blob.core.windows.net --subscription " + HUB_SUB)
    reads = [e["path"].lower() for e in sc.sim.log if e["method"] == "GET"]
    assert POLICY_ID.lower() + "/rulecollectiongroups" in reads, reads
    # The pod's layer download EOF is classified as the data path and points here.
    pod_findings, _ = sc.diagnose("--pod", "app", "--namespace", "default", "--checks", "pod-pull-events",
                                  "egress-path", command="run")
    pod = sc.status_of(pod_findings, "pod-pull-events")
    assert (pod["status"], pod["evidence"]["cause"]) == ("Fail", "B.fqdn"), pod
    assert "egress-path" in pod["evidence"]["lookAt"]


def test_firewall_policy_that_allows_both_through_its_base_policy_passes(scenario):
    sc, findings, _ = network(scenario, "net-fw-policy-allows-both")
    f = sc.status_of(findings, "egress-path")
    assert f["status"] == "Pass", f
    assert "Azure Firewall hub-fw at 10.0.1.4, whose rules allow myacr.azurecr.io, *.blob.core.windows.net" \
        in f["message"], f["message"]
    rules = {d["host"]: d["rule"] for d in f["evidence"]["firewallDecisions"]}
    assert "org-base-policy" in rules["myacr.azurecr.io"] and "hub-fw-policy" in rules["*.blob.core.windows.net"]


def test_third_party_appliance_is_a_warning_naming_the_hosts(scenario):
    sc, findings, _ = network(scenario, "net-appliance-third-party")
    f = sc.status_of(findings, "egress-path")
    assert f["status"] == "Warning" and "a virtual appliance at 10.0.1.100" in f["message"], f
    assert f["remediation"] == ("Allow HTTPS to myacr.azurecr.io, *.blob.core.windows.net (registry without dedicated "
                                "data endpoints) from 10.1.0.0/22 on the firewall or appliance at 10.0.1.100")


# -- B.proxy: the cluster's HTTP proxy ------------------------------------------------------------------
def test_proxy_wildcard_no_proxy_sends_private_hosts_to_the_proxy(scenario):
    sc, findings, _ = network(scenario, "net-proxy-wildcard-no-proxy")
    f = sc.status_of(findings, "egress-path")
    assert f["status"] == "Warning", f
    assert "noProxy uses *.azurecr.io" in f["message"]
    assert "myacr.azurecr.io, myacr.eastus.data.azurecr.io to the HTTP proxy http://10.0.1.10:3128/" in f["message"]
    assert f["evidence"]["noProxyMissing"] == ["myacr.azurecr.io", "myacr.eastus.data.azurecr.io"]
    assert "az aks update -g rg1 -n aks1 --http-proxy-config" in f["remediation"]


def test_tls_error_behind_a_proxy_without_trusted_ca(scenario):
    sc = load(scenario, "net-proxy-tls-untrusted")
    findings, _ = sc.diagnose("--pod", "app", "--namespace", "default", command="check-network")
    f = sc.status_of(findings, "egress-path")
    assert f["status"] == "Warning" and f["evidence"]["tlsErrorBehindProxy"] is True, f
    assert "trustedCa" in f["remediation"]
    pod = sc.status_of(findings, "pod-pull-events")
    assert (pod["evidence"]["cause"], pod["evidence"]["textCause"]) == ("B.proxy", "X.tls"), pod


# -- S0.checkacr: from inside the cluster ------------------------------------------------------------
def test_an_unused_private_endpoint_says_the_public_path_still_takes_pulls(scenario):
    """The contract's Fail stands (no link, no peering), but the words must not blame the pull on it when the
    registry takes the cluster's public path; evidence.publicPath tells scripts so."""
    sc, findings, _ = network(scenario, "net-public-endpoint-elsewhere", "--probe")
    checks = ("private-dns-link", "vnet-peering", "cluster-pull-probe")
    for f in (sc.status_of(findings, c) for c in checks):
        assert f["status"] == "Fail" and f["evidence"]["publicPath"] is True, f
        assert "takes pulls from all networks" in f["message"] and "does not block them" in f["message"], f
        assert "refused (403)" not in f["message"], f
    assert sc.status_of(findings, "private-dns-link")["remediation"].startswith(
        "az network private-dns link vnet create -g rg-dns -z privatelink.azurecr.io")
    peering = sc.status_of(findings, "vnet-peering")
    assert "--remote-vnet" in peering["remediation"] and "Once they do, pulls will time out" in peering["message"]
    sc, findings, _ = network(scenario, "net-selected-endpoint-elsewhere")
    dns = sc.status_of(findings, "private-dns-link")
    assert "allows the cluster's egress {} in its IP rules".format(dns_ip(sc)) in dns["message"], dns
    # Closed to the cluster's public path: the pull is refused, and nothing says otherwise.
    for name in ("net-hub-spoke-no-link", "net-selected-endpoint-unused"):
        sc, findings, _ = network(scenario, name, "--probe")
        for f in (sc.status_of(findings, c) for c in ("private-dns-link", "cluster-pull-probe")):
            assert f["status"] == "Fail" and "publicPath" not in f["evidence"] and "does not block" not in f["message"]


def dns_ip(sc):
    cluster = next(r for k, r in sc.world.arm.items() if k.endswith("/managedclusters/aks1"))
    return lb_ip(sc.world, cluster)


def _run_command_requests(sc):
    return [e for e in sc.sim.log if "/runcommand" in e["path"].lower() or "/commandresults/" in e["path"].lower()]


def test_probe_passes_through_the_private_endpoint(scenario):
    sc, findings, _ = network(scenario, "net-hub-spoke-healthy", "--probe")
    f = next(f for f in findings if f["checkId"] == "cluster-pull-probe")
    assert f["status"] == "Pass", f
    assert f["evidence"]["answers"]["dns"] == {"myacr.azurecr.io": ["10.0.2.5"],
                                               "myacr.eastus.data.azurecr.io": ["10.0.2.6"]}
    assert "acrpull-probe" in f["evidence"]["command"] and f["evidence"]["exitCode"] == 0
    assert f["evidence"]["runCommandId"] in f["message"]
    calls = [(e["method"], e["path"].rsplit("/", 2)[-2 if "/commandResults/" in e["path"] else -1])
             for e in _run_command_requests(sc)]
    assert calls == [("POST", "runCommand"), ("GET", "commandResults")]
    check_contract(sc, findings)


def test_probe_sees_the_public_address_without_the_zone_link(scenario):
    sc, findings, _ = network(scenario, "net-hub-spoke-no-link", "--probe")
    f = next(f for f in findings if f["checkId"] == "cluster-pull-probe")
    assert f["status"] == "Fail"
    assert "instead of the private endpoint's 10.0.2.5" in f["message"] and "public address" in f["message"]
    assert "--checks private-dns-link" in f["remediation"]
    check_contract(sc, [x for x in findings if x["status"] != "Error"])


def test_probe_learns_the_firewalls_address_from_the_registry(scenario):
    sc, findings, _ = network(scenario, "net-udr-firewall", "--probe")
    f = next(f for f in findings if f["checkId"] == "cluster-pull-probe")
    assert f["status"] == "Fail" and FIREWALL_PUBLIC_IP in f["message"]
    assert f["remediation"] == "az acr network-rule add --name myacr --ip-address " + FIREWALL_PUBLIC_IP
    check_contract(sc, findings)


def test_probe_without_the_flag_is_skipped(scenario):
    sc = load(scenario, "mi-healthy")
    findings, _ = sc.diagnose("--acr", "myacr", "--checks", "cluster-pull-probe")
    assert [(f["checkId"], f["status"]) for f in findings] == [("cluster-pull-probe", "Skipped")]
    assert "--probe" in findings[0]["message"]
    assert not _run_command_requests(sc)


# -- private cluster -------------------------------------------------------------------------------------
def test_private_cluster_without_run_command_says_how_to_read_it(scenario):
    # Changed with --no-run-command: a private cluster's objects are read through AKS run command by default, so
    # the Error that says what to do is what --no-run-command gives.
    sc = load(scenario, "net-private-cluster")
    findings, result = sc.diagnose("--acr", "myacr", "--pod", "app", "--checks", "pod-pull-events",
                                   "private-dns-link", "--no-run-command")
    pod = next(f for f in findings if f["checkId"] == "pod-pull-events")
    assert pod["status"] == "Error" and "private cluster" in pod["message"], pod
    assert "without --no-run-command" in pod["message"]
    assert next(f for f in findings if f["checkId"] == "private-dns-link")["status"] == "Fail"
    assert not _run_command_requests(sc) and "AKS run command (read-only" not in result.stderr
    sc.assert_read_only()


def test_private_cluster_without_probe_reads_kubernetes_through_run_command(scenario):
    sc = load(scenario, "net-private-cluster")
    findings, result = sc.diagnose("--acr", "myacr", "--pod", "app", "--checks", "pod-pull-events",
                                   "private-dns-link")
    pod = next(f for f in findings if f["checkId"] == "pod-pull-events")
    assert pod["status"] == "Fail" and "403" in pod["message"] and pod["evidence"]["kubernetesReadVia"] == "runCommand"
    announced = [line for line in result.stderr.splitlines() if "through AKS run command (read-only" in line]
    assert len(announced) == 1 and "private cluster" in announced[0], result.stderr
    posts = [e for e in _run_command_requests(sc) if e["method"] == "POST"]
    assert posts and all(e["status"] == 202 for e in posts)
    sc.assert_read_only()
    sc.assert_no_unknown_routes()


def test_private_cluster_reads_kubernetes_through_run_command(scenario):
    sc = load(scenario, "net-private-cluster")
    findings, _ = sc.diagnose("--acr", "myacr", "--pod", "app", "--probe")
    pod = next(f for f in findings if f["checkId"] == "pod-pull-events")
    assert pod["status"] == "Fail" and "403" in pod["message"], pod
    probe = next(f for f in findings if f["checkId"] == "cluster-pull-probe")
    assert probe["status"] == "Fail" and "API server is private" in probe["message"]
    # Every finding built from Kubernetes objects says they came through run command, in words and evidence.
    kube_read = {f["checkId"] for f in findings if "kubernetesReadVia" in f["evidence"]}
    assert {"pod-pull-events", "pull-secret-sp", "pull-secret-admin", "image-reference", "image-manifest",
            "image-platform", "pull-rate-limit"} <= kube_read
    assert "registry-lookup" not in kube_read and "private-dns-link" not in kube_read
    for f in findings:
        if f["checkId"] in kube_read:
            assert f["evidence"]["kubernetesReadVia"] == "runCommand", f
            assert "read with kubectl through AKS run command" in f["message"], f
    posts = [e for e in _run_command_requests(sc) if e["method"] == "POST"]
    assert len(posts) >= 2   # the pod and its events, and the probe
    assert all(e["status"] == 202 for e in posts)
    sc.assert_read_only()
    sc.assert_no_unknown_routes()
    sc.assert_no_duplicate_reads()


def test_public_cluster_findings_say_kubernetes_was_read_from_the_api_server(scenario):
    sc = scenario("image-pods")
    findings, _ = sc.diagnose("--pod", "web-ok", "--checks", "pod-pull-events", "registry-lookup",
                              "kubelet-identity-vmss")
    pod = next(f for f in findings if f["checkId"] == "pod-pull-events")
    assert pod["evidence"]["kubernetesReadVia"] == "apiServer" and "run command" not in pod["message"]
    # The registry was found from the pod's image (Kubernetes); the scale sets are ARM's alone.
    lookup = next(f for f in findings if f["checkId"] == "registry-lookup")
    assert lookup["evidence"]["kubernetesReadVia"] == "apiServer"
    assert all("kubernetesReadVia" not in f["evidence"] for f in findings if f["checkId"] == "kubelet-identity-vmss")
    assert not _run_command_requests(sc)


def test_private_cluster_reads_leak_no_secret_even_with_debug(scenario):
    sc = load(scenario, "net-private-cluster")
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--acr", "myacr", "--pod", "app",
                   "--probe", "--debug", "-o", "json")
    assert result.rc == 0, result
    secret = next(o for o in next(iter(sc.world.kube.values()))["objects"].values() if o["kind"] == "Secret")
    output = result.stdout + result.stderr
    assert [e for e in _run_command_requests(sc) if e["method"] == "POST"], "no run command was made"
    for marker in (PRIVATE_PULL_PASSWORD, secret["data"][".dockerconfigjson"], "sim-kube-token-MARKER"):
        assert marker not in output


# -- S0.health: from where az runs ---------------------------------------------------------------------
def test_registry_health_passes_and_says_whose_network(scenario):
    sc = load(scenario, "mi-healthy")
    findings, _ = sc.diagnose("--acr", "myacr", command="check-registry")
    assert [f["checkId"] for f in findings] == ["registry-lookup", "registry-health"]
    f = findings[1]
    assert f["status"] == "Pass" and "not the cluster" in f["message"]
    assert [s["step"] for s in f["evidence"]["steps"]] == ["dns", "challenge", "token"]
    assert f["evidence"]["addresses"] == ["127.0.0.1"]
    check_contract(sc, findings)


def test_registry_health_fails_when_the_login_server_does_not_resolve(scenario):
    sc = load(scenario, "net-registry-dns-missing")
    findings, _ = sc.diagnose("--acr", "myacr", "--checks", "registry-health", command="check-registry")
    f = findings[0]
    assert f["status"] == "Fail" and "does not resolve" in f["message"]
    assert f["remediation"].startswith("Check name resolution on this machine: nslookup myacr.azurecr.io")
    assert not [e for e in sc.sim.log if e["host"] == "myacr.azurecr.io"]


def test_registry_health_fails_without_a_challenge(scenario):
    sc = load(scenario, "mi-healthy")
    sc.sim.faults.append(Fault(r"^GET myacr\.azurecr\.io/v2/$", status=404, body={"errors": []}))
    findings, _ = sc.diagnose("--acr", "myacr", "--checks", "registry-health", command="check-registry")
    f = findings[0]
    assert f["status"] == "Fail" and "Bearer challenge" in f["message"] and "HTTP 404" in f["message"]
    assert f["remediation"] == "az acr check-health --name myacr --ignore-errors --yes"


def test_registry_health_through_a_proxy_gives_no_dns_verdict(scenario):
    sc = load(scenario, "mi-healthy")
    saved = dict(sc.env.env)
    sc.env.env.update({"HTTPS_PROXY": "http://proxyuser:proxy-secret-MARKER@127.0.0.1:3128",
                       "NO_PROXY": "management.azure.com,login.microsoftonline.com,graph.microsoft.com"})
    try:
        findings, result = sc.diagnose("--acr", "myacr", "--checks", "registry-health", command="check-registry")
    finally:
        sc.env.env.clear()
        sc.env.env.update(saved)
    f = findings[0]
    assert f["evidence"]["steps"][0] == {"step": "dns", "ok": None,
                                         "detail": "names are resolved by the proxy http://127.0.0.1:3128"}
    assert f["status"] == "Fail" and "could not be reached" in f["message"]
    assert "proxy-secret-MARKER" not in result.stdout + result.stderr


# -- glue ----------------------------------------------------------------------------------------------------
def test_check_network_help_and_catalog(scenario):
    sc = load(scenario, "mi-healthy")
    result = sc.az("aks", "diagnose-pull", "check-network", "-h")
    assert result.rc == 0 and "--probe" in result.stdout and "Examples" in result.stdout
    listed = sc.az("aks", "diagnose-pull", "list-checks", "-o", "json").json()
    articles = {c["checkId"]: c["article"] for c in listed}
    assert articles["egress-path"] == "C4.S2,X.tls,M.nsg,M.fw,B.fqdn,B.proxy"
    assert articles["cluster-pull-probe"] == "S0.checkacr"
    assert articles["registry-health"] == "S0.health"


# -- B.sep a service endpoint policy on the node subnet ---------------------------------------------------
SEP_POLICY = "/subscriptions/{}/resourceGroups/rg-net/providers/Microsoft.Network/serviceEndpointPolicies/" \
             "sep-contoso-data".format(SUBSCRIPTION)
NODE_SUBNET = SPOKE + "/subnets/aks-nodes"


def _policy_reads(sc):
    return [e for e in sc.sim.log if e["method"] == "GET" and "/serviceendpointpolicies/" in e["path"].lower()]


def _sep(sc, *args):
    findings, result = sc.diagnose(*args, command="check-network")
    check_contract(sc, findings)
    return sc.status_of(findings, "subnet-endpoint-policy"), findings, result


def test_a_storage_policy_on_the_node_subnet_fails_with_the_pods_403_and_detaches_it(scenario):
    sc = scenario("net-sep-storage-blocked")
    f, findings, result = _sep(sc, "--pod", "web", "--namespace", "default")
    assert (f["status"], f["target"], f["article"]) == ("Fail", "registry myacr", "B.sep"), f
    assert "Node subnet aks-nodes of pool(s) nodepool1" in f["message"] and "sep-contoso-data" in f["message"]
    assert DATA_ACCOUNT in f["message"] and "403 AuthorizationFailure" in f["message"]
    assert "Container app of pod default/web pulling {}".format(SEP_IMAGE) in f["message"]
    # the policy is shared with the VMs' subnet: it is detached from the node subnet, never deleted
    assert f["remediation"].startswith("Take the Storage service endpoint policy off the node subnet (it stays in "
                                       "place for the other subnets that use it): az network vnet subnet update "
                                       "--ids {} --service-endpoint-policy null.".format(NODE_SUBNET)), f
    assert "delete" not in f["remediation"] and "private endpoint" in f["remediation"]
    [entry] = f["evidence"]["restricting"]
    assert entry["subnetId"].lower() == NODE_SUBNET.lower() and entry["pools"] == ["nodepool1"]
    assert [p["id"].lower() for p in entry["policies"]] == [SEP_POLICY.lower()]
    assert entry["policies"][0]["serviceResources"][0] == DATA_ACCOUNT
    [pulled] = f["evidence"]["failedPulls"]
    assert pulled["pod"] == "default/web" and "403 This request is not authorized" in pulled["error"]
    assert "?" not in pulled["error"]
    pod = sc.status_of(findings, "pod-pull-events")
    assert (pod["evidence"]["cause"], pod["evidence"]["lookAt"]) == ("B.sep", ["subnet-endpoint-policy"]), pod
    assert len(_policy_reads(sc)) == 1
    assert "subnet-endpoint-policy" in result.stderr


def test_the_same_policy_without_a_pull_error_is_a_warning(scenario):
    sc = scenario("net-sep-storage-blocked")
    f, _, _ = _sep(sc, "--acr", "myacr")
    assert f["status"] == "Warning", f
    assert "no pull error read here shows one" in f["message"] and "sep-contoso-data" in f["message"]
    assert "--service-endpoint-policy null" in f["remediation"] and "failedPulls" not in f["evidence"]


def test_discovery_finds_the_pod_and_the_policy(scenario):
    sc = scenario("net-sep-storage-blocked")
    f, _, _ = _sep(sc)
    assert f["status"] == "Fail" and f["evidence"]["failedPulls"][0]["pod"] == "default/web", f


def test_a_policy_on_another_subnet_passes_without_reading_it(scenario):
    sc = scenario("net-sep-other-subnet")
    f, _, _ = _sep(sc, "--acr", "myacr")
    assert f["status"] == "Pass", f
    assert "No node subnet (aks-nodes) carries a service endpoint policy" in f["message"]
    assert _policy_reads(sc) == []
    assert any(e["method"] == "GET" and e["path"].lower() == SPOKE.lower() for e in sc.sim.log)


def test_dedicated_data_endpoints_skip_the_policy(scenario):
    sc = scenario("net-sep-data-endpoints")
    f, _, _ = _sep(sc, "--acr", "myacr")
    assert f["status"] == "Skipped" and "dedicated data endpoints are enabled" in f["message"], f
    assert _policy_reads(sc) == []


def test_fleet_reads_the_policy_from_resource_graph_and_warns(scenario):
    sc = scenario("net-sep-storage-blocked")
    sc.sim.clear_log()
    resourcegraph.reset_quota(sc.world)
    result = sc.az("aks", "diagnose-pull", "fleet", "--checks", "subnet-endpoint-policy", "-o", "json")
    assert result.rc == 0 and "Traceback" not in result.stderr, result
    [f] = [f for f in result.json() if f["checkId"] == "subnet-endpoint-policy"]
    assert f["status"] == "Warning" and f["cluster"].endswith("/managedClusters/aks1"), f
    assert "sep-contoso-data" in f["message"] and "--service-endpoint-policy null" in f["remediation"]
    sc.assert_read_only()
    assert _policy_reads(sc) == [] and not sc.sim.unknown()


# -- what run reads ahead ------------------------------------------------------------------------------------
ARG_QUERY = r"^POST management\.azure\.com/providers/Microsoft\.ResourceGraph/resources$"
PRIVATE_PATH_QUERY = "privatednszones"   # in the body of the private path's query (not the role hint's)
PE_GET = r"^GET management\.azure\.com/subscriptions/[^/]+/resourceGroups/rg-hub/providers/Microsoft\.Network/" \
         r"privateEndpoints/myacr-pe$"
ZONE_SEARCH = r"^GET management\.azure\.com/subscriptions/[^/]+/resources$"
SCALE_SETS = r"^GET management\.azure\.com/.*/providers/Microsoft\.Compute/virtualMachineScaleSets$"


def _verdicts(findings):
    return sorted((f["checkId"], f["target"], f["status"], f["message"]) for f in findings)


def _requests(sc, pattern):
    return [e for e in sc.sim.log if re.search(pattern, "{} {}{}".format(e["method"], e["host"], e["path"]),
                                              re.IGNORECASE)]


def test_private_path_reads_do_not_wait_for_the_endpoint_zone_search_or_scale_sets(scenario):
    """The hub VNet, the zone's links and A records (named by one Resource Graph query) and the node resource group's
    NSGs start while the private endpoint's GET, the zone search and the scale sets are still on their way: each of
    those is held back here, and every dependent read has started before any of them ends."""
    sc = load(scenario, "net-hub-spoke-healthy")
    resourcegraph.reset_quota(sc.world)
    held = [Fault(p, status=0, delay=2.0) for p in (PE_GET, ZONE_SEARCH, SCALE_SETS)]
    query = Fault(ARG_QUERY, status=0, sent=PRIVATE_PATH_QUERY)   # only counts it
    sc.sim.faults = held + [query]
    findings, _ = sc.diagnose("--acr", "myacr")
    assert all(f.hits for f in held), held
    first_end = min(e["time"] + e["ms"] / 1000.0 for p in (PE_GET, ZONE_SEARCH, SCALE_SETS) for e in _requests(sc, p))
    ahead = [r"/virtualNetworks/hub-vnet$", r"/privateDnsZones/privatelink\.azurecr\.io/virtualNetworkLinks$",
             r"/privateDnsZones/privatelink\.azurecr\.io/A/myacr$",
             r"/privateDnsZones/privatelink\.azurecr\.io/A/myacr\.eastus\.data$",
             r"/MC_rg1_aks1_eastus/providers/Microsoft\.Network/networkSecurityGroups$"]
    for pattern in ahead:
        [read] = _requests(sc, "^GET .*" + pattern)
        assert read["time"] < first_end, (pattern, read, first_end)
    # the NIC's NSG comes from the group's listing: no GET of its own
    assert not _requests(sc, r"^GET .*/networkSecurityGroups/[^/]+$")
    assert [s for c, s in ((f["checkId"], f["status"]) for f in findings) if c in NETWORK] == ["Pass"] * 4
    assert query.hits == 1
    sc.assert_no_duplicate_reads()
    sc.assert_read_only()


@pytest.mark.parametrize("status", [403, 500, 429])
def test_a_failing_resource_graph_query_changes_no_finding(scenario, status):
    """The query only decides what starts early: refused, failing or throttled, it is sent once and every finding
    is what it is with its answer."""
    sc = load(scenario, "net-hub-spoke-healthy")
    resourcegraph.reset_quota(sc.world)
    expected, _ = sc.diagnose("--acr", "myacr")
    fault = Fault(ARG_QUERY, status=status, body={"error": {"code": "Simulated", "message": "no"}},
                  sent=PRIVATE_PATH_QUERY)
    sc.sim.faults = [fault]
    findings, result = sc.diagnose("--acr", "myacr")
    assert _verdicts(findings) == _verdicts(expected)
    assert fault.hits == 1
    assert "Resource Graph" not in result.stderr, result.stderr
    sc.assert_no_duplicate_reads()


def test_no_resource_graph_query_without_a_private_path_check_or_acr(scenario):
    sc = load(scenario, "net-hub-spoke-healthy")
    resourcegraph.reset_quota(sc.world)
    query = Fault(ARG_QUERY, status=0, sent=PRIVATE_PATH_QUERY)   # only counts it
    sc.sim.faults = [query]
    sc.diagnose("--acr", "myacr", "--checks", "acr-role-assignment")
    assert query.hits == 0 and _requests(sc, ARG_QUERY), "the role hint's query, not the private path's"
    sc.diagnose("--checks", "private-dns-link")   # the registry is found from the pull role: nothing scopes a query
    assert query.hits == 0 and not _requests(sc, ARG_QUERY)
    sc.diagnose("--acr", "myacr", "--checks", "private-dns-link")
    assert query.hits == 1 and len(_requests(sc, ARG_QUERY)) == 1
