"""The facts contract: one declaration of every fact, what each reader provides, and what the runner makes of a fact
a reader cannot provide."""
import ast
from pathlib import Path

import pytest

from azext_acrpull.diagnose.facts import FACTS, FactError, Facts, FactUnavailable, provided_by
from azext_acrpull.diagnose.facts.fleet import FleetFacts
from azext_acrpull.diagnose.facts.live import LiveFacts
from azext_acrpull.diagnose.findings import check
from azext_acrpull.diagnose.request import DiagnoseRequest
from azext_acrpull.diagnose.runner import run_checks

DIAGNOSE = Path(__file__).resolve().parents[2] / "azext_acrpull" / "diagnose"
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
