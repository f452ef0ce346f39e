"""Registry credentials as kubelet and Entra ID see them: pull secrets, password credentials, ACR tokens.

Pure functions, so the live path, a bulk reader and the tests share them. Passwords pass through here only to be
compared (by digest, by Entra's three-character hint) or to read an expiry; they never appear in a repr, a
description or a return value meant for output.
"""
import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CFG = "kubernetes.io/dockercfg"
PULL_SECRET_KEYS = {DOCKER_CONFIG_JSON: ".dockerconfigjson", DOCKER_CFG: ".dockercfg"}
# The user name `az acr login --expose-token` prints: the password is then an ACR refresh token (about 3 hours).
REFRESH_TOKEN_USER = "00000000-0000-0000-0000-000000000000"
EXPIRY_WARNING = timedelta(days=30)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

ADMIN, SERVICE_PRINCIPAL, REFRESH_TOKEN, TOKEN = "admin", "servicePrincipal", "refreshToken", "token"
KIND_WORDS = {ADMIN: "the registry's admin user", SERVICE_PRINCIPAL: "a service principal",
              REFRESH_TOKEN: "an ACR refresh token (az acr login --expose-token)", TOKEN: "an ACR token"}


# --- pull secrets --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryCredential:
    """One entry of a docker config: the server key as written, the user, and the password (never shown)."""

    server: str
    username: str
    password: str = field(repr=False, compare=False)
    # Set when the entry's `auth` field overrides different username/password fields (kubelet uses `auth`).
    auth_overrides: bool = False


@dataclass(frozen=True)
class DecodedSecret:
    type: str
    credentials: tuple = ()
    problem: str = ""   # why kubelet cannot use the secret, in words; empty when it can


def _b64(text):
    return base64.b64decode(str(text).strip() + "=" * (-len(str(text).strip()) % 4), validate=False)


def _split_auth(auth):
    try:
        user, sep, password = _b64(auth).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (user, password) if sep else None


def _entry(server, value):
    """kubelet's DockerConfigEntry: a non-empty `auth` wins over the username and password fields."""
    if not isinstance(value, dict):
        return None, "the entry for {} is not an object".format(server)
    user, password = str(value.get("username") or ""), str(value.get("password") or "")
    overrides = False
    if value.get("auth"):
        split = _split_auth(value["auth"])
        if split is None:
            return None, "the auth field of the entry for {} is not base64 of user:password".format(server)
        overrides = bool(user or password) and (user != split[0] or not hmac.compare_digest(password, split[1]))
        user, password = split
    if not user and not password:
        return None, "the entry for {} holds no user name or password".format(server)
    return RegistryCredential(str(server), user, password, overrides), ""


def decode_pull_secret(secret):
    """The registry credentials kubelet reads from a Secret object (type decides, as in kubelet's keyring)."""
    secret = secret or {}
    kind = secret.get("type") or "Opaque"
    data = secret.get("data") or {}
    key = PULL_SECRET_KEYS.get(kind)
    if key is None:
        found = [k for k in (".dockerconfigjson", ".dockercfg") if k in data]
        why = "it is of type {}; kubelet reads only kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg " \
              "secrets".format(kind)
        if found:
            why += " (it holds {} but kubelet ignores it)".format(found[0])
        return DecodedSecret(kind, (), why)
    if not data.get(key):
        return DecodedSecret(kind, (), "it has no {} key".format(key))
    try:
        config = json.loads(_b64(data[key]).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return DecodedSecret(kind, (), "its {} is not base64-encoded JSON".format(key))
    if not isinstance(config, dict):
        return DecodedSecret(kind, (), "its {} is not a JSON object".format(key))
    auths = config.get("auths") if kind == DOCKER_CONFIG_JSON else config
    if not isinstance(auths, dict):
        return DecodedSecret(kind, (), "its {} has no \"auths\" object".format(key))
    creds, problems = [], []
    for server, value in auths.items():
        cred, problem = _entry(server, value)
        if cred:
            creds.append(cred)
        else:
            problems.append(problem)
    return DecodedSecret(kind, tuple(creds), "; ".join(problems) if not creds and problems else "")


def _parse_key(key):
    """kubelet's keyring key: host[:port] and an optional path; /v1/ and /v2/ prefixes mean the host."""
    text = str(key or "").strip()
    text = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", text)
    host, _, path = text.partition("/")
    path = "/" + path if path else ""
    for prefix in ("/v1/", "/v2/"):
        if (path + "/").startswith(prefix):
            path = path[3:]
    path = path.rstrip("/")
    return host.lower(), path


def server_matches(key, login_server, repository=None):
    """Does a docker config key apply to images of `login_server` (and `repository`, when known)?

    As kubelet's URLsMatch: host labels glob-match one to one (`*.azurecr.io`), ports must be equal, and a key
    with a path applies only to repositories under it. With no repository, a path-scoped key counts as a match.
    """
    host, path = _parse_key(key)
    target = str(login_server or "").lower()
    key_host, _, key_port = host.partition(":")
    target_host, _, target_port = target.partition(":")
    if key_port != target_port:
        return False
    key_labels, target_labels = key_host.split("."), target_host.split(".")
    if len(key_labels) != len(target_labels) or not key_host:
        return False
    if not all(fnmatchcase(t, k) for k, t in zip(key_labels, target_labels, strict=True)):
        return False
    if path and repository is not None:
        return ("/" + repository).startswith(path)
    return True


def credentials_for(decoded, login_server, repository=None):
    """The credentials of a decoded secret that kubelet would try for images of this registry."""
    return [c for c in decoded.credentials if server_matches(c.server, login_server, repository)]


def classify_user(username, registry_name):
    """Whose credential a pull secret holds, from the user name alone."""
    user = (username or "").strip()
    if user.lower() == (registry_name or "").lower():
        return ADMIN
    if user == REFRESH_TOKEN_USER:
        return REFRESH_TOKEN
    if _GUID.match(user):
        return SERVICE_PRINCIPAL
    return TOKEN


def digest(value):
    """What the facts keep of a secret value: enough to compare, nothing to reveal."""
    return hashlib.sha256(str(value or "").encode("utf-8")).hexdigest()


def same_secret(password, digest_value):
    return hmac.compare_digest(digest(password), str(digest_value or ""))


def jwt_expiry(token):
    """The `exp` of a JWT as an aware datetime, or None (the signature is not checked: only the date is read)."""
    try:
        part = str(token).split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), tz=timezone.utc)
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error, OverflowError, OSError):
        return None


# --- expiry --------------------------------------------------------------------------------------------------


def parse_time(text):
    """An aware datetime from ISO 8601 text as Azure writes it (7-digit fractions, Z), or None."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=timezone.utc)
    raw = str(text or "").strip()
    if not raw:
        return None
    raw = raw.replace("Z", "+00:00").replace("z", "+00:00")
    # Azure writes up to 7 fractional digits; fromisoformat wants 3 or 6 before Python 3.11.
    raw = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), raw, count=1)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def day(value):
    return value.strftime("%Y-%m-%d") if value else "unknown"


@dataclass(frozen=True)
class Expiry:
    """Where a set of credentials stands: `valid`, `expiring` (within the warning window), `expired` or `none`."""

    state: str
    valid_until: datetime | None = None    # latest end among unexpired credentials
    expired_on: datetime | None = None     # latest end among expired credentials
    valid: int = 0
    expired: int = 0
    never_expires: bool = False


def expiry(ends, now=None, warning=EXPIRY_WARNING):
    """Judge credentials by their end dates; None stands for a credential without an end (never expires)."""
    now = now or datetime.now(timezone.utc)
    ends = list(ends)
    if not ends:
        return Expiry("none")
    never = any(e is None for e in ends)
    dated = [e for e in ends if e is not None]
    valid = [e for e in dated if e > now]
    expired = [e for e in dated if e <= now]
    latest_valid = max(valid) if valid else None
    latest_expired = max(expired) if expired else None
    if never:
        state = "valid"
    elif not valid:
        state = "expired"
    elif latest_valid - now <= warning:
        state = "expiring"
    else:
        state = "valid"
    return Expiry(state, latest_valid, latest_expired, len(valid) + ends.count(None), len(expired), never)


def password_ends(credentials):
    """End dates of Graph passwordCredentials (endDateTime) or ACR token passwords (expiry)."""
    out = []
    for cred in credentials or ():
        if not isinstance(cred, dict):
            continue
        raw = cred.get("endDateTime", cred.get("expiry"))
        out.append(parse_time(raw) if raw else None)
    return out


def credentials_matching_hint(credentials, password):
    """The Graph password credentials whose hint (the first characters Entra keeps) starts `password`.

    None when some credential has no hint, since then nothing can be ruled out.
    """
    creds = [c for c in credentials or () if isinstance(c, dict)]
    if not creds or any(not c.get("hint") for c in creds):
        return None
    return [c for c in creds if str(password or "").startswith(str(c["hint"]))]


# --- ACR tokens ----------------------------------------------------------------------------------------------


def scope_map_pull_patterns(actions):
    """Repository patterns a scope map lets its tokens pull (content/read), in the order given."""
    out = []
    for action in actions or ():
        m = re.match(r"^repositories/(.+)/content/read$", str(action or "").strip(), re.IGNORECASE)
        if m:
            out.append(m.group(1))
    return out


def scope_map_allows_pull(actions, repository):
    """True/False for a known repository (`*` in a pattern matches any characters, `/` included)."""
    return any(fnmatchcase(repository.lower(), p.lower()) for p in scope_map_pull_patterns(actions))
