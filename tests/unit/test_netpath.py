# Facts these tests pin down, and where they were confirmed:
# - Azure picks the route with the longest matching prefix; a private endpoint adds a /32 system route to its
#   VNet and peered VNets, which wins over broader user-defined routes unless the endpoint subnet's
#   privateEndpointNetworkPolicies enables route tables:
#   https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview
#   https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy
# - NSG rules are processed in priority order, lowest number first, and processing stops at the first match; the
#   default rules AllowVnetOutBound 65000, AllowInternetOutBound 65001, DenyAllOutBound 65500:
#   https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview
# - Registry hosts in the privatelink zone: <name> and <name>.<region>.data:
#   https://learn.microsoft.com/azure/container-registry/container-registry-private-link
import ipaddress
import re
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose import netpath
from azext_acrpull.diagnose.catalog import catalog
from azext_acrpull.diagnose.facts.runcommand import parse_probe, probe_script

ipv4 = st.integers(min_value=0, max_value=2 ** 32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
prefixes = st.tuples(ipv4, st.integers(min_value=0, max_value=32)).map(
    lambda p: str(ipaddress.ip_network("{}/{}".format(*p), strict=False)))


def table(*routes):
    return {"properties": {"routes": [{"name": "r{}".format(i), "properties": {
        "addressPrefix": prefix, "nextHopType": hop, "nextHopIpAddress": "10.0.1.4"}}
        for i, (prefix, hop) in enumerate(routes)]}}


@given(st.lists(prefixes, min_size=1, max_size=8, unique=True), ipv4)
def test_route_for_is_longest_prefix_match(all_prefixes, ip):
    route = netpath.route_for(ip, table(*[(p, "VirtualAppliance") for p in all_prefixes]))
    matching = [p for p in all_prefixes if ipaddress.ip_address(ip) in ipaddress.ip_network(p)]
    if not matching:
        assert route is None
    else:
        longest = max(ipaddress.ip_network(p).prefixlen for p in matching)
        assert ipaddress.ip_network(route["properties"]["addressPrefix"]).prefixlen == longest


def test_route_for_internet_prefers_a_service_tag_route():
    t = table(("0.0.0.0/0", "VirtualAppliance"), ("AzureContainerRegistry", "Internet"))
    assert netpath.route_for_internet(t, netpath.public_tags("AzureContainerRegistry", "eastus"))["name"] == "r1"
    assert netpath.route_for_internet(t, ["Storage"])["name"] == "r0"
    assert netpath.route_for_internet(table(("10.0.0.0/8", "VirtualAppliance"))) is None
    assert netpath.diverts(t["properties"]["routes"][0]) and not netpath.diverts(t["properties"]["routes"][1])


@given(st.lists(prefixes, max_size=5), st.lists(ipv4, min_size=1, max_size=5))
def test_uncovered_keeps_exactly_the_addresses_outside_every_rule(allowed, addresses):
    missing = netpath.uncovered(addresses, allowed)
    for address in addresses:
        inside = any(ipaddress.ip_address(address) in ipaddress.ip_network(a) for a in allowed)
        assert (address in missing) != inside


def test_uncovered_prefix_needs_the_whole_prefix_allowed():
    assert netpath.uncovered(["20.61.17.0/30"], ["20.61.17.0/29"]) == []
    assert netpath.uncovered(["20.61.17.0/30"], ["20.61.17.1"]) == ["20.61.17.0/30"]
    assert netpath.uncovered(["20.61.17.9"], ["20.61.17.9"]) == []


def nsg(*rules, defaults=True):
    body = {"properties": {"securityRules": [{"name": n, "properties": dict(
        {"direction": "Outbound", "protocol": "Tcp", "sourceAddressPrefix": "*", "destinationPortRange": "443"}, **p)}
        for n, p in rules]}}
    if not defaults:
        body["properties"]["defaultSecurityRules"] = []
    return body


PUBLIC_ACR = {"tags": netpath.public_tags("AzureContainerRegistry", "eastus")}
SUBNET = ["10.1.0.0/22"]


def test_nsg_first_match_by_priority_decides():
    deny = ("DenyAcr", {"priority": 300, "access": "Deny", "destinationAddressPrefix": "AzureContainerRegistry"})
    allow = ("AllowAcr", {"priority": 200, "access": "Allow", "destinationAddressPrefix": "AzureContainerRegistry"})
    assert netpath.nsg_rule_for(nsg(deny), PUBLIC_ACR, SUBNET)["name"] == "DenyAcr"
    assert netpath.nsg_rule_for(nsg(deny, allow), PUBLIC_ACR, SUBNET)["name"] == "AllowAcr"
    assert netpath.nsg_rule_for(nsg(), PUBLIC_ACR, SUBNET)["name"] == "AllowInternetOutBound"


def test_nsg_rule_fields_that_do_not_match():
    cases = [
        {"protocol": "Udp"}, {"destinationPortRange": "80"}, {"destinationPortRange": "8000-9000"},
        {"sourceAddressPrefix": "192.168.0.0/16"}, {"destinationAddressPrefix": "Storage"},
        {"destinationApplicationSecurityGroups": [{"id": "/asg"}]}, {"direction": "Inbound"},
    ]
    for fields in cases:
        rule = ("DenyX", dict({"priority": 100, "access": "Deny", "destinationAddressPrefix": "*"}, **fields))
        assert netpath.nsg_rule_for(nsg(rule), PUBLIC_ACR, SUBNET)["name"] == "AllowInternetOutBound", fields


def test_nsg_private_destination_by_prefix_and_virtual_network_tag():
    dest = {"ip": "10.0.2.5", "tags": ["VirtualNetwork"]}
    deny_hub = ("DenyHub", {"priority": 100, "access": "Deny", "destinationAddressPrefixes": ["10.0.0.0/16"],
                            "destinationPortRanges": ["22", "400-500"]})
    assert netpath.nsg_rule_for(nsg(deny_hub), dest, SUBNET)["name"] == "DenyHub"
    assert netpath.nsg_rule_for(nsg(), dest, SUBNET)["name"] == "AllowVnetOutBound"
    assert netpath.nsg_rule_for(nsg(defaults=False), dest, SUBNET)["name"] == "AllowVnetOutBound"


def test_free_priority_below_skips_used_ones():
    taken = nsg(("a", {"priority": 299}), ("b", {"priority": 298}))
    assert netpath.free_priority_below(taken, 300) == 297
    assert netpath.free_priority_below(nsg(), 100) == 100


def test_registry_names():
    assert netpath.privatelink_zone() == "privatelink.azurecr.io"
    assert netpath.privatelink_zone(".azurecr.cn") == "privatelink.azurecr.cn"
    assert netpath.data_endpoint("MyAcr", "West Europe") == "myacr.westeurope.data.azurecr.io"
    assert netpath.record_name("myacr.eastus.data.azurecr.io") == "myacr.eastus.data"
    assert netpath.record_name("MyAcr.azurecr.io.") == "myacr"
    assert netpath.is_private("10.0.2.5") and not netpath.is_private("20.1.2.3")
    assert not netpath.is_private("10.0.0.0/8")


# -- the probe script and its answers -------------------------------------------------------------------
def test_probe_script_is_posix_shell_and_quotes_its_input():
    script = probe_script("myacr.azurecr.io", ["myacr.azurecr.io", "myacr.eastus.data.azurecr.io"])
    assert "HOSTS='myacr.azurecr.io myacr.eastus.data.azurecr.io'" in script
    if shutil.which("sh"):
        assert subprocess.run(["sh", "-n"], input=script, text=True, check=False).returncode == 0


def test_probe_script_runs_and_parses():
    """The script as a pod runs it, here; also inside tests/netns.sh, where only loopback exists and getent's
    ahostsv4 answers nothing (AI_ADDRCONFIG), so the script's ahosts fallback is what resolves."""
    if not (shutil.which("sh") and shutil.which("getent")):
        pytest.skip("the probe script needs a POSIX shell and getent, which this machine lacks")
    known = subprocess.run(["getent", "ahosts", "localhost"], capture_output=True, text=True, check=False).stdout
    ipv4 = sorted({line.split()[0] for line in known.splitlines() if re.fullmatch(r"[0-9.]+", line.split()[0])})
    if not ipv4:
        pytest.skip("localhost has no IPv4 address in this machine's hosts database")
    out = subprocess.run(["sh"], input=probe_script("localhost", ["localhost"]), text=True, capture_output=True,
                         timeout=60, check=False).stdout
    answers = parse_probe(out)
    assert answers["dns"]["localhost"] == ipv4
    assert set(answers["tcp"]["localhost"].values()) <= {"open", "closed", "untested"}


def test_parse_probe():
    logs = ("noise\nacrpull-probe dns myacr.azurecr.io 10.0.2.5 \nacrpull-probe tcp myacr.azurecr.io 10.0.2.5 "
            "closed\nacrpull-probe dns myacr.eastus.data.azurecr.io \nacrpull-probe http myacr.azurecr.io 403 "
            "52.160.40.7\n")
    assert parse_probe(logs) == {"dns": {"myacr.azurecr.io": ["10.0.2.5"], "myacr.eastus.data.azurecr.io": []},
                                 "tcp": {"myacr.azurecr.io": {"10.0.2.5": "closed"}},
                                 "http": {"myacr.azurecr.io": {"status": "403", "clientIp": "52.160.40.7"}}}


# -- private DNS through custom DNS servers (the net-hub-spoke world, through the in-memory reader) ------------------
def dns_world(dns_servers, linked):
    """The net-hub-spoke-healthy scenario's world (the e2e tests' own): the spoke's VNet uses ``dns_servers``, and the
    privatelink zone stays linked only to the VNets named in ``linked`` ("hub", "spoke"). Returns the cluster's facts
    and the VNets' ids by name."""
    from tests.simulator.facts import world_facts
    from tests.simulator.scenarios.network import hub_and_spoke
    from tests.simulator.tenant import populate
    w = hub_and_spoke("unit-dns")
    vnets = {r["name"].split("-")[0]: r for r in w.arm.values()
             if (r.get("type") or "").lower() == "microsoft.network/virtualnetworks"}
    vnets["spoke"]["properties"]["dhcpOptions"]["dnsServers"] = list(dns_servers)
    keep = {vnets[name]["id"].lower() for name in linked}
    for key, resource in list(w.arm.items()):
        if "/virtualnetworklinks/" in key and resource["properties"]["virtualNetwork"]["id"].lower() not in keep:
            del w.arm[key]
    return world_facts(populate(w), registry=("name", "myacr")), {n: v["id"] for n, v in vnets.items()}


def dns_finding(facts):
    chk = next(c for c in catalog() if c.check_id == "private-dns-link")
    return chk.func(chk, facts)[0]


def test_custom_dns_in_a_peered_hub_resolves_through_the_hubs_link():
    facts, vnets = dns_world(["10.0.0.36"], linked=["hub"])
    passed = dns_finding(facts)
    assert passed.status == "Pass" and "custom DNS servers 10.0.0.36" in passed.message
    assert passed.evidence["resolverVnetId"] == vnets["hub"]
    facts, vnets = dns_world(["10.0.0.36"], linked=["spoke"])
    failed = dns_finding(facts)
    assert failed.status == "Fail" and "-v {}".format(vnets["hub"]) in failed.remediation


def test_custom_dns_outside_the_known_vnets_is_a_warning():
    found = dns_finding(dns_world(["192.168.10.4"], linked=["spoke"])[0])
    assert found.status == "Warning" and "192.168.10.4" in found.message
    assert "168.63.129.16" in found.remediation


def test_azure_dns_address_counts_as_no_custom_dns():
    facts, vnets = dns_world(["168.63.129.16"], linked=["spoke"])
    found = dns_finding(facts)
    assert found.status == "Pass" and found.evidence["resolverVnetId"] == vnets["spoke"]


# -- Azure Firewall rules (B.fqdn) -------------------------------------------------------------------------------
from azext_acrpull.diagnose.netpath import (  # noqa: E402
    ALLOWED,
    DENIED,
    UNKNOWN,
    firewall_collections,
    firewall_decision,
    fqdn_covers,
)

NODES = ["10.1.0.0/22"]
LOGIN = {"host": "myacr.azurecr.io", "ip": None, "tags": ["AzureContainerRegistry", "AzureContainerRegistry.eastus"]}
BLOBS = {"host": "*.blob.core.windows.net", "ip": None, "tags": ["Storage", "Storage.eastus"]}


def _app(name, fqdns, sources=("*",), tags=()):
    return {"ruleType": "ApplicationRule", "name": name, "protocols": [{"protocolType": "Https", "port": 443}],
            "targetFqdns": list(fqdns), "fqdnTags": list(tags), "sourceAddresses": list(sources)}


def _net(name, destinations, sources=("*",), ports=("443",), **extra):
    return dict({"ruleType": "NetworkRule", "name": name, "ipProtocols": ["TCP"], "sourceAddresses": list(sources),
                 "destinationAddresses": list(destinations), "destinationPorts": list(ports)}, **extra)


def _group(name, priority, *collections):
    return {"name": name, "properties": {"priority": priority, "ruleCollections": [
        {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": n, "priority": p, "action": {"type": a},
         "rules": rules} for n, p, a, rules in collections]}}


def _decide(groups, need, base=(), ip_groups=None):
    policies = ([{"name": "base", "groups": list(base)}] if base else []) + [{"name": "child", "groups": groups}]
    return firewall_decision(firewall_collections(policies), need, NODES, ip_groups)[0]


@pytest.mark.parametrize("pattern, host, covered", [
    ("*", "myacr.azurecr.io", True), ("myacr.azurecr.io", "myacr.azurecr.io", True),
    ("*.azurecr.io", "myacr.azurecr.io", True), ("*azurecr.io", "myacr.azurecr.io", True),
    ("other.azurecr.io", "myacr.azurecr.io", False), ("*.azurecr.io", "azurecr.io", False),
    ("*.blob.core.windows.net", "*.blob.core.windows.net", True),
    ("*.core.windows.net", "*.blob.core.windows.net", True),
    ("acct.blob.core.windows.net", "*.blob.core.windows.net", False), ("*.file.core.windows.net",
                                                                        "*.blob.core.windows.net", False),
])
def test_fqdn_patterns(pattern, host, covered):
    assert fqdn_covers(pattern, host) is covered


def test_login_only_denies_the_data_path():
    groups = [_group("g", 100, ("allow", 100, "Allow", [_app("login", ["myacr.azurecr.io"], NODES)]))]
    assert (_decide(groups, LOGIN), _decide(groups, BLOBS)) == (ALLOWED, DENIED)


def test_fqdn_tags_never_hold_a_customer_registry():
    groups = [_group("g", 100, ("aks", 100, "Allow", [_app("aks", [], NODES, tags=["AzureKubernetesService"])]))]
    assert _decide(groups, LOGIN) == DENIED


def test_service_tags_and_ports_in_network_rules():
    allow = [_group("g", 100, ("tags", 100, "Allow", [_net("acr", ["AzureContainerRegistry"]),
                                                       _net("st", ["Storage.eastus"])]))]
    assert (_decide(allow, LOGIN), _decide(allow, BLOBS)) == (ALLOWED, ALLOWED)
    wrong_port = [_group("g", 100, ("tags", 100, "Allow", [_net("acr", ["AzureContainerRegistry"], ports=["80"])]))]
    assert _decide(wrong_port, LOGIN) == DENIED
    other_source = [_group("g", 100, ("tags", 100, "Allow", [_net("acr", ["*"], sources=["192.168.0.0/16"])]))]
    assert _decide(other_source, LOGIN) == DENIED


def test_network_rules_before_application_rules_and_priority_order():
    groups = [_group("late", 500, ("allow-app", 100, "Allow", [_app("login", ["myacr.azurecr.io"])])),
              _group("early", 100, ("deny-all", 100, "Deny", [_net("all", ["*"], ports=["*"])]))]
    assert _decide(groups, LOGIN) == DENIED
    groups = [_group("g", 100, ("deny", 200, "Deny", [_app("x", ["*.azurecr.io"])]),
                     ("allow", 100, "Allow", [_app("y", ["myacr.azurecr.io"])]))]
    assert _decide(groups, LOGIN) == ALLOWED


def test_a_base_policy_decides_before_its_child():
    base = [_group("org", 65000, ("deny", 65000, "Deny", [_app("x", ["*.azurecr.io"])]))]
    child = [_group("g", 100, ("allow", 100, "Allow", [_app("y", ["myacr.azurecr.io"])]))]
    assert _decide(child, LOGIN, base=base) == DENIED


def test_ip_groups_resolve_or_stay_unknown():
    gid = "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/ipgroups/nodes"
    groups = [_group("g", 100, ("allow", 100, "Allow", [dict(_app("y", ["myacr.azurecr.io"], sources=[]),
                                                             sourceIpGroups=[gid])]))]
    assert _decide(groups, LOGIN, ip_groups={gid: ["10.1.0.0/16"]}) == ALLOWED
    assert _decide(groups, LOGIN, ip_groups={gid: ["192.168.0.0/16"]}) == DENIED
    assert _decide(groups, LOGIN, ip_groups={gid: None}) == UNKNOWN
    dest = [_group("g", 100, ("allow", 100, "Allow", [_net("pe", [], destinationIpGroups=[gid])]))]
    private = {"host": "myacr.azurecr.io", "ip": "10.1.2.5", "tags": []}
    assert _decide(dest, private, ip_groups={gid: ["10.1.2.0/24"]}) == ALLOWED
    assert _decide(dest, LOGIN, ip_groups={gid: ["10.1.2.0/24"]}) == UNKNOWN   # a public name is not an address


def test_classic_rules_are_read_too():
    classic = {"applicationRuleCollections": [{"name": "c", "properties": {"priority": 100, "action": {"type": "Allow"},
                                                                          "rules": [_app("r", ["*.azurecr.io"])]}}]}
    collections = firewall_collections((), classic)
    assert firewall_decision(collections, LOGIN, NODES)[0] == ALLOWED
    assert firewall_decision(collections, BLOBS, NODES)[0] == DENIED


@given(st.lists(st.sampled_from(["myacr.azurecr.io", "*.azurecr.io", "*.blob.core.windows.net", "*", "x.io"]),
                max_size=4), st.sampled_from(["Allow", "Deny"]))
def test_a_deny_collection_never_lets_anything_through(fqdns, action):
    groups = [_group("g", 100, ("c", 100, action, [_app("r", fqdns)]))]
    for need in (LOGIN, BLOBS):
        verdict = _decide(groups, need)
        assert verdict in (ALLOWED, DENIED)
        if action == "Deny":
            assert verdict == DENIED
