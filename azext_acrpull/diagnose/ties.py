"""What ties a principal to one cluster: the evidence C1.S3 needs before it calls a pull role "left with an identity
this cluster used before".

A registry's pull roles are held by many principals in a real tenant (CI pipelines, apps, other clusters, people,
groups, orphaned assignments). Only these tie one of them to a cluster:

- ``identifierUri``: an identifier URI, service principal name or home page in the form `az aks create` gives the
  service principal it makes for a cluster, ``https://<salt>.<dnsPrefix>.<location>.cloudapp.azure.com``, with this
  cluster's DNS prefix (and location).
- ``displayName``: the display name is the cluster's name (what `az aks create` names that service principal), or
  the cluster's name with a service principal suffix (sp, spn, principal, serviceprincipal, app, identity, aad) and
  optional version or date parts: ``aks1-sp``, ``aks1_spn_2024``, ``aks1-sp-old``.
- ``replacedCredentials`` (service-principal clusters): the display name begins with the cluster's name and a
  separator, and the principal got no credential after the cluster's current service principal got its newest
  one: every password or certificate credential it holds started before that, so the cluster moved on from it.
- ``formerKubeletIdentity`` (managed-identity clusters): a managed identity's service principal whose
  ``alternativeNames`` name the resource id of the cluster's kubelet identity, with another object id: the
  identity was deleted and recreated under the same name in the node resource group.
- ``recordedForKubeletIdentity`` (managed-identity clusters): a node pool's scale set records this principal id for
  the kubelet identity's resource id (``identity.userAssignedIdentities[...].principalId``), and the cluster's
  profile names another one: the principal the identity had before it was recreated.

Pure functions: the check gathers the objects and passes them in.
"""
import re
from urllib.parse import urlsplit

from .credentials import parse_time

SP_SUFFIXES = ("sp", "spn", "principal", "serviceprincipal", "service-principal", "app", "identity", "aad")
VERSION_PARTS = r"(?:v?\d+|old|prev|previous|legacy|orig|original|backup)"
SEPARATOR = r"[-_. ]"


def _uris(obj):
    found = list(obj.get("identifierUris") or []) + list(obj.get("servicePrincipalNames") or [])
    for value in (obj.get("homepage"), (obj.get("web") or {}).get("homePageUrl")):
        if value:
            found.append(value)
    return [u for u in found if isinstance(u, str)]


def uri_tie(obj, dns_prefix, location=None):
    """The URI of ``obj`` in `az aks create`'s form for this DNS prefix, or None."""
    prefix = (dns_prefix or "").lower()
    if not prefix:
        return None
    for uri in _uris(obj):
        host = (urlsplit(uri).hostname or "").lower() if "://" in uri else ""
        labels = host.split(".")
        if len(labels) >= 4 and labels[1] == prefix and (not location or labels[2] == location.lower()):
            return uri
    return None


def name_tie(display_name, cluster_name):
    """Is ``display_name`` the cluster's name, alone or with a service principal suffix and version parts?"""
    name = (display_name or "").strip()
    cluster = (cluster_name or "").strip()
    if not name or not cluster:
        return False
    suffixes = "|".join(re.escape(s) for s in SP_SUFFIXES)
    pattern = r"{}(?:{}+(?:{}))?(?:{}+{})*".format(re.escape(cluster), SEPARATOR, suffixes, SEPARATOR, VERSION_PARTS)
    return re.fullmatch(pattern, name, flags=re.IGNORECASE) is not None


def begins_with_cluster(display_name, cluster_name):
    name, cluster = (display_name or "").lower(), (cluster_name or "").lower()
    return bool(cluster) and len(name) > len(cluster) + 1 and name.startswith(cluster) and \
        re.match(SEPARATOR, name[len(cluster)]) is not None


def credential_starts(*credential_lists):
    starts = []
    for creds in credential_lists:
        for cred in creds or ():
            if isinstance(cred, dict):
                start = parse_time(cred.get("startDateTime"))
                if start:
                    starts.append(start)
    return starts


def replaced(old_starts, current_starts):
    """Did the principal get no credential after the current service principal got its newest? (Both lists of
    start datetimes; with nothing to compare, no.)"""
    if not old_starts or not current_starts:
        return False
    return max(old_starts) < max(current_starts)


def alternative_resource_ids(obj):
    """The Azure resource ids a managed identity's service principal names in ``alternativeNames``."""
    return [n for n in obj.get("alternativeNames") or [] if isinstance(n, str) and n.lower().startswith(
        "/subscriptions/")]


def recorded_principals(scale_sets, resource_id):
    """{principal id (lower): scale set id} that node pool scale sets record for this user-assigned identity."""
    found = {}
    for vmss in scale_sets or ():
        assigned = ((vmss.get("identity") or {}).get("userAssignedIdentities") or {})
        for rid, entry in assigned.items():
            if rid.lower() == (resource_id or "").lower() and isinstance(entry, dict) and entry.get("principalId"):
                found.setdefault(entry["principalId"].lower(), vmss.get("id"))
    return found


def ties(obj, cluster, current, current_starts=()):
    """The evidence in the directory object ``obj`` (a service principal; with its application's credentials under
    ``application`` when read) that ties it to ``cluster``: a list of {"kind", "detail"}, empty when none.

    ``cluster``: {"name", "dnsPrefix", "location"}; ``current``: the cluster's pull identity ({"kind", "objectId",
    "resourceId"}); ``current_starts``: start datetimes of the current service principal's credentials."""
    found = []
    obj = obj or {}
    principal_id = obj.get("id") or ""
    managed = current.get("kind") == "kubeletIdentity"
    if (obj.get("@odata.type") or "").endswith("servicePrincipal"):
        kind = obj.get("servicePrincipalType")
        if kind == "ManagedIdentity":
            if managed:
                for rid in alternative_resource_ids(obj):
                    if rid.lower() == (current.get("resourceId") or "").lower() and \
                            principal_id.lower() != (current.get("objectId") or "").lower():
                        found.append({"kind": "formerKubeletIdentity", "detail": rid})
        else:
            uri = uri_tie(obj, cluster.get("dnsPrefix"), cluster.get("location"))
            if uri:
                found.append({"kind": "identifierUri", "detail": uri})
            if name_tie(obj.get("displayName"), cluster.get("name")):
                found.append({"kind": "displayName", "detail": obj.get("displayName")})
            elif not managed and begins_with_cluster(obj.get("displayName"), cluster.get("name")) and replaced(
                    credential_starts(obj.get("passwordCredentials"), obj.get("keyCredentials"),
                                      (obj.get("application") or {}).get("passwordCredentials"),
                                      (obj.get("application") or {}).get("keyCredentials")), current_starts):
                found.append({"kind": "replacedCredentials", "detail": obj.get("displayName")})
    return found


def recorded_tie(principal_id, recorded, current):
    """The scale set recording ``principal_id`` for the kubelet identity, when the cluster's profile names another."""
    if current.get("kind") != "kubeletIdentity":
        return None
    low = (principal_id or "").lower()
    if low == (current.get("objectId") or "").lower():
        return None
    return (recorded or {}).get(low)


def name_keys(display_name):
    """The display name and each of its leading parts that ends at a separator ("aks1-sp-2024": "aks1",
    "aks1-sp", "aks1-sp-2024"), lower case: the keys under which a cluster's name finds it."""
    name = (display_name or "").strip().lower()
    keys = {name} if name else set()
    for m in re.finditer(SEPARATOR, name):
        if m.start():
            keys.add(name[:m.start()])
    return keys


def uri_keys(obj):
    """The DNS prefix position label of each URI host (``https://<salt>.<dnsPrefix>.<location>...``)."""
    keys = set()
    for uri in _uris(obj):
        labels = ((urlsplit(uri).hostname or "").lower() if "://" in uri else "").split(".")
        if len(labels) >= 4:
            keys.add(labels[1])
    return keys
