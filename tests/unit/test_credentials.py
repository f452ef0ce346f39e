# Facts these tests pin down, and where they come from:
# - kubelet reads only kubernetes.io/dockerconfigjson (.dockerconfigjson, {"auths": {...}}) and kubernetes.io/dockercfg
#   (.dockercfg, the map itself) secrets; a non-empty `auth` (base64 user:password) wins over username/password;
#   keys match images as URLsMatch does: scheme optional, /v1/ and /v2/ mean the host, host labels glob-match one to
#   one, ports must be equal, a path limits the key to repositories under it (kubernetes pkg/credentialprovider).
# - `az acr login --expose-token` prints user 00000000-0000-0000-0000-000000000000 and a refresh token (about 3 h).
# - Graph passwordCredentials carry endDateTime and hint (the secret's first characters); ACR token passwords carry
#   name password1/password2 and expiry (null: no end); scope map actions are repositories/<repo>/content/read with
#   `*` wildcards (ACR REST spec examples, az acr token/scope-map).
import base64
import json
import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose.checks.auth import repository_condition
from azext_acrpull.diagnose.credentials import (
    ADMIN,
    REFRESH_TOKEN,
    SERVICE_PRINCIPAL,
    TOKEN,
    credentials_for,
    credentials_matching_hint,
    decode_pull_secret,
    digest,
    expiry,
    jwt_expiry,
    parse_time,
    password_ends,
    same_secret,
    scope_map_allows_pull,
    scope_map_pull_patterns,
    server_matches,
)
from azext_acrpull.diagnose.credentials import classify_user as classify
from azext_acrpull.diagnose.roles import evaluate_repository_condition

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
LOGIN = "myacr.azurecr.io"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def secret(config, kind="kubernetes.io/dockerconfigjson"):
    key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
    return {"type": kind, "data": {key: b64(json.dumps(config))}}


def entry(user, password, auth=True, fields=True):
    out = {}
    if fields:
        out.update(username=user, password=password)
    if auth:
        out["auth"] = b64("{}:{}".format(user, password))
    return out


# --- decoding ------------------------------------------------------------------------------------------------

USER = st.text(alphabet=string.ascii_letters + string.digits + "-_.@", min_size=1, max_size=40)
PASSWORD = st.text(alphabet=string.printable.strip(), min_size=1, max_size=80)


@given(USER, PASSWORD, st.sampled_from([(True, True), (True, False), (False, True)]),
       st.sampled_from(["kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"]))
def test_decoding_round_trips(user, password, shape, kind):
    auth, fields = shape
    config = {LOGIN: entry(user, password, auth, fields)}
    decoded = decode_pull_secret(secret({"auths": config} if kind.endswith("json") else config, kind))
    assert decoded.problem == ""
    (cred,) = decoded.credentials
    assert (cred.server, cred.username, cred.password, cred.auth_overrides) == (LOGIN, user, password, False)


@given(PASSWORD)
def test_password_never_in_repr(password):
    (cred,) = decode_pull_secret(secret({"auths": {LOGIN: entry("myacr", password)}})).credentials
    (other,) = decode_pull_secret(secret({"auths": {LOGIN: entry("myacr", "x")}})).credentials
    assert repr(cred) == repr(other) and str(cred) == str(other)


def test_auth_field_wins_and_is_flagged_when_it_differs():
    config = {"auths": {LOGIN: {"username": "myacr", "password": "new", "auth": b64("myacr:old")}}}
    (cred,) = decode_pull_secret(secret(config)).credentials
    assert cred.password == "old" and cred.auth_overrides


@pytest.mark.parametrize("obj, words", [
    ({"type": "Opaque", "data": {".dockerconfigjson": b64("{}")}}, "holds .dockerconfigjson but kubelet ignores it"),
    ({"type": "kubernetes.io/basic-auth", "data": {}}, "kubernetes.io/basic-auth"),
    ({"type": "kubernetes.io/dockerconfigjson", "data": {}}, "no .dockerconfigjson key"),
    ({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "***"}}, "not base64-encoded JSON"),
    (secret([1, 2]), "not a JSON object"),
    (secret({"credsStore": "x"}), "no \"auths\" object"),
    (secret({"auths": {LOGIN: {"auth": b64("no-colon")}}}), "not base64 of user:password"),
    (secret({"auths": {LOGIN: {"email": "a@b.c"}}}), "holds no user name or password"),
    (None, "type Opaque"),
])
def test_unusable_secrets_say_why(obj, words):
    decoded = decode_pull_secret(obj)
    assert decoded.credentials == () and words in decoded.problem


@given(st.binary(max_size=200))
def test_decoding_never_raises(data):
    decode_pull_secret({"type": "kubernetes.io/dockerconfigjson",
                        "data": {".dockerconfigjson": base64.b64encode(data).decode()}})


# --- matching the registry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    LOGIN, "MyAcr.AzureCR.io", "https://myacr.azurecr.io", "https://myacr.azurecr.io/v1/", "myacr.azurecr.io/v2/",
    "http://myacr.azurecr.io/", "*.azurecr.io", "myacr.*.io",
])
def test_keys_that_apply_to_the_registry(key):
    assert server_matches(key, LOGIN, "app")


@pytest.mark.parametrize("key", [
    "otheracr.azurecr.io", "myacr.azurecr.io:443", "azurecr.io", "*.io", "myacr.azurecr.io.evil.com", "",
    "index.docker.io", "myacr.azureacr.io",
])
def test_keys_that_do_not_apply(key):
    assert not server_matches(key, LOGIN, "app")


def test_path_scoped_keys():
    assert server_matches("myacr.azurecr.io/team", LOGIN, "team/api")
    assert not server_matches("myacr.azurecr.io/team", LOGIN, "other/api")
    assert server_matches("myacr.azurecr.io/team", LOGIN)


def test_credentials_for_picks_entries_of_the_registry():
    decoded = decode_pull_secret(secret({"auths": {"https://index.docker.io/v1/": entry("hub", "x"),
                                                   LOGIN: entry("myacr", "y")}}))
    assert [c.username for c in credentials_for(decoded, LOGIN)] == ["myacr"]


@given(st.from_regex(r"[a-z0-9]{5,20}", fullmatch=True), st.sampled_from(["", "https://", "http://"]),
       st.sampled_from(["", "/", "/v1/", "/v2/"]))
def test_a_registry_matches_its_own_login_server_however_written(name, scheme, suffix):
    login = name + ".azurecr.io"
    assert server_matches(scheme + login.upper() + suffix, login, "repo")
    assert not server_matches(scheme + name + "x.azurecr.io" + suffix, login, "repo")


# --- whose credential ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("user, kind", [
    ("myacr", ADMIN), ("MyAcr", ADMIN), ("00000000-0000-0000-0000-000000000000", REFRESH_TOKEN),
    ("0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e", SERVICE_PRINCIPAL), ("puller", TOKEN), ("myacr2", TOKEN),
])
def test_classify_user(user, kind):
    assert classify(user, "myacr") == kind


@given(PASSWORD, PASSWORD)
def test_digests_compare_equal_values_only(a, b):
    assert same_secret(a, digest(a))
    assert same_secret(b, digest(a)) == (a == b)
    assert a not in digest(a) or len(a) < 3


def test_jwt_expiry():
    def jwt(claims):
        enc = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return "eyJhbGciOiJub25lIn0.{}.sig".format(enc)
    assert jwt_expiry(jwt({"exp": 1800000000})) == datetime.fromtimestamp(1800000000, tz=timezone.utc)
    for bad in ("not-a-jwt", jwt({"nbf": 1}), jwt({"exp": "soon"}), "a.!!!.c", None, jwt({"exp": 10 ** 20})):
        assert jwt_expiry(bad) is None


# --- expiry --------------------------------------------------------------------------------------------------


def test_parse_time_forms_azure_writes():
    assert parse_time("2026-11-26T12:00:00Z") == NOW
    assert parse_time("2026-11-26T12:00:00.1234567Z") == NOW.replace(microsecond=123456)
    assert parse_time("2026-11-26T12:00:00.12+00:00") == NOW.replace(microsecond=120000)
    assert parse_time("2026-11-26T12:00:00") == NOW
    assert parse_time("") is None and parse_time("soon") is None and parse_time(None) is None


def test_expiry_states():
    assert expiry([], NOW).state == "none"
    assert expiry([NOW - timedelta(days=1)], NOW).state == "expired"
    assert expiry([NOW + timedelta(days=10)], NOW).state == "expiring"
    assert expiry([NOW + timedelta(days=10), NOW + timedelta(days=40)], NOW).state == "valid"
    assert expiry([NOW - timedelta(days=10), None], NOW).never_expires
    state = expiry([NOW - timedelta(days=3), NOW + timedelta(days=90)], NOW)
    assert (state.state, state.valid, state.expired) == ("valid", 1, 1)
    assert state.expired_on == NOW - timedelta(days=3) and state.valid_until == NOW + timedelta(days=90)


DAYS = st.one_of(st.none(), st.integers(min_value=-800, max_value=800))


@given(st.lists(DAYS, max_size=6))
def test_expiry_is_the_best_credential(offsets):
    ends = [None if d is None else NOW + timedelta(days=d) for d in offsets]
    state = expiry(ends, NOW)
    dated = [d for d in offsets if d is not None]
    if not offsets:
        assert state.state == "none"
    elif None in offsets or (dated and max(dated) > 30):
        assert state.state == "valid"
    elif max(dated) > 0:
        assert state.state == "expiring"
    else:
        assert state.state == "expired"
    assert state.valid + state.expired == len(offsets)


def test_password_ends_reads_graph_and_token_shapes():
    assert password_ends([{"endDateTime": "2026-11-26T12:00:00Z"}, {"expiry": None}, {"name": "password2"}, "x"]) \
        == [NOW, None, None]


def test_hints():
    creds = [{"keyId": "a", "hint": "Ok1"}, {"keyId": "b", "hint": "Zz1"}]
    assert [c["keyId"] for c in credentials_matching_hint(creds, "Ok1~rest")] == ["a"]
    assert credentials_matching_hint(creds, "Xx9~rest") == []
    assert credentials_matching_hint(creds + [{"keyId": "c", "hint": None}], "Xx9") is None
    assert credentials_matching_hint([], "x") is None


# --- ACR tokens ----------------------------------------------------------------------------------------------


def test_scope_maps():
    actions = ["repositories/app/content/read", "repositories/app/metadata/read", "repositories/team-b/*/content/read",
               "repositories/tools/content/write"]
    assert scope_map_pull_patterns(actions) == ["app", "team-b/*"]
    assert scope_map_allows_pull(actions, "app") and scope_map_allows_pull(actions, "team-b/api/v2")
    assert not scope_map_allows_pull(actions, "tools") and not scope_map_allows_pull(actions, "app2")
    assert scope_map_allows_pull(["repositories/*/content/read"], "anything/at/all")


# --- the ABAC fix -------------------------------------------------------------------------------------------

REPO = st.from_regex(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*){0,2}", fullmatch=True)


@given(st.lists(REPO, min_size=1, max_size=3, unique=True), REPO)
def test_the_suggested_condition_covers_exactly_the_repositories(repos, other):
    condition = repository_condition(repos)
    for repo in repos:
        assert evaluate_repository_condition(condition, repo).covers is True
    assert evaluate_repository_condition(condition, other).covers is (other.lower() in [r.lower() for r in repos])
