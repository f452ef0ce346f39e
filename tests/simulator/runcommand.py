"""AKS run command: `POST .../managedClusters/{name}/runCommand` answers 202 with a Location of
`.../commandResults/{id}`, whose GET returns the RunCommandResult (RunCommandRequest.json example,
2025-10-01). The command does not really run: the simulator answers the two kinds of command the
extension sends from the world's facts, as the cluster would see them.

- `kubectl get --raw '<path>'`: the object from the cluster's simulated API server.
- the `acrpull-probe` script: names resolved as Azure DNS does for the nodes' VNet (a registry with a
  private endpoint is a CNAME to `<name>.privatelink.azurecr.io`, answered by the privatelink zone
  linked to that VNet if there is one, else by the public record), TCP 443 to a private endpoint
  open only from the same VNet or through a peering Connected both ways (and not for addresses in
  ``world.blocked_addresses``), and /v2/ refused with 403 when the registry's firewall does not
  allow the egress IP (the load balancer's, the NAT gateway's, or the Azure Firewall's that the
  route table points to).
"""
import ipaddress
import json
import re
import shlex
import uuid

from .network_builders import public_address

PROBE = "acrpull-probe"


def _reply(*args, **kwargs):
    from .server import Reply
    return Reply(*args, **kwargs)


def run_command(req, world, path, low):
    base = low.rsplit("/", 1)[0]
    cluster = world.arm.get(base)
    if not cluster:
        from .arm import not_found
        return not_found(path)
    if (cluster["properties"].get("apiServerAccessProfile") or {}).get("disableRunCommand"):
        return _reply(400, {"error": {"code": "RunCommandDisabled",
                                      "message": "Run command is disabled for this cluster."}})
    command = req.json().get("command") or ""
    world.__dict__.setdefault("commands_run", []).append(command)   # for tests; not part of any answer
    logs, code, known = execute(world, cluster, command)
    command_id = uuid.uuid4().hex
    started = world.now_iso()
    world.arm["{}/commandresults/{}".format(base, command_id)] = {
        "id": command_id, "properties": {"provisioningState": "Succeeded", "exitCode": code, "startedAt": started,
                                         "finishedAt": world.now_iso(), "logs": logs, "reason": ""}}
    location = "https://management.azure.com{}/commandResults/{}?api-version={}".format(
        cluster["id"], command_id, req.query.get("api-version", "2026-06-01"))
    return _reply(202, None, {"Location": location, "Retry-After": "1"}, unknown=not known)


def execute(world, cluster, command):
    """(logs, exit code, understood) for a command run in ``cluster``."""
    if PROBE in command:
        return probe(world, cluster, command), 0, True
    words = shlex.split(command) if command.strip() else []
    if words[:3] == ["kubectl", "get", "--raw"] and len(words) == 4:
        return kubectl_raw(world, cluster, words[3])
    return "sh: the simulated cluster does not run: {}".format(command[:80]), 127, False


def kubectl_raw(world, cluster, target):
    from urllib.parse import parse_qsl, urlsplit

    from . import kube
    from .server import Request
    host = cluster["properties"]["fqdn"].lower()
    split = urlsplit(target)
    req = Request("GET", host, split.path, dict(parse_qsl(split.query)),
                  {"Authorization": "Bearer " + str(world.kube_tokens.get(host))}, b"", world)
    reply = kube.route(req)
    if reply.status == 200:   # kubectl get --raw prints the body as the API server sent it
        return (reply.raw.decode() if reply.raw is not None else json.dumps(reply.body, indent=2)), 0, True
    reason = (reply.body or {}).get("reason", "Unknown")
    return "Error from server ({}): {}".format(reason, (reply.body or {}).get("message", "")), 1, not reply.unknown


# -- the cluster's view of the network ---------------------------------------------------------------
def _props(resource):
    return (resource or {}).get("properties") or {}


def _of_type(world, kind):
    return [r for r in world.arm.values() if (r.get("type") or "").lower() == kind.lower()]


def cluster_subnet(world, cluster):
    for pool in cluster["properties"]["agentPoolProfiles"]:
        if pool.get("vnetSubnetID"):
            return pool["vnetSubnetID"]
    node_rg = cluster["properties"]["nodeResourceGroup"].lower()
    for vnet in _of_type(world, "Microsoft.Network/virtualNetworks"):
        if vnet["id"].lower().split("/")[4] == node_rg:
            return vnet["properties"]["subnets"][0]["id"]
    return None


def _vnet_of(subnet_id):
    return subnet_id[: subnet_id.lower().index("/subnets/")] if subnet_id else None


def _vnet_holding(world, ip):
    for vnet in _of_type(world, "Microsoft.Network/virtualNetworks"):
        for prefix in vnet["properties"]["addressSpace"]["addressPrefixes"]:
            if ipaddress.ip_address(ip) in ipaddress.ip_network(prefix):
                return vnet
    return None


def resolver_vnet(world, cluster):
    """The VNet whose Azure DNS view the nodes get: their own, or the one of their custom DNS server."""
    vnet = world.arm.get(_vnet_of(cluster_subnet(world, cluster)).lower())
    servers = [s for s in _props(vnet).get("dhcpOptions", {}).get("dnsServers") or [] if s != "168.63.129.16"]
    if servers:
        holder = _vnet_holding(world, servers[0])
        return holder["id"] if holder else None
    return vnet["id"]


def _endpoint_addresses(world, registry_id):
    """{fqdn: ip} of the registry's approved private endpoints."""
    found = {}
    for endpoint in _of_type(world, "Microsoft.Network/privateEndpoints"):
        conns = _props(endpoint).get("privateLinkServiceConnections") or []
        if any(_props(c).get("privateLinkServiceId", "").lower() == registry_id.lower() and
               _props(c)["privateLinkServiceConnectionState"]["status"] == "Approved" for c in conns):
            for config in _props(endpoint).get("customDnsConfigs") or []:
                found.setdefault(config["fqdn"].lower(), config["ipAddresses"][0])
    return found


def resolve(world, cluster, host):
    registry_id = world.registry_for_host(host) or world.registry_for_host(host.split(".")[0] + ".azurecr.io")
    if registry_id and _endpoint_addresses(world, registry_id):
        vnet_id = resolver_vnet(world, cluster)
        for link in _of_type(world, "Microsoft.Network/privateDnsZones/virtualNetworkLinks"):
            if vnet_id and _props(link)["virtualNetwork"]["id"].lower() == vnet_id.lower():
                zone_id = link["id"][: link["id"].lower().index("/virtualnetworklinks/")]
                if not zone_id.lower().endswith("/privatelink.azurecr.io"):
                    continue
                record = world.arm.get("{}/a/{}".format(zone_id, host[: -len(".azurecr.io")]).lower())
                return [a["ipv4Address"] for a in _props(record).get("aRecords") or []] if record else []
    return [public_address("host/" + host)] if registry_id else []


def _peered(world, a_id, b_id):
    a = world.arm.get(a_id.lower())
    return any(_props(p)["remoteVirtualNetwork"]["id"].lower() == b_id.lower() and
               _props(p)["peeringState"] == "Connected" and _props(p).get("allowVirtualNetworkAccess", True)
               for p in _props(a).get("virtualNetworkPeerings") or [])


def reachable(world, cluster, ip):
    if ip in (getattr(world, "blocked_addresses", None) or []):
        return False
    if not ipaddress.ip_address(ip).is_private:
        return True
    own = _vnet_of(cluster_subnet(world, cluster))
    target = _vnet_holding(world, ip)
    if target is None:
        return False
    return target["id"].lower() == own.lower() or (_peered(world, own, target["id"]) and
                                                    _peered(world, target["id"], own))


def egress_ip(world, cluster):
    """The address the registry sees: NAT gateway on the subnet, the managed NAT or load balancer outbound IP,
    or the public IP of the Azure Firewall the route table sends 0.0.0.0/0 to."""
    subnet = world.arm.get(cluster_subnet(world, cluster).lower())
    props, profile = _props(subnet), cluster["properties"]["networkProfile"]
    refs = []
    if props.get("natGateway"):
        refs = [p["id"] for p in _props(world.arm[props["natGateway"]["id"].lower()])["publicIpAddresses"]]
    elif profile.get("natGatewayProfile"):
        refs = [p["id"] for p in profile["natGatewayProfile"].get("effectiveOutboundIPs") or []]
    elif profile.get("loadBalancerProfile"):
        refs = [p["id"] for p in profile["loadBalancerProfile"].get("effectiveOutboundIPs") or []]
    elif props.get("routeTable"):
        table = world.arm[props["routeTable"]["id"].lower()]
        hop = next((_props(r).get("nextHopIpAddress") for r in _props(table)["routes"]
                    if _props(r)["addressPrefix"] == "0.0.0.0/0"), None)
        for firewall in _of_type(world, "Microsoft.Network/azureFirewalls"):
            for config in _props(firewall)["ipConfigurations"]:
                if _props(config)["privateIPAddress"] == hop:
                    refs = [_props(config)["publicIPAddress"]["id"]]
    for ref in refs:
        return _props(world.arm[ref.lower()]).get("ipAddress")
    return None


def http_status(world, cluster, login, address):
    """What GET https://<login>/v2/ answers the cluster: 401, or 403 from the registry's firewall."""
    if ipaddress.ip_address(address).is_private:
        return "401", ""
    registry = world.arm[world.registry_for_host(login).lower()]
    props = registry["properties"]
    client = egress_ip(world, cluster) or "0.0.0.0"
    rules = props.get("networkRuleSet") or {}
    allowed = [ipaddress.ip_network(r["value"], strict=False) for r in rules.get("ipRules") or []]
    if props.get("publicNetworkAccess") == "Disabled" or (rules.get("defaultAction") == "Deny" and not any(
            ipaddress.ip_address(client) in n for n in allowed)):
        return "403", client
    return "401", ""


def probe(world, cluster, script):
    hosts = shlex.split(re.search(r"^HOSTS=(.*)$", script, re.M).group(1))[0].split()
    login = shlex.split(re.search(r"^LOGIN=(.*)$", script, re.M).group(1))[0]
    lines = []
    for host in hosts:
        ips = resolve(world, cluster, host)
        lines.append("{} dns {} {}".format(PROBE, host, " ".join(ips)).rstrip() + " ")
        for ip in ips:
            lines.append("{} tcp {} {} {}".format(PROBE, host, ip, "open" if reachable(world, cluster, ip)
                                                  else "closed"))
    login_ips = resolve(world, cluster, login)
    if login_ips and reachable(world, cluster, login_ips[0]):
        code, client = http_status(world, cluster, login, login_ips[0])
    else:
        code, client = "000", ""
    lines.append("{} http {} {} {}".format(PROBE, login, code, client).rstrip())
    return "\n".join(lines) + "\n"
