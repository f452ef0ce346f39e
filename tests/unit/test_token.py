"""B.token: which credential path a pull error says failed, in every wrapping of pull-errors.md and
beyond-the-article.md (kubelet events and waiting messages, the CRI client's rpc prefix, containerd's building
blocks, multi-errors of several credential attempts)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose.classify import TOKENS, failed_token

IMG = "myacr.azurecr.io/app:v1"
URL = "https://myacr.azurecr.io/oauth2/token?scope=repository%3Aapp%3Apull&service=myacr.azurecr.io"

# The token requests' own texts, older and newer containerd.
OAUTH = ["failed to fetch oauth token: unexpected status: 401 Unauthorized",
         "failed to fetch oauth token: unexpected status from GET request to {}: 401 Unauthorized".format(URL),
         "failed to fetch oauth token: unexpected status from POST request to https://myacr.azurecr.io/oauth2/token: "
         "401 Unauthorized"]
ANONYMOUS = ["failed to fetch anonymous token: unexpected status: 401 Unauthorized",
             "failed to fetch anonymous token: unexpected status from GET request to {}: 401 Unauthorized".format(URL)]
# Failures that are not a credential refused or missing: the network layer's anonymous 403, transport, not found.
NEITHER = ["failed to fetch anonymous token: unexpected status: 403 Forbidden",
           "failed to fetch anonymous token: unexpected status from GET request to {}: 403 Forbidden".format(URL),
           'failed to do request: Head "https://myacr.azurecr.io/v2/app/manifests/v1": dial tcp 10.1.2.3:443: i/o '
           "timeout",
           '{0}: not found'.format(IMG),
           "no match for platform in manifest: not found",
           "unauthorized: authentication required, visit https://aka.ms/acr/authorization for more information.",
           "denied: requested access to the resource is denied",
           "toomanyrequests: Too many requests. Please visit https://aka.ms/acr/skus#sku-feature-matrix to view "
           "limits of all service tiers."]


def containerd(err):
    """containerd's building blocks around a token failure (remotes/docker)."""
    return 'failed to pull and unpack image "{0}": failed to resolve reference "{0}": failed to authorize: {1}'.format(
        IMG, err)


_WRAPPERS = st.sampled_from([
    lambda t: 'Failed to pull image "{}": {}'.format(IMG, t),                       # kubelet Failed event
    lambda t: 'Back-off pulling image "{}": ErrImagePull: {}'.format(IMG, t),       # kubernetes PR #127918
    lambda t: 'Back-off pulling image "{}": ImagePullBackOff: {}'.format(IMG, t),
    lambda t: "Error: " + t,
    lambda t: "Error response from daemon: " + t,                                  # Docker era
    lambda t: "rpc error: code = Unknown desc = " + t,                             # older kubelets keep it
    lambda t: "rpc error: code = 2 desc = " + t,
    lambda t: "[" + t + "]",
    lambda t: "\n " + t.replace(" ", "  ") + "\t",
    lambda t: t.replace(" ", "\n", 1),
])


def _wrap(text, wrappers):
    for wrap in wrappers:
        text = wrap(text)
    return text


@pytest.mark.parametrize("text, token", [(t, "oauth") for t in OAUTH] + [(t, "anonymous") for t in ANONYMOUS]
                         + [(t, "none") for t in NEITHER] + [("", "none"), ("Error: ImagePullBackOff", "none")])
def test_each_text(text, token):
    assert failed_token(text) == token
    assert failed_token(containerd(text)) == token


def test_the_articles_multi_error_of_two_attempts():
    text = ('Failed to pull image "{0}": [rpc error: code = Unknown desc = {1}, rpc error: code = Unknown desc = '
            '{2}]'.format(IMG, containerd(ANONYMOUS[1]), containerd(OAUTH[0])))
    assert failed_token(text) == "oauth"


def test_architecture_error_with_the_anonymous_retry():
    text = ("[rpc error: code = NotFound desc = failed to pull and unpack image \"{0}\": no match for platform in "
            "manifest: not found, {1}]".format(IMG, containerd(ANONYMOUS[0])))
    assert failed_token(text) == "anonymous"


@given(st.sampled_from(OAUTH), st.lists(_WRAPPERS, max_size=5), st.booleans())
def test_a_refused_credential_is_oauth_in_every_wrapping(err, wrappers, building_blocks):
    assert failed_token(_wrap(containerd(err) if building_blocks else err, wrappers)) == "oauth"


@given(st.sampled_from(ANONYMOUS), st.lists(_WRAPPERS, max_size=5), st.booleans())
def test_no_credential_offered_is_anonymous_in_every_wrapping(err, wrappers, building_blocks):
    assert failed_token(_wrap(containerd(err) if building_blocks else err, wrappers)) == "anonymous"


@given(st.sampled_from(NEITHER), st.lists(_WRAPPERS, max_size=5))
def test_other_failures_are_none_in_every_wrapping(err, wrappers):
    assert failed_token(_wrap(containerd(err), wrappers)) == "none"


@given(st.lists(st.sampled_from(OAUTH + ANONYMOUS + NEITHER), min_size=1, max_size=4), st.randoms(),
       st.lists(_WRAPPERS, max_size=3))
def test_a_multi_error_says_oauth_when_any_attempt_was_refused_whatever_the_order(errors, rnd, wrappers):
    shuffled = list(errors)
    rnd.shuffle(shuffled)
    text = _wrap("[" + ", ".join("rpc error: code = Unknown desc = " + containerd(e) for e in shuffled) + "]",
                 wrappers)
    expected = "oauth" if any(e in OAUTH for e in errors) else "anonymous" if any(e in ANONYMOUS for e in errors) \
        else "none"
    assert failed_token(text) == expected


@given(st.text(max_size=300))
def test_any_text_gets_one_of_the_contracts_words(text):
    assert failed_token(text) in TOKENS
