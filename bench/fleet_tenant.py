"""A generated tenant for the fleet benchmark: N clusters, N/10 registries, 10*N role assignments, 20 subscriptions.

Shaped like a platform team's estate: registries in a shared-services subscription (every tenth one private,
reached through a private endpoint in the hub VNet and the hub's privatelink zone), clusters spread round-robin
over the workload subscriptions, each with the kubelet identity (one in twenty with a service principal) holding
AcrPull on its registry, and the rest of the role assignments the noise a real tenant has: groups and users on
resource groups, subscriptions and other resources. A few clusters are broken the ways `fleet` looks for.

Clusters are made with the world's own builders, each in a scratch world merged into the tenant, so building
1,000 of them stays linear (the builders look through the world they are given).
"""
from datetime import datetime, timedelta, timezone

from tests.simulator import network_builders as nb
from tests.simulator.world import SUBSCRIPTION, World, guid

HUB = "10.0.0.0/16"
SHARED_REGISTRY = "contosoplatform"


def subscription_ids(count):
    return [SUBSCRIPTION] + [guid("bench-sub/{}".format(i)) for i in range(1, count)]


def _merge(into, part):
    into.arm.update(part.arm)
    for kind, objects in part.graph.items():
        into.graph.setdefault(kind, []).extend(objects)
    into.kube.update(part.kube)
    into.kube_tokens.update(part.kube_tokens)
    into.post_handlers.update(part.post_handlers)
    into.login_apps.update({k: v for k, v in part.login_apps.items() if k not in into.login_apps})


def generate(clusters=1000, registries=None, role_assignments=None, subscriptions=20, name=None):
    registries = registries or max(1, clusters // 10)
    role_assignments = clusters * 10 if role_assignments is None else role_assignments
    w = World(name or "fleet-{}".format(clusters))
    subs = subscription_ids(subscriptions)
    for i, sub in enumerate(subs):
        w.subs[sub] = "Contoso Workloads {:02d}".format(i) if i else "Contoso Shared Services"
        w.management_groups[sub] = ["contoso-platform" if i == 0 else "contoso-workloads", "contoso"]
    shared = subs[0]
    hub = nb.vnet(w, "rg-hub", "hub-vnet", [HUB], [{"name": "pe-subnet", "prefix": "10.0.0.0/22"}],
                  subscription=shared)
    zone = nb.private_dns_zone(w, "rg-dns", subscription=shared)
    nb.zone_link(w, zone, hub)
    regs = []
    for r in range(registries):
        private = r % 10 == 9
        registry = w.registry("contosoreg{:04d}".format(r), "rg-registries-{}".format(r % 5), subscription=shared,
                              publicNetworkAccess="Disabled" if private else "Enabled",
                              networkRuleSet={"defaultAction": "Deny" if r % 4 == 1 or private else "Allow",
                                              "ipRules": []})
        if private:
            login = registry["properties"]["loginServer"]
            addresses = {login: "10.0.{}.{}".format(r // 200, 4 + (r % 200)),
                         login.replace(".azurecr.io", ".eastus.data.azurecr.io"):
                             "10.0.{}.{}".format(2 + r // 200, 4 + (r % 200))}
            nb.private_endpoint(w, registry, nb.subnet_id(hub, "pe-subnet"), addresses, rg="rg-hub")
            nb.registry_records(w, zone, registry, addresses)
        regs.append(registry)

    now = datetime.now(timezone.utc)
    made = 0
    for c in range(clusters):
        sub = subs[1 + c % (len(subs) - 1)] if len(subs) > 1 else shared
        rg = "rg-app-{:03d}".format(c // 10)
        name = "aks-{:04d}".format(c)
        registry = regs[c % len(regs)]
        private = registry["properties"]["publicNetworkAccess"] == "Disabled"
        part = World(w.name)
        part.tenant_id = w.tenant_id
        part.subs = w.subs
        sp = None
        if c % 20 == 7:
            expired = c % 100 == 7
            sp = part.service_principal("{}-sp".format(name), password_end=[
                now + (timedelta(days=-3) if expired else timedelta(days=200))])
        pools = [{"name": "system", "mode": "System"}, {"name": "user", "mode": "User"}]
        if private:
            octet = 16 + c % 200
            spoke = nb.vnet(part, rg, name + "-vnet", ["10.{}.0.0/16".format(octet)],
                            [{"name": "nodes", "prefix": "10.{}.0.0/22".format(octet)}], subscription=sub)
            for pool in pools:
                pool["vnetSubnetID"] = nb.subnet_id(spoke, "nodes")
        cluster = part.cluster(name, rg, identity="sp" if sp else "managed", sp=sp, pools=pools, subscription=sub)
        _merge(w, part)
        if private:
            nb.peer_both(w, w.arm[spoke["id"].lower()], hub)
            if c % 50 != 19:                       # a few spokes lost their link to the zone
                nb.zone_link(w, zone, w.arm[spoke["id"].lower()])
        principal = sp["objectId"] if sp else cluster["properties"]["identityProfile"]["kubeletidentity"]["objectId"]
        if c % 100 != 42:                          # a few lost their pull role
            w.assign(registry["id"], "AcrPull", principal)
            made += 1
        if registry["properties"]["networkRuleSet"]["defaultAction"] == "Deny" and not private and c % 100 != 77:
            ref = cluster["properties"]["networkProfile"]["loadBalancerProfile"]["effectiveOutboundIPs"][0]["id"]
            registry["properties"]["networkRuleSet"]["ipRules"].append(
                {"action": "Allow", "value": w.arm[ref.lower()]["properties"]["ipAddress"]})

    # The noise: groups and users on resource groups, subscriptions and resources that are not registries.
    roles = ("Reader", "Contributor", "Owner", "AcrPush")
    k = 0
    while made < role_assignments:
        sub = subs[k % len(subs)]
        principal = guid("bench-principal/{}".format(k % 997))
        kind = k % 5
        if kind in (0, 1):
            scope = "/subscriptions/{}/resourceGroups/rg-app-{:03d}".format(sub, k % max(1, clusters // 10))
        elif kind == 2:
            scope = "/subscriptions/{}".format(sub)
        else:
            scope = "/subscriptions/{}/resourceGroups/rg-data-{}/providers/Microsoft.Storage/storageAccounts/" \
                    "stdata{:05d}".format(sub, k % 40, k)
        role = roles[k % 3] if kind != 4 else "Reader"
        w.assign(scope, role, principal, principal_type="Group" if k % 2 else "User", subscription=sub)
        made += 1
        k += 1
    return w


def generate_shared(clusters=1000, subscriptions=20, name=None):
    """One registry for every cluster: a platform team's shared registry in the shared-services subscription,
    on selected networks (its IP rules allow each cluster's outbound IP, except one cluster in ten), with AcrPull
    for each cluster's kubelet identity (except one in ten), and nine role assignments per cluster that have
    nothing to do with the registry (groups and users on the cluster's resource group and subscription, on
    storage accounts, and a few platform admins on the shared-services subscription)."""
    w = World(name or "fleet-shared-{}".format(clusters))
    subs = subscription_ids(subscriptions)
    for i, sub in enumerate(subs):
        w.subs[sub] = "Contoso Workloads {:02d}".format(i) if i else "Contoso Shared Services"
        w.management_groups[sub] = ["contoso-platform" if i == 0 else "contoso-workloads", "contoso"]
    shared = subs[0]
    registry = w.registry(SHARED_REGISTRY, "rg-registry", subscription=shared,
                          networkRuleSet={"defaultAction": "Deny", "ipRules": []})
    rules = registry["properties"]["networkRuleSet"]["ipRules"]
    pools = [{"name": "system", "mode": "System"}, {"name": "user", "mode": "User"}]
    for c in range(clusters):
        sub = subs[1 + c % (len(subs) - 1)] if len(subs) > 1 else shared
        rg = "rg-app-{:04d}".format(c // 10)
        name = "aks-{:05d}".format(c)
        part = World(w.name)
        part.tenant_id = w.tenant_id
        part.subs = w.subs
        cluster = part.cluster(name, rg, pools=[dict(p) for p in pools], subscription=sub)
        _merge(w, part)
        principal = cluster["properties"]["identityProfile"]["kubeletidentity"]["objectId"]
        if c % 10 != 6:                            # one in ten lost its pull role
            w.assign(registry["id"], "AcrPull", principal)
        if c % 10 != 3:                            # one in ten is not among the registry's allowed IPs
            ref = cluster["properties"]["networkProfile"]["loadBalancerProfile"]["effectiveOutboundIPs"][0]["id"]
            rules.append({"action": "Allow", "value": w.arm[ref.lower()]["properties"]["ipAddress"]})
        _noise(w, c, sub, shared, rg)
    return w


def _noise(w, c, sub, shared, rg):
    """Nine role assignments that do not touch the cluster's registry."""
    group = "/subscriptions/{}/resourceGroups/{}".format(sub, rg)
    storage = group + "/providers/Microsoft.Storage/storageAccounts/stapp{:05d}{}"
    who = [guid("bench-shared-principal/{}/{}".format(c, j)) for j in range(9)]
    w.assign(group, "Reader", who[0], principal_type="Group", subscription=sub)
    w.assign(group, "Contributor", who[1], principal_type="User", subscription=sub)
    if c % 100 == 0:                               # a platform admin on the shared-services subscription
        w.assign("/subscriptions/{}".format(shared), "Owner", who[2], principal_type="User", subscription=shared)
    else:
        w.assign("/subscriptions/{}".format(sub), "Reader", who[2], principal_type="User", subscription=sub)
    for j in range(3, 9):
        w.assign(storage.format(c, j % 3), ("Reader", "Contributor")[j % 2], who[j],
                 principal_type="Group" if j % 2 else "ServicePrincipal", subscription=sub)


def summary(world):
    counts = {}
    for res in world.arm.values():
        kind = (res.get("type") or "").lower()
        counts[kind] = counts.get(kind, 0) + 1
    return {"clusters": counts.get("microsoft.containerservice/managedclusters", 0),
            "registries": counts.get("microsoft.containerregistry/registries", 0),
            "roleAssignments": counts.get("microsoft.authorization/roleassignments", 0),
            "subscriptions": len(world.subs), "resources": len(world.arm)}
