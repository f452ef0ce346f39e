"""The first command names only the cluster: the failing pods are found, grouped, classified and diagnosed.

Also: an API server that cannot be reached from where az runs is read through AKS run command (announced, and
refused with --no-run-command), and a caller who may read pods but not events still gets the verdict.
"""

POD_LIST = "/api/v1/pods"
ACTIVE = "status.phase!=Succeeded,status.phase!=Failed"


def _first(sc, *args, command="run"):
    """`az aks diagnose-pull <command> -g rg1 -n aks1 [args]`: (findings, result)."""
    return sc.diagnose(*args, command=command)


def _of(findings, check_id):
    return [f for f in findings if f["checkId"] == check_id]


def _kube(sc):
    return [e for e in sc.sim.log if e["path"].startswith(("/api/", "/apis/"))]


def _pod_events(sc):
    """Reads of one pod's events (other checks read events too: FailedCreate of workloads, nodes' events)."""
    return [e for e in _kube(sc) if e["path"].endswith("/events") and "kind=Pod," in e["query"].get("fieldSelector",
                                                                                                      "")]


def _run_commands(sc):
    return [e for e in sc.sim.log if e["method"] == "POST" and e["path"].lower().endswith("/runcommand")]


def _clean(sc):
    sc.assert_read_only()
    sc.assert_no_duplicate_reads()
    sc.assert_no_unknown_routes()


# -- point 2: nothing named but the cluster ------------------------------------------------------------------
def test_first_command_finds_and_diagnoses_the_stuck_pods(scenario):
    sc = scenario("discover-stuck")
    findings, result = _first(sc)
    events = _of(findings, "pod-pull-events")
    assert [f["target"] for f in events] == [
        "pod batch/migrate-28h7d (init container migrate)",           # Pending: its init container cannot pull
        "pod ops/agent-x7p2k (container log-shipper)",                # Running: a sidecar restarting with Always
        "pod shop/web-5f8b9c7d4-7k2xq (container app)"], events        # three replicas, one finding
    assert all(f["status"] == "Fail" and f["evidence"]["cause"] == "C1" for f in events), events
    web = events[2]
    assert web["evidence"]["podCount"] == 3 and web["evidence"]["samePods"] == [
        "shop/web-5f8b9c7d4-9m4tz", "shop/web-5f8b9c7d4-p8w3n"]
    assert "2 more pod(s) with the same images wait too" in web["message"]
    assert web["evidence"]["eventsRead"] is True and web["evidence"]["eventReason"] == "Failed"
    # The registry came from the pods' images, and the cause is found there.
    assert [f["target"] for f in _of(findings, "registry-lookup")] == ["registry myacr"]
    role = _of(findings, "acr-role-assignment")
    assert [(f["target"], f["status"]) for f in role] == [("registry myacr", "Fail")], role
    images = {f["evidence"]["image"]: f["status"] for f in _of(findings, "image-manifest")}
    assert images == {"myacr.azurecr.io/app:v2": "Pass", "myacr.azurecr.io/tools:1.0": "Pass",
                      "myacr.azurecr.io/app:v1": "Pass", "myacr.azurecr.io/log-shipper:2.1": "Pass"}, images
    # One LIST of the active pods, filtered on the server; events read for the three pods reported only.
    lists = [e for e in _kube(sc) if e["path"] == POD_LIST]
    assert len(lists) == 1 and lists[0]["query"]["fieldSelector"] == ACTIVE and lists[0]["query"]["limit"], lists
    assert not [e for e in _kube(sc) if "/pods/" in e["path"]], "a pod was read again after the LIST"
    event_reads = {(e["path"], e["query"].get("fieldSelector")) for e in _pod_events(sc)}
    named = sorted({q.split("name=")[-1] for _, q in event_reads})
    assert named == ["agent-x7p2k", "migrate-28h7d", "web-5f8b9c7d4-7k2xq"], named
    assert not _run_commands(sc), "run command on a public cluster"
    # The summary counts every failing pod, a group's replicas included.
    assert ("Top cause C1 on 5 pod(s) (batch/migrate-28h7d, ops/agent-x7p2k, shop/web-5f8b9c7d4-7k2xq, ...)"
            in result.stderr), result.stderr
    _clean(sc)


def test_first_command_on_a_healthy_cluster_checks_the_pull_identitys_registry(scenario):
    sc = scenario("discover-healthy")
    findings, _ = _first(sc)
    events = _of(findings, "pod-pull-events")
    assert [(f["target"], f["status"]) for f in events] == [("cluster aks1", "Pass")], events
    assert "No pod fails to pull" in events[0]["message"] and events[0]["evidence"]["podsRead"] == 5
    assert [(f["target"], f["status"]) for f in _of(findings, "acr-role-assignment")] == [("registry myacr", "Pass")]
    assert not _pod_events(sc), "a pod's events read although no pod fails"
    assert len([e for e in _kube(sc) if e["path"] == POD_LIST]) == 1
    assert not _run_commands(sc)
    _clean(sc)


def test_first_command_with_nothing_to_diagnose_succeeds(scenario):
    sc = scenario("discover-nothing")
    findings, result = _first(sc)
    assert result.rc == 0
    events = _of(findings, "pod-pull-events")
    assert [(f["target"], f["status"]) for f in events] == [("cluster aks1", "Pass")], events
    lookup = _of(findings, "registry-lookup")
    assert [f["status"] for f in lookup] == ["Skipped"] and "no failing pod names" in lookup[0]["message"]
    assert not [f for f in findings if f["status"] in ("Fail", "Error")], findings
    _clean(sc)


def test_namespace_narrows_the_search(scenario):
    sc = scenario("discover-stuck")
    findings, _ = _first(sc, "--namespace", "shop", command="check-image")
    events = _of(findings, "pod-pull-events")
    assert [f["target"] for f in events] == ["pod shop/web-5f8b9c7d4-7k2xq (container app)"], events
    lists = [e for e in _kube(sc) if e["path"].endswith("/pods")]
    assert [e["path"] for e in lists] == ["/api/v1/namespaces/shop/pods"], lists
    _clean(sc)


def test_many_failing_groups_are_capped_and_summarised(scenario):
    sc = scenario("discover-many")
    findings, _ = _first(sc, "--checks", "pod-pull-events")
    events = _of(findings, "pod-pull-events")
    assert len(events) == 11, [f["target"] for f in events]
    summary = events[-1]
    assert summary["status"] == "Fail" and summary["target"] == "cluster aks1: 6 more failing pods", summary
    assert summary["evidence"]["podCount"] == 6 and summary["evidence"]["groups"] == 4
    assert "--pod svc09-6b8c9d7f5-q09xz --namespace load" in summary["remediation"]
    named = {e["query"]["fieldSelector"].split("name=")[-1] for e in _pod_events(sc)}
    assert len(named) == 10, named       # the summarised pods' events are not read
    _clean(sc)


# -- point 4: pods readable, events not ----------------------------------------------------------------------
def test_partial_rbac_reads_the_readable_namespaces_and_classifies_from_the_status(scenario):
    sc = scenario("discover-partial-rbac")
    findings, _ = _first(sc)
    events = _of(findings, "pod-pull-events")
    assert [f["target"] for f in events] == [
        "pod batch/migrate-28h7d (init container migrate)", "pod ops/agent-x7p2k (container log-shipper)",
        "pod shop/web-5f8b9c7d4-7k2xq (container app)"], events
    for f in events:
        assert f["status"] == "Fail" and f["evidence"]["cause"] == "C1", f
        assert f["evidence"]["eventsRead"] is False and "forbidden" in f["evidence"]["eventsError"], f
        assert f["evidence"]["source"] == "waiting message" and "401 Unauthorized" in f["evidence"]["text"]
        assert "events could not be read" in f["message"]
    # The cluster-wide LIST was refused: the namespaces were listed and read one by one.
    lists = [(e["path"], e["status"]) for e in _kube(sc) if e["path"].endswith("/pods")]
    assert lists[0] == (POD_LIST, 403) and ("/api/v1/namespaces/kube-system/pods", 403) in lists
    assert ("/api/v1/namespaces/shop/pods", 200) in lists
    assert [(f["target"], f["status"]) for f in _of(findings, "acr-role-assignment")] == [("registry myacr", "Fail")]
    sc.assert_read_only()
    sc.assert_no_unknown_routes()


def test_events_forbidden_on_a_healthy_cluster_still_passes(scenario):
    sc = scenario("discover-no-events")
    findings, _ = _first(sc, "--checks", "pod-pull-events", "registry-lookup")
    events = _of(findings, "pod-pull-events")
    assert [(f["target"], f["status"]) for f in events] == [("cluster aks1", "Pass")], events
    _clean(sc)


def test_pod_with_events_forbidden_keeps_its_verdict(scenario):
    sc = scenario("discover-partial-rbac")
    findings, _ = _first(sc, "--pod", "web-5f8b9c7d4-9m4tz", "--namespace", "shop", "--checks", "pod-pull-events")
    f = _of(findings, "pod-pull-events")[0]
    assert (f["status"], f["evidence"]["cause"], f["evidence"]["eventsRead"]) == ("Fail", "C1", False), f
    _clean(sc)


# -- point 3: an API server closed to the caller ---------------------------------------------------------------
def _announced(result):
    return [line for line in result.stderr.splitlines() if "through AKS run command" in line and "--no-run-command"
            in line]


def test_private_cluster_is_read_through_run_command_without_flags(scenario):
    sc = scenario("discover-private")
    findings, result = _first(sc)
    assert len(_announced(result)) == 1, result.stderr
    events = _of(findings, "pod-pull-events")
    assert len(events) == 3 and all(f["status"] == "Fail" and f["evidence"]["cause"] == "C1" for f in events), events
    for f in events:
        assert f["evidence"]["kubernetesReadVia"] == "runCommand" and "through AKS run command" in f["message"]
    # Findings that did not read Kubernetes do not say so; those about the registry the pods named do.
    for check_id in ("kubelet-identity-vmss", "sp-credential-expiry"):
        for f in _of(findings, check_id):
            assert "kubernetesReadVia" not in f["evidence"] and "run command" not in f["message"], f
    role = _of(findings, "acr-role-assignment")[0]
    assert role["status"] == "Fail" and role["evidence"]["kubernetesReadVia"] == "runCommand"
    posts = _run_commands(sc)
    assert posts and all(e["status"] == 202 for e in posts)
    commands = [e for e in sc.sim.log if "/commandresults/" in e["path"].lower()]
    assert commands
    sc.assert_read_only()
    sc.assert_no_unknown_routes()


def test_private_cluster_with_no_run_command_says_what_to_do(scenario):
    sc = scenario("discover-private")
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--no-run-command", "-o", "json")
    assert result.rc == 1, result
    assert "Kubernetes API server" in result.stderr and "private cluster" in result.stderr, result.stderr
    assert "--no-run-command" in result.stderr and "Traceback" not in result.stderr
    assert not _run_commands(sc)
    # With --acr the other checks still run; the ones that needed Kubernetes say Error and what to do.
    findings, result = _first(sc, "--acr", "myacr", "--pod", "web-5f8b9c7d4-7k2xq", "--namespace", "shop",
                              "--no-run-command", "--checks", "pod-pull-events", "acr-role-assignment")
    pod = _of(findings, "pod-pull-events")[0]
    assert pod["status"] == "Error" and "private cluster" in pod["message"], pod
    assert "without --no-run-command" in pod["message"]
    assert _of(findings, "acr-role-assignment")[0]["status"] == "Fail"
    assert not _run_commands(sc) and not _announced(result)


def test_pod_on_a_private_cluster_names_the_unreachable_api_server(scenario):
    sc = scenario("discover-private")
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--pod", "web-5f8b9c7d4-7k2xq",
                   "--namespace", "shop", "--no-run-command")
    assert result.rc == 1, result
    assert "Cannot read pod shop/web-5f8b9c7d4-7k2xq" in result.stderr and "could not be reached" in result.stderr
    assert "names a registry" not in result.stderr and "no --pod" not in result.stderr


def test_authorized_ip_ranges_are_read_through_run_command(scenario):
    sc = scenario("discover-authorized-ips")
    findings, result = _first(sc, "--checks", "pod-pull-events")
    assert len(_announced(result)) == 1 and "authorized IP ranges" in _announced(result)[0], result.stderr
    assert [f["status"] for f in _of(findings, "pod-pull-events")] == ["Fail"] * 3
    assert _run_commands(sc)


def _commands(sc):
    """The commands AKS run command ran, in order."""
    return list(getattr(sc.world, "commands_run", []))


def test_large_private_cluster_is_discovered_with_short_lines_through_run_command(scenario):
    from tests.simulator.runcommand import OUTPUT_LIMIT, execute
    sc = scenario("discover-private-large")
    cluster = sc.world.arm[next(k for k in sc.world.arm if k.endswith("/managedclusters/aks1"))]
    full_list, _, _ = execute(sc.world, cluster, "kubectl get --raw '/api/v1/pods?fieldSelector={}'".format(ACTIVE))
    assert len(full_list.encode()) > 4 * OUTPUT_LIMIT    # the LIST of the active pods would be cut several times
    sc.world.commands_run = []
    findings, result = _first(sc)
    assert len(_announced(result)) == 1, result.stderr
    events = _of(findings, "pod-pull-events")
    assert [f["target"] for f in events] == [
        "pod batch/migrate-28h7d (init container migrate)", "pod ops/agent-x7p2k (container log-shipper)",
        "pod shop/web-5f8b9c7d4-7k2xq (container app)"], events
    assert all(f["status"] == "Fail" and f["evidence"]["cause"] == "C1" for f in events), events
    assert all(f["evidence"]["kubernetesReadVia"] == "runCommand" for f in events)
    web = events[2]
    assert web["evidence"]["podCount"] == 3 and web["evidence"]["samePods"] == [
        "shop/web-5f8b9c7d4-9m4tz", "shop/web-5f8b9c7d4-p8w3n"]
    assert _of(findings, "acr-role-assignment")[0]["status"] == "Fail"
    ran = _commands(sc)
    lines = [c for c in ran if c.startswith("kubectl get pods --all-namespaces '--field-selector={}' -o jsonpath="
                                            .format(ACTIVE))]
    objects = [c for c in ran if c.startswith("kubectl get pods --namespace ") and " -o json " in c]
    assert len(lines) == 1 and "' > /tmp/acrpull-pods && awk '" in lines[0], ran
    assert objects == ["kubectl get pods --namespace batch --ignore-not-found -o json migrate-28h7d && kubectl get "
                       "pods --namespace ops --ignore-not-found -o json agent-x7p2k && kubectl get pods --namespace "
                       "shop --ignore-not-found -o json web-5f8b9c7d4-7k2xq"], ran
    assert not [c for c in ran if "/api/v1/pods" in c or "/pods/" in c], "pods read whole or one by one: {}".format(ran)
    assert len(_run_commands(sc)) == len(ran), (len(_run_commands(sc)), ran)
    assert ran.index(lines[0]) < ran.index(objects[0])
    sc.assert_read_only()
    sc.assert_no_unknown_routes()


def test_partial_rbac_through_run_command_reads_the_readable_namespaces(scenario):
    sc = scenario("discover-private-partial-rbac")
    findings, _ = _first(sc, "--checks", "pod-pull-events")
    events = _of(findings, "pod-pull-events")
    assert [(f["target"], f["status"], f["evidence"]["cause"]) for f in events] == [
        ("pod batch/migrate-28h7d (init container migrate)", "Fail", "C1"),
        ("pod ops/agent-x7p2k (container log-shipper)", "Fail", "C1"),
        ("pod shop/web-5f8b9c7d4-7k2xq (container app)", "Fail", "C1")], events
    assert all(f["evidence"]["kubernetesReadVia"] == "runCommand" for f in events)
    # kubectl's Forbidden for the whole cluster is not "no failing pod": the namespaces are read one by one.
    lines = [c.split(" -o jsonpath=")[0] for c in _commands(sc) if " -o jsonpath=" in c]
    assert lines[0] == "kubectl get pods --all-namespaces '--field-selector={}'".format(ACTIVE), lines
    assert {"kubectl get pods --namespace {} '--field-selector={}'".format(ns, ACTIVE)
            for ns in ("shop", "batch", "ops", "kube-system")} <= set(lines[1:]), lines
    assert len([c for c in _commands(sc) if " --ignore-not-found -o json " in c]) == 1
    sc.assert_read_only()
    sc.assert_no_unknown_routes()


def test_too_many_failing_pods_for_run_command_say_to_narrow_the_search(scenario):
    sc = scenario("discover-private-flood")
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "-o", "json")
    assert result.rc == 1 and "Traceback" not in result.stderr, result
    error = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(error) == 1 and "Cannot read the cluster's pods: 3000 of the 3005 active pods in every namespace wait " \
        "on an image pull, more than the 512 KB that AKS run command returns can list" in error[0], result.stderr
    assert "--namespace <namespace>" in error[0] and "--pod <name>" in error[0] and "unreadable" not in error[0]
    assert len([c for c in _commands(sc) if c.startswith("kubectl get pods")]) == 1, _commands(sc)
    assert not [c for c in _commands(sc) if "/pods" in c], _commands(sc)    # no LIST of whole pods after it
    # One namespace fits: its ten groups are diagnosed one by one, their objects read in one more command.
    sc.world.commands_run = []
    sc.sim.clear_log()
    findings, _ = _first(sc, "--namespace", "load-3", "--checks", "pod-pull-events")
    events = _of(findings, "pod-pull-events")
    assert len(events) == 10 and all(f["status"] == "Fail" for f in events), events
    assert sorted(f["evidence"]["podCount"] for f in events) == [30] * 10, events
    ran = [c for c in _commands(sc) if c.startswith("kubectl get pods")]
    assert len(ran) == 2 and ran[0].startswith("kubectl get pods --namespace load-3 '--field-selector="), ran
    assert ran[1].startswith("kubectl get pods --namespace load-3 --ignore-not-found -o json svc-03-7d4b9c-00003 "), ran
    assert ran[1].count(" svc-") == 10, ran
    sc.assert_read_only()


def test_probe_and_no_run_command_exclude_each_other(scenario):
    sc = scenario("discover-healthy")
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "--probe", "--no-run-command")
    assert result.rc != 0 and "--no-run-command" in result.stderr and "Traceback" not in result.stderr, result
    assert not [e for e in sc.sim.log if e["host"] == "management.azure.com"], "read Azure before refusing"
