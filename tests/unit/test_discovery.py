"""Finding the failing pods in a LIST page: the fast scan agrees with decoding every item, whatever the page."""
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from azext_acrpull.diagnose.discovery import group_failing, pull_waits, read_page

REASONS = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CrashLoopBackOff",
           "ContainerCreating", None]


def _pod(i, namespace="default", reason=None, kind="containers", image="myacr.azurecr.io/app:v1", note=""):
    status_field = {"containers": "containerStatuses", "initContainers": "initContainerStatuses",
                    "ephemeralContainers": "ephemeralContainerStatuses"}[kind]
    state = {"waiting": {"reason": reason, "message": "m"}} if reason else {"running": {"startedAt": "x"}}
    return {"metadata": {"name": "p{:04d}".format(i), "namespace": namespace,
                         "annotations": {"note": note}},
            "spec": {kind: [{"name": "c", "image": image}]},
            "status": {"phase": "Pending" if reason else "Running", status_field: [{"name": "c", "state": state}]}}


def _page(pods, compact=True, cont=None):
    meta = {"resourceVersion": "1"}
    if cont:
        meta["continue"] = cont
    body = {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": pods}
    return json.dumps(body, separators=(",", ":") if compact else None, indent=None if compact else 2).encode()


def _names(pods):
    return sorted(p["metadata"]["name"] for p in pods)


pods_strategy = st.lists(st.tuples(st.sampled_from(REASONS), st.sampled_from(["containers", "initContainers",
                                                                               "ephemeralContainers"]),
                                   st.sampled_from(["", "ImagePullBackOff", '{"metadata":{"x":1}}', "a\"b,{"])),
                         max_size=25)


@settings(max_examples=150, deadline=None)
@given(pods_strategy, st.booleans(), st.sampled_from([None, "tok"]))
def test_scan_agrees_with_decoding_every_item(specs, compact, cont):
    pods = [_pod(i, reason=r, kind=k, note=n) for i, (r, k, n) in enumerate(specs)]
    found, token, count = read_page(_page(pods, compact, cont))
    assert _names(found) == _names([p for p in pods if pull_waits(p)])
    assert token == cont and count == len(pods)


def test_a_page_without_a_pull_reason_is_not_decoded(monkeypatch):
    import azext_acrpull.diagnose.discovery as discovery
    raw = _page([_pod(i) for i in range(50)], cont="next")
    calls = []
    real = json.loads
    monkeypatch.setattr(discovery.json, "loads", lambda text, *a, **k: calls.append(len(text)) or real(text))
    assert read_page(raw) == ([], "next", 50)
    assert max(calls) < 200, calls     # only the list's metadata


def test_only_the_failing_items_are_decoded(monkeypatch):
    import azext_acrpull.diagnose.discovery as discovery
    pods = [_pod(i) for i in range(200)]
    pods[150] = _pod(150, reason="ImagePullBackOff")
    raw = _page(pods)
    calls = []
    real = json.loads
    monkeypatch.setattr(discovery.json, "loads", lambda text, *a, **k: calls.append(len(text)) or real(text))
    found, _, _ = read_page(raw)
    assert _names(found) == ["p0150"] and max(calls) < len(raw) // 50, calls


def test_waiting_containers_of_every_kind():
    assert pull_waits(_pod(1, reason="ErrImagePull", kind="initContainers"))[0]["kind"] == "init container"
    assert pull_waits(_pod(1, reason="ImagePullBackOff", kind="ephemeralContainers"))[0]["kind"] == \
        "ephemeral container"
    assert pull_waits(_pod(1, reason="CrashLoopBackOff")) == []


def test_replicas_group_and_namespaces_split():
    a = [_pod(i, "shop", "ImagePullBackOff") for i in range(3)]
    b = _pod(9, "other", "ImagePullBackOff")
    c = _pod(7, "shop", "ImagePullBackOff", image="myacr.azurecr.io/app:v2")
    groups = group_failing(a + [b, c])
    assert [(g[0]["metadata"]["name"], len(g[1])) for g in groups] == [("p0009", 0), ("p0000", 2), ("p0007", 0)]
