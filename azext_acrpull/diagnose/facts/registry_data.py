"""Registry data-plane facts: manifests, tags and repositories, read with the signed-in account's own login.

The flow is `az acr login`'s (azure-cli's acr ``_docker_utils``): ``GET /v2/`` for the challenge, an Entra ID
token for the registry audience that az itself would use (``acr.audience_resource``, else
containerregistry.azure.net) exchanged at ``/oauth2/exchange`` for a refresh token, then ``/oauth2/token`` for an
access token scoped to one repository. azure-cli's helpers are not called as a whole because they hide the status
and body of a refusal, which is what tells a firewall from a missing role. Tokens live only in this run's cache;
they are never logged, nor put in a reason or in evidence.
"""
import hashlib
import json

from ..platform import INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, platform_of_config, platforms_of_index
from .base import FactError

DATA_TIMEOUT = 20
ACR_AUDIENCE = "https://containerregistry.azure.net"
MAX_PAGES = 20


def _errors(response):
    """(code, message) of a registry error body ``{"errors":[{"code":..., "message":...}]}``."""
    try:
        first = (response.json().get("errors") or [{}])[0]
    except (ValueError, AttributeError, IndexError):
        return None, (response.text or "")[:200].strip()
    return first.get("code"), (first.get("message") or "").strip()


def _token_claims(token):
    import base64
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, AttributeError):
        return {}


def _granted(token, kind, name, action):
    """Does an ACR access token grant ``action`` on ``kind:name``? Its ``access`` claim says, as az acr
    check-health reads it."""
    for entry in _token_claims(token).get("access") or []:
        entry = {k.lower(): v for k, v in entry.items()}
        if entry.get("type") == kind and entry.get("name") == name and (
                action in (entry.get("actions") or []) or "*" in (entry.get("actions") or [])):
            return True
    return False


class RegistryDataFacts:
    """Mixin for LiveFacts: what the registry itself says about images, read as the signed-in account."""

    # -- public facts ---------------------------------------------------------------------------
    def registry_manifest(self, registry, repository, reference):
        """{"found": True, "mediaType", "digest", "manifest"}, or {"found": False, "missing": "repository"} (or
        "reference") when the registry does not have it."""
        key = ("registry_manifest", _login(registry), repository, reference)
        return self.once(key, lambda: self._read_manifest(registry, repository, reference))

    def registry_manifest_present(self, registry, repository, digest):
        """Does the registry hold the manifest ``digest`` (a HEAD, as containerd does before fetching a child)?"""
        key = ("registry_manifest_head", _login(registry), repository, digest)
        return self.once(key, lambda: self._head_manifest(registry, repository, digest))

    def _head_manifest(self, registry, repository, digest):
        import requests
        login = _login(registry)
        token = self._registry_access_token(registry, "repository:{}:pull".format(repository))
        headers = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
        if token:
            headers["Authorization"] = "Bearer " + token
        try:
            response = self.http.request("HEAD", "https://{}/v2/{}/manifests/{}".format(login, repository, digest),
                                         headers=headers, timeout=DATA_TIMEOUT, verify=_verify())
        except requests.RequestException as err:
            raise self._registry_unreachable(registry, err) from None
        if response.status_code == 404:
            return False
        self._registry_refusal(registry, response, "the manifest {} of {}".format(digest, repository))
        return True

    def registry_tags(self, registry, repository):
        """The repository's tags, or None when the repository does not exist."""
        key = ("registry_tags", _login(registry), repository)
        return self.once(key, lambda: self._read_registry_list(registry, "/v2/{}/tags/list".format(repository),
                                                 "repository:{}:pull".format(repository), "tags"))

    def registry_repositories(self, registry):
        """Every repository name (ACR's catalog; needs catalog permission)."""
        return self.once(("registry_repositories", _login(registry)), lambda: self._read_registry_list(
            registry, "/acr/v1/_catalog", "registry:catalog:*", "repositories"))

    def image_platforms(self, registry, repository, reference):
        """The platforms an image is built for (Platform dicts), from its index or its config; None if missing."""
        key = ("image_platforms", _login(registry), repository, reference)
        return self.once(key, lambda: self._read_platforms(registry, repository, reference))

    # -- reading --------------------------------------------------------------------------------
    def _read_manifest(self, registry, repository, reference):
        response = self._registry_get(registry, "/v2/{}/manifests/{}".format(repository, reference),
                                      "repository:{}:pull".format(repository),
                                      {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)})
        if response.status_code == 404:
            code, message = _errors(response)
            return {"found": False, "missing": "repository" if code == "NAME_UNKNOWN" else "reference",
                    "code": code, "message": message}
        if response.status_code in (401, 429):
            code, message = _errors(response)
            if "for cache rule" in (message or "").lower():
                # The registry tried to fetch the image through an artifact cache rule and its upstream refused
                # ('authentication required with source registry for cache rule') or throttled it: not the
                # caller's own pull permission.
                return {"found": False, "missing": "upstream", "code": code, "message": message,
                        "status": response.status_code}
        self._registry_refusal(registry, response, "the manifest of {}:{}".format(repository, reference))
        try:
            manifest = json.loads(response.content)
        except ValueError:
            raise FactError("registry {} returned an unreadable manifest for {}:{}".format(
                registry["name"], repository, reference), fault=True) from None
        media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip() or manifest.get("mediaType")
        digest = response.headers.get("Docker-Content-Digest") or \
            "sha256:" + hashlib.sha256(response.content).hexdigest()
        return {"found": True, "mediaType": media_type, "digest": digest, "manifest": manifest}

    def _read_platforms(self, registry, repository, reference):
        found = self.registry_manifest(registry, repository, reference)
        if not found["found"]:
            return None
        manifest = found["manifest"]
        if found["mediaType"] in INDEX_MEDIA_TYPES or manifest.get("manifests") is not None:
            return [p.to_dict() for p in platforms_of_index(manifest)]
        digest = (manifest.get("config") or {}).get("digest")
        if not digest:
            raise FactError("the manifest of {}:{} in {} names no config blob".format(
                repository, reference, registry["name"]))
        response = self._registry_get(registry, "/v2/{}/blobs/{}".format(repository, digest),
                                      "repository:{}:pull".format(repository))
        self._registry_refusal(registry, response, "the image config {} of {}".format(digest, repository))
        algorithm, _, expected = digest.partition(":")
        if algorithm == "sha256" and hashlib.sha256(response.content).hexdigest() != expected:
            raise FactError("the image config of {}:{} in {} does not match its digest {}".format(
                repository, reference, registry["name"], digest))
        try:
            platform = platform_of_config(json.loads(response.content))
        except ValueError:
            platform = None
        return [platform.to_dict()] if platform else []

    def _read_registry_list(self, registry, path, scope, field):
        items, url, pages = [], path + "?n=1000", 0
        while url and pages < MAX_PAGES:
            response = self._registry_get(registry, url, scope)
            if response.status_code == 404 and field == "tags":
                return None
            self._registry_refusal(registry, response, "the {} of {}".format(field, registry["name"]))
            try:
                items.extend((response.json() or {}).get(field) or [])
            except ValueError:
                raise FactError("registry {} returned an unreadable list for {}".format(registry["name"], path),
                                fault=True) from None
            link = response.links.get("next", {}).get("url")
            url, pages = link if link and link.startswith("/") else None, pages + 1
        return items

    def _registry_refusal(self, registry, response, what):
        """Turn a refusal into a FactError that says whose rule refused and what to do."""
        if response.status_code == 200:
            return
        code, message = _errors(response)
        if response.status_code == 403 and code == "DENIED":
            raise self._registry_firewall_error(registry, message)
        if response.status_code in (401, 403):
            raise FactError(self._registry_no_read_reason(registry, what), 403)
        raise FactError("registry {} answered HTTP {} for {}{}".format(
            registry["name"], response.status_code, what, ": " + message if message else ""), response.status_code)

    # -- the token flow -------------------------------------------------------------------------
    def _registry_get(self, registry, path, scope, headers=None):
        import requests
        login = _login(registry)
        token = self._registry_access_token(registry, scope)
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = "Bearer " + token
        try:
            with self.reading("{} from registry {}".format(path.split("?")[0], registry["name"])):
                return self.http.get("https://{}{}".format(login, path), headers=headers, timeout=DATA_TIMEOUT,
                                     verify=_verify())
        except requests.RequestException as err:
            raise self._registry_unreachable(registry, err) from None

    def _registry_challenge(self, registry):
        return self.once(("registry_challenge", _login(registry)), lambda: self._read_challenge(registry))

    def _read_challenge(self, registry):
        import requests
        login = _login(registry)
        try:
            with self.reading("GET /v2/ (the challenge) from registry {}".format(registry["name"])):
                response = self.http.get("https://{}/v2/".format(login), timeout=DATA_TIMEOUT, verify=_verify())
        except requests.RequestException as err:
            raise self._registry_unreachable(registry, err) from None
        if response.status_code == 200:
            return None  # the registry lets anyone read: no token needed
        code, message = _errors(response)
        if response.status_code == 403 and code == "DENIED":
            raise self._registry_firewall_error(registry, message)
        header = response.headers.get("WWW-Authenticate") or ""
        scheme, _, rest = header.partition(" ")
        params = {}
        for part in rest.split(","):
            key, _, value = part.strip().partition("=")
            params[key.lower()] = value.strip('"')
        if response.status_code != 401 or scheme.lower() != "bearer" or not params.get("realm"):
            raise FactError("registry {} at {} did not answer GET /v2/ with a Bearer challenge (HTTP {})".format(
                registry["name"], login, response.status_code), response.status_code)
        return {"realm": params["realm"], "service": params.get("service") or login}

    def _registry_refresh_token(self, registry):
        return self.once(("registry_refresh_token", _login(registry)), lambda: self._read_refresh_token(registry))

    def _read_refresh_token(self, registry):
        # Neither the Entra ID token nor the exchange waits for the challenge. ACR's challenge names its own login
        # server as realm host and service, so the exchange is sent there while GET /v2/ is in flight; the
        # challenge still decides (anonymous reads need no token, a firewall refusal is reported as the
        # challenge's) and a realm elsewhere is asked again.
        self.prefetch(lambda: self._registry_aad_token(registry), lambda: self._registry_challenge(registry))
        login = _login(registry)
        guess = {"realm": "https://{}/oauth2/token".format(login), "service": login}
        aad_token, tenant = self._registry_aad_token(registry)
        sent = self._exchange(registry, guess, aad_token, tenant)
        challenge = self._registry_challenge(registry)
        if challenge is None:
            return None
        if _realm_url(challenge, "").lower() != _realm_url(guess, "") or challenge["service"].lower() != login:
            sent = self._exchange(registry, challenge, aad_token, tenant)
        if isinstance(sent, FactError):
            raise sent
        response = sent
        code, message = _errors(response) if response.status_code != 200 else (None, None)
        if response.status_code == 403 and code == "DENIED":
            raise self._registry_firewall_error(registry, message)
        if response.status_code != 200:
            raise FactError("registry {} refused to exchange the signed-in account's Entra ID token (HTTP {}{}); "
                            "run `az acr login -n {}` to see the same refusal".format(
                                registry["name"], response.status_code, ": " + message if message else "",
                                registry["name"]), response.status_code)
        try:
            return response.json()["refresh_token"]
        except (ValueError, KeyError, TypeError):
            raise FactError("registry {} returned no refresh token (an unreadable answer from /oauth2/exchange)"
                            .format(registry["name"]), fault=True) from None

    def _exchange(self, registry, challenge, aad_token, tenant):
        """POST /oauth2/exchange at the challenge's realm: the response, or the FactError of not reaching it
        (returned, not raised, so that the challenge's own error comes first)."""
        import requests
        try:
            with self.reading("the token exchange (/oauth2/exchange) of registry {}".format(registry["name"])):
                return self.http.post(_realm_url(challenge, "/oauth2/exchange"), data={
                    "grant_type": "access_token", "service": challenge["service"], "tenant": tenant,
                    "access_token": aad_token}, timeout=DATA_TIMEOUT, verify=_verify())
        except requests.RequestException as err:
            return self._registry_unreachable(registry, err)
        except FactError as err:
            return err

    def _registry_access_token(self, registry, scope):
        return self.once(("registry_access_token", _login(registry), scope),
                         lambda: self._read_access_token(registry, scope))

    def _read_access_token(self, registry, scope):
        import requests
        refresh = self._registry_refresh_token(registry)
        if refresh is None:
            return None
        challenge = self._registry_challenge(registry)
        try:
            with self.reading("a token for {} from registry {}".format(scope, registry["name"])):
                response = self.http.post(_realm_url(challenge, "/oauth2/token"), data={
                    "grant_type": "refresh_token", "service": challenge["service"], "scope": scope,
                    "refresh_token": refresh}, timeout=DATA_TIMEOUT, verify=_verify())
        except requests.RequestException as err:
            raise self._registry_unreachable(registry, err) from None
        if response.status_code != 200:
            self._registry_refusal(registry, response, "a token for {}".format(scope))
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise FactError("registry {} returned no access token (an unreadable answer from /oauth2/token)".format(
                registry["name"]), fault=True) from None
        kind, name, action = scope.split(":")
        if not _granted(token, kind, name, action):
            what = "repository '{}'".format(name) if kind == "repository" else "the list of repositories"
            raise FactError(self._registry_no_read_reason(registry, what), 403)
        return token

    def _registry_aad_token(self, registry):
        """An Entra ID access token for the registry audience az uses, and its tenant (once per registry): az's own
        login, through the run's TokenGuard (transient failures retried, a hung token endpoint bounded, a failure a
        fault that names Microsoft Entra ID, never a verdict about the registry)."""
        return self.once(("registry_aad_token", _login(registry)), lambda: self._read_aad_token(registry))

    def _warm_token(self, resource=None):
        """Fetch az's token for ``resource`` once for the run, ahead of the reads that need it: LiveFacts does; a
        reader whose tokens cost nothing need not."""

    def _read_aad_token(self, registry):
        audience = acr_audience(self.cli_ctx)
        self._warm_token(audience)   # one fetch of the audience's token per run (read_ahead may have started it)
        subscription = (registry.get("id") or "").split("/")[2] if (registry.get("id") or "").count("/") > 2 \
            else None
        with self.reading("a Microsoft Entra ID token for registry {}".format(registry["name"])):
            try:
                try:
                    return self._tokens.raw_token(self.cli_ctx, audience, subscription)
                except FactError as err:
                    if err.status_code == 401 or err.fault or not subscription:
                        raise
                # A registry in a subscription az's account list does not know: the login's own tenant may still do.
                return self._tokens.raw_token(self.cli_ctx, audience)
            except FactError as err:
                # About az's own login, not the registry: whatever Entra ID said, the registry was not asked.
                raise FactError(err.reason, err.status_code, err.code, fault=True) from None

    # -- reasons ----------------------------------------------------------------------------------
    @staticmethod
    def _registry_no_read_reason(registry, what):
        return ("the signed-in account may not read {} in registry {} through its data plane: it needs AcrPull (or a "
                "role with Microsoft.ContainerRegistry/registries/pull/read; Container Registry Repository Reader on "
                "an ABAC registry) to check images".format(what, registry["name"]))

    @staticmethod
    def _registry_firewall_error(registry, message):
        import re
        ip = re.search(r"client with IP '?([^'\s]+?)'? is not allowed", message or "")
        fix = "az acr network-rule add -n {} --ip-address {}".format(registry["name"], ip.group(1)) if ip else \
            "az acr network-rule add -n {} --ip-address <this machine's public IP>".format(registry["name"])
        return FactError("the firewall of registry {} does not let the machine running az in ({}); run az from an "
                         "allowed network, or allow it: {}".format(
                             registry["name"], (message or "DENIED").split(". Refer")[0], fix), 403)

    @staticmethod
    def _registry_unreachable(registry, err):
        import requests
        if isinstance(err, requests.exceptions.Timeout):
            return FactError("timed out reading registry {} ({}) from the machine running az: no answer within the "
                             "request's timeout ({})".format(registry["name"], _login(registry), type(err).__name__),
                             fault=True)
        return FactError("registry {} ({}) could not be reached from the machine running az ({})".format(
            registry["name"], _login(registry), type(err).__name__))


def acr_audience(cli_ctx):
    """The audience az's own `az acr login` asks a token for (azure-cli's acr ``_resolve_acr_scope``): the
    ``acr.audience_resource`` setting (a URL, or a short name for https://<name>.azure.net), else ACR's public one.
    Worked out here: importing az's acr module for it costs more CPU than the rest of the token flow."""
    try:
        configured = cli_ctx.config.get("acr", "audience_resource", fallback=None)
    except Exception:  # pylint: disable=broad-except
        configured = None
    if configured:
        return configured if configured.startswith("https://") else "https://{}.azure.net".format(configured)
    return ACR_AUDIENCE


def _realm_url(challenge, path):
    """The token service's ``path`` on the realm's host, as azure-cli's acr module builds it."""
    from urllib.parse import urlsplit
    realm = urlsplit(challenge["realm"])
    return "{}://{}{}".format(realm.scheme, realm.netloc, path)


def _login(registry):
    return ((registry.get("properties") or {}).get("loginServer") or "").lower()


def _verify():
    from azure.cli.core.util import should_disable_connection_verify
    return not should_disable_connection_verify()
