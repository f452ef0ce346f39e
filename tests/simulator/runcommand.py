"""AKS run command: `POST .../managedClusters/{name}/runCommand` answers 202 with a Location of
`.../commandResults/{id}`, whose GET returns the RunCommandResult (RunCommandRequest.json example,
2025-10-01). The command does not really run: the simulator answers the two kinds of command the
extension sends from the world's facts, as the cluster would see them.

- `kubectl get --raw '<path>'`: the object from the cluster's simulated API server.
- `kubectl get pods` (``--all-namespaces`` or ``--namespace``, ``--field-selector``, names, ``--ignore-not-found``,
  ``-o json`` or ``-o jsonpath=<template>``: kubectl's jsonpath with missing keys allowed, ``range``/``end``,
  quoted literals and ``[*]``), in a small shell: ``&&`` lists (a command runs only when the one before exited 0),
  ``> file`` (stdout to a file of the command's pod) and ``awk`` (the real awk, run on such a file). The logs are
  stdout and stderr together.
- AKS returns at most 512 KB of a command's output (`az aks command invoke` documents the limit; which end is kept is
  not documented): the simulator keeps the first 512 KB, as a cut at the limit usually does.
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
import subprocess
import uuid

from .network_builders import public_address

PROBE = "acrpull-probe"
OUTPUT_LIMIT = 512 * 1024   # bytes of logs AKS run command returns


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
    logs = logs.encode()[:OUTPUT_LIMIT].decode("utf-8", "ignore")
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
    try:
        lists = and_lists(command)
    except ValueError:
        lists = None
    if not lists:
        return "sh: the simulated cluster does not run: {}".format(command[:80]), 127, False
    files, logs, code, known = {}, [], 0, True
    for words, target in lists:
        out, err, code, understood = _simple(world, cluster, words, files)
        known = known and understood
        if target is not None:
            files[target] = out
        else:
            logs.append(out)
        logs.append(err)
        if code != 0:
            break
    return "".join(logs), code, known


def and_lists(command):
    """[(words, file stdout goes to or None)] of ``a && b > f && c``; None for any other shell syntax."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="&|;<>()")
    lexer.whitespace_split = True
    tokens = list(lexer)
    commands, words, target, expect_file = [], [], None, False
    for token in tokens + ["&&"]:
        if expect_file:
            target, expect_file = token, False
        elif token == "&&":
            if not words:
                return None
            commands.append((words, target))
            words, target = [], None
        elif token == ">":
            expect_file = True
        elif token and set(token) <= set("&|;<>()"):
            return None
        else:
            words.append(token)
    return commands


def _simple(world, cluster, words, files):
    """(stdout, stderr, exit code, understood) of one command."""
    if words[:3] == ["kubectl", "get", "--raw"] and len(words) == 4:
        out, code, known = kubectl_raw(world, cluster, words[3])
        return (out, "", code, known) if code == 0 else ("", out, code, known)
    if words[:3] == ["kubectl", "get", "pods"]:
        return kubectl_get_pods(world, cluster, words[3:])
    if words[:1] == ["awk"] and len(words) == 3:
        if words[2] not in files:
            return "", "awk: cannot open {} (No such file or directory)\n".format(words[2]), 2, True
        done = subprocess.run(["awk", words[1]], input=files[words[2]], capture_output=True, text=True, timeout=60,
                              check=False)
        return done.stdout, done.stderr, done.returncode, True
    return "", "sh: 1: {}: not found\n".format(words[0] if words else ""), 127, False


def _kube(world, cluster, path, query=None):
    from . import kube
    from .server import Request
    host = cluster["properties"]["fqdn"].lower()
    return kube.route(Request("GET", host, path, dict(query or {}),
                              {"Authorization": "Bearer " + str(world.kube_tokens.get(host))}, b"", world))


def _server_error(reply):
    body = reply.body or {}
    return "Error from server ({}): {}\n".format(body.get("reason", "Unknown"), body.get("message", ""))


def kubectl_get_pods(world, cluster, args):
    """`kubectl get pods [names] [flags]` as kubectl prints it: (stdout, stderr, exit code, understood)."""
    namespace, every, selector, output, ignore, names = "default", False, None, None, False, []
    args = list(args)
    while args:
        arg = args.pop(0)
        flag, _, value = arg.partition("=")
        if arg in ("-A", "--all-namespaces"):
            every = True
        elif arg == "--ignore-not-found":
            ignore = True
        elif flag in ("-n", "--namespace", "--field-selector", "-o", "--output"):
            if not value:
                if not args:
                    return "", "error: flag needs an argument: {}\n".format(flag), 1, True
                value = args.pop(0)
            if flag in ("-n", "--namespace"):
                namespace = value
            elif flag == "--field-selector":
                selector = value
            else:
                output = value
        elif arg.startswith("-"):
            return "", "error: unknown flag: {}\n".format(flag), 1, False
        else:
            names.append(arg)
    if output != "json" and not (output or "").startswith("jsonpath="):
        return "", "error: the simulated kubectl prints only -o json and -o jsonpath\n", 1, False
    if names:
        if every:
            return "", "error: a resource cannot be retrieved by name across all namespaces\n", 1, True
        pods = []
        for name in names:
            reply = _kube(world, cluster, "/api/v1/namespaces/{}/pods/{}".format(namespace, name))
            if reply.status == 404 and ignore:
                continue
            if reply.status != 200:
                return "", _server_error(reply), 1, not reply.unknown
            pods.append(reply.body)
        single = len(names) == 1
    else:
        path = "/api/v1/pods" if every else "/api/v1/namespaces/{}/pods".format(namespace)
        reply = _kube(world, cluster, path, {"fieldSelector": selector} if selector else {})
        if reply.status != 200:
            return "", _server_error(reply), 1, not reply.unknown
        pods = [dict(p, kind="Pod", apiVersion="v1") for p in (reply.body or {}).get("items") or []]
        single = False
    if single and not pods:
        return "", "", 0, True
    listed = pods[0] if single else {"apiVersion": "v1", "items": pods, "kind": "List",
                                     "metadata": {"resourceVersion": ""}}
    if output == "json":
        return json.dumps(listed, indent=4) + "\n", "", 0, True
    try:
        return jsonpath(output[len("jsonpath="):], listed), "", 0, True
    except ValueError as err:
        return "", "error: error parsing jsonpath {}: {}\n".format(output[len("jsonpath="):], err), 1, True


# kubectl's jsonpath (k8s.io/client-go/util/jsonpath), the part of it commands use: text, {"literal"}, {.a.b[*].c},
# {range ...}...{end}; kubectl allows missing keys (they print nothing); several results print space-separated.
_TOKEN = re.compile(r'\{((?:"(?:[^"\\]|\\.)*"|[^}"])*)\}|([^{]+)')


def jsonpath(template, data):
    at, nodes, stack = 0, [], []
    current = nodes
    while at < len(template):
        m = _TOKEN.match(template, at)
        if not m:
            raise ValueError("unclosed action")
        at = m.end()
        if m.group(2) is not None:
            current.append(("text", m.group(2)))
            continue
        inner = m.group(1).strip()
        if inner.startswith("range "):
            block = []
            current.append(("range", inner[len("range "):].strip(), block))
            stack.append(current)
            current = block
        elif inner == "end":
            if not stack:
                raise ValueError("not in range, nothing to end")
            current = stack.pop()
        elif inner.startswith('"'):
            current.append(("text", json.loads(inner)))
        elif inner.startswith("."):
            current.append(("path", inner))
        else:
            raise ValueError("unrecognized identifier {}".format(inner))
    if stack:
        raise ValueError("unclosed range")
    out = []
    _render(nodes, data, out)
    return "".join(out)


def _render(nodes, data, out):
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "path":
            out.append(" ".join(v if isinstance(v, str) else json.dumps(v) for v in _select(node[1], data)))
        else:
            for item in _select(node[1], data):
                _render(node[2], item, out)


def _select(path, data):
    values = [data]
    for step in re.findall(r"\.([^.\[]+)|(\[\*\])", path):
        if step[1]:
            values = [v for value in values if isinstance(value, list) for v in value]
        else:
            values = [value[step[0]] for value in values if isinstance(value, dict) and step[0] in value]
    return values


def kubectl_raw(world, cluster, target):
    from urllib.parse import parse_qsl, urlsplit
    split = urlsplit(target)
    reply = _kube(world, cluster, split.path, parse_qsl(split.query))
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
