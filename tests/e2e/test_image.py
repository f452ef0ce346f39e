"""From the failing pod to the image: the classifier on the article's texts, reference, manifest, platform, QPS.

Through the real az, starting from the pod (--pod) and from the image (--image), against the registry's data
plane, the cluster's API server and ARM of the simulated Azure.
"""
import pytest

from tests.simulator import dataplane
from tests.simulator.scenarios.image import ARTICLE_PODS
from tests.simulator.server import Fault

IMAGE_CHECKS = ["image-reference", "image-manifest", "image-platform", "pull-rate-limit", "artifact-cache-rule",
                "pod-admission", "node-disk-pressure"]


def _clean(sc):
    sc.assert_read_only()
    sc.assert_no_duplicate_reads()
    sc.assert_no_unknown_routes()


def _one(findings, check_id, target_prefix=""):
    matched = [f for f in findings if f["checkId"] == check_id and f["target"].startswith(target_prefix)]
    assert len(matched) == 1, (check_id, target_prefix, findings)
    return matched[0]


@pytest.fixture(scope="module")
def pods(azenv):
    """The image-pods scenario, loaded once for the tests that only read it."""
    from tests.e2e.conftest import Scenario
    return Scenario(azenv, "image-pods")


@pytest.mark.parametrize("pod", sorted(ARTICLE_PODS))
def test_each_article_text_is_classified_from_the_pod(pods, pod):
    findings, _ = pods.diagnose("--pod", pod, command="check-image")
    assert [f["checkId"] for f in findings][:1] == ["pod-pull-events"]   # the classification comes first
    assert {f["checkId"] for f in findings} == {"pod-pull-events", *IMAGE_CHECKS}
    f = _one(findings, "pod-pull-events")
    assert f["status"] == "Fail" and f["target"] == "pod default/{} (container app)".format(pod)
    assert f["evidence"]["cause"] == ARTICLE_PODS[pod], f
    assert f["evidence"]["text"].startswith('Failed to pull image "myacr.azurecr.io/')
    assert f["evidence"]["waitingReason"] == "ImagePullBackOff" and f["evidence"]["eventReason"] == "Failed"
    assert f["remediation"] and f["evidence"]["lookAt"]
    _clean(pods)


@pytest.mark.parametrize("pod, cause, decided_by, ambiguous", [
    ("anon-repo-typo", "C2", "image-manifest", True),
    ("anon-arch", "X.arch", "image-platform", True),
    ("anon-undecided", "C1", None, True),
    ("other-cloud", "C2", "image-reference", True),
    ("no-registry", "C2", "image-reference", False),
    ("typo-host", "C2", None, False),
])
def test_azure_facts_decide_what_the_text_leaves_open(pods, pod, cause, decided_by, ambiguous):
    findings, _ = pods.diagnose("--pod", pod, "--checks", "pod-pull-events", command="check-image")
    f = _one(findings, "pod-pull-events")
    assert (f["evidence"]["cause"], f["evidence"]["ambiguous"]) == (cause, ambiguous), f
    assert (f["evidence"]["decidedBy"] or "").split(":")[0] == (decided_by or ""), f
    if pod == "anon-repo-typo":
        assert "Repository 'aap' does not exist" in f["message"] and f["evidence"]["token"] == "anonymous"
    _clean(pods)


def test_running_pod_passes_and_other_registries_are_skipped(pods):
    findings, result = pods.diagnose("--pod", "web-ok")
    assert findings[0]["checkId"] == "pod-pull-events" and findings[0]["status"] == "Pass", findings[0]
    assert "phase Running" in findings[0]["message"]
    ref = {f["evidence"]["image"]: f["status"] for f in findings if f["checkId"] == "image-reference"}
    assert ref == {"myacr.azurecr.io/app:v1": "Pass", "nginx:1.27": "Pass",
                   "mcr.microsoft.com/azuredocs/aks-helloworld:v1": "Pass"}
    for check_id in ("image-manifest", "image-platform"):
        statuses = {f["evidence"]["image"]: f["status"] for f in findings if f["checkId"] == check_id}
        assert statuses == {"myacr.azurecr.io/app:v1": "Pass", "nginx:1.27": "Skipped",
                            "mcr.microsoft.com/azuredocs/aks-helloworld:v1": "Skipped"}, (check_id, statuses)
    assert "not an Azure Container Registry" in _one(findings, "image-manifest", "image nginx")["message"]
    assert _one(findings, "pull-rate-limit")["status"] == "Pass"
    # The registry came from the pod's image: no --acr needed.
    assert _one(findings, "registry-lookup")["target"] == "registry myacr"
    assert "Traceback" not in result.stderr
    _clean(pods)


def test_misspelt_login_server(pods):
    findings, _ = pods.diagnose("--pod", "typo-host", command="check-image")
    f = _one(findings, "image-reference")
    assert f["status"] == "Fail" and f["evidence"]["problem"] == "misspelt-suffix"
    assert f["evidence"]["suggestion"] == "myacr.azurecr.io/app:v1"
    assert f["remediation"] == "kubectl set image deployment/typo-host app=myacr.azurecr.io/app:v1 -n default"
    assert "Registry myacr exists" in f["message"]
    # The registry it meant has the image, so fixing the name is all it takes.
    assert _one(findings, "image-manifest")["status"] == "Pass"
    _clean(pods)


def test_missing_tag_names_the_closest_tags(pods):
    findings, _ = pods.diagnose("--pod", "err-c2", command="check-image")
    f = _one(findings, "image-manifest")
    assert f["status"] == "Fail" and f["evidence"]["missing"] == "tag"
    assert f["evidence"]["closest"][:2] == ["v1", "v2"] and "v1, v2" in f["message"]
    assert f["remediation"].startswith("kubectl set image deployment/err-c2 app=myacr.azurecr.io/app:v1 -n default")
    assert "az acr repository show-tags -n myacr --repository app" in f["remediation"]
    # The classification's own remediation is the fix itself, so the summary's first fix to try is real.
    assert _one(findings, "pod-pull-events")["remediation"] == f["remediation"]
    assert _one(findings, "image-platform")["status"] == "Skipped"
    assert any(e["path"] == "/v2/app/tags/list" for e in pods.sim.log)
    _clean(pods)


def test_missing_repository_names_the_closest_repositories(pods):
    findings, _ = pods.diagnose("--pod", "missing-repo", command="check-image")
    f = _one(findings, "image-manifest")
    assert f["status"] == "Fail" and f["evidence"]["missing"] == "repository"
    assert set(f["evidence"]["closest"][:2]) == {"app", "api"}
    assert "Repository 'ap' does not exist in registry myacr" in f["message"]
    assert any(e["path"] == "/acr/v1/_catalog" for e in pods.sim.log)
    _clean(pods)


def test_linux_image_on_a_windows_only_selector(pods):
    findings, _ = pods.diagnose("--pod", "err-c5", command="check-image")
    f = _one(findings, "image-platform")
    assert f["status"] == "Fail" and f["evidence"]["cause"] == "C5" and f["evidence"]["mismatch"] == ["os"]
    assert "node pool npwin (windows/amd64 10.0.20348) cannot run it" in f["message"]
    assert f["evidence"]["nodePool"] == "npwin"
    assert f["remediation"] == ("kubectl patch deployment/err-c5 -n default -p "
                                "'{\"spec\":{\"template\":{\"spec\":{\"nodeSelector\":{\"kubernetes.io/os\":\"linux\"}}}}}'")
    _clean(pods)


def test_amd64_image_on_an_arm64_pool(pods):
    findings, _ = pods.diagnose("--pod", "err-xarch", command="check-image")
    f = _one(findings, "image-platform")
    assert f["status"] == "Fail" and f["evidence"]["cause"] == "X.arch"
    assert "node pool armpool (linux/arm64) cannot run it: another CPU architecture" in f["message"]
    # The fix moves the pod off the pool it is pinned to, or builds for both CPUs.
    assert '"kubernetes.io/arch":"amd64"' in f["remediation"] and '"agentpool":null' in f["remediation"]
    assert "docker buildx build --platform linux/amd64,linux/arm64" in f["remediation"]
    # Docker v2 manifest: the platform comes from the config blob, through the storage redirect.
    assert any(e["host"].endswith(".blob.core.windows.net") for e in pods.sim.log)
    _clean(pods)


@pytest.mark.parametrize("pod, status", [("arm-multiarch", "Pass"), ("win-ok", "Pass"), ("win-old", "Fail")])
def test_platforms_that_fit_and_windows_builds(pods, pod, status):
    findings, _ = pods.diagnose("--pod", pod, "--checks", "image-platform", command="check-image")
    f = _one(findings, "image-platform")
    assert f["status"] == status, f
    if pod == "win-old":
        assert f["evidence"]["mismatch"] == ["osVersion"] and "Windows Server 2022" in f["remediation"]
    if pod == "arm-multiarch":
        assert [p["architecture"] for p in f["evidence"]["platforms"]] == ["amd64", "arm64"]   # attestations dropped


def test_pull_qps_storm(pods):
    findings, _ = pods.diagnose("--pod", "err-xqps", command="check-image")
    f = _one(findings, "pull-rate-limit")
    assert f["status"] == "Fail" and f["evidence"]["imagePullPolicy"] == "Always"
    assert '"imagePullPolicy":"IfNotPresent"' in f["remediation"] and "deployment/err-xqps" in f["remediation"]
    findings, _ = pods.diagnose("--pod", "qps-ifnotpresent", "--checks", "pull-rate-limit", command="check-image")
    f = _one(findings, "pull-rate-limit")
    assert f["status"] == "Warning" and "registryPullQPS" in f["message"]


def test_init_and_ephemeral_containers_from_both_event_apis(pods):
    findings, _ = pods.diagnose("--pod", "init-ephemeral", command="check-image")
    events = [f for f in findings if f["checkId"] == "pod-pull-events"]
    assert [(f["target"], f["status"], f["evidence"]["cause"]) for f in events] == [
        ("pod default/init-ephemeral (init container migrate)", "Fail", "C2"),
        ("pod default/init-ephemeral (ephemeral container debugger)", "Fail", "C2")]
    assert events[1]["evidence"]["eventReason"] == "Failed"      # read through events.k8s.io/v1 only
    missing = {f["evidence"]["image"]: f["evidence"]["missing"] for f in findings if f["checkId"] == "image-manifest"}
    assert missing == {"myacr.azurecr.io/tools:9.9": "tag", "myacr.azurecr.io/debug:1": "repository",
                       "myacr.azurecr.io/app:v1": None}
    _clean(pods)


@pytest.mark.parametrize("pod, words", [
    ("invalid-name", ("InvalidImageName", "upper case")),
    ("never-pull", ("ErrImageNeverPull", "imagePullPolicy is Never")),
    ("privatelink-name", ("private link name",)),
])
def test_kubelet_refusals_and_privatelink(pods, pod, words):
    findings, _ = pods.diagnose("--pod", pod, command="check-image")
    f = _one(findings, "pod-pull-events")
    assert f["status"] == "Fail" and all(w in f["message"] for w in words), f
    ref = _one(findings, "image-reference")
    if pod == "invalid-name":
        assert ref["status"] == "Fail" and ref["evidence"]["suggestion"] == "myacr.azurecr.io/app:v1"
        assert _one(findings, "image-manifest")["status"] == "Skipped"
    if pod == "privatelink-name":
        assert ref["status"] == "Fail" and ref["evidence"]["problem"] == "privatelink"
        assert ref["remediation"] == \
            "kubectl set image deployment/privatelink-name app=myacr.azurecr.io/app:v1 -n default"


def test_exec_format_error_is_the_architecture(pods):
    findings, _ = pods.diagnose("--pod", "exec-format", command="check-image")
    f = _one(findings, "pod-pull-events")
    assert f["status"] == "Warning" and f["evidence"]["cause"] == "X.arch"
    assert _one(findings, "image-platform")["status"] == "Fail"


# -- starting from the image -------------------------------------------------------------------------------------
def test_images_without_acr(pods):
    findings, result = pods.diagnose("--image", "myacr.azurecr.io/app:v3", "myacr.azureacr.io/web:1.0",
                                     command="check-image")
    assert {f["checkId"] for f in findings} == set(IMAGE_CHECKS)
    assert _one(findings, "image-manifest", "image myacr.azurecr.io/app:v3")["status"] == "Fail"
    assert _one(findings, "image-reference", "image myacr.azureacr.io/web:1.0")["remediation"] == \
        "Reference the image as myacr.azurecr.io/web:1.0"
    platform = _one(findings, "image-platform", "image myacr.azureacr.io/web:1.0")
    # No pod: pods of this image could land on any pool; two of the three cannot run it.
    assert platform["status"] == "Warning" and platform["evidence"]["mismatch"] == ["architecture", "os"]
    assert "nodeSelector kubernetes.io/os: linux, kubernetes.io/arch: amd64 so that they land only on nodepool1" in \
        platform["remediation"]
    assert _one(findings, "pull-rate-limit")["status"] == "Skipped"
    assert "First fix to try" in result.stderr
    _clean(pods)


def test_registry_named_by_an_image_that_does_not_exist_is_a_finding(pods):
    findings, result = pods.diagnose("--image", "myacrr.azurecr.io/app:v1", "--checks", "registry-lookup",
                                     "image-reference", "image-manifest")
    lookup = _one(findings, "registry-lookup")
    assert lookup["status"] == "Fail" and lookup["evidence"]["closestRegistries"][0] == "myacr"
    ref = _one(findings, "image-reference")
    assert ref["status"] == "Fail" and ref["evidence"]["suggestion"] == "myacr.azurecr.io/app:v1"
    assert "does not exist" in _one(findings, "image-manifest")["message"]
    assert result.rc == 0


def test_digest_references(pods):
    registry = pods.world.registry_content["myacr.azurecr.io"]["repositories"]["app"]
    digest = registry["tags"]["v1"]
    missing = "sha256:" + "0" * 64
    findings, _ = pods.diagnose("--image", "myacr.azurecr.io/app@" + digest, "myacr.azurecr.io/app@" + missing,
                                "--checks", "image-manifest", command="check-image")
    assert _one(findings, "image-manifest", "image myacr.azurecr.io/app@" + digest)["status"] == "Pass"
    f = _one(findings, "image-manifest", "image myacr.azurecr.io/app@" + missing)
    assert f["status"] == "Fail" and f["evidence"]["missing"] == "digest"
    assert "az acr manifest list-metadata -r myacr -n app" in f["remediation"]


def test_other_cloud_suffix(pods):
    findings, _ = pods.diagnose("--image", "myacr.azurecr.cn/app:v1", "--checks", "image-reference",
                                command="check-image")
    f = _one(findings, "image-reference")
    assert f["status"] == "Fail" and f["evidence"]["problem"] == "other-cloud"
    assert "AzureChinaCloud" in f["message"] and f["evidence"]["suggestion"] == "myacr.azurecr.io/app:v1"


def test_architecture_from_vm_size_when_nodes_cannot_be_read(pods):
    pods.sim.faults.append(Fault(r"^GET aks1-dns-[^/]+/api/v1/nodes$", status=403, body={
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": 'nodes is forbidden: User "dev@contoso.com" cannot list resource "nodes"'}))
    try:
        findings, _ = pods.diagnose("--image", "myacr.azurecr.io/web:1.0", "--checks", "image-platform",
                                    command="check-image")
    finally:
        pods.sim.faults.clear()
    f = _one(findings, "image-platform")
    arm = next(p for p in f["evidence"]["pools"] if p["pool"] == "armpool")
    assert (arm["architecture"], arm["architectureSource"]) == ("arm64", "VM size Standard_D4ps_v5")
    assert "architecture from its VM size Standard_D4ps_v5" in f["message"]


def test_missing_pod_is_not_found(pods):
    result = pods.az("aks", "diagnose-pull", "check-image", "-g", "rg1", "-n", "aks1", "--pod", "nosuchpod")
    assert result.rc == 3, result
    assert "The pod 'nosuchpod' was not found in namespace 'default'" in result.stderr


def test_pod_group_joins_every_command_when_a_pod_is_given(pods):
    findings, _ = pods.diagnose("--pod", "err-c1", command="check-auth")
    assert findings[0]["checkId"] == "pod-pull-events"
    findings, _ = pods.diagnose("--acr", "myacr", command="check-auth")
    assert "pod-pull-events" not in {f["checkId"] for f in findings}


def test_no_token_reaches_the_output(pods):
    dataplane.ISSUED.clear()
    result = pods.az("aks", "diagnose-pull", "check-image", "-g", "rg1", "-n", "aks1", "--pod", "anon-repo-typo",
                     "--debug", "-o", "json")
    assert result.rc == 0, result
    assert len(dataplane.ISSUED) >= 2   # a refresh token and access tokens were handed out
    for token in dataplane.ISSUED:
        for part in token.split("."):
            assert part not in result.stdout and part not in result.stderr


def test_help_and_catalog(azenv):
    result = azenv.run("aks", "diagnose-pull", "check-image", "--help")
    assert result.rc == 0 and "Examples" in result.stdout and "--pod" in result.stdout, result
    ids = [c["checkId"] for c in azenv.run("aks", "diagnose-pull", "list-checks", "-o", "json").json()]
    assert {"pod-pull-events", "image-reference", "image-manifest", "image-platform", "pull-rate-limit"} <= set(ids)


# -- when the registry will not answer the signed-in account -------------------------------------------------
def test_registry_firewall_blocks_the_caller(scenario):
    sc = scenario("image-registry-firewall")
    findings, _ = sc.diagnose("--pod", "err-c3", command="check-image")
    assert _one(findings, "pod-pull-events")["evidence"]["cause"] == "C3"
    for check_id in ("image-manifest", "image-platform"):
        f = _one(findings, check_id)
        assert f["status"] == "Error", f
        assert "firewall of registry myacr" in f["message"] and "203.0.113.27" in f["message"]
        assert "az acr network-rule add -n myacr --ip-address 203.0.113.27" in f["message"]
    assert _one(findings, "image-reference")["status"] == "Pass"
    _clean(sc)


def test_caller_without_pull_permission(scenario):
    sc = scenario("image-caller-no-pull")
    findings, _ = sc.diagnose("--pod", "anon-repo-typo", command="check-image")
    f = _one(findings, "image-manifest")
    assert f["status"] == "Error" and "may not read repository 'aap' in registry myacr" in f["message"]
    events = _one(findings, "pod-pull-events")
    assert (events["evidence"]["cause"], events["evidence"]["decidedBy"]) == ("C1", None)
    _clean(sc)
