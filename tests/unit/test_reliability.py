"""The run's bounds in isolation: deadline, daemon workers, retry and backoff, token guard, argument types."""
import logging
import threading
import time

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull._validators import _cluster_name, _resource_group, _timeout
from azext_acrpull.diagnose.deadline import Deadline
from azext_acrpull.diagnose.facts.base import FactError
from azext_acrpull.diagnose.facts.kube import kube_permission
from azext_acrpull.diagnose.facts.sdk import _error_code
from azext_acrpull.diagnose.facts.transport import (
    RETRIES,
    RETRY_AFTER_MAX,
    BoundedHttp,
    TokenGuard,
    Unreachable,
    backoff,
    bounded_retry_policy,
    pause,
    request,
    retry_after,
)
from azext_acrpull.diagnose.threads import call_all


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


# -- deadline ------------------------------------------------------------------------------------------
def test_deadline_counts_down_and_expires():
    clock = Clock()
    d = Deadline(5, clock)
    assert d.remaining() == 5 and not d.expired
    clock.now += 4.5
    assert d.remaining() == pytest.approx(0.5)
    clock.now += 1
    assert d.remaining() == 0 and d.expired
    assert d.words() == "within 5 s (--timeout)"
    assert Deadline(None).remaining() == float("inf") and not Deadline(None).expired


# -- daemon workers ------------------------------------------------------------------------------------
def test_call_all_keeps_order_and_errors():
    outcomes = call_all([lambda: 1, lambda: 1 / 0, lambda: "x"], Deadline(5), max_workers=2)
    assert [o.done for o in outcomes] == [True, True, True]
    assert outcomes[0].value == 1 and isinstance(outcomes[1].error, ZeroDivisionError) and outcomes[2].value == "x"


def test_call_all_stops_waiting_at_the_deadline_on_daemon_threads():
    release = threading.Event()
    started = time.monotonic()
    outcomes = call_all([lambda: release.wait(10), lambda: "quick"], Deadline(0.3))
    assert time.monotonic() - started < 2
    assert not outcomes[0].done and outcomes[1].done and outcomes[1].value == "quick"
    stuck = [t for t in threading.enumerate() if t.name.startswith("acrpull") and t.is_alive()]
    assert stuck and all(t.daemon for t in stuck)   # they cannot keep the interpreter from exiting
    release.set()


def test_call_all_never_starts_work_after_the_deadline():
    ran = []
    gate = threading.Event()
    call_all([lambda: gate.wait(5), lambda: ran.append(1)], Deadline(0.2), max_workers=1)
    gate.set()
    time.sleep(0.2)
    assert ran == []


# -- retry and backoff ---------------------------------------------------------------------------------
def test_backoff_doubles_and_is_capped():
    assert [backoff(i) for i in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]


@pytest.mark.parametrize("header,seconds", [("3", 3.0), ("0", 0.0), ("x", None), (None, None)])
def test_retry_after_seconds(header, seconds):
    assert retry_after({"Retry-After": header} if header is not None else {}) == seconds


def test_retry_after_http_date_in_the_past_is_zero():
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_pause_respects_the_bounds():
    slept = []
    assert pause(0, None, Deadline(10), slept.append) and slept == [0.5]
    assert not pause(RETRIES, None, Deadline(10), slept.append)              # retries used up
    assert not pause(0, RETRY_AFTER_MAX + 1, Deadline(60), slept.append)     # the service asks too long a wait
    assert not pause(0, 5, Deadline(3), slept.append)                        # the wait would pass the deadline
    assert slept == [0.5]


class FakeResponse:
    def __init__(self, status, headers=None):
        self.status_code, self.headers, self.content, self.reason = status, headers or {}, b"{}", ""

    def json(self):
        return {}


class FakeSession:
    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def request(self, method, url, timeout=None, **kwargs):
        self.calls.append((method, timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_request_retries_transient_answers_then_returns(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    session = FakeSession([FakeResponse(503), FakeResponse(429, {"Retry-After": "1"}), FakeResponse(200)])
    response = request("GET", "https://x/y", Deadline(30), "x", session=session)
    assert response.status_code == 200 and len(session.calls) == 3
    assert all(t[0] <= 10 and t[1] <= 30 for _, t in session.calls)


def test_request_gives_up_after_the_bound(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    session = FakeSession([FakeResponse(500)] * 10)
    assert request("GET", "https://x/y", Deadline(30), "x", session=session).status_code == 500
    assert len(session.calls) == RETRIES + 1


def test_request_does_not_wait_for_a_long_retry_after(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("slept"))
    session = FakeSession([FakeResponse(429, {"Retry-After": "3600"})])
    assert request("GET", "https://x/y", Deadline(30), "x", session=session).status_code == 429


def test_request_does_not_repeat_a_failed_post_unless_asked(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    session = FakeSession([FakeResponse(503), FakeResponse(200)])
    assert request("POST", "https://x/y", Deadline(30), "x", session=session).status_code == 503
    session = FakeSession([FakeResponse(503), FakeResponse(200)])
    assert request("POST", "https://x/y", Deadline(30), "x", idempotent=True, session=session).status_code == 200


def test_request_unreachable_after_retries(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    session = FakeSession([requests.ConnectionError("refused")] * 4)
    with pytest.raises(Unreachable) as err:
        request("GET", "https://x/y", Deadline(30), "the API server", session=session)
    assert "could not be reached" in err.value.reason and isinstance(err.value.cause, requests.ConnectionError)


def test_request_does_not_retry_what_will_not_change(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    for error in (requests.exceptions.ConnectTimeout("no answer"), requests.exceptions.ReadTimeout("slow")):
        session = FakeSession([error, FakeResponse(200)])
        with pytest.raises(Unreachable):
            request("GET", "https://10.1.2.3/", Deadline(60), "the API server", session=session)
        assert len(session.calls) == 1


def test_request_after_the_deadline_is_not_sent():
    clock = Clock()
    deadline = Deadline(1, clock)
    clock.now += 2
    session = FakeSession([])
    with pytest.raises(FactError) as err:
        request("GET", "https://x/y", deadline, "the registry", session=session)
    assert "did not answer within 1 s" in err.value.reason and session.calls == []


def test_bounded_http_keeps_requests_exceptions(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)

    def refuse(*args, **kwargs):
        raise requests.ConnectionError("refused")
    from azext_acrpull.diagnose.facts import transport
    monkeypatch.setattr(transport.shared_session(), "request", refuse)
    with pytest.raises(requests.RequestException):
        BoundedHttp(Deadline(30)).get("https://myacr.azurecr.io/v2/", timeout=20)


def test_sdk_retry_policy_is_bounded():
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.transport import HttpResponse, HttpTransport
    from azure.core.rest import HttpRequest

    class Answer(HttpResponse):
        def __init__(self, request, status, headers=None):
            super().__init__(request, None)
            self.status_code, self.headers, self.reason = status, headers or {}, ""

        def body(self):
            return b""

    class Transport(HttpTransport):
        def __init__(self, statuses):
            self.statuses, self.sent = list(statuses), []

        def send(self, request, **kwargs):
            self.sent.append(kwargs.get("read_timeout"))
            status, headers = self.statuses.pop(0)
            return Answer(request, status, headers)

        def open(self):
            pass

        def close(self):
            pass

        def __exit__(self, *args):
            pass

        def sleep(self, seconds):
            pass

    transport = Transport([(503, None)] * 10)
    Pipeline(transport, [bounded_retry_policy(Deadline(60))]).run(HttpRequest("GET", "https://management.azure.com/x"))
    assert len(transport.sent) == RETRIES + 1
    assert all(t <= 30 for t in transport.sent)
    transport = Transport([(429, {"Retry-After": "600"})] * 3)
    response = Pipeline(transport, [bounded_retry_policy(Deadline(60))]).run(
        HttpRequest("GET", "https://management.azure.com/x"))
    assert response.http_response.status_code == 429 and len(transport.sent) == 1
    transport = Transport([(503, None), (200, None)])
    Pipeline(transport, [bounded_retry_policy(Deadline(60))]).run(
        HttpRequest("POST", "https://management.azure.com/x/listClusterUserCredential"))
    assert len(transport.sent) == 2
    # Starting a run command starts a pod: sent again only after an answer that says it was not taken.
    run = "https://management.azure.com/x/managedClusters/aks1/runCommand?api-version=2025-08-01"
    for status, headers, sent in ((500, None, 1), (504, None, 1), (500, {"Retry-After": "1"}, 1), (503, None, 2),
                                  (429, None, 2), (429, {"Retry-After": "1"}, 2)):
        transport = Transport([(status, headers), (202, None)])
        Pipeline(transport, [bounded_retry_policy(Deadline(60))]).run(HttpRequest("POST", run))
        assert len(transport.sent) == sent, (status, headers)
    transport = Transport([(500, None), (200, None)])
    Pipeline(transport, [bounded_retry_policy(Deadline(60))]).run(
        HttpRequest("GET", "https://management.azure.com/x/managedClusters/aks1/commandResults/abc"))
    assert len(transport.sent) == 2


# -- tokens --------------------------------------------------------------------------------------------
def test_token_guard_retries_a_transient_failure():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("broken JSON")
        return "token"
    assert TokenGuard(Deadline(30)).get("https://management.core.windows.net/", flaky, sleep=lambda s: None) \
        == "token"
    assert len(calls) == 3


def test_token_guard_remembers_a_failure_per_resource():
    guard, calls = TokenGuard(Deadline(30)), []

    def down():
        calls.append(1)
        raise ConnectionError("down")
    for _ in range(3):
        with pytest.raises(FactError) as err:
            guard.get(("https://management.core.windows.net//.default",), down, sleep=lambda s: None)
    assert len(calls) == RETRIES + 1 and "did not issue a token" in err.value.reason
    assert err.value.status_code is None


def test_token_guard_refused_sign_in_is_401():
    from azure.cli.core.azclierror import AuthenticationError

    def refused():
        raise AuthenticationError("AADSTS7000222: The provided client secret keys are expired.",
                                  msal_error={"error": "invalid_client"})
    with pytest.raises(FactError) as err:
        TokenGuard(Deadline(30)).get("https://graph.microsoft.com", refused, sleep=lambda s: None)
    assert err.value.status_code == 401 and "az login" in err.value.reason and "AADSTS7000222" in err.value.reason


def test_token_guard_does_not_retry_or_remember_azs_own_refusal():
    from knack.util import CLIError
    guard, calls = TokenGuard(Deadline(30)), []

    def unknown_subscription():
        calls.append(1)
        raise CLIError("Subscription 'nosuchsub' not found.")
    with pytest.raises(FactError):
        guard.get("https://management.core.windows.net/", unknown_subscription, sleep=lambda s: None)
    assert calls == [1]
    assert guard.get("https://management.core.windows.net/", lambda: "token") == "token"


def test_token_guard_busy_entra_is_not_a_refusal():
    from azure.cli.core.azclierror import AuthenticationError

    def busy():
        raise AuthenticationError("AADSTS50196: busy", msal_error={"error": "temporarily_unavailable"})
    with pytest.raises(FactError) as err:
        TokenGuard(Deadline(30)).get("https://graph.microsoft.com", busy, sleep=lambda s: None)
    assert err.value.status_code is None


# -- what errors say -----------------------------------------------------------------------------------
@pytest.mark.parametrize("path,words", [
    ("/api/v1/namespaces/default/pods/web", "get pods in namespace default"),
    ("/api/v1/namespaces/shop/events", "list events in namespace shop"),
    ("/apis/events.k8s.io/v1/namespaces/shop/events", "list events in namespace shop"),
    ("/api/v1/nodes", "list nodes"),
    ("/api/v1/namespaces/shop", "get namespaces"),
])
def test_kube_permission(path, words):
    assert kube_permission(path) == words


def test_arm_error_code_from_sdk_text():
    assert _error_code("(ResourceGroupNotFound) Resource group 'x' could not be found.\nCode: "
                       "ResourceGroupNotFound") == "ResourceGroupNotFound"
    assert _error_code("Operation returned an invalid status 'Not Found'\nCode: NotFound") == "NotFound"
    assert _error_code("Operation returned an invalid status 'Service Unavailable'") is None


def test_sdk_warning_tracebacks_are_dropped():
    from azext_acrpull.diagnose.facts.transport import _QuietSdkTracebacks
    record = logging.LogRecord("azure.mgmt.authorization._utils.model_base", logging.WARNING, __file__, 1,
                               "Ran into a deserialization error. Ignoring since this is failsafe deserialization",
                               None, (ValueError, ValueError("x"), None))
    assert _QuietSdkTracebacks.filter(record) is False and record.exc_info is None
    record = logging.LogRecord("cli.azext_acrpull", logging.WARNING, __file__, 1, "summary", None, None)
    assert _QuietSdkTracebacks.filter(record) is True


# -- argument types ------------------------------------------------------------------------------------
@given(st.text(max_size=120))
def test_resource_group_type_accepts_or_explains(value):
    try:
        assert _resource_group(value) == value
        assert 1 <= len(value) <= 90 and not value.endswith(".")
    except ValueError as err:
        assert "not a valid resource group name" in str(err) and len(str(err)) < 300


@given(st.text(max_size=80))
def test_cluster_name_type_accepts_or_explains(value):
    try:
        assert _cluster_name(value) == value
        assert 1 <= len(value) <= 63 and value[0].isascii() and value[0].isalnum()
    except ValueError as err:
        assert "not a valid AKS cluster name" in str(err) and len(str(err)) < 300


@given(st.one_of(st.integers(-10, 5000).map(str), st.text(max_size=10)))
def test_timeout_type(value):
    try:
        seconds = _timeout(value)
        assert 1 <= seconds <= 3600
    except ValueError as err:
        assert "between 1 and 3600" in str(err)


# -- faults are no verdicts ------------------------------------------------------------------------------
@pytest.mark.parametrize("status,fault", [(None, False), (403, False), (404, False), (408, True), (429, True),
                                          (500, True), (503, True)])
def test_fact_error_fault_follows_the_status(status, fault):
    assert FactError("x", status).fault is fault
    assert FactError("x", status, fault=True).fault is True


def test_token_guard_bounds_a_token_request_that_never_answers():
    guard, release = TokenGuard(Deadline(0.2)), threading.Event()
    started = time.monotonic()
    with pytest.raises(FactError) as err:
        guard.get("https://containerregistry.azure.net", lambda: release.wait(30), sleep=lambda s: None)
    release.set()
    assert time.monotonic() - started < 3
    assert err.value.fault and "timed out reading a token" in err.value.reason and "Entra ID" in err.value.reason
    assert err.value.status_code is None


def test_token_guard_failure_is_a_fault_and_a_refusal_is_not():
    from azure.cli.core.azclierror import AuthenticationError

    def busy():
        raise AuthenticationError("AADSTS50196: busy", msal_error={"error": "temporarily_unavailable"})

    def refused():
        raise AuthenticationError("AADSTS7000222: expired", msal_error={"error": "invalid_client"})
    with pytest.raises(FactError) as err:
        TokenGuard(Deadline(30)).get("https://graph.microsoft.com", busy, sleep=lambda s: None)
    assert err.value.fault
    with pytest.raises(FactError) as err:
        TokenGuard(Deadline(30)).get("https://graph.microsoft.com", refused, sleep=lambda s: None)
    assert not err.value.fault and err.value.status_code == 401


def test_msal_throttle_own_default_is_dropped_and_entra_retry_after_honoured(monkeypatch):
    from azure.cli.core.auth.identity import Identity
    from msal.individual_cache import _ExpiringMapping
    from msal.throttled_http_client import NormalizedResponse

    from azext_acrpull.diagnose.facts.transport import _msal_throttled

    class Raw:
        def __init__(self, status, headers):
            self.status_code, self.text, self.headers = status, "{}", headers
    cache = {}
    monkeypatch.setattr(Identity, "_msal_http_cache", cache)
    mapping = _ExpiringMapping(mapping=cache, lock=threading.Lock())
    mapping.set("POST https://login/t/oauth2/v2.0/token client_id=a scope=x hash=1 429/5xx/Retry-After",
                NormalizedResponse(Raw(500, {})), 5)
    assert _msal_throttled() == 0.0
    assert list(mapping) == [], "msal's own 5 s replay of a 500 is dropped: the bounded backoff decides"
    mapping.set("POST https://login/t/oauth2/v2.0/token client_id=a scope=y hash=1 429/5xx/Retry-After",
                NormalizedResponse(Raw(429, {"Retry-After": "7"})), 7)
    assert 5 < _msal_throttled() <= 7
    assert len(list(mapping)) == 1, "a Retry-After Entra ID sent is kept, and waited for"
    monkeypatch.setattr(Identity, "_msal_http_cache", None)
    assert _msal_throttled() is None


class _HealthFacts:
    cluster_name = "aks1"

    def __init__(self, steps):
        self.steps = steps

    def registries(self):
        return [{"name": "myacr", "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/"
                 "registries/myacr", "properties": {"loginServer": "myacr.azurecr.io"}}]

    def registry_health(self, registry):
        return {"loginServer": "myacr.azurecr.io", "proxy": None, "addresses": ["10.0.0.4"], "steps": self.steps}


@pytest.mark.parametrize("fault,status", [(True, "Error"), (False, "Fail")])
def test_registry_health_judges_answers_not_faults(fault, status):
    from azext_acrpull.diagnose.catalog import catalog
    from azext_acrpull.diagnose.checks import health
    chk = next(c for c in catalog() if c.check_id == "registry-health")
    steps = [{"step": "dns", "ok": True, "detail": "10.0.0.4"},
             {"step": "challenge", "ok": True, "detail": "401 with a Bearer challenge"},
             {"step": "token", "ok": False, "status": None, "fault": fault,
              "detail": "timed out reading the token exchange of registry myacr"}]
    [finding] = health.registry_health(chk, _HealthFacts(steps))
    assert finding.status == status
    assert (finding.remediation == "") is fault


def test_a_read_the_deadline_ended_is_still_named_as_what_was_waited_for():
    """A read whose own wait is bounded by the deadline may let go a moment before the runner gives up on the
    check waiting for it: the check must still say what it waited for (not only 'timed out')."""
    from types import SimpleNamespace

    from azext_acrpull.diagnose.facts.base import Facts
    facts = Facts(SimpleNamespace(options={"timeout": 1.0}))
    with facts.reading("an early read"):
        pass
    with pytest.raises(FactError):
        with facts.reading("AKS run command on cluster aks1"):
            time.sleep(1.05)
            raise FactError("timed out", fault=True)
    assert facts.pending_reads() == ["AKS run command on cluster aks1"]
