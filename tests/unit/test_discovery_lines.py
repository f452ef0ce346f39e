"""Discovery through AKS run command: the short lines kubectl prints for each pod, filtered by awk in the cluster, give
the same failing pods and groups as the whole objects; a cut answer says so and what to do."""
import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azext_acrpull.diagnose import discovery
from azext_acrpull.diagnose.classify import WAITING_REASONS
from azext_acrpull.diagnose.discovery import (
    LinesCut,
    group_failing,
    group_key,
    objects_command,
    parse_objects,
    parse_pod_lines,
    pod_lines_command,
    pull_waits,
)
from azext_acrpull.diagnose.facts.base import FactError
from azext_acrpull.diagnose.facts.runcommand import RunCommandFacts
from tests.simulator.runcommand import jsonpath

KINDS = [("initContainers", "initContainerStatuses"), ("containers", "containerStatuses"),
         ("ephemeralContainers", "ephemeralContainerStatuses")]
REASONS = list(WAITING_REASONS) + ["CrashLoopBackOff", "ContainerCreating", "PodInitializing", None]
IMAGES = ["myacr.azurecr.io/app:v1", "", "bad image\twith tab", "a=b;c,d", "MyAcr.azurecr.io/UPPER:1", "x" * 300,
          "acrpull-pod\tfake"]


def _template():
    command = pod_lines_command()
    return command.split("-o jsonpath='", 1)[1].split("' > ", 1)[0]


def _awk_program():
    command = pod_lines_command()
    return command.split("&& awk '", 1)[1].rsplit("' ", 1)[0]


def _lines(pods):
    """What the command prints for ``pods``: kubectl's jsonpath (as the simulator renders it), then the real awk."""
    text = jsonpath(_template(), {"kind": "List", "items": pods})
    done = subprocess.run(["awk", _awk_program()], input=text, capture_output=True, text=True, check=True)
    return done.stdout


def _pod(i, containers, namespace="ns", secrets=(), account="default"):
    """containers: [(kind index, name, image, waiting reason or None)]."""
    spec, status = {"serviceAccountName": account}, {"phase": "Pending"}
    if secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in secrets]
    for kind, name, image, reason in containers:
        spec_field, status_field = KINDS[kind]
        spec.setdefault(spec_field, []).append({"name": name, "image": image})
        state = {"waiting": {"reason": reason, "message": "m"}} if reason else {"running": {"startedAt": "t"}}
        status.setdefault(status_field, []).append({"name": name, "state": state, "image": image})
    return {"metadata": {"namespace": namespace, "name": "pod-{:03d}".format(i), "labels": {"a": "b"}},
            "spec": spec, "status": status}


def test_the_command_keeps_kubectls_exit_status_and_quotes_the_namespace():
    command = pod_lines_command("team a")
    assert command.startswith("kubectl get pods --namespace 'team a' '--field-selector=status.phase!=Succeeded,"
                              "status.phase!=Failed' -o jsonpath='")
    assert " > /tmp/acrpull-pods && awk '" in command and "|" not in command.split("awk")[0]
    assert pod_lines_command().startswith("kubectl get pods --all-namespaces ")


@pytest.mark.parametrize("kind", [0, 1, 2])
@pytest.mark.parametrize("reason", WAITING_REASONS)
def test_every_pull_reason_of_every_container_kind_is_found(kind, reason):
    pods = [_pod(1, [(1, "main", "myacr.azurecr.io/app:v1", None), (kind, "c", "myacr.azurecr.io/x:1", reason)]),
            _pod(2, [(1, "main", "myacr.azurecr.io/app:v1", "CrashLoopBackOff")])]
    found, read = parse_pod_lines(_lines(pods))
    assert read == 2 and [p["metadata"]["name"] for p in found] == ["pod-001"]
    assert [(w["kind"], w["name"], w["reason"], w["image"]) for w in pull_waits(found[0])] == [
        (("init container", "container", "ephemeral container")[kind], "c", reason, "myacr.azurecr.io/x:1")]


def test_empty_fields_and_odd_images():
    pods = [_pod(1, [(1, "app", "bad image\twith\ttabs", "InvalidImageName")], account="", secrets=()),
            _pod(2, [(0, "init", "", "ErrImageNeverPull"), (1, "app", "a=b;c", None)], secrets=("s1", "s2"))]
    found, read = parse_pod_lines(_lines(pods))
    assert read == 2
    first, second = found
    assert pull_waits(first)[0]["image"] == "bad image\twith\ttabs" and first["spec"]["serviceAccountName"] is None
    assert group_key(first) == group_key(pods[0])  # an empty service account means default, as on the object
    assert second["spec"]["imagePullSecrets"] == [{"name": "s1"}, {"name": "s2"}]
    assert pull_waits(second)[0] == {"kind": "init container", "name": "init", "image": "", "reason":
                                     "ErrImageNeverPull", "message": ""}


def test_nothing_failing_and_nothing_active():
    assert parse_pod_lines(_lines([_pod(1, [(1, "app", "i", None)])])) == ([], 1)
    assert parse_pod_lines(_lines([])) == ([], 0)


def test_a_cut_answer_is_never_read_as_fewer_failing_pods():
    text = _lines([_pod(i, [(1, "app", "i{}".format(i), "ImagePullBackOff")]) for i in range(5)])
    with pytest.raises(ValueError):
        parse_pod_lines(text[:len(text) // 2])                         # the head kept: no trailer
    with pytest.raises(LinesCut) as cut:
        parse_pod_lines(text[len(text) // 2:])                         # the tail kept: pods missing
    assert cut.value.failing == 5 and cut.value.printed < 5


def test_more_failing_pods_than_the_budget_are_counted_not_listed(monkeypatch):
    monkeypatch.setattr(discovery, "LINES_BUDGET", 300)
    pods = [_pod(i, [(1, "app", "myacr.azurecr.io/app:{}".format(i), "ErrImagePull")]) for i in range(10)]
    text = _lines(pods)
    assert len(text) < 500 and text.endswith("acrpull-pods\t10\t10\t{}\n".format(text.count("acrpull-pod\t")))
    with pytest.raises(LinesCut) as cut:
        parse_pod_lines(text)
    assert (cut.value.read, cut.value.failing) == (10, 10) and 0 < cut.value.printed < 10


container = st.tuples(st.integers(0, 2), st.sampled_from(["app", "init", "side", "a.b-c"]), st.sampled_from(IMAGES),
                      st.sampled_from(REASONS))
pod_specs = st.lists(st.tuples(st.lists(container, max_size=4, unique_by=lambda c: (c[0], c[1])),
                               st.sampled_from(["ns", "kube-system", "a-b"]),
                               st.lists(st.sampled_from(["s1", "s2", "x.y"]), max_size=2, unique=True),
                               st.sampled_from(["default", "", "builder"])), max_size=12)


@settings(max_examples=80, deadline=None)
@given(pod_specs)
def test_lines_agree_with_the_objects(specs):
    pods = [_pod(i, c, ns, secrets, account) for i, (c, ns, secrets, account) in enumerate(specs)]
    found, read = parse_pod_lines(_lines(pods))
    failing = [p for p in pods if pull_waits(p)]
    assert read == len(pods)
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in found] == [
        (p["metadata"]["namespace"], p["metadata"]["name"]) for p in failing]
    for line_pod, pod in zip(found, failing, strict=True):
        assert group_key(line_pod) == group_key(pod)
        assert [{k: v for k, v in w.items() if k != "message"} for w in pull_waits(line_pod)] == [
            {k: v for k, v in w.items() if k != "message"} for w in pull_waits(pod)]
    assert [[o["metadata"]["name"] for o in others] for _, others in group_failing(found)] == [
        [o["metadata"]["name"] for o in others] for _, others in group_failing(failing)]


def test_objects_are_fetched_per_namespace_and_parsed_as_kubectl_prints_them():
    pods = [_pod(1, [], namespace="b"), _pod(2, [], namespace="a"), _pod(3, [], namespace="b")]
    assert objects_command(pods) == ("kubectl get pods --namespace a --ignore-not-found -o json pod-002 && kubectl "
                                     "get pods --namespace b --ignore-not-found -o json pod-001 pod-003")
    one = dict(pods[1], kind="Pod", apiVersion="v1")
    listed = {"apiVersion": "v1", "kind": "List", "items": [dict(p, kind="Pod") for p in (pods[0], pods[2])],
              "metadata": {"resourceVersion": ""}}
    text = json.dumps(one, indent=4) + "\n" + json.dumps(listed, indent=4) + "\n"
    assert [p["metadata"]["name"] for p in parse_objects(text)] == ["pod-002", "pod-001", "pod-003"]
    assert parse_objects("") == [] and parse_objects("\n") == []
    for bad in (text[:-40], "[1]", '{"kind": "Secret"}'):
        with pytest.raises(ValueError):
            parse_objects(bad)


class _Run(RunCommandFacts):
    def __init__(self, logs, code=0):
        self.answer = {"id": "r1", "exitCode": code, "logs": logs}

    def run_command(self, command):
        return dict(self.answer, command=command)


def test_an_answer_cut_at_the_limit_says_so_and_what_to_do():
    cut = '{"kind":"PodList","items":[' + '{"metadata":{"name":"p"}},' * 30000
    assert len(cut) >= discovery.RUN_COMMAND_OUTPUT_LIMIT
    with pytest.raises(FactError) as err:
        _Run(cut[:discovery.RUN_COMMAND_OUTPUT_LIMIT]).kube_get_via_run_command("/api/v1/namespaces/a/secrets")
    assert "cut at run command's 512 KB limit" in err.value.reason and "reaches the API server" in err.value.reason
    with pytest.raises(FactError) as err:
        _Run(cut[:1000]).kube_get_via_run_command("/api/v1/namespaces/a/secrets")
    assert "unreadable answer" in err.value.reason
    with pytest.raises(FactError) as err:
        _Run(cut[:discovery.RUN_COMMAND_OUTPUT_LIMIT]).failing_via_run_command("/api/v1/pods")
    assert "cut at run command's 512 KB limit" in err.value.reason and "--namespace <namespace>" in err.value.reason


def test_kubectl_errors_are_not_read_as_no_failing_pod():
    with pytest.raises(FactError) as err:
        _Run('Error from server (Forbidden): pods is forbidden: User "u" cannot list resource "pods"', 1) \
            .failing_via_run_command("/api/v1/pods")
    assert err.value.status_code == 403 and "list pods" in err.value.reason
    with pytest.raises(FactError) as err:
        _Run("error: You must be logged in to the server (Unauthorized)", 1).failing_via_run_command(
            "/api/v1/namespaces/a/pods", "a")
    assert "failed (exit code 1)" in err.value.reason and "Unauthorized" in err.value.reason
    with pytest.raises(FactError) as err:
        _Run("acrpull-pods\t9\t9\t0\n").failing_via_run_command("/api/v1/namespaces/a/pods", "a")
    assert "9 of the 9 active pods in namespace a wait on an image pull" in err.value.reason
    assert _Run("acrpull-pods\t4\t0\t0\n").failing_via_run_command("/api/v1/pods") == ([], None, 4)


def _cluster(world):
    return next(r for r in world.arm.values()
                if (r.get("type") or "").lower() == "microsoft.containerservice/managedclusters")


def test_the_simulated_shell_stops_at_a_failing_kubectl():
    from tests.simulator.runcommand import execute
    from tests.simulator.scenarios import build
    world = build("discover-private-partial-rbac")
    logs, code, known = execute(world, _cluster(world), pod_lines_command())
    assert (code, known) == (1, True) and logs.startswith("Error from server (Forbidden): pods is forbidden")
    assert "acrpull-pods" not in logs             # awk did not run: no trailer, so never "no failing pod"
    logs, code, _ = execute(world, _cluster(world), pod_lines_command("shop"))
    assert code == 0 and [p["metadata"]["name"] for p in parse_pod_lines(logs)[0]] == [
        "web-5f8b9c7d4-7k2xq", "web-5f8b9c7d4-9m4tz", "web-5f8b9c7d4-p8w3n"]


def test_the_simulated_run_command_keeps_the_first_512_kb_and_the_cut_is_an_error_that_says_so():
    from tests.simulator.runcommand import OUTPUT_LIMIT, execute, run_command
    from tests.simulator.scenarios import build
    world = build("discover-private-large")
    cluster = _cluster(world)
    command = "kubectl get --raw '/api/v1/pods?fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed'"

    class Req:
        query = {"api-version": "2025-10-01"}

        def json(self):
            return {"command": command}

    path = cluster["id"] + "/runCommand"
    reply = run_command(Req(), world, path, path.lower())
    assert reply.status == 202
    result = world.arm[reply.headers["Location"].split("management.azure.com", 1)[1].split("?")[0].lower()]
    logs, whole = result["properties"]["logs"], execute(world, cluster, command)[0]
    assert len(whole) > OUTPUT_LIMIT and logs == whole[:OUTPUT_LIMIT]
    with pytest.raises(FactError) as err:
        _Run(logs).kube_get_via_run_command("/api/v1/pods")
    assert "was cut at run command's 512 KB limit" in err.value.reason and "unreadable" not in err.value.reason


def test_the_representatives_are_read_whole_in_one_command_and_a_deleted_one_is_dropped():
    pods = [_pod(i, [(1, "app", "myacr.azurecr.io/app:{}".format(i // 2), "ErrImagePull")]) for i in range(6)]
    skeletons = parse_pod_lines(_lines(pods))[0]
    whole = {p["metadata"]["name"]: dict(p, kind="Pod") for p in pods}
    run = _Run(json.dumps(whole["pod-000"]) + json.dumps({"kind": "List", "items": [whole["pod-004"]]}))
    commands = []
    run.run_command = lambda command: commands.append(command) or dict(run.answer, command=command)
    done = run.complete_failing(skeletons)
    assert commands == ["kubectl get pods --namespace ns --ignore-not-found -o json pod-000 pod-002 pod-004"]
    assert [p["metadata"]["name"] for p in done] == ["pod-000", "pod-001", "pod-003", "pod-004", "pod-005"]
    assert [discovery.SKELETON in p for p in done] == [False, True, True, False, True]
    # pod-002 was deleted since it was listed: pod-003 leads its group now, as the lines describe it.
    assert [(rep["metadata"]["name"], len(others)) for rep, others in group_failing(done)] == [
        ("pod-000", 1), ("pod-003", 0), ("pod-004", 1)]
