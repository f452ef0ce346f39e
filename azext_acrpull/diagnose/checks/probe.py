"""S0.checkacr: one look from inside the cluster (only with --probe): the registry's hosts resolve to the expected
addresses and answer on 443."""
from ..common.network import private_path, public_consequence, public_path, registry_hosts
from ..common.registry import none_found, per_registry, registry_target
from ..findings import FAIL, PASS, SKIPPED, check
from ..netpath import is_private


@check("cluster-pull-probe", "S0.checkacr", "From inside the cluster, the registry resolves and answers on 443",
       "Only with --probe: through AKS run command (works for private clusters, needs no kubectl and no privileged "
       "pod) resolves the login server and data endpoints from a pod, opens TCP 443 to each address, and compares "
       "the answers with the private endpoint's IPs.", groups=("network",),
       needs=("cluster_egress", "cluster_probe", "cluster_vnet_ids", "dns_record", "dns_zone_links", "network_resource",
              "node_subnets", "private_api_server", "private_dns_zones", "probe_enabled", "registries",
              "registry_endpoints", "registry_lookups", "registry_replications"))
def cluster_pull_probe(chk, facts):
    if not facts.probe_enabled():
        return [chk.finding("cluster {}".format(facts.cluster_name), SKIPPED,
                            "The probe starts a pod in the cluster through AKS run command, so it runs only when "
                            "asked: az aks diagnose-pull run -g {} -n {} --checks cluster-pull-probe --probe".format(
                                facts.cluster_resource_group, facts.cluster_name))]
    return per_registry(chk, facts, _probe_one, none=none_found)




def _probe_one(chk, facts, registry):
    target, name = registry_target(registry), registry["name"]
    view = private_path(facts, registry)
    hosts = list(view.hosts or registry_hosts(facts, registry))
    login = hosts[0]
    probe = facts.cluster_probe(login, hosts)
    answers = probe["answers"]
    endpoint = view.endpoint
    private_note = " The cluster's API server is private; run command reaches the cluster through ARM." \
        if facts.private_api_server() else ""
    evidence = {"runCommandId": probe["run"]["id"], "exitCode": probe["run"]["exitCode"], "command": probe["script"],
                "answers": answers, "expected": {h: endpoint["addresses"].get(h) for h in hosts} if endpoint else None}
    problems, fixes, resolved_public = [], [], False
    for host in hosts:
        got = answers["dns"].get(host)
        want = endpoint["addresses"].get(host) if endpoint else None
        if not got:
            problems.append("{} does not resolve".format(host))
            continue
        if want and sorted(got) != sorted(want):
            kind = "public" if not any(is_private(ip) for ip in got) else "other"
            resolved_public = resolved_public or kind == "public"
            problems.append("{} resolves to {} ({} address) instead of the private endpoint's {}".format(
                host, ", ".join(got), kind, ", ".join(want)))
        closed = [ip for ip, state in answers["tcp"].get(host, {}).items() if state == "closed"]
        if closed:
            problems.append("TCP 443 to {} ({}) does not open".format(", ".join(closed), host))
    http = answers["http"].get(login) or {}
    refused = http.get("status") == "403"
    if refused:
        client = http.get("clientIp")
        problems.append("{}/v2/ answers 403 Forbidden{}".format(
            login, " to client IP {}".format(client) if client else ""))
        if client and not endpoint:
            fixes.append("az acr network-rule add --name {} --ip-address {}".format(name, client))
    if problems:
        fixes = fixes or ["az aks diagnose-pull check-network -g {} -n {} --acr {}{}".format(
            facts.cluster_resource_group, facts.cluster_name, name,
            " --checks private-dns-link vnet-peering egress-path" if endpoint else "")]
        # A registry that takes the cluster's public path takes a pull that went to its public address.
        why_public = public_path(facts, registry) if resolved_public and not refused else None
        if why_public:
            evidence["publicPath"] = True
        consequence = " ({})".format(public_consequence(registry, why_public)) if why_public else ""
        return chk.finding(target, FAIL, "From a pod in the cluster (AKS run command {}): {}{}.{}".format(
            probe["run"]["id"], "; ".join(problems), consequence, private_note), " && ".join(fixes),
            problems=problems, **evidence)
    return chk.finding(target, PASS, "From a pod in the cluster (AKS run command {}): {} resolve{} to {} and TCP "
                       "443 opens{}.{}".format(probe["run"]["id"], ", ".join(hosts), "" if len(hosts) > 1 else "s",
                                               ", ".join(sorted(
                           {ip for h in hosts for ip in answers["dns"].get(h) or []})),
                           ", matching private endpoint " + endpoint["name"] if endpoint else "", private_note),
                       **evidence)
