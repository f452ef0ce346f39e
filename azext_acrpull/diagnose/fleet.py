"""`fleet`: the checks that Azure's resource facts decide, for every AKS cluster in scope at once.

After a registry firewall change, a role clean-up or a hub network change, the question is which clusters can no
longer pull, and why. Looping `run` costs dozens of requests per cluster; here the facts come from Azure Resource
Graph in a few paged queries (see ``facts/fleet.py``), and each cluster's checks are the very checks `run` uses,
fed from that bulk data. The number of requests grows with the number of result pages, not of clusters.
"""
from dataclasses import dataclass, field

from knack.log import get_logger

from .catalog import catalog, in_fleet
from .facts import FactError
from .findings import ERROR, FAIL, SKIPPED, STATUS_ORDER
from .ids import id_name, parse_resource_id
from .request import DiagnoseRequest
from .runner import run_checks, select_checks

logger = get_logger(__name__)

# A check that needs none of these judges the cluster alone: it runs for a cluster with no registry to check.
REGISTRY_FACTS = frozenset({"registry_lookups", "registries"})


def judges_cluster_alone(chk):
    return not chk.needs & REGISTRY_FACTS


def facts_read(checks):
    """Every fact the checks may ask for: what the run bulk-loads and prefetches."""
    return frozenset().union(*(c.needs | c.optional for c in checks))


class Tally:
    """What the stderr summary says about the findings, kept as they go by (they may be written out and dropped)."""

    def __init__(self):
        self.failing, self.erring = set(), set()
        self.failed_checks = {}   # check id -> ((cluster, its first failing finding), clusters failing it)
        self.first = None      # ((status order, cluster), cluster, finding): the first fix to try
        self.count = 0

    def add(self, cluster, finding):
        self.count += 1
        if finding.status == FAIL:
            self.failing.add(cluster)
            self.failed_checks.setdefault(finding.check_id, ((cluster, finding), set()))[1].add(cluster)
        elif finding.status == ERROR:
            self.erring.add(cluster)
        if finding.remediation:
            key = (STATUS_ORDER[finding.status], cluster.lower())
            if self.first is None or key < self.first[0]:
                self.first = (key, cluster, finding)


@dataclass
class FleetResult:
    findings: list                      # (cluster id, Finding), sorted by cluster then catalog order (not when emitted)
    clusters: list                      # cluster ids scanned
    checks: list                        # check ids run
    not_run: list                       # catalog checks that fleet does not run
    unreadable: list = field(default_factory=list)   # {"subscription", "reason"}
    subscriptions: int = 0
    requests: dict = field(default_factory=dict)
    pages: int = 0
    throttled: int = 0
    waited: float = 0.0
    tally: Tally = None

    def __post_init__(self):
        if self.tally is None:
            self.tally = Tally()
            for cluster, finding in self.findings:
                self.tally.add(cluster, finding)

    def failing(self):
        return sorted(self.tally.failing, key=str.lower)

    def erring(self):
        return sorted(self.tally.erring, key=str.lower)

    def to_list(self):
        return [record(cluster, finding) for cluster, finding in self.findings]


def record(cluster, finding):
    """A finding as the contract prints it in fleet mode: with its cluster."""
    out = {"cluster": cluster}
    out.update(finding.to_dict())
    return out


def fleet_checks(check_ids=None):
    return select_checks("run", check_ids, fleet=True)


def not_in_fleet():
    return [c.check_id for c in catalog() if not in_fleet(c)]


def run_fleet(cli_ctx, acr=None, subscriptions=None, management_group=None, check_ids=None, acr_suffix=".azurecr.io",
              unresolved=(), progress=None, timeout=None, emit=None):
    """Scan every cluster in scope. ``subscriptions`` are ids (names already resolved; ``unresolved`` are the
    names that could not be); neither it nor ``management_group``: every subscription the caller can read.
    ``timeout`` (seconds) bounds every request and wait of the run. ``emit(cluster id, finding)``, when given,
    receives each finding as soon as its cluster is done, and the result keeps only the summary's tally."""
    from .deadline import Deadline
    from .facts.fleet import FleetData
    from .facts.resourcegraph import AzureRest, GraphBatch, ResourceGraph

    checks = fleet_checks(check_ids)
    ids = [c.check_id for c in checks]
    rest = AzureRest(cli_ctx, Deadline(timeout))
    arg = ResourceGraph(rest)
    data = FleetData(arg, GraphBatch(rest), rest, acr_suffix, wanted=facts_read(checks))
    facts_of = cluster_facts(data, acr, check_ids, acr_suffix)
    pulled = (lambda: pulled_registries(data, facts_of, acr)) if "registry_cache_rules" in facts_read(checks) \
        else None
    tally, findings = Tally(), []
    try:
        data.load(subscriptions, [management_group] if management_group else None, pulled=pulled)
        unreadable = [{"subscription": name, "reason": "no subscription of that name is among those the signed-in "
                                                       "account can read (az account list)"} for name in unresolved]
        unreadable += _unreadable_subscriptions(cli_ctx, data, subscriptions, management_group)
        if acr is not None:
            _require_registry(data, acr)
        clusters = sorted(data.clusters, key=lambda c: c["id"].lower())
        for cluster, finding in scan(data, checks, acr, check_ids, acr_suffix, progress):
            tally.add(cluster, finding)
            if emit is None:
                findings.append((cluster, finding))
            else:
                emit(cluster, finding)
    finally:
        data.close()
    return FleetResult(findings=findings, clusters=[c["id"] for c in clusters], checks=ids, not_run=not_in_fleet(),
                       unreadable=unreadable, subscriptions=len({parse_resource_id(c).subscription.lower()
                                                                for c in (x["id"] for x in clusters)}),
                       requests=dict(rest.stats.requests), pages=arg.pages, throttled=arg.quota.throttled,
                       waited=arg.quota.waited, tally=tally)


def scan(data, checks, acr=None, check_ids=None, acr_suffix=".azurecr.io", progress=None):
    """Every cluster's findings from the bulk data, as (cluster id, Finding), clusters in id order, yielded as each
    cluster is done: a cluster's facts are let go before the next one's are worked out."""
    clusters = sorted(data.clusters, key=lambda c: c["id"].lower())
    facts_of = cluster_facts(data, acr, check_ids, acr_suffix)
    if "registry_cache_rules" in facts_read(checks):   # under way already when ``load`` was given ``pulled``
        data.read_registry_children(lambda: pulled_registries(data, facts_of, acr))
    data.check_groups(_node_groups(data, clusters))

    # A cluster's facts live while its checks run, not for the whole scan: the membership look-up (and the cache
    # rules' reader) work each cluster's out and let it go, and the scan makes them again.
    if "member_groups" in facts_read(checks):
        _prefetch_memberships(data, (facts_of(c) for c in clusters))
    total = len(clusters)
    for done, cluster in enumerate(clusters):
        facts = facts_of(cluster)
        try:
            found = _cluster_findings(checks, facts)
        finally:
            facts.close()
        for finding in found:
            yield cluster["id"], finding
        if progress:
            progress(done + 1, total, facts.cluster_name)
        del facts, found


def _prefetch_memberships(data, every):
    """Group memberships, in bulk, of the pull identities whose registries have a role held by a group (the only
    case in which a check that needs ``member_groups`` asks for them). ``every`` yields each cluster's facts."""
    wanted = []
    for facts in every:
        try:
            registries = facts.registries()
            identity = facts.pull_identity()
        except FactError:
            continue
        if identity.get("objectId") and any(data.group_assignments_at(r["id"]) for r in registries):
            wanted.append(identity["objectId"])
    if wanted:
        data.prefetch_member_groups(wanted)


def cluster_facts(data, acr=None, check_ids=None, acr_suffix=".azurecr.io"):
    """``facts_of(cluster row)``: a cluster's facts from the run's bulk data, as the scan judges it."""
    from .facts.fleet import FleetFacts

    def facts_of(cluster):
        rid = parse_resource_id(cluster["id"])
        request = DiagnoseRequest(resource_group=rid.resource_group if rid else cluster.get("resourceGroup"),
                                  name=cluster["name"], registry=acr, checks=tuple(check_ids) if check_ids else None,
                                  group="run", acr_suffix=acr_suffix)
        return FleetFacts(data, cluster, request)
    return facts_of


def pulled_registries(data, facts_of, acr=None):
    """Each registry the clusters pull from (their ``registries`` fact, the very one the checks use), once, in the
    order the scan meets them, so that the cache rules the first clusters need are read first. A cluster whose
    registries cannot be worked out is left out: its checks say why. With --acr every cluster is judged against
    that one registry, when it is there (else the run stops: ``_require_registry``)."""
    if acr is not None:
        found = _find_registry(data, acr)
        if found is not None and data.clusters:
            yield found["id"]
        return
    seen = set()
    for cluster in sorted(data.clusters, key=lambda c: c["id"].lower()):
        try:
            registries = facts_of(cluster).registries()
        except FactError:
            continue
        for registry in registries:
            key = registry["id"].lower()
            if key not in seen:
                seen.add(key)
                yield registry["id"]


def _cluster_findings(checks, facts):
    """The cluster's findings; a cluster with no registry to check gets one Skipped acr-role-assignment saying
    why, and the checks that judge the cluster alone."""
    try:
        lookups = facts.registry_lookups()
    except FactError:
        lookups = None        # every check that needs it reports Error with the reason
    if lookups is None or lookups:
        return run_checks(checks, facts, max_workers=1)
    findings = []
    role_check = next((c for c in checks if c.check_id == "acr-role-assignment"), None)
    for chk in checks:
        if judges_cluster_alone(chk):
            findings.extend(run_checks([chk], facts, max_workers=1))
        elif chk is role_check:
            findings.append(chk.finding("cluster {}".format(facts.cluster_name), SKIPPED, _no_registry_words(facts),
                                        reason="noRegistry"))
    return findings


def _no_registry_words(facts):
    try:
        identity = facts.pull_identity()
    except FactError as err:
        return "No registry to check: the cluster's pull identity could not be read ({}).".format(err.reason)
    if not identity.get("objectId"):
        return ("No registry to check: the cluster's service principal {} no longer exists, so no role points from "
                "it to a registry. Pass --acr to check the cluster against a registry.".format(identity["clientId"]))
    who = "kubelet identity {}".format(identity.get("name")) if identity["kind"] == "kubeletIdentity" else \
        "service principal {}".format(identity.get("clientId"))
    return ("No registry to check: the cluster's {} holds no role of its own on any registry the signed-in account "
            "can read (roles through a group or on an enclosing scope name no registry). Pass --acr to check every "
            "cluster against a registry.".format(who))


def _node_groups(data, clusters):
    """Node resource groups in which Resource Graph shows no scale set: empty, or hidden from the caller? One
    query for all of them tells."""
    from .facts.fleet import group_key
    groups = []
    for cluster in clusters:
        rid = parse_resource_id(cluster["id"])
        node_rg = (cluster.get("properties") or {}).get("nodeResourceGroup")
        if rid and node_rg:
            group = "/subscriptions/{}/resourceGroups/{}".format(rid.subscription, node_rg)
            if not data.scale_sets.get(group_key(group)):
                groups.append(group)
    return groups


def _require_registry(data, acr):
    """--acr must name a registry the caller can read, as `run` requires."""
    from azure.cli.core.azclierror import ResourceNotFoundError
    kind, value = acr
    if _find_registry(data, acr) is None:
        raise ResourceNotFoundError(
            "The registry '{}' was not found in any subscription the signed-in account can read. Check the name with "
            "`az acr list -o table`, or pass --acr with the registry's resource ID.".format(
                id_name(value) if kind == "id" else value))


def _find_registry(data, acr):
    """--acr's registry row, as a cluster's ``registries`` fact finds it, or None."""
    kind, value = acr
    if kind == "id":
        return data.registries.get(value.lower().rstrip("/"))
    return (data.registries_by_name.get(value.lower()) or [None])[0]


def _unreadable_subscriptions(cli_ctx, data, subscriptions, management_group):
    """Subscriptions asked for (or known to az for this tenant) that Resource Graph does not show."""
    if management_group:
        return []
    if subscriptions:
        wanted = list(subscriptions)
    else:
        wanted = _profile_subscriptions(cli_ctx)
    return [{"subscription": s, "reason": "Azure Resource Graph shows no such subscription to the signed-in account "
                                          "(no access, or it was disabled or moved)"}
            for s in wanted if s.lower() not in data.subscriptions]


def _profile_subscriptions(cli_ctx):
    """Enabled subscriptions of the current tenant as az knows them (`az account list`); no request."""
    try:
        from azure.cli.core._profile import Profile
        from azure.cli.core.commands.client_factory import get_subscription_id
        current = get_subscription_id(cli_ctx).lower()
        cached = Profile(cli_ctx=cli_ctx).load_cached_subscriptions()
    except Exception:  # pylint: disable=broad-except
        return []
    tenant = next((s.get("tenantId") for s in cached if s.get("id", "").lower() == current), None)
    return [s["id"] for s in cached if s.get("state", "Enabled") == "Enabled" and s.get("tenantId") == tenant]


def summary_lines(result, remediations_below=False):
    """The stderr summary: clusters scanned and failing; per failing check (most clusters first) the cause in one
    sentence and the first fix; what fleet did not run; with a table that had no room for them, the remediations."""
    from .summary import cause_line, first_fix_line
    failing = result.failing()
    text = "Scanned {} cluster(s) in {} subscription(s): {} failing".format(
        len(result.clusters), result.subscriptions, len(failing))
    ranked = sorted(result.tally.failed_checks.items(), key=lambda p: (-len(p[1][1]), p[0]))
    if ranked:
        text += " ({})".format(", ".join("{} on {}".format(c, len(v[1])) for c, v in ranked))
    erring = result.erring()
    if erring:
        text += "; {} with checks that could not reach a verdict".format(len(erring))
    lines = [text + "."]
    for n, (_, ((cluster, finding), failing)) in enumerate(ranked[:5]):
        clusters = len(failing)
        label = "{} in cluster {}{}".format("Top cause" if n == 0 else "Cause", id_name(cluster),
                                           " and {} more".format(clusters - 1) if clusters > 1 else "")
        lines.append(cause_line(label, finding, fix=n > 0))
        if n == 0 and finding.remediation:
            lines.append(first_fix_line(finding))
    if not ranked and result.tally.first:
        _, cluster, finding = result.tally.first
        lines.append(cause_line("No check failed; first warning in cluster {}".format(id_name(cluster)), finding,
                                fix=False))
        if finding.remediation:
            lines.append(first_fix_line(finding))
    if result.not_run:
        lines.append("Not run in fleet mode (they need the cluster's Kubernetes API, an image or the registry's data "
                     "plane; use `az aks diagnose-pull run` on one cluster): {}.".format(", ".join(result.not_run)))
    if remediations_below:
        listed = sorted(((c, f) for c, f in result.findings if f.remediation),
                        key=lambda p: (STATUS_ORDER[p[1].status], p[0].lower()))
        if listed:
            lines.append("Remediation of each finding in the table above:\n" + "\n".join(
                "  {} {} ({}): {}".format(id_name(c), f.check_id, f.target, f.remediation) for c, f in listed))
    return lines


def summary(result):
    """The stderr summary as one text."""
    return " ".join(summary_lines(result))


def unreadable_text(result):
    if not result.unreadable:
        return None
    return "{} subscription(s) could not be read and were not scanned: {}.".format(
        len(result.unreadable), "; ".join("{} ({})".format(u["subscription"], u["reason"])
                                          for u in result.unreadable))


def resolve_subscriptions(cli_ctx, values):
    """(subscription ids, values that name no subscription az knows). Ids pass as given (the account may have
    been granted access since it signed in); names are looked up in az's subscription list."""
    import re
    if not values:
        return None, []
    try:
        from azure.cli.core._profile import Profile
        cached = Profile(cli_ctx=cli_ctx).load_cached_subscriptions()
    except Exception:  # pylint: disable=broad-except
        cached = []
    ids, unresolved = [], []
    for value in values:
        if re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", value):
            ids.append(value.lower())
            continue
        match = [s["id"] for s in cached if (s.get("name") or "").lower() == value.lower()]
        if match:
            ids.append(match[0].lower())
        else:
            unresolved.append(value)
    return list(dict.fromkeys(ids)), unresolved
