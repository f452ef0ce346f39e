"""Every pull-error text of the article and of the collected sources, and wrappings that must not matter."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose.classify import CAUSES, Classification, classify_pull_error, classify_waiting, normalise

IMG = "myacr.azurecr.io/app:v1"
TOKEN_URL = ("https://myacr.azurecr.io/oauth2/token?scope=repository%3Aapp%3Apull&service=myacr.azurecr.io")
RESOLVE = 'failed to pull and unpack image "{0}": failed to resolve reference "{0}": '.format(IMG)


def case(name, text, cause, token=None, ambiguous=False, says=()):
    return pytest.param(text, cause, token, ambiguous, says, id=name)


CHILD = "sha256:" + "c" * 64
BLOB = "sha256:" + "b" * 64
DOCKERHUB = "myacr.azurecr.io/docker.io/library/nginx:1.27"
# (name, the text after containerd's "failed to pull and unpack image" wrapping, cause, words the reason must say)
BEYOND = [
    ("cache-auth-required",
     'failed to resolve reference "{0}": unexpected status from HEAD request to '
     'https://myacr.azurecr.io/v2/docker.io/library/nginx/manifests/1.27: 401 Unauthorized - Server message: '
     "unauthorized: authentication required with source registry for cache rule".format(DOCKERHUB), "B.cache",
     ("credential set",)),
    ("cache-too-many-requests",
     'failed to resolve reference "{0}": unexpected status from HEAD request to '
     "https://myacr.azurecr.io/v2/docker.io/library/nginx/manifests/1.27: 429 Too Many Requests - Server message: "
     "toomanyrequests: too many requests to source registry for cache rule".format(DOCKERHUB), "B.cache",
     ("throttled", "credential set")),
    ("cache-source-denied",
     "Error response from daemon: pull access denied for myacr.azurecr.io/docker.io/pulumi/pulumi-dotnet, repository "
     "does not exist or may require 'docker login': denied: requested access to pull from source "
     "'docker.io/library/pulumi/pulumi-dotnet' for cache rule 'docker-io-rule' has been denied.", "B.cache",
     ("docker-io-rule",)),
    ("throttle-toomanyrequests",
     "failed to copy: httpReadSeeker: failed open: unexpected status code "
     "https://myacr.azurecr.io/v2/app/blobs/sha256:abc: 429 Too Many Requests - Server message: toomanyrequests: "
     "Too many requests. Please visit https://aka.ms/acr/skus#sku-feature-matrix to view limits of all service "
     "tiers.", "B.throttle", ("throttled",)),
    ("slow-context-canceled",
     'failed to pull and unpack image "{0}": failed to copy: httpReadSeeker: failed open: failed to do request: '
     'Get "https://myacr.azurecr.io/v2/app/blobs/{1}": context canceled'.format(IMG, BLOB), "B.slow", ("gave up",)),
    ("slow-deadline-exceeded", "rpc error: code = DeadlineExceeded desc = context deadline exceeded", "B.slow",
     ("gave up",)),
    ("slow-no-progress",
     'cancel pulling image "{}" because of no progress in 1m0s: context canceled'.format(IMG), "B.slow",
     ("no progress",)),
    ("disk-no-space",
     'failed to pull and unpack image "{0}": failed to extract layer {1}: write '
     "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/42/fs/usr/lib/libx.so: no space left on "
     "device: unknown".format(IMG, BLOB), "B.disk", ("no space left on device",)),
    ("purge-child-descriptor",
     'failed to pull and unpack image "{0}": failed to copy: httpReadSeeker: failed open: could not fetch content '
     "descriptor {1} (application/vnd.oci.image.manifest.v1+json) from remote: not found".format(IMG, CHILD),
     "B.purge", (CHILD,)),
    ("purge-child-docker-media-type",
     'failed to pull and unpack image "{0}": failed to copy: httpReadSeeker: failed open: could not fetch content '
     "descriptor {1} (application/vnd.docker.distribution.manifest.v2+json) from remote: not found".format(IMG, CHILD),
     "B.purge", (CHILD,)),
    ("purge-child-content-at",
     'failed to pull and unpack image "{0}": failed to copy: httpReadSeeker: failed open: content at '
     "https://myacr.azurecr.io/v2/app/manifests/{1} not found: not found".format(IMG, CHILD), "B.purge", (CHILD,)),
    ("fqdn-blob-eof",
     'failed to pull and unpack image "{0}": failed to copy: httpReadSeeker: failed open: failed to do request: Get '
     '"https://ab12cdweu.blob.core.windows.net/ab12-0123/docker/registry/v2/blobs/sha256/ab/x/data?se=1&sig=s": EOF'
     .format(IMG), "B.fqdn", ("ab12cdweu.blob.core.windows.net",)),
    ("fqdn-data-endpoint-timeout",
     'failed to pull and unpack image "{0}": failed to copy: httpReadSeeker: failed open: failed to do request: Get '
     '"https://myacr.westeurope.data.azurecr.io/ab12-0123/docker/registry/v2/blobs/sha256/ab/x/data": dial tcp '
     "20.50.1.2:443: i/o timeout".format(IMG), "B.fqdn", ("myacr.westeurope.data.azurecr.io", "20.50.1.2:443")),
    ("x509-unknown-authority-proxy",
     'failed to resolve reference "{0}": failed to do request: Head "https://myacr.azurecr.io/v2/app/manifests/v1": '
     "tls: failed to verify certificate: x509: certificate signed by unknown authority".format(IMG), "X.tls",
     ("certificate signed by unknown authority",)),
    ("admission-gatekeeper",
     'admission webhook "validation.gatekeeper.sh" denied the request: '
     "[azurepolicy-k8sazurev2containerallowedimages-0c4a2d] Container image myacr.azurecr.io/app:v1 for container "
     "app has not been allowed.", "B.admission", ("validation.gatekeeper.sh",)),
    ("admission-ratify",
     'admission webhook "validation.gatekeeper.sh" denied the request: [ratify-constraint] Subject failed '
     "verification: myacr.azurecr.io/app@{}".format(CHILD), "B.admission", ("validation.gatekeeper.sh",)),
    # The registry's storage refuses the node subnet (a service endpoint policy): containerd quotes Azure Storage's
    # status line; the Docker era quoted its XML body (Azure/AKS#1383).
    ("sep-containerd-storage-403",
     "failed to copy: httpReadSeeker: failed open: unexpected status code https://eastusacr1a2b3c4d.blob.core."
     "windows.net/myacr/docker/registry/v2/blobs/sha256/{0}/{1}/data: 403 This request is not authorized to "
     "perform this operation.".format(BLOB[7:9], BLOB[7:]), "B.sep", ("service endpoint policy",)),
    ("sep-docker-authorizationfailure",
     "error pulling image configuration: error parsing HTTP 403 response body: invalid character '<' looking for "
     'beginning of value: "<?xml version=\\"1.0\\" encoding=\\"utf-8\\"?><Error><Code>AuthorizationFailure</Code>'
     '<Message>This request is not authorized to perform this operation.</Message></Error>"', "B.sep",
     ("AuthorizationFailure",)),
]


CASES = [
    # Wrapping and kubelet's own messages.
    case("pulling-normal-event", 'Pulling image "{}"'.format(IMG), "unknown"),
    case("backoff-event-without-error", 'Back-off pulling image "{}"'.format(IMG), "unknown", says=("Failed events",)),
    case("error-errimagepull", "Error: ErrImagePull", "unknown", says=("ErrImagePull",)),
    case("error-imagepullbackoff", "Error: ImagePullBackOff", "unknown", says=("no error text",)),
    case("backoff-with-error-pr127918",
         'Back-off pulling image "{}": ErrImagePull: {}failed to authorize: failed to fetch oauth token: '
         'unexpected status: 401 Unauthorized'.format(IMG, RESOLVE), "C1", "oauth"),
    case("never-pull", 'Container image "{}" is not present with pull policy of Never'.format(IMG), "unknown",
         says=("imagePullPolicy is Never",)),
    case("invalid-reference-format",
         'Failed to apply default image tag "myacr.azurecr.io/app:": couldn\'t parse image reference '
         '"myacr.azurecr.io/app:": invalid reference format', "C2", says=("parse",)),
    case("invalid-reference-lowercase",
         'Failed to apply default image tag "MyAcr.azurecr.io/App:v1": couldn\'t parse image reference '
         '"MyAcr.azurecr.io/App:v1": invalid reference format: repository name must be lowercase', "C2",
         says=("upper case",)),
    case("pull-secret-missing",
         "Unable to retrieve some image pull secrets (acr-secret); attempting to pull the image may not succeed.",
         "C1", ambiguous=True, says=("acr-secret",)),
    case("qps-older", 'Failed to pull image "myacr.azurecr.io/repo/nginx:latest": pull QPS exceeded.', "X.qps"),
    case("qps-newer", 'Failed to pull image "myacr.azurecr.io/repo/nginx:latest": pull QPS exceeded', "X.qps"),
    # containerd building blocks.
    case("oauth-401-older", RESOLVE + "failed to authorize: failed to fetch oauth token: unexpected status: "
                                      "401 Unauthorized", "C1", "oauth", says=("rejected the credentials",)),
    case("anonymous-401-newer", RESOLVE + "failed to authorize: failed to fetch anonymous token: unexpected status "
                                          "from GET request to {}: 401 Unauthorized".format(TOKEN_URL),
         "C1", "anonymous", True),
    case("ref-not-found", RESOLVE + IMG + ": not found", "C2", says=(IMG,)),
    case("no-match-for-platform", 'failed to pull and unpack image "{}": no match for platform in manifest: '
                                  "not found".format(IMG), "C5"),
    case("pull-access-denied", 'failed to pull and unpack image "{}": failed to resolve reference "{}": pull access '
                               "denied, repository does not exist or may require authorization: server message: "
                               "insufficient_scope: authorization failed".format(IMG, IMG), "C2", ambiguous=True),
    # C1: 401, credentials rejected.
    case("article-c1",
         'Failed to pull image "{0}": [rpc error: code = Unknown desc = failed to pull and unpack image "{0}": failed '
         'to resolve reference "{0}": failed to authorize: failed to fetch oauth token: unexpected status: 401 '
         "Unauthorized]".format(IMG), "C1", "oauth"),
    case("aks-4593-oauth-401-newer",
         'Failed to pull image "{0}": rpc error: code = Unknown desc = {1}failed to authorize: failed to fetch oauth '
         "token: unexpected status from GET request to {2}: 401 Unauthorized".format(IMG, RESOLVE, TOKEN_URL),
         "C1", "oauth"),
    case("oauth-401-post", RESOLVE + "failed to authorize: failed to fetch oauth token: unexpected status from POST "
                                     "request to https://myacr.azurecr.io/oauth2/token: 401 Unauthorized",
         "C1", "oauth"),
    # C1: 401, anonymous.
    case("aks-4459-anonymous-401",
         'Failed to pull image "{0}": rpc error: code = Unknown desc = {1}failed to authorize: failed to fetch '
         "anonymous token: unexpected status from GET request to {2}: 401 Unauthorized".format(IMG, RESOLVE, TOKEN_URL),
         "C1", "anonymous", True, says=("wrong registry name",)),
    # X.arch: the current article's Cause 1b.
    case("article-x-arch",
         'Failed to pull image "{0}": [rpc error: code = NotFound desc = failed to pull and unpack image "{0}": '
         'no match for platform in manifest: not found, rpc error: code = Unknown desc = failed to pull and unpack '
         'image "{0}": failed to resolve reference "{0}": failed to authorize: failed to fetch anonymous token: '
         "unexpected status from GET request to {1}: 401 Unauthorized]".format(IMG, TOKEN_URL), "X.arch", "anonymous"),
    case("exec-format-error", "exec /canipull: exec format error", "X.arch"),
    # C2: not found.
    case("article-c2",
         'Failed to pull image "{0}": [rpc error: code = NotFound desc = failed to pull and unpack image "{0}": failed '
         'to resolve reference "{0}": {0}: not found'.format(IMG), "C2", says=(IMG,)),
    case("docker-manifest-unknown",
         'Failed to pull image "myacr.azurecr.io/app": rpc error: code = Unknown desc = Error response from daemon: '
         "manifest for myacr.azurecr.io/app:latest not found: manifest unknown: manifest unknown", "C2",
         says=("myacr.azurecr.io/app:latest",)),
    case("acr-manifest-tagged", 'manifest unknown: manifest tagged by "latest" is not found', "C2"),
    case("acr-manifest-unknown-json",
         '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest tagged by \\"1.1.2\\" is not found"}]}', "C2"),
    case("missing-blob",
         'failed to pull and unpack image "{}": failed to copy: httpReadSeeker: failed open: could not fetch content '
         "descriptor sha256:{} (application/vnd.docker.image.rootfs.diff.tar.gzip) from remote: not found".format(
             IMG, "ab" * 32), "C2", says=("layer", "sha256:" + "ab" * 32)),
    # C3: 403.
    case("article-c3",
         'Failed to pull image "{0}": rpc error: code = Unknown desc = {1}failed to authorize: failed to fetch '
         "anonymous token: unexpected status: 403 Forbidden".format(IMG, RESOLVE), "C3", "anonymous"),
    case("acr-firewall-body",
         'Failed to pull image "{}": rpc error: code = Unknown desc = Error response from daemon: Get '
         'https://myacr.azurecr.io/v2/app/manifests/v1: denied: {{"errors":[{{"code":"DENIED","message":"client '
         "with IP '20.1.2.3' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.\"}}]}}".format(
             IMG), "C3", says=("20.1.2.3",)),
    case("aks-1383-storage-authorizationfailure",
         'Failed to pull image "{}": rpc error: code = Unknown desc = error pulling image configuration: error parsing '
         'HTTP 403 response body: invalid character \'<\' looking for beginning of value: "<?xml version=\\"1.0\\" '
         'encoding=\\"utf-8\\"?><Error><Code>AuthorizationFailure</Code><Message>This request is not authorized to '
         'perform this operation.</Message></Error>"'.format(IMG), "B.sep", says=("AuthorizationFailure",)),
    # C4: i/o timeout and other transport failures.
    case("article-c4",
         'Failed to pull image "{0}": rpc error: code = Unknown desc = {1}failed to do request: Head '
         '"https://myacr.azurecr.io/v2/app/manifests/v1": dial tcp 10.1.2.3:443: i/o timeout'.format(IMG, RESOLVE),
         "C4", says=("10.1.2.3:443",)),
    case("acr-594-exchange-timeout",
         "Get https://myacr.azurecr.io/v2/: Post https://myacr.azurecr.io/oauth2/exchange: dial tcp 10.201.3.5:443: "
         "i/o timeout", "C4", says=("10.201.3.5:443",)),
    case("head-eof", RESOLVE + 'failed to do request: Head "https://myacr.azurecr.io/v2/app/manifests/beta": EOF',
         "C4", says=("EOF",)),
    case("blob-get-eof",
         'failed to pull and unpack image "{}": failed to copy: httpReadSeeker: failed open: failed to do request: Get '
         '"https://mystorage.blob.core.windows.net/abc/def?sig=xyz": EOF'.format(IMG), "B.fqdn",
         says=("mystorage.blob.core.windows.net",)),
    case("client-timeout",
         "failed to receive challenge: error reaching registry endpoint https://myacr.azurecr.io/v2/: Get "
         '"https://myacr.azurecr.io/v2/": net/http: request canceled while waiting for connection '
         "(Client.Timeout exceeded while awaiting headers)", "C4"),
    # C5: platform.
    case("article-c5",
         'Failed to pull image "{0}": rpc error: code = NotFound desc = failed to pull and unpack image "{0}": '
         "no match for platform in manifest: not found".format(IMG), "C5"),
    # X.tls.
    case("article-x-tls",
         'Failed to pull image "{0}": rpc error: code = Unknown desc = {1}failed to do request: Head '
         '"https://myacr.azurecr.io/v2/app/manifests/v1": net/http: TLS handshake timeout'.format(IMG, RESOLVE),
         "X.tls"),
    case("acr-425-privatelink-cert",
         'Failed to pull image "myacr.privatelink.azurecr.io/app:v1": rpc error: code = Unknown desc = failed to pull '
         'and unpack image "myacr.privatelink.azurecr.io/app:v1": failed to resolve reference '
         '"myacr.privatelink.azurecr.io/app:v1": failed to do request: Head '
         '"https://myacr.privatelink.azurecr.io/v2/app/manifests/v1": tls: failed to verify certificate: x509: '
         "certificate is valid for *.azurecr.io, azurecr.io, not myacr.privatelink.azurecr.io", "C2",
         says=("myacr.privatelink.azurecr.io",)),
    case("x509-unknown-authority",
         RESOLVE + 'failed to do request: Head "https://myacr.azurecr.io/v2/app/manifests/v1": tls: failed to verify '
                   "certificate: x509: certificate signed by unknown authority", "X.tls",
         says=("certificate signed by unknown authority",)),
    # DNS.
    case("aks-3201-doubled-suffix",
         RESOLVE.replace("myacr.azurecr.io", "myacr.azurecr.us.azurecr.io") + 'failed to do request: Head '
         '"https://myacr.azurecr.us.azurecr.io/v2/app/manifests/v1": dial tcp: lookup myacr.azurecr.us.azurecr.io on '
         "10.0.0.10:53: no such host", "C2", says=("repeats the registry suffix",)),
    case("misspelt-azureacr",
         'failed to do request: Head "https://myacr.azureacr.io/v2/app/manifests/v1": dial tcp: lookup '
         "myacr.azureacr.io on 168.63.129.16:53: no such host", "C2", says=("misspelt",)),
    case("lookup-no-such-host", RESOLVE + 'failed to do request: Head "https://myacr.azurecr.io/v2/app/manifests/v1": '
                                          "dial tcp: lookup myacr.azurecr.io on 168.63.129.16:53: no such host",
         "C4", says=("myacr.azurecr.io",)),
    case("data-endpoint-no-such-host",
         'failed to copy: httpReadSeeker: failed open: failed to do request: Get '
         '"https://myacr.eastus.data.azurecr.io/blobs/sha256:abc": dial tcp: lookup myacr.eastus.data.azurecr.io: '
         "no such host", "C4"),
    case("gov-cloud-login-server-no-such-host",
         "dial tcp: lookup myacr.azurecr.us on 10.0.0.10:53: no such host", "C4"),
    # Throttling: the registry's, not kubelet's.
    case("aks-1400-toomanyrequests",
         'Failed to pull image "{}": rpc error: code = Unknown desc = failed to pull and unpack image "{}": failed to '
         "copy: httpReadSeeker: failed open: unexpected status code https://myacr.azurecr.io/v2/app/blobs/sha256:abc: "
         "429 Too Many Requests - Server message: toomanyrequests: Too many requests. Please visit "
         "https://aka.ms/acr/skus#sku-feature-matrix to view limits of all service tiers.".format(IMG, IMG),
         "B.throttle", says=("throttled",)),
    case("http-429", "unexpected status code 429 Too Many Requests", "B.throttle", says=("throttled",)),
    # Docker era.
    case("docker-auth-required",
         "Error response from daemon: Get https://myacr.azurecr.io/v2/app/manifests/v1: unauthorized: authentication "
         "required", "C1", ambiguous=True),
    case("docker-auth-required-aka",
         "unauthorized: authentication required, visit https://aka.ms/acr/authorization for more information.",
         "C1", ambiguous=True),
    case("docker-access-denied", "denied: requested access to the resource is denied", "C1"),
    # Beyond the article (beyond-the-article.md): every text it quotes.
    *[case(name, text, cause, says=says) for name, text, cause, says in BEYOND],
    # Nothing known.
    case("unrelated", "something else went wrong", "unknown", says=("no known",)),
    case("empty", "", "unknown"),
]


@pytest.mark.parametrize("text, cause, token, ambiguous, says", CASES)
def test_each_known_text(text, cause, token, ambiguous, says):
    found = classify_pull_error(text)
    assert (found.cause, found.token, found.ambiguous) == (cause, token, ambiguous), found.reason
    for words in says:
        assert words in found.reason
    assert found.reason and "\n" not in found.reason


def test_reason_for_rejected_credentials_is_the_documented_sentence():
    found = classify_pull_error(RESOLVE + "failed to authorize: failed to fetch oauth token: unexpected status: 401 "
                                          "Unauthorized")
    assert found == Classification("C1", "the registry rejected the credentials the node presented (oauth token "
                                         "request answered 401)", "oauth", False)


# --- precedence in multi-errors -----------------------------------------------------------------

OAUTH_401 = RESOLVE + "failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized"
ANON_401 = (RESOLVE + "failed to authorize: failed to fetch anonymous token: unexpected status from GET request to "
            + TOKEN_URL + ": 401 Unauthorized")
NOT_FOUND = RESOLVE + IMG + ": not found"
NO_PLATFORM = 'failed to pull and unpack image "{}": no match for platform in manifest: not found'.format(IMG)
TIMEOUT = RESOLVE + 'failed to do request: Head "https://myacr.azurecr.io/v2/app/manifests/v1": dial tcp ' \
                    "10.1.2.3:443: i/o timeout"
FORBIDDEN = RESOLVE + "failed to authorize: failed to fetch anonymous token: unexpected status: 403 Forbidden"
TLS = RESOLVE + 'failed to do request: Head "https://myacr.azurecr.io/v2/app/manifests/v1": net/http: TLS handshake ' \
                "timeout"


@pytest.mark.parametrize("errors, cause, token, ambiguous", [
    ((NO_PLATFORM, ANON_401), "X.arch", "anonymous", False),
    ((NO_PLATFORM, OAUTH_401), "X.arch", "oauth", False),
    ((NO_PLATFORM, TIMEOUT), "C5", None, False),
    ((NOT_FOUND, ANON_401), "C2", None, False),
    ((OAUTH_401, ANON_401), "C1", "oauth", False),
    ((FORBIDDEN, ANON_401), "C3", "anonymous", False),
    ((TIMEOUT, ANON_401), "C4", None, False),
    ((TLS, TIMEOUT), "X.tls", None, False),
    ((OAUTH_401, TIMEOUT), "C1", "oauth", False),
])
def test_multi_error_precedence_whatever_the_order(errors, cause, token, ambiguous):
    for ordered in (errors, errors[::-1]):
        text = 'Failed to pull image "{}": [{}]'.format(IMG, ", ".join(
            "rpc error: code = Unknown desc = " + e for e in ordered))
        found = classify_pull_error(text)
        assert (found.cause, found.token, found.ambiguous) == (cause, token, ambiguous), found.reason


# --- classify_waiting -----------------------------------------------------------------------------

@pytest.mark.parametrize("reason, message, cause, ambiguous", [
    ("ErrImagePull", OAUTH_401, "C1", False),
    ("ImagePullBackOff", 'Back-off pulling image "{}": ErrImagePull: {}'.format(IMG, NOT_FOUND), "C2", False),
    ("ImagePullBackOff", 'Back-off pulling image "{}"'.format(IMG), "unknown", False),
    ("ErrImagePull", "", "unknown", False),
    ("InvalidImageName", 'Failed to apply default image tag "MyAcr.azurecr.io/App:v1": couldn\'t parse image '
                         'reference "MyAcr.azurecr.io/App:v1": invalid reference format: repository name must be '
                         "lowercase", "C2", False),
    ("InvalidImageName", "", "C2", False),
    ("ErrImageNeverPull", 'Container image "{}" is not present with pull policy of Never'.format(IMG), "unknown",
     False),
    ("RegistryUnavailable", "", "C4", False),
    ("RegistryUnavailable", ANON_401, "C1", True),
    ("ImageInspectError", 'Failed to inspect image "{}": rpc error: code = Unknown desc = boom'.format(IMG),
     "unknown", False),
    ("CrashLoopBackOff", "exec /app: exec format error", "X.arch", False),
])
def test_classify_waiting(reason, message, cause, ambiguous):
    found = classify_waiting(reason, message)
    assert (found.cause, found.ambiguous) == (cause, ambiguous), found.reason


def test_waiting_reason_speaks_when_the_message_is_silent():
    assert "Failed events" in classify_waiting("ImagePullBackOff", 'Back-off pulling image "{}"'.format(IMG)).reason
    assert "imagePullPolicy is Never" in classify_waiting("ErrImageNeverPull", "").reason
    assert "node-local" in classify_waiting("ImageInspectError", "").reason


# --- normalise --------------------------------------------------------------------------------------

def test_normalise_strips_wrapping_but_keeps_notfound():
    assert normalise('Failed to pull image "{}": [rpc error: code = Unknown desc = boom]'.format(IMG)) == "boom"
    assert normalise('Back-off pulling image "{}": ErrImagePull: boom'.format(IMG)) == "boom"
    assert normalise('Back-off pulling image "{}": ImagePullBackOff: boom'.format(IMG)) == "boom"
    assert normalise("Error: ErrImagePull") == "ErrImagePull"
    assert normalise("  rpc error: code = NotFound desc = boom \n") == "rpc error: code = NotFound desc = boom"
    assert normalise("[a, rpc error: code = Unknown desc = b]") == "a, b"
    assert normalise("[a] and [b]") == "[a] and [b]"


# --- properties: wrapping does not change the verdict ------------------------------------------------

TEXTS = [p.values[0] for p in CASES if p.values[0]]
_IMAGES = st.sampled_from([IMG, "nginx", "myacr.azurecr.io/team/app@sha256:" + "a" * 64, "localhost:5000/x:1"])


def _wrapper():
    return st.one_of(
        _IMAGES.map(lambda img: lambda t: 'Failed to pull image "{}": {}'.format(img, t)),
        st.tuples(_IMAGES, st.sampled_from(["ErrImagePull", "ImagePullBackOff"])).map(
            lambda a: lambda t: 'Back-off pulling image "{}": {}: {}'.format(a[0], a[1], t)),
        st.just(lambda t: "Error: " + t),
        st.just(lambda t: "rpc error: code = Unknown desc = " + t),
        st.just(lambda t: "[" + t + "]"),
        st.sampled_from([" ", "\n", "\t", "  \n "]).map(lambda ws: lambda t: ws + t + ws),
        st.just(lambda t: t.replace(" ", "  ")),
        st.just(lambda t: t.replace(" ", "\n", 1)),
    )


@given(st.sampled_from(TEXTS), st.lists(_wrapper(), max_size=5))
def test_wrapping_does_not_change_the_verdict(text, wrappers):
    wrapped = text
    for wrap in wrappers:
        wrapped = wrap(wrapped)
    assert classify_pull_error(wrapped) == classify_pull_error(text)


@given(st.sampled_from(TEXTS), st.lists(_wrapper(), max_size=5))
def test_normalise_is_idempotent_and_removes_every_wrapping(text, wrappers):
    wrapped = text
    for wrap in wrappers:
        wrapped = wrap(wrapped)
    once = normalise(wrapped)
    assert normalise(once) == once == normalise(text)


def test_a_missing_child_manifest_after_a_missing_layer_is_still_the_purge():
    """Hypothesis found it: the first missing descriptor of a multi-error was a layer, and the purged child manifest
    after it went unseen (C2 in one order, B.purge in the other)."""
    def missing(digest, media):
        return ('failed to pull and unpack image "{}": failed to copy: httpReadSeeker: failed open: could not fetch '
                "content descriptor {} ({}) from remote: not found".format(IMG, digest, media))
    layer = missing("sha256:" + "ab" * 32, "application/vnd.docker.image.rootfs.diff.tar.gzip")
    child = missing(CHILD, "application/vnd.oci.image.manifest.v1+json")
    for errors in ([layer, child], [child, layer]):
        found = classify_pull_error("[" + ", ".join(errors) + "]")
        assert found.cause == "B.purge" and CHILD in found.reason, found


@given(st.lists(st.sampled_from([OAUTH_401, ANON_401, NOT_FOUND, NO_PLATFORM, TIMEOUT, FORBIDDEN, TLS] + TEXTS),
                min_size=1, max_size=4), st.randoms())
def test_order_inside_a_multi_error_does_not_change_the_cause(errors, rnd):
    shuffled = list(errors)
    rnd.shuffle(shuffled)
    first = classify_pull_error("[" + ", ".join(errors) + "]")
    second = classify_pull_error("[" + ", ".join(shuffled) + "]")
    assert (first.cause, first.token, first.ambiguous) == (second.cause, second.token, second.ambiguous)


# --- properties: every beyond-the-article text in every kubelet/containerd wrapping -------------------

_BEYOND = {name: (text, cause) for name, text, cause, _ in BEYOND}
# A second attempt kubelet makes with another credential: weaker evidence than any beyond-the-article text.
_WEAKER_COMPANIONS = [ANON_401, "pull access denied, repository does not exist or may require authorization: server "
                      "message: insufficient_scope: authorization failed"]


def _containerd_form(text, img, newer):
    """The error as containerd writes it: newer versions add the resolve wrapping and "unexpected status from"."""
    body = text if text.startswith(("failed to pull and unpack", "admission", "rpc error", "Error response",
                                    "cancel pulling")) else 'failed to pull and unpack image "{}": {}'.format(img, text)
    if newer:
        return body
    return body.replace(" from HEAD request to https://myacr.azurecr.io/v2/docker.io/library/nginx/manifests/1.27", "")


@given(st.sampled_from(sorted(_BEYOND)), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from(_WEAKER_COMPANIONS), st.booleans(), st.lists(_wrapper(), max_size=3))
def test_every_beyond_the_article_text_in_every_wrapping(name, newer, rpc, bracket, companion, first, wrappers):
    text, cause = _BEYOND[name]
    error = _containerd_form(text, IMG, newer)
    if rpc:
        error = "rpc error: code = Unknown desc = " + error
    if bracket:
        parts = [error, "rpc error: code = Unknown desc = " + companion]
        error = "[" + ", ".join(parts if first else parts[::-1]) + "]"
    wrapped = 'Failed to pull image "{}": {}'.format(IMG, error)
    for wrap in wrappers:
        wrapped = wrap(wrapped)
    assert classify_pull_error(wrapped).cause == cause, (name, wrapped)


@given(st.text(max_size=300))
def test_any_text_gets_a_cause_and_a_reason(text):
    found = classify_pull_error(text)
    assert found.cause in CAUSES
    assert found.reason
    assert found.token in (None, "oauth", "anonymous")
    assert classify_waiting("ErrImagePull", text).cause in CAUSES
