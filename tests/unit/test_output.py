"""What a person reads: tables that fit 120 columns, the stderr summary (one line per distinct cause), and the
argument errors (did you mean, checks a command does not run)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from azext_acrpull import _format
from azext_acrpull._validators import _check_id, suggest_check_id, validate_diagnose, validate_fleet
from azext_acrpull.diagnose.findings import FAIL, PASS, SKIPPED, WARNING, Finding
from azext_acrpull.diagnose.summary import summary_lines


def render(rows):
    """As az prints a table: knack's tabulate call."""
    return tabulate(rows, headers="keys", tablefmt="simple", disable_numparse=True) if rows else ""


def widest(rows):
    return max(len(line) for line in render(rows).splitlines())


text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=400)
finding = st.fixed_dictionaries({
    "checkId": st.sampled_from(["acr-role-assignment", "kubelet-identity-vmss", "egress-path", "registry-lookup",
                                "node-provisioning-identity"]),
    "status": st.sampled_from(["Pass", "Fail", "Warning", "Skipped", "Error"]),
    "target": text, "message": text, "remediation": text,
})


@settings(max_examples=150, deadline=None)
@given(st.lists(finding, min_size=1, max_size=8), st.booleans())
def test_findings_table_fits_120_columns(findings, fleet):
    if fleet:
        for i, f in enumerate(findings):
            f["cluster"] = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/" \
                           + "aks-{}-".format(i) + "x" * (i * 7)
    rows = _format.transform_findings(findings)
    assert widest(rows) <= _format.WIDTH
    assert ("Remediation" in rows[0]) == _format.remediation_in_table(findings)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "checkId": st.sampled_from(["acr-role-assignment", "private-dns-link"]),
    "status": st.sampled_from(["Applied", "Failed", "Planned", "Manual"]),
    "statusAfter": st.sampled_from(["", "Pass", "Warning"]), "target": text, "message": text, "command": text}),
    min_size=1, max_size=6))
def test_fix_table_fits_120_columns(items):
    rows = _format.transform_fix(items)
    assert widest(rows) <= _format.WIDTH
    assert ("Command" in rows[0]) == _format.command_in_table(items)


def test_catalog_table_fits_and_says_where_each_check_runs():
    from azext_acrpull.custom import list_checks
    entries = list_checks(None)
    assert widest(_format.transform_catalog(entries)) <= _format.WIDTH
    by_id = {e["checkId"]: e for e in entries}
    assert by_id["pod-pull-events"]["commands"] == ["run", "check-* --pod", "fix"]
    assert by_id["registry-lookup"]["fleet"] is True and by_id["registry-health"]["fleet"] is False


def test_short_forms_keep_the_meaning():
    assert _format.short_target("node pool userpool (aks-userpool-59856254-vmss)") == "node pool userpool"
    assert _format.short_target("subnet aks-subnet (pools nodepool1, userpool) to registry myacr", 30) == \
        "subnet aks-subnet to myacr"
    assert _format.short_message("The kubelet identity x (object id 6d0...) holds no role. Roles found: none.") == \
        "The kubelet identity x holds no role."
    assert _format.cut("one two three four", 12) == "one two..."
    assert _format.cut_middle("aks-userpool-59856254-vmss", 15) == "aks-us...4-vmss"


def _f(check_id, status, target, message, remediation="", **evidence):
    return Finding(check_id, "A", "title", target, status, message, remediation, evidence)


def test_summary_names_the_top_cause_in_one_sentence_and_the_first_fix():
    lines = summary_lines([
        _f("registry-lookup", PASS, "registry myacr", "Found."),
        _f("acr-role-assignment", FAIL, "registry myacr", "No pull role (object id x). Details follow.", "az fix-1"),
        _f("kubelet-identity-vmss", FAIL, "node pool a", "Scale set lacks the identity. More.", "az fix-2"),
        _f("kubelet-identity-vmss", FAIL, "node pool b", "Scale set lacks the identity. More.", "az fix-2"),
        _f("image-platform", SKIPPED, "images", "No image."),
    ])
    assert lines[0] == "2 of 4 checks failed (5 findings: 3 Fail, 1 Pass, 1 Skipped)."
    assert lines[1] == "Top cause (acr-role-assignment, registry myacr): No pull role (object id x)."
    assert lines[2] == "First fix to try (acr-role-assignment, registry myacr): az fix-1"
    assert lines[3] == ("Cause (kubelet-identity-vmss, node pool a and 1 more): Scale set lacks the identity. "
                        "Fix: az fix-2")
    assert len(lines) == 4


def test_several_failing_pods_one_line_per_distinct_cause():
    pods = [
        _f("pod-pull-events", FAIL, "pod shop/web-1 (container app)", "401.", "see", cause="C1", token="oauth",
           lookAt=["acr-role-assignment", "kubelet-identity-vmss"]),
        _f("pod-pull-events", FAIL, "pod shop/web-2 (container app)", "401.", "see", cause="C1", token="oauth",
           lookAt=["acr-role-assignment", "kubelet-identity-vmss"]),
        _f("pod-pull-events", FAIL, "pod shop/api-1 (container api)", "Tag v9 not found.", "use v8", cause="C2",
           lookAt=["image-reference", "image-manifest"]),
        _f("pod-pull-events", FAIL, "pod ops/job-1 (container job)", "Odd error.", "describe", cause="unknown"),
        _f("acr-role-assignment", FAIL, "registry myacr", "No pull role.", "az attach"),
        _f("image-manifest", FAIL, "image myacr.azurecr.io/api:v9", "No tag v9.", "use v8"),
        _f("egress-path", WARNING, "subnet s", "Appliance.", "look"),
    ]
    lines = summary_lines(pods)
    assert lines[1] == ("Top cause C1 on 2 pod(s) (shop/web-1, shop/web-2): No pull role. "
                        "(acr-role-assignment, registry myacr)")
    assert lines[2] == ("First fix to try (acr-role-assignment, registry myacr, as the pod's error says the "
                        "credential offered was refused): az attach")
    assert lines[3].startswith("Cause C2 on 1 pod(s) (shop/api-1): No tag v9. (image-manifest, image myacr")
    assert lines[4] == ("Unclassified pull error (pod-pull-events, pod ops/job-1 (container job)): Odd error. "
                        "Fix: describe")
    assert len(lines) == 5   # no line for image-manifest or acr-role-assignment of their own: the pods name them


def test_remediations_the_table_left_out_follow_the_summary():
    findings = [_f("acr-role-assignment", FAIL, "registry myacr", "No role.", "az attach"),
                _f("egress-path", WARNING, "subnet s", "Appliance.", "az look")]
    lines = summary_lines(findings, remediations_below=True)
    assert lines[-1] == "Remediation of the other findings in the table:\n  egress-path (subnet s): az look"
    assert not any("Remediation of" in line for line in summary_lines(findings))


def test_no_failure_names_the_first_warning():
    lines = summary_lines([_f("egress-path", WARNING, "subnet s", "Appliance. More.", "az look")])
    assert lines[1:] == ["No check failed; first warning (egress-path, subnet s): Appliance.",
                         "First fix to try (egress-path, subnet s): az look"]


@pytest.mark.parametrize("typed,meant", [("acr-role-asignment", "acr-role-assignment"), ("egress", "egress-path"),
                                         ("dns-link-private", "private-dns-link"),
                                         ("sp_role_principal", "sp-role-principal"), ("x", None), ("", None),
                                         ("zzzzzzzzzzzz", None)])
def test_a_misspelt_check_id_gets_a_did_you_mean(typed, meant):
    from azext_acrpull.diagnose.catalog import catalog
    assert suggest_check_id(typed, [c.check_id for c in catalog()]) == meant
    with pytest.raises(ValueError) as err:
        _check_id(typed)
    assert ("did you mean {!r}?".format(meant) in str(err.value)) == bool(meant)


class _Cmd:
    def __init__(self, name):
        self.name = "aks diagnose-pull " + name


class _Ns:
    def __init__(self, checks=None, pod=None, subscriptions=None, management_group=None):
        self.checks, self.pod = checks, pod
        self.subscriptions, self.management_group = subscriptions, management_group


def test_checks_a_command_does_not_run_are_refused():
    with pytest.raises(ValueError, match=r"check-auth` does not run image-manifest \(image-manifest is run by run, "
                                         r"check-image, fix\)"):
        validate_diagnose(_Cmd("check-auth"), _Ns(["image-manifest"]))
    with pytest.raises(ValueError, match="does not run pod-pull-events"):
        validate_diagnose(_Cmd("check-network"), _Ns(["pod-pull-events"]))
    validate_diagnose(_Cmd("check-network"), _Ns(["pod-pull-events"], pod="web"))   # --pod adds the pod's checks
    validate_diagnose(_Cmd("run"), _Ns(["image-manifest", "egress-path"]))
    validate_diagnose(_Cmd("fix"), _Ns(["image-manifest"]))
    validate_diagnose(_Cmd("check-auth"), _Ns(None))


def test_fleet_scope_is_subscriptions_or_a_management_group():
    with pytest.raises(ValueError, match="not both"):
        validate_fleet(_Cmd("fleet"), _Ns(subscriptions=["a"], management_group="mg"))
    validate_fleet(_Cmd("fleet"), _Ns(subscriptions=["a"]))
    validate_fleet(_Cmd("fleet"), _Ns(management_group="mg"))


def test_guarded_credential_offers_get_token_info_only_when_azs_does():
    """azure-core calls get_token_info on a credential that has it; az 2.61's credential has only get_token."""
    from azext_acrpull.diagnose.facts.transport import TokenGuard

    class Old:
        def get_token(self, *scopes, **kwargs):
            return ("token", scopes)

    class New(Old):
        def get_token_info(self, *scopes, options=None):
            return ("info", scopes)

    guard = TokenGuard()
    old, new = guard.credential(Old()), guard.credential(New())
    assert not hasattr(old, "get_token_info") and old.get_token("s/.default") == ("token", ("s/.default",))
    assert new.get_token_info("s/.default") == ("info", ("s/.default",))
