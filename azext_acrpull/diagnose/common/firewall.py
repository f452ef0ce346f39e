"""B.fqdn: an Azure Firewall on the egress route, judged by its rules. Helpers of ``egress-path`` (no check here).

A pull needs two kinds of hosts: the login server (tokens, manifests) and the data path (the registry's data
endpoints in every region it lives in, or ``*.blob.core.windows.net`` without dedicated data endpoints). A firewall
that lets only the login server through is the classic ``B.fqdn``: auth works, the layer download fails.
"""
from ..facts import FactError
from ..ids import id_name, parse_resource_id
from ..netpath import ALLOWED, DENIED, UNKNOWN, firewall_collections, firewall_decision, public_tags

BLOB_HOSTS = "*.blob.core.windows.net"


def _p(resource):
    return (resource or {}).get("properties") or {}


def needs(registry, hosts, dedicated, private_addresses, region, regions):
    """The destinations a pull needs through the firewall: ``{"host", "ip", "tags", "role"}`` (role: login or data).

    ``private_addresses``: {host: [ip]} when the route carries private endpoint addresses, else None."""
    login = (_p(registry).get("loginServer") or "").lower()
    found = []
    if private_addresses is not None:
        for host, ips in private_addresses.items():
            for ip in ips:
                found.append({"host": host, "ip": ip, "tags": [], "role": "login" if host == login else "data"})
        return found
    found.append({"host": login, "ip": None, "tags": public_tags("AzureContainerRegistry", region), "role": "login"})
    if dedicated:
        for host in hosts:
            if host != login:
                where = host.split(".")[1] if host.count(".") >= 4 else region
                found.append({"host": host, "ip": None, "role": "data",
                              "tags": ["AzureContainerRegistry", "AzureContainerRegistry." + where, "AzureCloud",
                                       "AzureCloud." + where]})
    else:
        tags = ["Storage", "AzureCloud"] + ["Storage." + r for r in regions] + ["AzureCloud." + r for r in regions]
        found.append({"host": BLOB_HOSTS, "ip": None, "tags": tags, "role": "data"})
    return found


def judge(facts, firewall, wanted, sources):
    """The firewall's verdict on the pull's destinations: a dict with ``status`` (ALLOWED, DENIED: the login server
    or the data path is refused, UNKNOWN: the rules could not be read or compared), the hosts refused and allowed,
    and the rule that decided each."""
    try:
        rules = facts.firewall_rules(firewall)
    except FactError as err:
        return {"status": UNKNOWN, "reason": "its rules could not be read: {}".format(err.reason.rstrip("."))}
    collections = firewall_collections(rules["policies"], rules["classic"])
    decisions = []
    for need in wanted:
        verdict, words = firewall_decision(collections, need, sources, rules["ipGroups"])
        decisions.append({"host": need["host"], "ip": need["ip"], "role": need["role"], "verdict": verdict,
                          "rule": words})
    denied = [d for d in decisions if d["verdict"] == DENIED]
    unknown = [d for d in decisions if d["verdict"] == UNKNOWN]
    result = {"decisions": decisions, "policies": [p["id"] for p in rules["policies"]],
              "denied": list(dict.fromkeys(d["host"] for d in denied)),
              "allowed": list(dict.fromkeys(d["host"] for d in decisions if d["verdict"] == ALLOWED))}
    if denied:
        result["status"] = DENIED
    elif unknown:
        result.update(status=UNKNOWN, reason="{} cannot be judged for {}".format(unknown[0]["rule"],
                                                                                unknown[0]["host"]))
    else:
        result["status"] = ALLOWED
    return result


def words(firewall, result):
    """What the firewall does to the pull, in a sentence fragment."""
    name = "Azure Firewall {} at {}".format(firewall["name"], firewall["privateIp"])
    denied = [d for d in result["decisions"] if d["verdict"] == DENIED]
    login_denied = any(d["role"] == "login" for d in denied)
    data_denied = any(d["role"] == "data" for d in denied)
    data_allowed = any(d["role"] == "data" and d["verdict"] == ALLOWED for d in result["decisions"])
    first = denied[0]["rule"]
    if not login_denied:
        return ("{} allows the login server but not the data path ({}): tokens and manifests get through, the layer "
                "downloads do not; {}".format(name, ", ".join(d["host"] for d in denied), first))
    if data_denied or not data_allowed:
        return "{} allows neither the login server nor the data path ({}); {}".format(
            name, ", ".join(result["denied"]), first)
    return "{} does not allow the login server {}; {}".format(name, denied[0]["host"], first)


def fix(facts, firewall, registry, result, sources, private):
    """The command that adds an allow rule for the refused hosts (or addresses) to the firewall's policy, or to its
    classic rules."""
    hosts = result["denied"]
    ips = sorted({d["ip"] for d in result["decisions"] if d["verdict"] == DENIED and d["ip"]})
    policies = result.get("policies") or []
    if policies:
        rid = parse_resource_id(policies[-1])
        groups = facts.firewall_rules(firewall)["policies"][-1]["groups"]
        group = sorted(groups, key=lambda g: int(_p(g).get("priority") or 65000))[0]["name"] if groups else None
        used = {int(c.get("priority") or 0) for g in groups if g.get("name") == group
                for c in _p(g).get("ruleCollections") or []}
        priority = next(p for p in range(100, 65001) if p not in used)
        create = "" if group else ("az network firewall policy rule-collection-group create -g {0} --policy-name {1} "
                                   "-n allow-container-registry --priority 200 && ".format(rid.resource_group,
                                                                                           rid.name))
        group = group or "allow-container-registry"
        common = "az network firewall policy rule-collection-group collection add-filter-collection -g {} " \
                 "--policy-name {} --rule-collection-group-name {} --name allow-{} --collection-priority {} " \
                 "--action Allow --rule-name {}-443 --source-addresses {}".format(
                     rid.resource_group, rid.name, group, registry["name"], priority, registry["name"],
                     " ".join(sources))
        if private and ips:
            return create + common + " --rule-type NetworkRule --ip-protocols TCP --destination-ports 443 " \
                                     "--destination-addresses {}".format(" ".join(ips))
        return create + common + " --rule-type ApplicationRule --protocols Https=443 --target-fqdns {}".format(
            " ".join(hosts))
    rid = parse_resource_id(firewall["id"])
    common = "-g {} -f {} --collection-name allow-{} --priority 200 --action Allow --source-addresses {}".format(
        rid.resource_group, rid.name, registry["name"], " ".join(sources))
    if private and ips:
        return "az network firewall network-rule create {} -n {}-443 --protocols TCP --destination-addresses {} " \
               "--destination-ports 443".format(common, registry["name"], " ".join(ips))
    return "az network firewall application-rule create {} -n {}-https --protocols Https=443 --target-fqdns {}".format(
        common, registry["name"], " ".join(hosts))


def policy_words(firewall):
    return "firewall policy {} of Azure Firewall {}".format(id_name(firewall["policy"]), firewall["name"]) \
        if firewall.get("policy") else "Azure Firewall {}".format(firewall["name"])
