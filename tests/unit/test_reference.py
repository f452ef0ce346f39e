"""Image references as kubelet parses them, and ACR login servers written rightly or wrongly."""
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from azext_acrpull.diagnose.reference import (
    KNOWN_ACR_SUFFIXES,
    ImageReference,
    InvalidReference,
    closest,
    edit_distance,
    host_problem,
    login_server_problem,
    parse_reference,
    registry_name_from_host,
)

SHA = "sha256:" + "0123456789abcdef" * 4


# --- parse_reference: examples ------------------------------------------------------------------

@pytest.mark.parametrize("text, registry, repository, tag, digest", [
    ("nginx", "docker.io", "library/nginx", None, None),
    ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
    ("docker.io/nginx", "docker.io", "library/nginx", None, None),
    ("index.docker.io/bitnami/redis:7", "docker.io", "bitnami/redis", "7", None),
    ("bitnami/redis", "docker.io", "bitnami/redis", None, None),
    ("myacr.azurecr.io/app:v1", "myacr.azurecr.io", "app", "v1", None),
    ("myacr.azurecr.io/team/sub/app:v1.2.3-rc_1", "myacr.azurecr.io", "team/sub/app", "v1.2.3-rc_1", None),
    ("MyAcr.azurecr.io/app:V1", "MyAcr.azurecr.io", "app", "V1", None),
    ("myacr.azurecr.io:443/app:v1", "myacr.azurecr.io:443", "app", "v1", None),
    ("localhost:5000/app", "localhost:5000", "app", None, None),
    ("localhost/app", "localhost", "app", None, None),
    ("registry:5000/app:1", "registry:5000", "app", "1", None),
    ("10.1.2.3:5000/app", "10.1.2.3:5000", "app", None, None),
    ("[fd00::1]:5000/app", "[fd00::1]:5000", "app", None, None),
    ("localhost:5000", "docker.io", "library/localhost", "5000", None),
    ("myacr.azurecr.io/app@" + SHA, "myacr.azurecr.io", "app", None, SHA),
    ("myacr.azurecr.io/app:v1@" + SHA, "myacr.azurecr.io", "app", "v1", SHA),
    ("myacr.azurecr.io/a__b/c--d/e.f_g", "myacr.azurecr.io", "a__b/c--d/e.f_g", None, None),
    ("Team/app", "Team", "app", None, None),  # upstream takes an upper-case first component as a host
])
def test_parse_examples(text, registry, repository, tag, digest):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert ref.original == text


def test_reference_prefers_digest_then_tag_then_latest():
    assert parse_reference("myacr.azurecr.io/app").reference == "latest"
    assert parse_reference("myacr.azurecr.io/app:v1").reference == "v1"
    assert parse_reference("myacr.azurecr.io/app:v1@" + SHA).reference == SHA


def test_str_is_canonical_and_spellings_compare_equal():
    assert str(parse_reference("nginx")) == "docker.io/library/nginx"
    assert str(parse_reference("myacr.azurecr.io/app:v1@" + SHA)) == "myacr.azurecr.io/app:v1@" + SHA
    assert parse_reference("nginx") == parse_reference("docker.io/library/nginx")
    assert parse_reference("nginx") != parse_reference("nginx:latest")


@pytest.mark.parametrize("text, words", [
    ("MyAcr.azurecr.io/App:1", "repository name must be lowercase"),
    ("myacr.azurecr.io/team/App", "repository name must be lowercase"),
    ("App", "repository name must be lowercase"),
    ("", "empty"),
    ("myacr.azurecr.io/app@sha256:abc", "64 hex characters, not 3"),
    ("myacr.azurecr.io/app@sha256:" + "a" * 65, "64 hex characters, not 65"),
    ("myacr.azurecr.io/app@sha256:" + "A" * 64, "lower case"),
    ("myacr.azurecr.io/app@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("myacr.azurecr.io/app@sha256:" + "g" * 64, "algorithm:hex"),
    ("myacr.azurecr.io/app:", "tag"),
    ("myacr.azurecr.io/app:-v1", "tag"),
    ("myacr.azurecr.io/app:" + "v" * 129, "tag"),
    ("myacr.azurecr.io/", "empty component"),
    ("myacr.azurecr.io//app", "empty component"),
    ("myacr.azurecr.io/-app", "a-z, 0-9"),
    ("my_acr.azurecr.io/app", "not a valid host name"),
    ("https://myacr.azurecr.io/app", "scheme"),
    ("myacr.azurecr.io/app :v1", "whitespace"),
    ("0123456789abcdef" * 4, "64-character hex"),
    ("myacr.azurecr.io/" + "a" * 239, "255 characters"),
])
def test_invalid_references_say_what_is_wrong(text, words):
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    message = str(caught.value)
    assert message.startswith('invalid image reference "{}": '.format(text))
    assert words in message
    assert "\n" not in message


def test_uppercase_message_matches_the_example():
    with pytest.raises(InvalidReference, match=r'^invalid image reference "MyAcr.azurecr.io/App:1": '
                                               r"repository name must be lowercase$"):
        parse_reference("MyAcr.azurecr.io/App:1")


def test_name_of_exactly_255_characters_is_valid():
    text = "myacr.azurecr.io/" + "a" * 238
    assert len(text) == 255
    assert parse_reference(text).repository == "a" * 238


def test_invalid_reference_is_a_value_error():
    assert issubclass(InvalidReference, ValueError)


# --- parse_reference: properties ----------------------------------------------------------------

_COMPONENT = st.from_regex(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", fullmatch=True).filter(lambda s: len(s) <= 30)
_PATH = st.lists(_COMPONENT, min_size=1, max_size=4).map("/".join)
_LABEL = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
_PORT = st.integers(min_value=1, max_value=65535).map(":{}".format)
_DOMAIN = st.one_of(
    st.tuples(st.lists(_LABEL, min_size=2, max_size=4).map(".".join), st.one_of(st.just(""), _PORT)).map("".join),
    st.tuples(_LABEL, _PORT).map("".join),
    st.just("localhost"),
).filter(lambda d: d.lower() not in ("docker.io", "index.docker.io"))
_TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", fullmatch=True)
_DIGEST = st.sampled_from([("sha256", 64), ("sha384", 96), ("sha512", 128)]).flatmap(
    lambda a: st.text("0123456789abcdef", min_size=a[1], max_size=a[1]).map(lambda h: "{}:{}".format(a[0], h)))


@given(_DOMAIN, _PATH, st.none() | _TAG, st.none() | _DIGEST)
def test_valid_references_parse_into_their_parts_and_round_trip(domain, path, tag, digest):
    assume(len(domain) + 1 + len(path) <= 255)
    text = domain + "/" + path + (":" + tag if tag else "") + ("@" + digest if digest else "")
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (domain, path, tag, digest)
    again = parse_reference(str(ref))
    assert again == ref
    assert str(again) == str(ref) == text


@given(_PATH, st.none() | _TAG)
def test_names_without_a_domain_round_trip_through_docker_io(path, tag):
    text = path + (":" + tag if tag else "")
    first = path.split("/")[0]
    if "/" in path and "." in first:
        # A first component with a dot is a host, and "a_b.c" is a valid path component but no host name.
        try:
            assert parse_reference(text).registry == first
        except InvalidReference as error:
            assert "not a valid host name" in str(error)
        return
    ref = parse_reference(text)
    assert ref.registry == "docker.io"
    assert ref.repository == (path if "/" in path else "library/" + path)
    assert parse_reference(str(ref)) == ref


@given(_DOMAIN, _PATH, st.data())
def test_any_uppercase_in_the_repository_is_rejected(domain, path, data):
    letters = [i for i, c in enumerate(path) if c.isalpha()]
    assume(letters and len(domain) + 1 + len(path) <= 255)
    i = data.draw(st.sampled_from(letters))
    bad = path[:i] + path[i].upper() + path[i + 1:]
    tag = data.draw(st.none() | _TAG)
    with pytest.raises(InvalidReference, match="repository name must be lowercase"):
        parse_reference(domain + "/" + bad + (":" + tag if tag else ""))


@given(st.text(max_size=80))
def test_parse_either_succeeds_or_raises_invalid_reference(text):
    try:
        ref = parse_reference(text)
    except InvalidReference as error:
        assert str(error).startswith("invalid image reference")
    else:
        assert isinstance(ref, ImageReference)


# --- login servers ------------------------------------------------------------------------------

@pytest.mark.parametrize("host, suffix, name", [
    ("myacr.azurecr.io", ".azurecr.io", "myacr"),
    ("MyAcr.AzureCR.io", ".azurecr.io", "myacr"),
    ("myacr.azurecr.io:443", ".azurecr.io", "myacr"),
    ("myacr.privatelink.azurecr.io", ".azurecr.io", "myacr"),
    ("myacr.azurecr.cn", ".azurecr.cn", "myacr"),
    ("myacr.azurecr.us", ".azurecr.us", "myacr"),
    ("myacr-abcd1234efgh5678.azurecr.io", ".azurecr.io", "myacr"),
    ("myacr.azurecr.us", ".azurecr.io", None),
    ("myacr.azurecr.io:5000", ".azurecr.io", None),
    ("myacr.eastus.data.azurecr.io", ".azurecr.io", None),
    ("myacr.azureacr.io", ".azurecr.io", None),
    ("azurecr.io", ".azurecr.io", None),
    ("ab.azurecr.io", ".azurecr.io", None),
    ("mcr.microsoft.com", ".azurecr.io", None),
    ("", ".azurecr.io", None),
])
def test_registry_name_from_host(host, suffix, name):
    assert registry_name_from_host(host, suffix) == name


@pytest.mark.parametrize("host, suffix, kind, suggestion", [
    ("myacr.azureacr.io", ".azurecr.io", "misspelt-suffix", "myacr.azurecr.io"),
    ("myacr.azurecr.com", ".azurecr.io", "misspelt-suffix", "myacr.azurecr.io"),
    ("myacr.azurcr.io", ".azurecr.io", "misspelt-suffix", "myacr.azurecr.io"),
    ("myacr.azurecr.i", ".azurecr.io", "misspelt-suffix", "myacr.azurecr.io"),
    ("myacr.azrecr.io", ".azurecr.io", "misspelt-suffix", "myacr.azurecr.io"),
    ("myacr.azruecr.io", ".azurecr.io", "misspelt-suffix", "myacr.azurecr.io"),
    ("myacr.azurecr.net", ".azurecr.io", "misspelt-suffix", "myacr.azurecr.io"),
    ("myacr.azurecr", ".azurecr.io", "misspelt-suffix", "myacr.azurecr.io"),
    ("myacr.azurecr.cm", ".azurecr.cn", "misspelt-suffix", "myacr.azurecr.cn"),
    ("myacr.azurecr.us.azurecr.io", ".azurecr.io", "doubled-suffix", "myacr.azurecr.io"),
    ("myacr.azurecr.io.azurecr.io", ".azurecr.io", "doubled-suffix", "myacr.azurecr.io"),
    ("myacr.azurecr.us", ".azurecr.io", "other-cloud", None),
    ("myacr.azurecr.io", ".azurecr.cn", "other-cloud", None),
    ("myacr.privatelink.azurecr.io", ".azurecr.io", "privatelink", "myacr.azurecr.io"),
    ("MyAcr.PrivateLink.azurecr.io", ".azurecr.io", "privatelink", "myacr.azurecr.io"),
    ("myacr.eastus.data.azurecr.io", ".azurecr.io", "data-endpoint", "myacr.azurecr.io"),
    ("myacr.westeurope.azurecr.io", ".azurecr.io", "extra-labels", "myacr.azurecr.io"),
    ("azurecr.io", ".azurecr.io", "no-name", None),
    ("my.azurecr.io", ".azurecr.io", "invalid-name", None),
    ("myacr.azurecr.io:5000", ".azurecr.io", "port", "myacr.azurecr.io"),
])
def test_login_server_problems(host, suffix, kind, suggestion):
    problem = login_server_problem(host, suffix)
    assert problem is not None
    assert (problem.kind, problem.suggestion) == (kind, suggestion)
    assert host_problem(host, suffix) == problem.message
    assert "\n" not in problem.message


@pytest.mark.parametrize("host", [
    "myacr.azurecr.io", "MYACR.AZURECR.IO", "myacr.azurecr.io:443", "myacr-abcd1234efgh5678.azurecr.io",
    "mcr.microsoft.com", "docker.io", "index.docker.io", "ghcr.io", "quay.io", "registry.k8s.io", "gcr.io",
    "public.ecr.aws", "localhost:5000", "localhost", "10.1.2.3:5000", "[fd00::1]:5000", "registry.example.com",
    "harbor.contoso.com:8443", "myregistry.azurewebsites.net", "frontdoor.azurefd.net", "",
])
def test_no_problem_for_correct_login_servers_and_other_registries(host):
    assert host_problem(host, ".azurecr.io") is None


_REGISTRY_NAME = st.from_regex(r"[a-z0-9]{5,50}", fullmatch=True)


@given(_REGISTRY_NAME, st.sampled_from(KNOWN_ACR_SUFFIXES), st.sampled_from(["", ":443"]), st.booleans())
def test_every_right_login_server_names_its_registry(name, suffix, port, upper):
    host = name + suffix + port
    host = host.upper() if upper else host
    assert registry_name_from_host(host, suffix) == name
    assert host_problem(host, suffix) is None
    assert registry_name_from_host(name + ".privatelink" + suffix, suffix) == name


@given(_REGISTRY_NAME, st.sampled_from(KNOWN_ACR_SUFFIXES), st.data())
def test_any_one_character_typo_in_the_suffix_is_reported(name, suffix, data):
    body = suffix[1:]
    i = data.draw(st.integers(min_value=0, max_value=len(body)))
    char = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-."))
    edit = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    if edit == "insert":
        typo = body[:i] + char + body[i:]
    elif edit == "delete":
        assume(i < len(body))
        typo = body[:i] + body[i + 1:]
    else:
        assume(i < len(body))
        typo = body[:i] + char + body[i + 1:]
    assume(typo != body and not typo.endswith("."))  # a trailing dot is the same, fully qualified, DNS name
    assert host_problem(name + "." + typo, suffix) is not None
    assert registry_name_from_host(name + "." + typo, suffix) is None


# --- suggestions --------------------------------------------------------------------------------

def test_closest_orders_by_edit_distance():
    assert closest("myarc", ["other", "myacr", "myacr2", "xyz"]) == ["myacr", "myacr2", "xyz"]
    assert closest("v1", ["latest", "v1.0", "v2", "v1"], limit=2) == ["v1", "v2"]
    assert closest("MyAcr", ["myacr"]) == ["myacr"]
    assert closest("x", []) == []
    assert closest("x", ["a", "b"], limit=0) == []


def test_edit_distance_counts_a_swap_as_one():
    assert edit_distance("azurecr", "azruecr") == 1
    assert edit_distance("azureacr.io", "azurecr.io") == 1
    assert edit_distance("", "abc") == 3
    assert edit_distance("kitten", "sitting") == 3


@given(st.text(max_size=12), st.text(max_size=12))
def test_edit_distance_is_a_symmetric_bounded_distance(a, b):
    d = edit_distance(a, b)
    assert d == edit_distance(b, a)
    assert (d == 0) == (a == b)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))


@given(st.text("abcdef", max_size=8), st.lists(st.text("abcdef", max_size=8), max_size=10),
       st.integers(min_value=0, max_value=5))
def test_closest_returns_the_nearest_candidates(name, candidates, limit):
    found = closest(name, candidates, limit)
    assert len(found) == min(limit, len(set(candidates)))
    assert set(found) <= set(candidates)
    distances = [edit_distance(name, c) for c in found]
    assert distances == sorted(distances)
    rest = [edit_distance(name, c) for c in set(candidates) - set(found)]
    assert not distances or not rest or max(distances) <= min(rest)


# --- the registry a reference means -------------------------------------------------------------------------------

@pytest.mark.parametrize("host, name", [
    ("myacr.azurecr.io", "myacr"), ("myacr.azureacr.io", "myacr"), ("myacr.azurecr.us.azurecr.io", "myacr"),
    ("myacr.privatelink.azurecr.io", "myacr"), ("myacr.eastus.data.azurecr.io", "myacr"),
    ("myacr.azurecr.io:5000", "myacr"), ("myacr.azurecr.cn", None), ("mcr.microsoft.com", None),
    ("docker.io", None), ("azurecr.io", None),
])
def test_intended_registry_name(host, name):
    from azext_acrpull.diagnose.reference import intended_registry_name
    assert intended_registry_name(host, ".azurecr.io") == name


def test_registry_names_from_images_of_the_user_or_the_pod():
    from azext_acrpull.diagnose.request import DiagnoseRequest
    request = DiagnoseRequest("rg", "aks", images=(parse_reference("myacr.azurecr.io/a:1"),
                                                   parse_reference("MYACR.azurecr.io/b:1"), parse_reference("nginx")))
    assert request.registry_names_from_images() == ["myacr"]
    pod_images = [parse_reference("other.azureacr.io/x:1"), parse_reference("myacr.azurecr.io/y")]
    assert request.registry_names_from_images(pod_images) == ["other", "myacr"]
