"""Connections and tokens shared by a run's reads: one pool per host (verification unchanged), tokens kept for the
run, and az's token cache shared by concurrent sign-ins."""
import http.server
import ssl
import threading
import time

import pytest
import requests
import trustme

from azext_acrpull.diagnose.deadline import Deadline
from azext_acrpull.diagnose.facts.transport import KEEP_MARGIN, TokenGuard, pooled_adapter


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 whose certificate names only `localhost`, from a CA of its own."""
    ca = trustme.CA()
    folder = tmp_path_factory.mktemp("tls")
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    other = trustme.CA()
    other_file = folder / "other.pem"
    other.cert_pem.write_to_path(str(other_file))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"port": server.server_address[1], "ca": str(ca_file), "other": str(other_file)}
    server.shutdown()


def _session(adapter):
    session = requests.Session()
    session.mount("https://", adapter)
    return session


def test_concurrent_reads_of_one_host_share_the_pool(tls_server):
    session = _session(pooled_adapter())
    url = "https://localhost:{}/".format(tls_server["port"])
    results = []
    threads = [threading.Thread(target=lambda: results.append(session.get(url, verify=tls_server["ca"]).status_code))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 6
    pools = list(session.get_adapter(url).poolmanager.pools.keys())
    assert len(pools) == 1, pools


@pytest.mark.parametrize("case", ["other CA", "wrong host name"])
def test_verification_is_unchanged(tls_server, case):
    """The shared context still refuses a server certificate from another CA, and one for another host name."""
    session = _session(pooled_adapter())
    host, verify = ("localhost", tls_server["other"]) if case == "other CA" else ("127.0.0.1", tls_server["ca"])
    with pytest.raises(requests.exceptions.SSLError):
        session.get("https://{}:{}/".format(host, tls_server["port"]), verify=verify, timeout=5)


def test_a_missing_bundle_is_requests_own_error(tls_server, tmp_path):
    session = _session(pooled_adapter())
    with pytest.raises(OSError, match="CA certificate bundle|No such file"):
        session.get("https://localhost:{}/".format(tls_server["port"]), verify=str(tmp_path / "none.pem"), timeout=5)


def test_raw_tokens_are_kept_while_they_have_time_left(monkeypatch):
    from azure.cli.core._profile import Profile
    asked = []
    expires = {"graph": time.time() + 3600, "registry": time.time() + KEEP_MARGIN - 1}

    def get_raw_token(self, resource=None, subscription=None, **kwargs):
        asked.append(resource)
        name = "graph" if "graph" in resource else "registry"
        return ("Bearer", "token-{}-{}".format(name, len(asked)), {"expires_on": expires[name]}), None, "tenant"
    monkeypatch.setattr(Profile, "__init__", lambda self, *a, **k: None)
    monkeypatch.setattr(Profile, "get_raw_token", get_raw_token)
    guard = TokenGuard(Deadline(30))
    graph = "https://graph.microsoft.com/"
    assert guard.raw_token(None, graph) == ("token-graph-1", "tenant")
    assert guard.raw_token(None, graph) == ("token-graph-1", "tenant")   # kept
    registry = "https://containerregistry.azure.net"
    assert guard.raw_token(None, registry) == ("token-registry-2", "tenant")
    assert guard.raw_token(None, registry) == ("token-registry-3", "tenant")   # too close to expiry: asked again
    assert asked == [graph, registry, registry]


def test_shared_token_cache_reloads_and_writes_under_its_own_lock(monkeypatch, tmp_path):
    """The reload from disk of az's persisted token cache holds the lock msal holds while adding a token, so a
    thread's reload cannot replace the cache with a file read before another thread's new token was saved."""
    from azure.cli.core.auth.identity import Identity
    from msal_extensions import FilePersistence, PersistedTokenCache
    cache = PersistedTokenCache(FilePersistence(str(tmp_path / "msal_token_cache.json")))
    monkeypatch.setattr(Identity, "_msal_token_cache", cache)
    held = []
    original = cache._reload_if_necessary

    def reload():
        held.append(cache._lock._is_owned())
        return original()
    monkeypatch.setattr(cache, "_reload_if_necessary", reload)
    guard = TokenGuard(Deadline(30))
    assert not guard.concurrent
    assert guard.share_token_cache() and guard.concurrent
    list(cache.search(cache.CredentialType.ACCESS_TOKEN))
    cache.add({"client_id": "c", "scope": ["s"], "token_endpoint": "https://login.example/t/oauth2/v2.0/token",
               "response": {"access_token": "a", "expires_in": 3600, "token_type": "Bearer"}})
    assert held and all(held), held
    assert guard.share_token_cache()     # a second run's guard: wrapped once
    assert [e["secret"] for e in cache.search(cache.CredentialType.ACCESS_TOKEN)] == ["a"]


def test_sign_ins_stay_one_at_a_time_without_a_known_cache(monkeypatch):
    from azure.cli.core.auth.identity import Identity
    monkeypatch.setattr(Identity, "_msal_token_cache", None)
    guard = TokenGuard(Deadline(30))
    assert not guard.share_token_cache() and not guard.concurrent
