"""Causes beyond the article on the node and before the pull, end to end: node-disk-pressure (B.disk) and
pod-admission (B.admission)."""
from tests.simulator.scenarios.beyond import IMAGE


def check_image(sc, *args):
    findings, result = sc.diagnose(*args, command="check-image")
    for f in findings:
        assert (f["remediation"] != "") == (f["status"] in ("Fail", "Warning")), f
    sc.assert_read_only()
    sc.assert_no_duplicate_reads()
    sc.assert_no_unknown_routes()
    return findings, result


def test_a_node_short_of_disk_fails_with_the_pool_and_a_bigger_disk(scenario):
    sc = scenario("node-disk-full")
    findings, result = check_image(sc, "--pod", "app", "--namespace", "default")
    f = sc.status_of(findings, "node-disk-pressure")
    assert f["status"] == "Fail", f
    assert f["target"].startswith("node aks-nodepool1-") and "(pool nodepool1)" in f["target"]
    assert "condition DiskPressure=True" in f["message"] and "taint node.kubernetes.io/disk-pressure" in \
        f["message"] and "event ImageGCFailed x7" in f["message"] and "FreeDiskSpaceFailed" in f["message"]
    assert f["evidence"]["nodePool"] == "nodepool1" and f["evidence"]["osDiskSizeGB"] == 128
    assert f["remediation"].startswith("Give pool nodepool1 more OS disk: az aks nodepool add -g rg1 --cluster-name "
                                       "aks1 -n nodepool12 --node-vm-size ")
    assert "--node-osdisk-size 256" in f["remediation"]
    pod = sc.status_of(findings, "pod-pull-events")
    assert (pod["evidence"]["cause"], pod["evidence"]["lookAt"]) == ("B.disk", ["node-disk-pressure"]), pod
    paths = [e["path"] for e in sc.sim.log if e["method"] == "GET"]
    assert any(p.endswith("/api/v1/namespaces/default/events") for p in paths)
    assert "node-disk-pressure" in result.stderr


def test_a_node_with_room_passes_and_no_pod_is_skipped(scenario):
    sc = scenario("node-disk-fine")
    findings, _ = check_image(sc, "--pod", "app", "--namespace", "default")
    f = sc.status_of(findings, "node-disk-pressure")
    assert f["status"] == "Pass" and "shows no disk pressure" in f["message"], f
    findings, _ = check_image(sc, "--image", IMAGE)
    f = sc.status_of(findings, "node-disk-pressure")
    assert f["status"] == "Skipped" and "No failing pod is bound to a node" in f["message"], f


def test_admission_refusals_fail_per_workload_without_pod(scenario):
    sc = scenario("admission-refused")
    findings, _ = check_image(sc, "--acr", "myacr")
    refused = [f for f in findings if f["checkId"] == "pod-admission"]
    assert [(f["status"], f["target"]) for f in refused] == [
        ("Fail", "job batch/nightly-report"), ("Fail", "replicaset shop/web-6d8f7b9c4d")], refused
    job, rs = refused
    assert rs["evidence"]["policy"] == "azurepolicy-k8sazurev2containerallowedimages-8f3c2d1e0b"
    assert rs["evidence"]["image"] == "docker.io/library/nginx:1.27"
    assert "admission webhook validation.gatekeeper.sh refused them" in rs["message"]
    assert "Azure Policy assignment" in rs["remediation"] and "az policy exemption create" in rs["remediation"]
    assert job["evidence"]["policy"] == "ratify-constraint" and "Ratify" in job["remediation"]
    assert job["evidence"]["image"].startswith("myacr.azurecr.io/batch/report@sha256:")
    # one cluster-wide read of FailedCreate events
    reads = [e for e in sc.sim.log if e["method"] == "GET" and e["path"].endswith("/api/v1/events")]
    assert len(reads) == 1 and reads[0]["query"].get("fieldSelector") == "reason=FailedCreate", reads


def test_admission_with_a_pod_name_that_names_the_workload(scenario):
    sc = scenario("admission-refused")
    findings, _ = sc.diagnose("--checks", "pod-admission", "--pod", "web", "--namespace", "shop",
                              command="check-image")
    refused = [f for f in findings if f["checkId"] == "pod-admission"]
    assert [(f["status"], f["target"]) for f in refused] == [("Fail", "replicaset shop/web-6d8f7b9c4d")], refused


def test_admission_passes_when_no_webhook_refused(scenario):
    sc = scenario("admission-allowed")
    findings, _ = check_image(sc, "--acr", "myacr")
    f = sc.status_of(findings, "pod-admission")
    assert f["status"] == "Pass" and "No FailedCreate event from an admission webhook" in f["message"], f


def test_list_checks_shows_the_new_ids(azenv):
    listed = azenv.run("aks", "diagnose-pull", "list-checks", "-o", "json").json()
    articles = {c["checkId"]: c["article"] for c in listed}
    assert articles["node-disk-pressure"] == "B.disk" and articles["pod-admission"] == "B.admission"
    ids = [c["checkId"] for c in listed]
    assert ids.index("pull-rate-limit") < ids.index("pod-admission") < ids.index("node-disk-pressure")
