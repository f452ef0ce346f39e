"""How the diagnosis talks to services: bounded retries, timeouts from the run's deadline, no secrets in logs.

Every way out of the extension gets the same policy:
- SDK clients from az's factories (ARM): ``sdk_client_kwargs`` gives them a retry policy bounded by the
  deadline, and ``TokenGuard.credential`` wraps az's credential;
- Microsoft Graph: ``bound_graph_client`` keeps az's Graph client and its methods, and sends through ``request``;
- plain HTTPS (Kubernetes API server, registry data plane): ``request``.

A transient answer (408, 429, 500, 502, 503, 504, a dropped connection, a read timeout) is retried up to
RETRIES times with exponential backoff, honouring Retry-After up to RETRY_AFTER_MAX seconds; a longer
Retry-After, or one that would pass the deadline, ends the retries at once with the answer in hand. No
request waits past the deadline (plus a second's grace, so that the runner, not the socket, reports it).
azure-core's own default would retry ten times for up to two minutes each, and sleep as long as a
Retry-After says. Only method, URL and status are logged here: never headers or bodies.
"""
import re
import threading
import time

from knack.log import get_logger

from ..deadline import NO_DEADLINE
from .base import FactError

logger = get_logger(__name__)

RETRIES = 3
BACKOFF = 0.5
BACKOFF_MAX = 4.0
RETRY_AFTER_MAX = 10.0
# Per attempt, well below the run's default bound (deadline.py, 60 s), so that a host that does not answer is given
# up in time for the checks that need it to say so, and for a retry to fit.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
GRACE = 1.0
TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})
READ_ONLY_POST = re.compile(r"/list[a-z]*$|/providers/microsoft\.resourcegraph/resources$", re.IGNORECASE)
# A POST that starts something (AKS run command starts a pod) is sent again only when the service says it did not
# take it: 429 (throttled) or 503 (unavailable). After a 500, a 504 or a lost answer it may have started, and a
# second request would start a second pod.
STARTING_POST = re.compile(r"/runCommand$", re.IGNORECASE)
NOT_TAKEN = (429, 503)


class Unreachable(FactError):
    """No answer came (connection refused, DNS, TLS, timeouts) after the retries; ``cause`` is the last error.
    A timeout is a fault (base.FactError): the host may be slow, which says nothing about the thing read."""

    def __init__(self, reason, cause=None, timeout=False):
        super().__init__(reason, fault=timeout)
        self.cause = cause
        self.timeout = timeout


def timed_out(what, deadline):
    """The FactError of a read the run's deadline cut off: a fault, never a verdict."""
    return FactError("timed out reading {}: it did not answer {}".format(what, deadline.words()), fault=True)


def first_line(err, limit=300):
    text = str(err) or type(err).__name__
    return text.strip().splitlines()[0][:limit] if text.strip() else type(err).__name__


def retry_after(headers):
    """Seconds a Retry-After header asks for (a number or an HTTP date), or None."""
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import datetime, timezone
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def backoff(attempt):
    """Seconds before retry ``attempt`` (0-based): 0.5, 1, 2, capped at BACKOFF_MAX."""
    return min(BACKOFF_MAX, BACKOFF * (2 ** attempt))


def pause(attempt, asked, deadline, sleep=time.sleep):
    """Wait before another attempt, if one is allowed; False when the retries are over."""
    if attempt >= RETRIES:
        return False
    if asked is not None and asked > RETRY_AFTER_MAX:
        return False
    wait = backoff(attempt) if asked is None else asked
    if wait >= (deadline or NO_DEADLINE).remaining():
        return False
    sleep(wait)
    return True


def timeouts(deadline):
    """(connect, read) timeouts for one attempt: never beyond the deadline, plus GRACE."""
    left = (deadline or NO_DEADLINE).remaining() + GRACE
    return min(CONNECT_TIMEOUT, left), min(READ_TIMEOUT, left)


_SESSION = None
_SESSION_LOCK = threading.Lock()
POOL_SIZE = 32     # connections kept per host: a run reads up to about twenty things of one host at once


def shared_session():
    """The run's one ``requests.Session`` for plain HTTPS (Kubernetes API server, registry data plane, Microsoft
    Graph): concurrent reads of one host reuse its connections instead of each opening and verifying a TLS
    connection of its own (``requests.request`` makes a session per call). It keeps no cookies. Environment
    settings (proxies, ``REQUESTS_CA_BUNDLE``) apply as to ``requests.request``; certificates given per request (a
    cluster's CA and client certificate) get a pool of their own."""
    global _SESSION  # pylint: disable=global-statement
    with _SESSION_LOCK:
        if _SESSION is None:
            from http.cookiejar import DefaultCookiePolicy

            import requests
            session = requests.Session()
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            adapter = pooled_adapter()
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _SESSION = session
        return _SESSION


def pooled_adapter(pool_maxsize=POOL_SIZE, **kwargs):
    """requests' adapter with a pool large enough for a run's concurrent reads of one host. (Each connection keeps
    the TLS context urllib3 makes for it: urllib3 sets ALPN on a context at every connection while another
    connection's setup may read it without the GIL, so one context shared by concurrent connections is not safe.)"""
    from requests.adapters import HTTPAdapter
    return HTTPAdapter(pool_connections=16, pool_maxsize=pool_maxsize, **kwargs)


def request(method, url, deadline, what, idempotent=None, session=None, raw_errors=False, **kwargs):
    """One HTTP exchange with transient failures retried; the final response, whatever its status.

    Raises Unreachable (a FactError) when no answer came (connection refused, DNS, TLS, timeouts after retries),
    or with ``raw_errors`` the last requests exception itself; FactError when the deadline passed. ``idempotent``
    (default: GET and HEAD) says whether a failed attempt may be sent again; a Retry-After is honoured for any
    method, since the service asked for it."""
    import requests
    deadline = deadline or NO_DEADLINE
    method = method.upper()
    if idempotent is None:
        idempotent = method in ("GET", "HEAD")
    send = (session or shared_session()).request
    kwargs.pop("timeout", None)   # the deadline decides
    attempt = 0
    while True:
        if deadline.expired:
            raise timed_out(what, deadline)
        try:
            response = send(method, url, timeout=timeouts(deadline), **kwargs)
        except requests.exceptions.SSLError as err:
            if raw_errors:
                raise
            raise Unreachable("the TLS connection to {} failed ({})".format(what, first_line(err, 160)), err) from None
        except requests.RequestException as err:
            if idempotent and _worth_retrying(err) and pause(attempt, None, deadline):
                attempt += 1
                continue
            if deadline.expired:
                raise timed_out(what, deadline) from None
            if raw_errors:
                raise
            if isinstance(err, requests.exceptions.Timeout):
                raise Unreachable("timed out reading {}: no answer within {:g} s ({})".format(
                    what, (READ_TIMEOUT if isinstance(err, requests.exceptions.ReadTimeout) else CONNECT_TIMEOUT),
                    type(err).__name__), err, timeout=True) from None
            raise Unreachable("{} could not be reached ({}{})".format(
                what, type(err).__name__, ", after {} retries".format(attempt) if attempt else ""), err) from None
        logger.debug("%s %s -> HTTP %s", method, url.split("?")[0], response.status_code)
        asked = retry_after(response.headers)
        if response.status_code in TRANSIENT and (idempotent or asked is not None) and \
                pause(attempt, asked, deadline):
            attempt += 1
            continue
        return response


def _worth_retrying(err):
    """A dropped or reset connection may well work the second time; a name that does not resolve, or a host that
    does not answer within the connect or read timeout (a private endpoint seen from outside), will not, and
    retrying would only hold the run for up to a minute."""
    import requests
    if isinstance(err, requests.exceptions.Timeout):
        return False
    seen, todo = set(), [err]
    while todo:
        cause = todo.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        if type(cause).__name__ in ("NameResolutionError", "gaierror"):
            return False
        todo.extend([getattr(cause, "reason", None), cause.__cause__, cause.__context__] +
                    [a for a in getattr(cause, "args", ()) if isinstance(a, BaseException)])
    return True


class BoundedHttp:
    """``requests.get``/``requests.post`` with the run's bounds, as a drop-in: same arguments (a ``timeout``
    given is replaced by the deadline's), same response, and after the retries the same requests exception,
    so callers keep their ``except requests.RequestException``. Data-plane token exchanges are safe to repeat,
    so every method is retried."""

    def __init__(self, deadline=None, what="the service"):
        self.deadline, self.what = deadline or NO_DEADLINE, what

    def request(self, method, url, **kwargs):
        from urllib.parse import urlsplit
        what = urlsplit(url).hostname or self.what
        return request(method, url, self.deadline, what, idempotent=True, raw_errors=True, **kwargs)

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)


# -- SDK clients -------------------------------------------------------------------------------------
def sdk_client_kwargs(deadline):
    """Keyword arguments for an azure-core client: the bounded retry policy, per-attempt timeouts, and a transport
    over the run's one session for SDK clients (``sdk_transport``)."""
    return {"retry_policy": bounded_retry_policy(deadline), "connection_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT, "transport": sdk_transport()}


_SDK_SESSION = None


def sdk_transport():
    """azure-core's requests transport over one session that every SDK client of the run shares: each client would
    otherwise open a session (and TLS connections) for itself. The session is set up as azure-core sets up its own
    (no urllib3 retries or redirects: the pipeline's policies decide), with ``pooled_adapter``'s pool; az's TLS
    verification settings (``REQUESTS_CA_BUNDLE``, the variable that disables
    verification) apply as in az's own clients."""
    global _SDK_SESSION  # pylint: disable=global-statement
    import requests
    from azure.cli.core._debug import change_ssl_cert_verification_track2
    from azure.core.pipeline.transport import RequestsTransport
    from urllib3.util.retry import Retry
    with _SESSION_LOCK:
        if _SDK_SESSION is None:
            session = requests.Session()
            adapter = pooled_adapter(max_retries=Retry(total=False, redirect=False, raise_on_status=False))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _SDK_SESSION = (session, change_ssl_cert_verification_track2())   # its warning, if any, once
        session, verify = _SDK_SESSION
    return RequestsTransport(session=session, session_owner=False, connection_timeout=CONNECT_TIMEOUT,
                             read_timeout=READ_TIMEOUT, **verify)


def _starting(request):
    return request.method.upper() == "POST" and bool(STARTING_POST.search(request.url.split("?")[0]))


def bounded_retry_policy(deadline):
    from azure.core.pipeline.policies import RetryPolicy

    class BoundedRetryPolicy(RetryPolicy):
        """azure-core's RetryPolicy with this module's bounds: fewer retries, a capped Retry-After, the deadline."""

        def __init__(self):
            super().__init__(retry_total=RETRIES, retry_connect=RETRIES, retry_read=RETRIES,
                             retry_status=RETRIES, retry_backoff_factor=BACKOFF, retry_backoff_max=BACKOFF_MAX)
            self._deadline = deadline or NO_DEADLINE

        def configure_retries(self, options):
            settings = super().configure_retries(options)
            settings["timeout"] = min(settings["timeout"], self._deadline.remaining() + GRACE)
            return settings

        def increment(self, settings, response=None, error=None):
            if error is None and hasattr(response, "http_response"):
                asked = self.get_retry_after(response)
                if asked is not None and (asked > RETRY_AFTER_MAX or asked >= self._deadline.remaining()):
                    return False
            if self._deadline.expired or _timed_out(error):
                return False   # a host that did not answer within the timeout will not answer the next attempt
            return super().increment(settings, response=response, error=error)

        def get_backoff_time(self, settings):
            return min(super().get_backoff_time(settings), max(0.0, self._deadline.remaining() - 0.1))

        def is_retry(self, settings, response):
            if _starting(response.http_request) and response.http_response.status_code not in NOT_TAKEN:
                return False   # even with Retry-After: it may have started
            return super().is_retry(settings, response)

        def _is_method_retryable(self, settings, request, response=None):
            if _starting(request):
                return response is not None and response.status_code in NOT_TAKEN
            if request.method.upper() == "POST" and READ_ONLY_POST.search(request.url.split("?")[0]):
                return True   # list* actions and Resource Graph queries read: safe to send again
            return super()._is_method_retryable(settings, request, response=response)

        def _configure_timeout(self, request, absolute_timeout, is_response_error):
            super()._configure_timeout(request, absolute_timeout, is_response_error)
            request.context.options["read_timeout"] = min(READ_TIMEOUT, self._deadline.remaining() + GRACE)

    return BoundedRetryPolicy()


def _timed_out(error):
    from azure.core.exceptions import ServiceRequestTimeoutError, ServiceResponseTimeoutError
    return isinstance(error, (ServiceRequestTimeoutError, ServiceResponseTimeoutError))


# -- tokens ------------------------------------------------------------------------------------------
def _resource_of(scopes_or_resource):
    text = scopes_or_resource[0] if isinstance(scopes_or_resource, (list, tuple)) else scopes_or_resource
    text = text or ""
    if text.endswith("/.default"):
        text = text[: -len("/.default")]
    return text.rstrip("/")


KEEP_MARGIN = 300.0    # a token is used until this many seconds before it expires, as azure-core's policy does
KEEP_UNDATED = 120.0   # a token whose expiry az did not say is kept this long


class TokenGuard:
    """Tokens from az's login for one run: transient failures retried within the bounds, a failure remembered
    per resource (a broken Entra ID is asked a bounded number of times, not once per read), and every failure
    turned into a FactError. A refusal of the sign-in itself (az's AuthenticationError: expired or revoked
    login, wrong secret) has status 401, so the command can ask for `az login`."""

    def __init__(self, deadline=None, reading=None):
        self._deadline = deadline or NO_DEADLINE
        self._failed = {}
        self._lock = threading.Lock()
        # One sign-in at a time, unless az's token cache is shared safely (share_token_cache): its persisted token
        # cache (msal_extensions) reloads itself without a lock while another thread may be adding a token to it, so
        # concurrent sign-ins can drop each other's new tokens and ask Entra ID again.
        self._one_at_a_time = threading.Lock()
        self._concurrent = False
        self._raw = {}      # (resource, subscription) -> (token, tenant, kept until): see raw_token
        # Facts.reading: a token request in flight is among the reads a check cut off by the deadline waited for.
        self._reading = reading

    def get(self, resource, call, sleep=time.sleep):
        key = _resource_of(resource)
        with self._lock:
            failed = self._failed.get(key)
        if failed is not None:
            raise failed
        attempt = 0
        while True:
            bound = CONNECT_TIMEOUT + READ_TIMEOUT
            cut = self._deadline.remaining() + GRACE < bound
            try:
                if self._reading is None:
                    return self._serially(call, bound)
                with self._reading("a token for {} from Microsoft Entra ID".format(key)):
                    return self._serially(call, bound)
            except FactError:
                raise
            except _NoAnswer:   # a hung token endpoint will not answer the next attempt either
                error = FactError("timed out reading a token for {} from Microsoft Entra ID: it did not answer {}"
                                  .format(key, self._deadline.words() if cut else "within {:g} s".format(bound)),
                                  fault=True)
            except Exception as err:  # pylint: disable=broad-except
                if _about_the_request(err):   # e.g. a subscription az does not know: not Entra ID's fault
                    raise FactError("no token for {}: {}".format(key, first_line(err, 200))) from None
                throttled = _msal_throttled()
                if throttled is None and _sign_in_refused(err):
                    error = FactError("Microsoft Entra ID refused the signed-in account a token for {} ({}); sign "
                                      "in again with `az login`".format(key, first_line(err, 200)), 401)
                elif pause(attempt, throttled or None, self._deadline, sleep):
                    attempt += 1
                    continue
                else:
                    from azure.cli.core.azclierror import AzCLIError
                    kind = "" if isinstance(err, AzCLIError) else type(err).__name__ + ": "
                    error = FactError("Microsoft Entra ID did not issue a token for {} ({}{}{})".format(
                        key, kind, first_line(err, 160), ", after {} retries".format(attempt) if attempt else ""),
                        fault=True)
            with self._lock:
                self._failed[key] = error
            raise error

    def share_token_cache(self):
        """Let sign-ins run at once, once az's token cache is loaded (after the run's first token): the cache's
        reload-from-disk and its writes are made to hold the cache's own lock, which msal already holds while it adds
        a token, so that a reload can no longer replace the cache with a file read before another thread's new token
        was saved. Without a cache of that shape (another az or msal), sign-ins stay one at a time. True when shared.
        """
        try:
            from azure.cli.core.auth.identity import Identity
            cache = Identity._msal_token_cache          # pylint: disable=protected-access
            lock = cache._lock                          # pylint: disable=protected-access
        except (ImportError, AttributeError):
            return False
        if not all(callable(getattr(cache, name, None)) for name in ("search", "modify", "_reload_if_necessary")):
            return False
        if not getattr(cache, "_acrpull_shared", False):
            for name in ("search", "modify"):
                setattr(cache, name, _holding(lock, getattr(cache, name)))
            cache._acrpull_shared = True                # pylint: disable=protected-access
        self._concurrent = True
        return True

    @property
    def concurrent(self):
        """Whether sign-ins may run at once (share_token_cache)."""
        return self._concurrent

    def _serially(self, call, bound):
        """``call()`` bounded as one token request is, after the sign-in in progress (if any) has ended."""
        if self._concurrent:
            return _bounded(call, min(bound, self._deadline.remaining() + GRACE))
        wait = min(self._deadline.remaining() + GRACE, threading.TIMEOUT_MAX)
        if not self._one_at_a_time.acquire(timeout=wait):
            raise _NoAnswer(self._deadline.remaining() + GRACE)
        try:
            return _bounded(call, min(bound, self._deadline.remaining() + GRACE))
        finally:
            self._one_at_a_time.release()

    def credential(self, inner):
        """``inner`` through this guard. azure-core asks a credential for ``get_token_info`` when it has one, so the
        wrapper has it only when az's credential does (that of azure-cli 2.61 does not)."""
        if hasattr(inner, "get_token_info"):
            return _GuardedTokenInfoCredential(inner, self)
        return _GuardedCredential(inner, self)

    def raw_token(self, cli_ctx, resource, subscription=None):
        """az's access token for ``resource`` (Profile.get_raw_token): (token, tenant). Kept for the run while it has
        more than a few minutes left, as azure-core's token policy keeps an SDK client's: each of az's look-ups
        builds a credential and an msal application and reads the token cache from disk again."""
        key = (_resource_of(resource), subscription)
        with self._lock:
            kept = self._raw.get(key)
        if kept is not None and kept[2] > time.time():
            return kept[0], kept[1]

        def call():
            from azure.cli.core._profile import Profile
            creds, _, tenant = Profile(cli_ctx=cli_ctx).get_raw_token(resource=resource, subscription=subscription)
            return creds, tenant
        creds, tenant = self.get(resource, call)
        entry = creds[2] if len(creds) > 2 and isinstance(creds[2], dict) else {}
        try:
            until = float(entry.get("expires_on")) - KEEP_MARGIN
        except (TypeError, ValueError):
            until = time.time() + KEEP_UNDATED   # msal hands out no token with less than 5 minutes left
        with self._lock:
            self._raw[key] = (creds[1], tenant, until)
        return creds[1], tenant


def _holding(lock, method):
    def locked(*args, **kwargs):
        with lock:
            return method(*args, **kwargs)
    return locked


class _NoAnswer(Exception):
    def __init__(self, seconds):
        super().__init__("no answer within {:g} s".format(seconds))
        self.seconds = seconds


def _bounded(call, seconds):
    """``call()``, waited for at most ``seconds``. az's token requests (msal) are sent without a timeout, so a token
    endpoint that never answers would hold whoever asked; the call goes on, abandoned, on a daemon thread."""
    import contextvars
    done, box = threading.Event(), {}
    context = contextvars.copy_context()

    def run():
        try:
            box["value"] = context.run(call)
        except BaseException as err:  # pylint: disable=broad-except
            box["error"] = err
        done.set()

    threading.Thread(target=run, name="acrpull-token", daemon=True).start()
    if not done.wait(max(0.0, seconds)):
        raise _NoAnswer(round(seconds))
    if "error" in box:
        raise box["error"]
    return box["value"]


def _msal_throttled():
    """What msal's own throttle says after a failed token request, or None when it holds nothing.

    msal keeps a 429 or 5xx answer from Entra ID and replays it, without asking, for the answer's Retry-After, or 5 s
    without one, so a retry sooner would only see the same error. A Retry-After the service sent is honoured:
    returns the seconds it still asks for. msal's own 5 s (no Retry-After) is dropped, so that the bounded backoff
    here decides when to ask again; returns 0 then."""
    try:
        from azure.cli.core.auth.identity import Identity
        from msal.individual_cache import _ExpiringMapping
    except ImportError:  # pragma: no cover - another az or msal: leave msal's throttle as it is
        return None
    cache = getattr(Identity, "_msal_http_cache", None)
    if cache is None:
        return None
    mapping = _ExpiringMapping(mapping=cache, lock=threading.Lock())
    asked = None
    try:
        for key in [k for k in mapping if str(k).endswith("429/5xx/Retry-After")]:
            expires_at = (mapping._peek()[1].get(key) or (0, 0))[0]   # pylint: disable=protected-access
            answer = mapping.get(key)
            if answer is not None and "retry-after" in (getattr(answer, "headers", None) or {}):
                asked = max(asked or 0.0, float(expires_at) - time.time())
            else:
                del mapping[key]
                asked = asked or 0.0
    except Exception:  # pylint: disable=broad-except
        logger.debug("could not read msal's throttle", exc_info=True)
        return None
    return None if asked is None else max(0.0, asked)


# Entra ID's answers that are worth asking again (OAuth 2.0 error codes; msal keeps them in the error it returns).
_TRANSIENT_OAUTH = ("temporarily_unavailable", "server_error")


def _about_the_request(err):
    """az's own refusal of the request before Entra ID is asked (CLIError other than AuthenticationError)."""
    from azure.cli.core.azclierror import AuthenticationError
    from knack.util import CLIError
    return isinstance(err, CLIError) and not isinstance(err, AuthenticationError)


def _sign_in_refused(err):
    """az's AuthenticationError for a refusal (expired or revoked login, wrong secret, consent), not for Entra ID
    being busy or down."""
    from azure.cli.core.azclierror import AuthenticationError
    if not isinstance(err, AuthenticationError):
        return False
    code = ((getattr(err, "msal_error", None) or {}).get("error") or "") if isinstance(
        getattr(err, "msal_error", None), dict) else ""
    return code not in _TRANSIENT_OAUTH


class _GuardedCredential:
    """az's credential for SDK clients, through a TokenGuard; everything else is the inner credential's."""

    def __init__(self, inner, guard):
        self._inner, self._guard = inner, guard

    def get_token(self, *scopes, **kwargs):
        return self._guard.get(scopes, lambda: self._inner.get_token(*scopes, **kwargs))

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _GuardedTokenInfoCredential(_GuardedCredential):
    """The same, for a credential that also has azure-core's newer ``get_token_info``."""

    def get_token_info(self, *scopes, options=None):
        return self._guard.get(scopes, lambda: self._inner.get_token_info(*scopes, options=options))


# -- Microsoft Graph ---------------------------------------------------------------------------------
def bound_graph_client(client, deadline, tokens):
    """az's Graph client (``graph_client_factory``) whose requests go through ``request``: same methods and
    results, bounded, and without az's send_raw_request, which has no timeout and logs bodies with --debug."""
    import functools
    client._send = functools.partial(_graph_send, client, deadline, tokens)  # pylint: disable=protected-access
    return client


def _graph_error_class():
    try:
        from azure.cli.command_modules.role._msgrpah import GraphError
        return GraphError
    except ImportError:  # pragma: no cover - older or newer az
        class GraphError(Exception):
            def __init__(self, message, response):
                super().__init__(message)
                self.response = response
        return GraphError


def _graph_send(client, deadline, tokens, method, url, param=None, body=None, api_version="v1.0"):
    import json
    cli_ctx = client._cli_ctx  # pylint: disable=protected-access
    resource = getattr(client, "_resource", None) or cli_ctx.cloud.endpoints.microsoft_graph_resource_id
    endpoint = (getattr(client, "_endpoint", None) or resource).rstrip("/")
    url = "{}/{}{}".format(endpoint, api_version, url)
    token, _ = tokens.raw_token(cli_ctx, resource)
    headers = {"Authorization": "Bearer " + token}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    read_only = method.upper() == "GET" or url.split("?")[0].endswith(("/getByIds", "/$batch"))
    results, is_list = [], False
    while True:
        response = request(method, url, deadline, "Microsoft Graph", idempotent=read_only, headers=headers,
                           params=param, data=data)
        if response.status_code >= 400:
            raise _graph_error_class()(_graph_message(response), response)
        if not response.content:
            return None
        try:
            answer = response.json()
        except ValueError:
            raise FactError("Microsoft Graph returned an unreadable answer (not JSON) for {}".format(
                url.split("?")[0]), fault=True) from None
        if "value" in answer:
            is_list = True
            results.extend(answer["value"])
        if "@odata.nextLink" in answer:
            url, param = answer["@odata.nextLink"], None
            continue
        return results if is_list else answer


def _graph_message(response):
    try:
        message = ((response.json() or {}).get("error") or {}).get("message")
    except (ValueError, AttributeError):
        message = None
    return message or "{} {}".format(response.status_code, response.reason or "").strip()


# -- logging -----------------------------------------------------------------------------------------
class _QuietSdkTracebacks:
    """SDKs log some recoverable problems (a failsafe deserialization of an error body that is not JSON) as
    warnings with a traceback; the finding already says what failed. Tracebacks of SDK warnings are dropped,
    and so is the failsafe notice (with --debug the response itself is in the log)."""

    marker = "acrpull-quiet-sdk"

    @staticmethod
    def filter(record):
        import logging
        name = record.name or ""
        if not name.startswith("azure.") or name.startswith("azure.cli.") or record.levelno >= logging.ERROR:
            return True
        if record.exc_info or record.exc_text:
            record.exc_info, record.exc_text = None, None
            return "failsafe deserialization" not in str(record.msg)
        return True


def quiet_sdk_tracebacks():
    """Filter the console and file handlers az set up (on the root logger and its own 'cli' and 'azure')."""
    import logging

    from knack.log import cli_logger_names
    for logger_ in [logging.getLogger()] + [logging.getLogger(n) for n in cli_logger_names]:
        for handler in logger_.handlers:
            if not any(getattr(f, "marker", None) == _QuietSdkTracebacks.marker for f in handler.filters):
                handler.addFilter(_QuietSdkTracebacks())
