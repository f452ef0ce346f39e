"""What every real tenant has besides the clusters a scenario is about: the default backdrop of each world.

A company's tenant is never a lab: the account that runs az is Owner of the subscription, a CI pipeline pushes to
every registry, an App Service's managed identity and other teams' clusters pull from it, a group of engineers is
Contributor on the registry's resource group, a person is Owner, an assignment outlives its deleted principal, and
groups are nested. ``populate`` adds all of that to a world after its scenario built it, so every scenario also
proves that none of it turns into a false alarm. It models the tenant, never a scenario: it reads only what the
world holds (subscriptions and registries).

A scenario that truly needs a cleaner world names the parts it leaves out in ``World.quiet`` (with a comment saying
why); ``PARTS`` lists them.
"""
from datetime import timedelta

from .world import LOGIN_APP_ID, LOGIN_OBJECT_ID, guid, iso

# The parts of the backdrop, each one a kind of principal that holds roles in a real tenant.
PARTS = ("operator", "person", "ci", "app-identity", "other-clusters", "groups", "orphaned")

OTHER_CLUSTERS = (("rg-payments", "aks-payments", "eastus"), ("rg-data", "aks-data-01", "westeurope"))
PERSON = {"displayName": "Dana Whitfield", "givenName": "Dana", "surname": "Whitfield",
          "userPrincipalName": "dana.whitfield@contoso.com", "jobTitle": "Platform Lead"}
ENGINEER = {"displayName": "Arjun Mehta", "givenName": "Arjun", "surname": "Mehta",
            "userPrincipalName": "arjun.mehta@contoso.com", "jobTitle": "Site Reliability Engineer"}


def populate(world):
    """Add the tenant's usual principals and their roles to ``world`` (unless its ``quiet`` leaves them out)."""
    quiet = getattr(world, "quiet", None) or ()
    if quiet is True:
        return world
    unknown = set(quiet) - set(PARTS)
    if unknown:
        raise ValueError("unknown part(s) of the tenant backdrop: {}".format(", ".join(sorted(unknown))))
    want = [p for p in PARTS if p not in quiet]
    registries = [r for k, r in sorted(world.arm.items())
                  if r.get("type") == "Microsoft.ContainerRegistry/registries"]
    subscriptions = sorted(world.subs)
    home = registries[0]["id"].split("/")[2] if registries else subscriptions[0]
    person = _user(world, PERSON)
    engineer = _user(world, ENGINEER)
    if "operator" in want:
        _operator(world)
        for sub in subscriptions:
            world.assign("/subscriptions/" + sub, "Owner", LOGIN_OBJECT_ID)
    if "person" in want:
        for sub in subscriptions:
            world.assign("/subscriptions/" + sub, "Owner", person, principal_type="User")
    if "ci" in want:
        ci = _application(world, "contoso-ci-pipeline", days=200)
        for registry in registries:
            world.assign(registry["id"], "AcrPush", ci)
    if "app-identity" in want:
        world.resource_group("rg-webapps", subscription=home)
        app = world.user_assigned_identity("rg-webapps", "id-orders-web", subscription=home)
        for registry in registries:
            world.assign(registry["id"], "AcrPull", app["properties"]["principalId"])
    if "other-clusters" in want:
        # Other teams' clusters pull too; only their kubelet identities are here (their clusters are in
        # subscriptions this account does not read), so no scan counts them.
        for rg, name, location in OTHER_CLUSTERS:
            node_rg = "MC_{}_{}_{}".format(rg, name, location)
            world.resource_group(node_rg, location, home)
            kubelet = world.user_assigned_identity(node_rg, name + "-agentpool", location, home)
            for registry in registries:
                world.assign(registry["id"], "AcrPull", kubelet["properties"]["principalId"])
    if "groups" in want:
        oncall = _group(world, "sre-oncall", "People paged for production incidents", [engineer])
        platform = _group(world, "platform-engineers", "Platform engineering", [person, oncall])
        for registry in registries:
            world.assign(registry["id"].split("/providers/")[0], "Contributor", platform, principal_type="Group")
    if "orphaned" in want:
        # An assignment whose principal was deleted: Azure keeps it, the portal shows "Identity not found".
        for registry in registries:
            world.assign(registry["id"], "AcrPull", guid("deleted-principal/" + registry["id"].lower()),
                         created=world.created - timedelta(days=400))
    return world


def _user(world, person):
    users = world.graph.setdefault("users", [])
    oid = guid("user/" + person["userPrincipalName"])
    if not any(u["id"] == oid for u in users):
        users.append(dict(person, id=oid, mail=person["userPrincipalName"], businessPhones=[], mobilePhone=None,
                          officeLocation="Redmond", preferredLanguage="en-US"))
    return oid


def _group(world, name, description, members):
    groups = world.graph.setdefault("groups", [])
    oid = guid("grp/tenant/" + name)
    if not any(g["id"] == oid for g in groups):
        groups.append({"id": oid, "displayName": name, "description": description, "mailNickname": name,
                       "securityEnabled": True, "mailEnabled": False, "groupTypes": [],
                       "createdDateTime": iso(world.created - timedelta(days=700)), "members": list(members)})
    return oid


def _application(world, name, days):
    sp = world.service_principal(name, password_end=[world.created + timedelta(days=days + 270)])
    return sp["objectId"]


def _operator(world):
    """The service principal az is signed in as, as Graph shows it (the signed-in account is a real object)."""
    if any(s["id"] == LOGIN_OBJECT_ID for s in world.graph["servicePrincipals"]):
        return
    world.service_principal("platform-automation", app_id=LOGIN_APP_ID, object_id=LOGIN_OBJECT_ID,
                            password_end=[world.created + timedelta(days=500)])
