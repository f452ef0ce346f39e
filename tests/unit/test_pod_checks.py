"""The pod checks: which events belong to a container, which text decides, how facts of a simulated world decide."""
import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose.catalog import catalog
from azext_acrpull.diagnose.checks.pod import classify_container, container_events
from azext_acrpull.diagnose.facts.registry_data import _errors, _granted
from azext_acrpull.diagnose.reference import parse_reference
from azext_acrpull.diagnose.runner import select_checks

IMG = "myacr.azurecr.io/app:v1"
OAUTH = ('failed to pull and unpack image "{0}": failed to resolve reference "{0}": failed to authorize: failed to '
         "fetch oauth token: unexpected status: 401 Unauthorized".format(IMG))
ANON = ('failed to pull and unpack image "{0}": failed to resolve reference "{0}": failed to authorize: failed to '
        "fetch anonymous token: unexpected status: 401 Unauthorized".format(IMG))
NOT_FOUND = 'failed to pull and unpack image "{0}": failed to resolve reference "{0}": {0}: not found'.format(IMG)
NO_PLATFORM = 'failed to pull and unpack image "{}": no match for platform in manifest: not found'.format(IMG)
TEXTS = {"C1": OAUTH, "C2": NOT_FOUND, "C5": NO_PLATFORM, "X.qps": "pull QPS exceeded"}


def _event(reason, message, field=None, when="2026-11-26T08:59:00Z", type_="Warning", uid=None):
    obj = {"kind": "Pod", "name": "web"}
    if field:
        obj["fieldPath"] = field
    return {"metadata": {"uid": uid or reason + message + (field or "")}, "involvedObject": obj, "reason": reason,
            "message": message, "type": type_, "lastTimestamp": when, "count": 2}


def _container(name="app", image=IMG, kind="container", reason="ImagePullBackOff", message=None):
    waiting = {"reason": reason}
    if message is not None:
        waiting["message"] = message
    return {"name": name, "kind": kind, "image": image, "imagePullPolicy": "IfNotPresent",
            "status": {"name": name, "state": {"waiting": waiting}}}


# --- which events belong to which container ----------------------------------------------------------------------

def test_events_by_field_path_then_by_quoted_image():
    app, side = _container(), _container("side", "nginx:1.27")
    events = [_event("Failed", "x", "spec.containers{app}", "2026-11-26T08:00:00Z"),
              _event("Failed", "y", "spec.containers{side}"),
              _event("Failed", 'Failed to pull image "{}": z'.format(IMG), when="2026-11-26T08:30:00Z"),
              _event("FailedToRetrieveImagePullSecret", "Unable to retrieve some image pull secrets (s); attempting "
                     "to pull the image may not succeed.", when="2026-11-26T08:10:00Z"),
              _event("Failed", 'Failed to pull image "nginx:1.27": w')]
    mine = container_events(events, app, [app, side])
    assert [e["message"][:12] for e in mine] == ['Failed to pu', "Unable to re", "x"]          # newest first
    assert [e["message"] for e in container_events(events, side, [app, side])][:2] == ["y", 'Failed to pull image '
                                                                                           '"nginx:1.27": w']


def test_init_and_ephemeral_field_paths():
    init = _container("migrate", kind="init container")
    debug = _container("debugger", kind="ephemeral container")
    events = [_event("Failed", "a", "spec.initContainers{migrate}"), _event("Failed", "b",
                                                                            "spec.ephemeralContainers{debugger}")]
    assert [e["message"] for e in container_events(events, init, [init, debug])] == ["a"]
    assert [e["message"] for e in container_events(events, debug, [init, debug])] == ["b"]


# --- which text decides --------------------------------------------------------------------------------------------

def test_waiting_message_first_then_newest_warning_event():
    events = [_event("Failed", "Error: ErrImagePull", when="2026-11-26T08:59:59Z"),
              _event("Failed", 'Failed to pull image "{}": {}'.format(IMG, NOT_FOUND), when="2026-11-26T08:59:00Z"),
              _event("Failed", 'Failed to pull image "{}": {}'.format(IMG, OAUTH), when="2026-11-26T08:00:00Z")]
    found, text, source, event = classify_container(_container(message='Back-off pulling image "{}"'.format(IMG)),
                                                    events)
    assert (found.cause, source, event["lastTimestamp"]) == ("C2", "event Failed", "2026-11-26T08:59:00Z")
    found, _, source, event = classify_container(
        _container(message='Back-off pulling image "{}": ErrImagePull: {}'.format(IMG, OAUTH)), events)
    assert (found.cause, found.token, source, event) == ("C1", "oauth", "waiting message", None)


def test_waiting_reason_speaks_when_no_text_does():
    found, _, source, _ = classify_container(_container(reason="InvalidImageName"), [])
    assert (found.cause, source) == ("C2", "waiting reason InvalidImageName")
    found, _, _, _ = classify_container(_container(message='Back-off pulling image "{}"'.format(IMG)),
                                        [_event("BackOff", 'Back-off pulling image "{}"'.format(IMG), type_="Normal")])
    assert found.cause == "unknown" and "Failed events" in found.reason


@given(st.sampled_from(sorted(TEXTS)), st.sampled_from(["event", "waiting", "backoff"]),
       st.sampled_from(["", "rpc error: code = Unknown desc = "]), st.booleans())
def test_where_kubelet_puts_the_text_does_not_change_the_cause(cause, where, rpc, brackets):
    text = rpc + TEXTS[cause]
    text = "[" + text + "]" if brackets else text
    if where == "event":
        container = _container(message='Back-off pulling image "{}"'.format(IMG))
        events = [_event("Failed", 'Failed to pull image "{}": {}'.format(IMG, text), "spec.containers{app}")]
    elif where == "waiting":
        container, events = _container(reason="ErrImagePull", message=text), []
    else:
        container, events = _container(message='Back-off pulling image "{}": ErrImagePull: {}'.format(IMG, text)), []
    assert classify_container(container, events)[0].cause == cause


# --- facts decide: the checks on a simulated world ------------------------------------------------------------------

POOLS = [{"name": "nodepool1", "osType": "Linux", "vmSize": "Standard_D4ds_v5", "mode": "System"},
         {"name": "armpool", "osType": "Linux", "vmSize": "Standard_D4ps_v5", "mode": "User"}]


def _run(check_id, facts):
    chk = next(c for c in catalog() if c.check_id == check_id)
    return chk.func(chk, facts)


def _image_world(pod_image=None, tags=(("v1", "linux/amd64"),), running=False, image=None, readable=True):
    """A cluster aks with an amd64 and an Arm pool and registry myacr holding app at ``tags`` (tag, platform), read
    through the in-memory reader: pod web on the Arm pool pulls ``pod_image`` (its pull refused with an anonymous
    401, unless ``running``), and ``image`` is the --image. The cluster's nodes are not in the world (the
    architecture comes from the pools' VM sizes); an unreadable registry keeps this machine out by its firewall."""
    from tests.simulator.facts import world_facts
    from tests.simulator.pods import node_name, pull_failure
    from tests.simulator.pods import pod as sim_pod
    from tests.simulator.registry_content import push
    from tests.simulator.tenant import populate
    from tests.simulator.world import World
    w = World("unit-image")
    cluster = w.cluster("aks", "rg", pools=[dict(p) for p in POOLS])
    registry = w.registry("myacr", "rg")
    for tag, platform in tags:
        push(w, registry, "app", tag, [platform])
    if not readable:
        registry["properties"]["networkRuleSet"] = {"defaultAction": "Deny", "ipRules": []}
    if pod_image:
        web = sim_pod(w, cluster, "web", [{"name": "app", "image": pod_image}], node=node_name(w, cluster, "armpool"),
                      deployment="web")
        if not running:
            pull_failure(w, cluster, web, "app", ANON)
    return world_facts(populate(w), "aks", "rg", pod="web" if pod_image else None,
                       images=(parse_reference(image),) if image else ())


def _scenario_facts(name, edit=None, pod=None, image=None):
    """The facts of cluster aks1 of an end-to-end scenario's world, read through the in-memory reader, after
    ``edit(world)`` varies it; ``pod`` and ``image`` are the request's --pod and --image."""
    from tests.simulator.facts import world_facts
    from tests.simulator.scenarios import SCENARIOS
    from tests.simulator.tenant import populate
    w = SCENARIOS[name][1]()
    if edit:
        edit(w)
    return world_facts(populate(w), "aks1", "rg1", pod=pod, images=(parse_reference(image),) if image else ())


@pytest.mark.parametrize("image, tags, cause, decided", [
    (IMG, (("v1", "linux/amd64"),), "X.arch", "image-platform"),
    (IMG, (("v1", "linux/arm64"),), "C1", None),
    (IMG, (("v2", "linux/amd64"),), "C2", "image-manifest"),
    ("myacr.azureacr.io/app:v1", (("v1", "linux/amd64"),), "C2", "image-reference"),
    (IMG, None, "C1", None),   # the registry's data plane cannot be read from here
])
def test_an_anonymous_401_is_decided_by_facts(image, tags, cause, decided):
    facts = _image_world(image, tags or (("v1", "linux/amd64"),), readable=tags is not None)
    [finding] = _run("pod-pull-events", facts)
    assert finding.status == "Fail"
    assert (finding.evidence["cause"], finding.evidence["textCause"]) == (cause, "C1")
    assert (finding.evidence["decidedBy"] or "").split(":")[0] == (decided or "")
    # The architecture is known from the VM size here: the nodes could not be read.
    if decided == "image-platform":
        assert "armpool" in finding.message
        assert "kubernetes.io/arch" in finding.remediation and "docker buildx build" in finding.remediation


def test_a_running_pod_passes_and_no_pod_is_skipped():
    [finding] = _run("pod-pull-events", _image_world(IMG, running=True))
    assert finding.status == "Pass" and finding.evidence["containers"] == {"app": "running"}
    [skipped] = _run("pod-pull-events", _image_world(image=IMG))
    assert skipped.status == "Skipped"
    assert _run("pull-rate-limit", _image_world(image=IMG))[0].status == "Skipped"


def test_image_checks_on_plain_facts():
    facts = _image_world(image="myacr.azurecr.io/app:v1")
    [platform] = _run("image-platform", facts)
    assert platform.status == "Warning" and platform.evidence["cause"] == "X.arch"
    [manifest] = _run("image-manifest", facts)
    assert manifest.status == "Pass"
    [manifest] = _run("image-manifest", _image_world(image="myacr.azurecr.io/app:v9"))
    assert manifest.status == "Fail" and manifest.evidence["closest"] == ("v1",)


# --- the data plane's answers --------------------------------------------------------------------------------------

def _jwt(claims):
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return "e30." + body + ".sig"


def test_granted_reads_the_access_claim():
    token = _jwt({"access": [{"type": "repository", "name": "app", "actions": ["pull"]},
                             {"Type": "registry", "Name": "catalog", "Actions": ["*"]}]})
    assert _granted(token, "repository", "app", "pull")
    assert not _granted(token, "repository", "web", "pull")
    assert _granted(token, "registry", "catalog", "*")
    assert not _granted(_jwt({"access": [{"type": "repository", "name": "app", "actions": []}]}), "repository",
                        "app", "pull")
    assert not _granted("not a token", "repository", "app", "pull")


class _Response:
    def __init__(self, body, text=""):
        self._body, self.text = body, text

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


def test_errors_reads_registry_error_bodies():
    assert _errors(_Response({"errors": [{"code": "DENIED", "message": "client with IP '1.2.3.4' is not allowed"}]})) \
        == ("DENIED", "client with IP '1.2.3.4' is not allowed")
    assert _errors(_Response(ValueError(), "<html>bad gateway</html>")) == (None, "<html>bad gateway</html>")


# --- selection -----------------------------------------------------------------------------------------------------

def test_pod_group_joins_every_command_only_with_a_pod():
    for group in ("check-auth", "check-image", "check-network", "check-registry"):
        assert "pod-pull-events" in [c.check_id for c in select_checks(group, pod=True)]
        assert "pod-pull-events" not in [c.check_id for c in select_checks(group)]
    assert [c.check_id for c in select_checks("check-image")] == ["image-reference", "image-manifest",
                                                                  "image-platform", "pull-rate-limit",
                                                                  "artifact-cache-rule", "pod-admission",
                                                                  "node-disk-pressure"]
    assert "pod-pull-events" in [c.check_id for c in select_checks("run")]


# --- beyond the article: where each cause points, and the proxy that re-signs TLS ------------------------------------

def test_every_cause_points_at_checks_of_the_catalog():
    from azext_acrpull.diagnose.catalog import CATALOG_ORDER
    from azext_acrpull.diagnose.checks.pod import CAUSE_CHECKS, GROUP_OF_CAUSE
    from azext_acrpull.diagnose.classify import CAUSES
    assert set(CAUSE_CHECKS) == set(CAUSES)
    assert {c for checks in CAUSE_CHECKS.values() for c in checks} <= set(CATALOG_ORDER)
    assert all(GROUP_OF_CAUSE.get(cause) for cause, checks in CAUSE_CHECKS.items() if checks)
    assert CAUSE_CHECKS["B.cache"] == ("artifact-cache-rule",) and CAUSE_CHECKS["B.disk"] == ("node-disk-pressure",)
    assert CAUSE_CHECKS["B.admission"] == ("pod-admission",) and "egress-path" in CAUSE_CHECKS["B.fqdn"]


def _proxy(config):
    """net-proxy-tls-untrusted's world with the cluster's httpProxyConfig replaced (None: no proxy)."""
    def edit(w):
        cluster = next(r for k, r in w.arm.items() if k.endswith("/managedclusters/aks1"))
        cluster["properties"].pop("httpProxyConfig")
        if config is not None:
            cluster["properties"]["httpProxyConfig"] = config
    return edit


PROXY = "http://10.0.1.10:3128/"


@pytest.mark.parametrize("edit, cause, says", [
    (None, "B.proxy", "no trustedCa"),   # the scenario as the end-to-end test runs it
    (_proxy({"httpsProxy": PROXY, "noProxy": ["localhost"]}), "B.proxy", "no trustedCa"),
    (_proxy({"httpsProxy": PROXY, "trustedCa": "LS0t"}), "B.proxy", "10.0.1.10:3128"),
    (_proxy({"noProxy": ["localhost"]}), "X.tls", "unknown authority"),
    (_proxy(None), "X.tls", "unknown authority"),
])
def test_an_unknown_authority_behind_the_cluster_proxy_is_the_proxy(edit, cause, says):
    facts = _scenario_facts("net-proxy-tls-untrusted", edit, pod="app")
    [finding] = _run("pod-pull-events", facts)
    assert (finding.status, finding.evidence["cause"], finding.evidence["textCause"]) == ("Fail", cause, "X.tls")
    assert says in finding.message
    assert "egress-path" in finding.message


# --- an artifact cache rule serves the repository: not found here is not the cause ----------------------------------
# The worlds of the cache-* scenarios: rules dockerhub-library (docker.io/library/* -> docker.io/library/*) and
# mcr-dotnet (mcr.microsoft.com/dotnet/* -> dotnet/*); Docker Hub holds library/nginx:1.27 only.

UNCACHED = "myacr.azurecr.io/docker.io/library/nginx:9.99"


def _pod_pulling(image):
    """Adds pod web-new pulling ``image``, refused with an anonymous 401 (as containerd words it)."""
    def edit(w):
        from tests.simulator.pods import node_name, pod, pull_failure
        cluster = next(r for k, r in w.arm.items() if k.endswith("/managedclusters/aks1"))
        new = pod(w, cluster, "web-new", [{"name": "app", "image": image}], node=node_name(w, cluster, "nodepool1"))
        pull_failure(w, cluster, new, "app", ANON.replace(IMG, image))
    return edit


def _without_rules(w):
    for key in [k for k, r in w.arm.items() if r.get("type") == "Microsoft.ContainerRegistry/registries/cacheRules"]:
        del w.arm[key]


def _rules_unreadable(w):
    registry = next(r for k, r in w.arm.items() if k.endswith("/registries/myacr"))
    w.denied_scopes = [registry["id"] + "/cacheRules"]


def test_an_image_a_cache_rule_serves_is_not_failed_for_being_absent():
    facts = _scenario_facts("cache-credentials-healthy", _pod_pulling(UNCACHED), pod="web-new")
    [finding] = _run("image-manifest", facts)
    assert finding.status == "Warning", finding
    assert finding.evidence["cacheRule"] == "dockerhub-library" and finding.evidence["missing"] == "notCachedYet"
    assert finding.evidence["upstreamImage"] == "docker.io/library/nginx:9.99"
    assert "first pull through the rule" in finding.message and "artifact-cache-rule" in finding.remediation
    [pod] = _run("pod-pull-events", _scenario_facts("cache-credentials-healthy", _pod_pulling(UNCACHED),
                                                    pod="web-new"))
    assert pod.evidence["cause"] != "C2", pod.evidence


def test_an_upstream_refusal_through_a_cache_rule_points_at_the_rule():
    facts = _scenario_facts("cache-credentials-unhealthy", pod="web")
    [finding] = _run("image-manifest", facts)
    assert finding.status == "Warning" and finding.evidence["missing"] == "upstream", finding
    assert "could not fetch it from docker.io" in finding.message


@pytest.mark.parametrize("edit, image", [
    (_without_rules, UNCACHED),                       # no rule at all
    (None, "myacr.azurecr.io/nginx:1.27"),            # rules, none for this repository
    (_rules_unreadable, UNCACHED),                    # a rule serves it, but the rules cannot be read
])
def test_without_a_rule_for_the_repository_a_missing_repository_still_fails(edit, image):
    [finding] = _run("image-manifest", _scenario_facts("cache-credentials-healthy", edit, image=image))
    assert finding.status == "Fail" and finding.evidence["missing"] == "repository", finding
