"""The foundation: install, help, the first checks on six scenarios, output formats, bad input."""
import re

import pytest

from tests.simulator.world import SUBSCRIPTION

REGISTRY_ID = "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myacr".format(
    SUBSCRIPTION)

EXPECTED = {
    # scenario: {check: [(target prefix, status)]}
    "mi-healthy": {"registry-lookup": [("registry myacr", "Pass")],
                   "acr-role-assignment": [("registry myacr", "Pass")],
                   "kubelet-identity-vmss": [("node pool nodepool1 (aks-nodepool1-", "Pass"),
                                             ("node pool userpool (aks-userpool-", "Pass")]},
    "mi-acrpull-missing": {"registry-lookup": [("registry myacr", "Pass")],
                           "acr-role-assignment": [("registry myacr", "Fail")],
                           "kubelet-identity-vmss": [("node pool nodepool1", "Pass"), ("node pool userpool", "Pass")]},
    "mi-acrpull-other-identity": {"acr-role-assignment": [("registry myacr", "Fail")]},
    "mi-kubelet-removed": {"acr-role-assignment": [("registry myacr", "Pass")],
                           "kubelet-identity-vmss": [("node pool nodepool1", "Pass"), ("node pool userpool", "Fail")]},
    "sp-healthy": {"acr-role-assignment": [("registry myacr", "Pass")],
                   "kubelet-identity-vmss": [("cluster aks1", "Skipped")]},
    "sp-acrpull-missing": {"acr-role-assignment": [("registry myacr", "Fail")],
                           "kubelet-identity-vmss": [("cluster aks1", "Skipped")]},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_verdicts(scenario, name):
    sc = scenario(name)
    findings, result = sc.diagnose("--acr", "myacr")
    for check_id, expected in EXPECTED[name].items():
        got = sc.statuses(findings, check_id)
        assert len(got) == len(expected), (check_id, got)
        for (prefix, status), (target, actual) in zip(expected, got, strict=True):
            assert target.startswith(prefix) and actual == status, (check_id, got, expected)
    for f in findings:
        assert set(f) == {"checkId", "article", "title", "target", "status", "message", "remediation", "evidence"}
        assert (f["remediation"] != "") == (f["status"] in ("Fail", "Warning")), f
    sc.assert_read_only()
    sc.assert_no_duplicate_reads()
    sc.assert_no_unknown_routes()
    assert "checks failed" in result.stderr and "findings:" in result.stderr


def test_acrpull_missing_remediation_is_attach_acr(scenario):
    sc = scenario("mi-acrpull-missing")
    findings, result = sc.diagnose("--acr", "myacr")
    f = sc.status_of(findings, "acr-role-assignment")
    assert f["remediation"] == "az aks update -n aks1 -g rg1 --attach-acr " + REGISTRY_ID
    assert f["evidence"]["principalKind"] == "kubeletIdentity"
    assert f["evidence"]["grants"] == []
    assert "First fix to try" in result.stderr and "--attach-acr" in result.stderr


def test_other_identity_is_not_mistaken_for_the_kubelet(scenario):
    sc = scenario("mi-acrpull-other-identity")
    findings, _ = sc.diagnose("--acr", "myacr", "--checks", "acr-role-assignment")
    f = sc.status_of(findings, "acr-role-assignment")
    assert f["status"] == "Fail" and f["evidence"]["assignmentsOfIdentity"] == 0
    assert [x["checkId"] for x in findings] == ["acr-role-assignment"]


def test_kubelet_removed_names_pool_and_reconcile(scenario):
    sc = scenario("mi-kubelet-removed")
    findings, _ = sc.diagnose("--acr", "myacr", command="check-auth")
    f = sc.status_of(findings, "kubelet-identity-vmss", "node pool userpool")
    assert f["status"] == "Fail"
    assert f["remediation"].startswith("az aks update -g rg1 -n aks1")
    assert f["evidence"]["userAssignedIdentities"] == []


def test_sp_cluster_role_found_by_service_principal(scenario):
    sc = scenario("sp-healthy")
    findings, _ = sc.diagnose("--acr", "myacr")
    f = sc.status_of(findings, "acr-role-assignment")
    assert f["evidence"]["principalKind"] == "servicePrincipal"
    assert [g["role"] for g in f["evidence"]["grants"]] == ["AcrPull"]
    assert any(e["host"] == "graph.microsoft.com" for e in sc.sim.log)


@pytest.mark.parametrize("acr", ["myacr", "myacr.azurecr.io", "https://myacr.azurecr.io/", REGISTRY_ID])
def test_acr_forms(scenario, acr):
    sc = scenario("mi-healthy")
    findings, _ = sc.diagnose("--acr", acr, "--checks", "registry-lookup", "acr-role-assignment")
    assert [(f["checkId"], f["status"]) for f in findings] == [("registry-lookup", "Pass"),
                                                               ("acr-role-assignment", "Pass")]


def test_registry_found_from_role_assignments_without_acr(scenario):
    sc = scenario("mi-healthy")
    findings, _ = sc.diagnose()
    assert sc.status_of(findings, "registry-lookup")["target"] == "registry myacr"


def test_table_output_failures_first(scenario):
    sc = scenario("mi-kubelet-removed")
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--acr", "myacr", "-o", "table")
    assert result.rc == 0, result
    lines = result.stdout.splitlines()
    # Issue 22: the table fits 120 columns; the remediation has a column only when it fits beside a readable
    # message, else the summary lists it under the table.
    assert lines[0].split()[:4] == ["Status", "Check", "Target", "Message"]
    assert max(len(line) for line in lines) <= 120, result.stdout
    assert lines[2].startswith("Fail") and "kubelet-identity-vmss" in lines[2]
    assert "Pass" in result.stdout
    if lines[0].split()[4:] != ["Remediation"]:
        assert "az aks update -g rg1 -n aks1" in result.stderr, result


def test_tsv_output_scalar_keys(scenario):
    sc = scenario("mi-acrpull-missing")
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--acr", "myacr",
                   "--checks", "acr-role-assignment", "-o", "tsv")
    assert result.rc == 0, result
    # az writes tsv columns in sorted key order; the evidence object is left empty.
    article, check_id, evidence, message, remediation, status, target, title = result.stdout.rstrip("\n").split("\t")
    assert (article, check_id, evidence, status, target) == ("C1.S1,X.abac", "acr-role-assignment", "", "Fail",
                                                            "registry myacr")
    assert remediation.startswith("az aks update -n aks1 -g rg1 --attach-acr") and "pull/read" in message
    assert title


def test_query_and_only_show_errors(scenario):
    sc = scenario("mi-acrpull-missing")
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--acr", "myacr", "--only-show-errors",
                   "--query", "[?status=='Fail'].checkId", "-o", "tsv")
    assert result.rc == 0 and result.stdout.split() == ["acr-role-assignment"] and result.stderr == "", result


def test_list_checks_lists_only_implemented(scenario):
    sc = scenario("mi-healthy")
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "list-checks", "-o", "json")
    assert result.rc == 0, result
    ids = [c["checkId"] for c in result.json()]
    assert {"registry-lookup", "acr-role-assignment", "kubelet-identity-vmss"} <= set(ids)
    # The contract's four keys, plus (issue 22) the commands that run each check and whether fleet can.
    assert all(set(c) == {"checkId", "article", "title", "description", "commands", "fleet"} for c in result.json())
    by_id = {c["checkId"]: c for c in result.json()}
    assert by_id["acr-role-assignment"]["commands"] == ["run", "check-auth", "fix", "fleet"]
    assert by_id["acr-role-assignment"]["fleet"] is True
    assert by_id["image-manifest"]["fleet"] is False and "fleet" not in by_id["image-manifest"]["commands"]
    assert "check-image" in by_id["image-manifest"]["commands"]
    table = sc.az("aks", "diagnose-pull", "list-checks", "-o", "table")
    assert table.rc == 0 and table.stdout.splitlines()[0].split() == ["Check", "Article", "Fleet", "Commands", "Title"]
    assert max(len(line) for line in table.stdout.splitlines()) <= 120, table.stdout
    assert sc.sim.log == []


def test_help_reads_well(azenv):
    group = azenv.run("aks", "diagnose-pull", "--help")
    assert group.rc == 0 and "Find out why an AKS cluster cannot pull images" in group.stdout
    for command in ("run", "check-auth", "check-registry", "list-checks"):
        result = azenv.run("aks", "diagnose-pull", command, "--help")
        assert result.rc == 0 and "Examples" in result.stdout, (command, result)
    aks = azenv.run("aks", "--help")
    assert "diagnose-pull" in aks.stdout, aks
    # The group keeps azure-cli's own summary (its words changed between releases), not one of the extension's.
    assert re.search(r"az aks : (Azure Kubernetes Service|Manage Azure Kubernetes Services)\.", aks.stdout), aks


def test_missing_cluster_is_not_found(scenario):
    sc = scenario("mi-healthy")
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "nosuch", "--acr", "myacr")
    assert result.rc == 3, result
    errors = [line for line in result.stderr.splitlines() if not line.startswith("WARNING: Command group")]
    assert len(errors) == 1 and errors[0].startswith("ERROR: The AKS cluster 'nosuch' was not found"), result


def test_missing_registry_is_not_found(scenario):
    sc = scenario("mi-healthy")
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--acr", "nosuchacr")
    assert result.rc == 3, result
    assert "The registry 'nosuchacr' was not found" in result.stderr


@pytest.mark.parametrize("acr,words", [("my_acr!", "not a valid registry name"),
                                       ("myacr.azureacr.io", "azureacr.io"),
                                       ("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/disks/d",
                                        "not a registry resource ID")])
def test_bad_acr_is_a_usage_error(scenario, acr, words):
    sc = scenario("mi-healthy")
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--acr", acr)
    assert result.rc == 2, result
    assert words in result.stderr and "Traceback" not in result.stderr
    assert sc.sim.log == [] or all(e["host"] == "login.microsoftonline.com" for e in sc.sim.log)


def test_unknown_check_id_is_a_usage_error(scenario):
    sc = scenario("mi-healthy")
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--checks", "no-such-check")
    assert result.rc == 2 and "unknown check id" in result.stderr, result
    typo = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--checks", "acr-role-asignment")
    assert typo.rc == 2 and "did you mean 'acr-role-assignment'?" in typo.stderr, typo


@pytest.mark.parametrize("command,check", [("check-auth", "image-manifest"), ("check-image", "acr-role-assignment"),
                                           ("check-network", "pod-pull-events")])
def test_checks_a_command_does_not_run_is_a_usage_error(scenario, command, check):
    sc = scenario("mi-healthy")
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", command, "-g", "rg1", "-n", "aks1", "--checks", check)
    errors = [line for line in result.stderr.splitlines() if not line.startswith("WARNING:")]
    assert result.rc == 2 and len(errors) == 1 and errors[0].startswith("ERROR: "), result
    assert "does not run {}".format(check) in errors[0] and "Traceback" not in result.stderr, result
    assert not [e for e in sc.sim.log if e["host"] != "login.microsoftonline.com"], sc.sim.log
