"""The registry's token flow as `run` sends it: the exchange goes out beside the challenge, not after it."""
import threading
from urllib.parse import urlsplit

from tests.simulator.facts import world_facts
from tests.simulator.scenarios import build


def _facts_with(world, answer):
    """The world's facts whose registry data plane goes through ``answer(method, url, real, **kwargs)``."""
    facts = world_facts(world, registry=("name", "myacr"))
    real = facts.http.request
    facts.http.request = lambda method, url, **kw: answer(method, url, real, **kw)
    return facts


def test_the_exchange_is_sent_while_the_challenge_is_in_flight():
    """GET /v2/ answers only once the exchange has gone out: an exchange that waited for the challenge would not go
    out within the 10 s the challenge waits, and the flag below would say so."""
    exchanged, seen = threading.Event(), {}

    def answer(method, url, real, **kw):
        path = urlsplit(url).path
        if path == "/v2/":
            seen["exchange before the challenge's answer"] = exchanged.wait(10)
        if path == "/oauth2/exchange":
            exchanged.set()
        return real(method, url, **kw)

    facts = _facts_with(build("mi-healthy"), answer)
    assert facts._registry_refresh_token(facts.registries()[0])   # pylint: disable=protected-access
    assert seen == {"exchange before the challenge's answer": True}


def test_a_realm_elsewhere_is_asked_again_at_the_realm():
    """A challenge whose realm is not the login server (not ACR's own shape, but the flow allows it): the exchange
    sent beside the challenge is not used; the one sent to the realm's host, with its service, is."""
    sent = []

    def answer(method, url, real, **kw):
        split = urlsplit(url)
        if split.path == "/oauth2/exchange":
            sent.append((split.hostname, kw["data"]["service"]))
        if split.hostname == "tokens.example.net":   # the realm's token service, played by the registry's own
            url = url.replace("tokens.example.net", "myacr.azurecr.io")
            kw["data"] = dict(kw["data"], service="myacr.azurecr.io")
        response = real(method, url, **kw)
        if split.path == "/v2/":
            response.headers["WWW-Authenticate"] = ('Bearer realm="https://tokens.example.net/oauth2/token",'
                                                    'service="tokens.example.net"')
        return response

    facts = _facts_with(build("mi-healthy"), answer)
    assert facts._registry_refresh_token(facts.registries()[0])   # pylint: disable=protected-access
    assert sorted(sent) == [("myacr.azurecr.io", "myacr.azurecr.io"), ("tokens.example.net", "tokens.example.net")]


def test_an_anonymous_registry_needs_no_token_whatever_the_exchange_said():
    """GET /v2/ answering 200 (anonymous pull) decides: no refresh token, even though the exchange was sent."""
    def answer(method, url, real, **kw):
        response = real(method, url, **kw)
        if urlsplit(url).path == "/v2/":
            response.status_code = 200
        return response

    facts = _facts_with(build("mi-healthy"), answer)
    assert facts._registry_refresh_token(facts.registries()[0]) is None   # pylint: disable=protected-access
