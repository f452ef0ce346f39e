"""The facts contract: one declaration of every fact, what each reader provides, and what the runner makes of a fact
a reader cannot provide."""
import ast
from pathlib import Path

import pytest

from azext_acrpull.diagnose import catalog as catalog_module
from azext_acrpull.diagnose.catalog import catalog, in_fleet
from azext_acrpull.diagnose.facts import FACTS, FactError, Facts, FactUnavailable, provided_by
from azext_acrpull.diagnose.facts.contract import FactsContract
from azext_acrpull.diagnose.facts.fleet import BULK_READS, FleetData, FleetFacts
from azext_acrpull.diagnose.facts.live import LiveFacts
from azext_acrpull.diagnose.findings import check
from azext_acrpull.diagnose.fleet import facts_read, judges_cluster_alone
from azext_acrpull.diagnose.request import DiagnoseRequest
from azext_acrpull.diagnose.runner import run_checks

DIAGNOSE = Path(__file__).resolve().parents[2] / "azext_acrpull" / "diagnose"
# The checks fleet runs, as the CLI contract lists them ("Fleet").
CONTRACT_FLEET = {"registry-lookup", "acr-role-assignment", "sp-credential-expiry", "sp-role-principal",
                  "kubelet-identity-vmss", "acr-network-rules", "private-dns-link", "vnet-peering", "egress-path",
                  "registry-arm-audience", "registry-tenant", "artifact-cache-rule", "subnet-endpoint-policy"}
# What a reader gives a check besides facts: the run's own names and the reader's services.
SERVICES = {"request", "cluster_name", "cluster_resource_group", "once", "shared_once", "parallel", "prefetch",
            "deadline", "pending_reads"}


def _asked(path):
    """The names checks read from ``facts``: ``facts.x`` and ``facts.x(...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id == "facts"}


def test_every_fact_a_check_asks_for_is_in_the_contract():
    asked = set()
    for folder in ("checks", "common"):
        for path in (DIAGNOSE / folder).glob("*.py"):
            asked |= _asked(path)
    assert asked - SERVICES - FACTS == set()


def test_the_live_reader_provides_every_fact():
    assert provided_by(LiveFacts) == FACTS


def test_the_fleet_reader_says_which_facts_it_cannot_provide():
    missing = FACTS - provided_by(FleetFacts)
    assert {"pod", "diagnosed_pods", "registry_manifest", "registry_health", "kube_access"} <= missing
    assert {"cluster", "registries", "role_assignments", "network_resource", "node_vmss"} & missing == set()


def test_an_unprovided_fact_raises_one_error_naming_it():
    facts = Facts(DiagnoseRequest("rg1", "aks1"))
    with pytest.raises(FactUnavailable) as err:
        facts.pod("default", "web")
    assert err.value.fact == "pod" and "does not read pod" in err.value.reason
    assert not isinstance(err.value, FactError), "a fact the reader lacks is not a read that failed"


def _check(check_id, func):
    return check(check_id, "X", "title", "description", ("auth",))(lambda chk, facts: func(chk, facts)).check


class _Reader(Facts):
    def unavailable_reason(self, name):
        return "this reader reads no Kubernetes API ({})".format(name)

    def cluster(self):
        return {"id": "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/aks1"}


def test_the_runner_skips_a_check_whose_fact_is_unavailable_and_says_why():
    def needs_pod(chk, facts):
        facts.pod("default", "web")
        return [chk.finding("pod web", "Pass", "never")]

    def fails_to_read(chk, facts):
        raise FactError("the API answered 500", 500)

    findings = run_checks([_check("needs-pod", needs_pod), _check("fails", fails_to_read)],
                          _Reader(DiagnoseRequest("rg1", "aks1")), max_workers=1)
    skipped, error = findings
    assert skipped.status == "Skipped" and skipped.target == "cluster aks1"
    assert skipped.message == "Not judged here: this reader reads no Kubernetes API (pod)."
    assert skipped.evidence["fact"] == "pod"
    assert error.status == "Error", "a read that failed is an Error, not a Skipped"


# --- declared needs ------------------------------------------------------------------------------------------------

def _modules():
    found = {}
    for folder in ("checks", "common"):
        for path in (DIAGNOSE / folder).glob("*.py"):
            found["{}.{}".format(folder, path.stem)] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def _static_reach():
    """check id -> the facts its function can ask for, through every function of checks/ and common/ it names (an
    over-approximation: a helper named is counted as called)."""
    modules = _modules()
    imports, functions = {}, {}
    for name, tree in modules.items():
        imported = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level in (1, 2):
                package = name.split(".")[0] if node.level == 1 else None
                for alias in node.names:
                    imported[alias.asname or alias.name] = ("{}.{}".format(package, node.module) if package
                                                            else node.module, alias.name)
        imports[name] = imported
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                attrs = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
                         and isinstance(n.value, ast.Name) and n.value.id == "facts"}
                named = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                named |= {(n.value.id, n.attr) for n in ast.walk(node) if isinstance(n, ast.Attribute)
                          and isinstance(n.value, ast.Name)}
                functions[(name, node.name)] = (attrs, named)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                # a table of functions (a check's words by reason): reaching it reaches each of them
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        functions[(name, target.id)] = (set(), {n.id for n in ast.walk(node.value)
                                                                if isinstance(n, ast.Name)})

    def reach(key, seen):
        if key in seen or key not in functions:
            return set()
        seen.add(key)
        attrs, named = functions[key]
        out = set(attrs)
        for item in named:
            if isinstance(item, tuple):   # module.function, the module imported by name
                target = imports[key[0]].get(item[0])
                if target and "{}.{}".format(*target) in modules:
                    out |= reach(("{}.{}".format(*target), item[1]), seen)
            elif (key[0], item) in functions:
                out |= reach((key[0], item), seen)
            elif item in imports[key[0]]:
                out |= reach(imports[key[0]][item], seen)
        return out

    found = {}
    for name, tree in modules.items():
        for node in tree.body:
            for deco in getattr(node, "decorator_list", []):
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "check":
                    found[deco.args[0].value] = reach((name, node.name), set()) - SERVICES
    return found


def test_every_check_declares_facts_of_the_contract():
    for chk in catalog():
        assert chk.needs, chk.check_id
        assert sorted((chk.needs | chk.optional) - FACTS) == [], chk.check_id
        assert not chk.needs & chk.optional, chk.check_id


def test_a_check_declares_every_fact_its_code_can_ask_for():
    reach = _static_reach()
    assert set(reach) == {c.check_id for c in catalog()}
    for chk in catalog():
        assert sorted(reach[chk.check_id] - chk.needs - chk.optional) == [], chk.check_id


def test_fleet_runs_the_contracts_checks_and_its_reader_provides_every_fact_they_need():
    assert {c.check_id for c in catalog() if in_fleet(c)} == CONTRACT_FLEET
    provided = provided_by(FleetFacts)
    for chk in catalog():
        if chk.check_id in CONTRACT_FLEET:
            assert sorted(chk.needs - provided) == [], chk.check_id


def test_a_fact_the_fleet_reader_stops_providing_takes_its_checks_out_of_fleet(monkeypatch):
    class Fewer(FleetFacts):
        node_vmss = FactsContract.node_vmss

    monkeypatch.setattr(catalog_module, "fleet_facts", lambda: provided_by(Fewer))
    gone = CONTRACT_FLEET - {c.check_id for c in catalog() if in_fleet(c)}
    assert gone == {"kubelet-identity-vmss", "sp-role-principal"}


def test_fleet_reads_in_bulk_only_what_its_checks_ask_for():
    by_id = {c.check_id: c for c in catalog()}

    def reads(*ids):
        data = FleetData(None, None, None, wanted=facts_read([by_id[i] for i in ids]))
        return data.want_network, data.want_scale_sets

    assert reads(*CONTRACT_FLEET) == (True, True)
    assert reads("registry-lookup", "acr-role-assignment", "registry-tenant") == (False, False)
    assert reads("sp-role-principal") == reads("kubelet-identity-vmss") == (False, True)
    assert reads("vnet-peering") == (True, True)
    assert BULK_READS["scale sets"] & by_id["egress-path"].needs


def test_the_checks_that_judge_a_cluster_alone_need_no_registry():
    alone = {c.check_id for c in catalog() if in_fleet(c) and judges_cluster_alone(c)}
    assert alone == {"kubelet-identity-vmss", "sp-credential-expiry"}


def test_the_in_memory_world_reader_reads_what_fleet_and_the_kubernetes_api_hold():
    from tests.simulator.facts import WorldFacts
    reachability = {"registry_health"}   # DNS and TLS from the machine running az
    run_command = {"cluster_probe", "probe_enabled", "private_api_server"}
    credentials = {"registry_admin_credentials", "registry_token", "registry_scope_map", "image_pull_secrets",
                   "key_vault"}   # what only the live reader's credential and Key Vault reads hold
    assert FACTS - provided_by(WorldFacts) == reachability | run_command | credentials
    assert provided_by(FleetFacts) <= provided_by(WorldFacts)
