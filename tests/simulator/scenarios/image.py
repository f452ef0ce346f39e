"""Image scenarios: pods stuck on every error text of the article, wrong names, missing tags, platforms, QPS.

One cluster with three node pools (Linux amd64, Linux arm64 on Standard_D4ps_v5, Windows Server 2022) and a
registry holding multi-architecture, single-architecture and Windows images. Each pod is one case; the tests
start from the pod (``--pod``) or from the image (``--image``).
"""
from ..pods import node_name, nodes, pod, pull_failure
from ..registry_content import push, signed_in_caller
from ..world import SUBSCRIPTION, World
from . import scenario
from .foundation import kubelet_object_id

POOLS = [{"name": "nodepool1", "mode": "System", "vmSize": "Standard_D4ds_v5"},
         {"name": "armpool", "mode": "User", "vmSize": "Standard_D4ps_v5"},
         {"name": "npwin", "mode": "User", "osType": "Windows", "osSKU": "Windows2022", "vmSize": "Standard_D4s_v5"}]
LOGIN = "myacr.azurecr.io"
TOKEN_URL = "https://myacr.azurecr.io/oauth2/token?scope=repository%3A{}%3Apull&service=myacr.azurecr.io"


def _resolve(image):
    return 'failed to pull and unpack image "{0}": failed to resolve reference "{0}": '.format(image)


def article_text(cause, image, repo="app"):
    """The error of the article's section for ``cause``, for ``image``, as kubelet's Failed event holds it."""
    if cause == "C1":
        return ("[rpc error: code = Unknown desc = " + _resolve(image) + "failed to authorize: failed to fetch oauth "
                "token: unexpected status: 401 Unauthorized]")
    if cause == "C2":
        return "[rpc error: code = NotFound desc = {}{}: not found]".format(_resolve(image), image)
    if cause == "C3":
        return ("rpc error: code = Unknown desc = " + _resolve(image) + "failed to authorize: failed to fetch "
                "anonymous token: unexpected status: 403 Forbidden")
    if cause == "C4":
        return ("rpc error: code = Unknown desc = " + _resolve(image) + 'failed to do request: Head "https://{}/v2/{}/'
                'manifests/{}": dial tcp 10.10.1.4:443: i/o timeout'.format(LOGIN, repo, image.rsplit(":", 1)[1]))
    if cause == "C5":
        return ('rpc error: code = NotFound desc = failed to pull and unpack image "{}": no match for platform in '
                "manifest: not found".format(image))
    if cause == "X.arch":
        return ('[rpc error: code = NotFound desc = failed to pull and unpack image "{0}": no match for platform in '
                "manifest: not found, rpc error: code = Unknown desc = {1}failed to authorize: failed to fetch "
                "anonymous token: unexpected status from GET request to {2}: 401 Unauthorized]".format(
                    image, _resolve(image), TOKEN_URL.format(repo)))
    if cause == "X.qps":
        return "pull QPS exceeded."
    if cause == "X.tls":
        return ("rpc error: code = Unknown desc = " + _resolve(image) + 'failed to do request: Head "https://{}/v2/{}/'
                'manifests/{}": net/http: TLS handshake timeout'.format(LOGIN, repo, image.rsplit(":", 1)[1]))
    raise KeyError(cause)


def anonymous_401(image, repo):
    return ("failed to pull and unpack image \"{0}\": failed to resolve reference \"{0}\": failed to authorize: failed "
            "to fetch anonymous token: unexpected status from GET request to {1}: 401 Unauthorized".format(
                image, TOKEN_URL.format(repo)))


def image_world(name, caller=True, firewall=False):
    """The cluster, its nodes, the registry and its images; the kubelet identity holds AcrPull."""
    w = World(name)
    cluster = w.cluster("aks1", "rg1", pools=POOLS)
    rules = {"networkRuleSet": {"defaultAction": "Deny", "ipRules": [
        {"action": "Allow", "value": "198.51.100.0/24"}]}} if firewall else {}
    registry = w.registry("myacr", "rg1", **rules)
    w.registry("teamacr", "rg1")
    w.assign(registry["id"], "AcrPull", kubelet_object_id(w, cluster))
    if caller:
        signed_in_caller(w, "/subscriptions/" + SUBSCRIPTION)
    else:
        # The point is an account without any role on the registry: a real tenant's operator is Owner (tenant.py).
        w.quiet = ("operator",)
    nodes(w, cluster)
    push(w, registry, "app", ["v1", "v1.1", "v2"], ["linux/amd64", "linux/arm64"])           # buildx: OCI index
    push(w, registry, "web", "1.0", ["linux/amd64"], kind="docker")                            # docker v2 manifest
    push(w, registry, "api", "2.3", ["linux/amd64"])                                           # OCI image manifest
    push(w, registry, "tools", "1.0", ["linux/amd64", "linux/arm64/v8"], kind="docker")        # manifest list
    push(w, registry, "winapp", "ltsc2022", ["windows/amd64:ltsc2022"], kind="docker", index=True)
    push(w, registry, "winapp", "ltsc2019", ["windows/amd64:ltsc2019"], kind="docker")
    return w, cluster, registry


def _failing(w, cluster, name, image, error, pool="nodepool1", **kwargs):
    p = pod(w, cluster, name, [{"name": "app", "image": image, "imagePullPolicy": kwargs.pop("policy", None)}],
            node=node_name(w, cluster, pool), deployment=kwargs.pop("deployment", name), **kwargs)
    return pull_failure(w, cluster, p, "app", error)


# Pod -> the cause its events point at once Azure facts are read (for the tests).
ARTICLE_PODS = {"err-c1": "C1", "err-c2": "C2", "err-c3": "C3", "err-c4": "C4", "err-c5": "C5",
                "err-xarch": "X.arch", "err-xqps": "X.qps", "err-xtls": "X.tls"}


@scenario("image-pods", "Pods stuck on each error text of the article, on wrong names, missing tags and repositories, "
                        "wrong platforms and a pull-QPS storm; and pods that run fine.")
def image_pods():
    w, cluster, _ = image_world("image-pods")
    app = LOGIN + "/app:v1"
    # The article's texts, each on an image whose facts agree with it.
    _failing(w, cluster, "err-c1", app, article_text("C1", app))
    _failing(w, cluster, "err-c2", LOGIN + "/app:v9", article_text("C2", LOGIN + "/app:v9"))
    _failing(w, cluster, "err-c3", app, article_text("C3", app))
    _failing(w, cluster, "err-c4", app, article_text("C4", app))
    _failing(w, cluster, "err-c5", LOGIN + "/web:1.0", article_text("C5", LOGIN + "/web:1.0", "web"), pool="npwin",
             node_selector={"kubernetes.io/os": "windows"})
    _failing(w, cluster, "err-xarch", LOGIN + "/web:1.0", article_text("X.arch", LOGIN + "/web:1.0", "web"),
             pool="armpool", node_selector={"agentpool": "armpool"})
    _failing(w, cluster, "err-xqps", app, 'pull QPS exceeded.', policy="Always")
    _failing(w, cluster, "err-xtls", app, article_text("X.tls", app))
    # An anonymous 401 says little; the registry and the node decide.
    _failing(w, cluster, "anon-repo-typo", LOGIN + "/aap:v1", anonymous_401(LOGIN + "/aap:v1", "aap"))
    _failing(w, cluster, "anon-arch", LOGIN + "/web:1.0", anonymous_401(LOGIN + "/web:1.0", "web"), pool="armpool",
             node_selector={"kubernetes.io/arch": "arm64"})
    _failing(w, cluster, "anon-undecided", app, anonymous_401(app, "app"))
    # Names written wrongly.
    _failing(w, cluster, "typo-host", "myacr.azureacr.io/app:v1", 'rpc error: code = Unknown desc = failed to pull '
             'and unpack image "myacr.azureacr.io/app:v1": failed to resolve reference "myacr.azureacr.io/app:v1": '
             'failed to do request: Head "https://myacr.azureacr.io/v2/app/manifests/v1": dial tcp: lookup '
             "myacr.azureacr.io on 10.0.0.10:53: no such host")
    _failing(w, cluster, "no-registry", "myacrr.azurecr.io/app:v1", 'rpc error: code = Unknown desc = failed to pull '
             'and unpack image "myacrr.azurecr.io/app:v1": failed to resolve reference "myacrr.azurecr.io/app:v1": '
             'failed to do request: Head "https://myacrr.azurecr.io/v2/app/manifests/v1": dial tcp: lookup '
             "myacrr.azurecr.io on 10.0.0.10:53: no such host")
    _failing(w, cluster, "missing-repo", LOGIN + "/ap:v1", article_text("C2", LOGIN + "/ap:v1"))
    _failing(w, cluster, "privatelink-name", "myacr.privatelink.azurecr.io/app:v1", 'rpc error: code = Unknown desc = '
             'failed to pull and unpack image "myacr.privatelink.azurecr.io/app:v1": failed to resolve reference '
             '"myacr.privatelink.azurecr.io/app:v1": failed to do request: Head "https://myacr.privatelink.azurecr.io/'
             'v2/app/manifests/v1": tls: failed to verify certificate: x509: certificate is valid for *.azurecr.io, '
             "azurecr.io, not myacr.privatelink.azurecr.io")
    _failing(w, cluster, "other-cloud", "myacr.azurecr.cn/app:v1", anonymous_401("myacr.azurecr.cn/app:v1", "app")
             .replace("myacr.azurecr.io", "myacr.azurecr.cn"))
    invalid = "MyAcr.azurecr.io/App:v1"
    pod(w, cluster, "invalid-name", [{"name": "app", "image": invalid, "state": (
        "waiting", "InvalidImageName", 'Failed to apply default image tag "{0}": couldn\'t parse image reference '
        '"{0}": invalid reference format: repository name must be lowercase'.format(invalid))}],
        node=node_name(w, cluster, "nodepool1"), deployment="invalid-name")
    pod(w, cluster, "never-pull", [{"name": "app", "image": app, "imagePullPolicy": "Never", "state": (
        "waiting", "ErrImageNeverPull", 'Container image "{}" is not present with pull policy of Never'.format(app))}],
        node=node_name(w, cluster, "nodepool1"))
    # Platforms.
    _failing(w, cluster, "win-old", LOGIN + "/winapp:ltsc2019", article_text("C5", LOGIN + "/winapp:ltsc2019",
                                                                           "winapp"),
             pool="npwin", node_selector={"kubernetes.io/os": "windows"})
    pod(w, cluster, "arm-multiarch", [{"name": "app", "image": app}], node=node_name(w, cluster, "armpool"),
        node_selector={"kubernetes.io/arch": "arm64"}, deployment="arm-multiarch")
    pod(w, cluster, "win-ok", [{"name": "app", "image": LOGIN + "/winapp:ltsc2022"}],
        node=node_name(w, cluster, "npwin"), node_selector={"kubernetes.io/os": "windows"})
    pod(w, cluster, "exec-format", [{"name": "app", "image": LOGIN + "/web:1.0", "state": (
        "crash", 'failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create '
        'failed: unable to start container process: exec: "/app": exec format error')}],
        node=node_name(w, cluster, "armpool"), node_selector={"agentpool": "armpool"})
    # A pull-QPS storm on a container that does not pull on every start.
    _failing(w, cluster, "qps-ifnotpresent", LOGIN + "/api:2.3", "pull QPS exceeded", policy="IfNotPresent")
    # Running fine: images of ACR and of other registries.
    pod(w, cluster, "web-ok", [{"name": "app", "image": app}, {"name": "proxy", "image": "nginx:1.27"},
                               {"name": "hello", "image": "mcr.microsoft.com/azuredocs/aks-helloworld:v1"}],
        node=node_name(w, cluster, "nodepool1"), node_selector={"kubernetes.io/os": "linux"}, deployment="web")
    # Init and ephemeral containers; events only through events.k8s.io/v1 for the ephemeral one.
    p = pod(w, cluster, "init-ephemeral", [{"name": "app", "image": app, "state": ("waiting", "PodInitializing")}],
            init_containers=[{"name": "migrate", "image": LOGIN + "/tools:9.9"}],
            ephemeral_containers=[{"name": "debugger", "image": LOGIN + "/debug:1"}],
            node=node_name(w, cluster, "nodepool1"))
    pull_failure(w, cluster, p, "migrate", article_text("C2", LOGIN + "/tools:9.9", "tools"), kind="initContainers")
    pull_failure(w, cluster, p, "debugger", article_text("C2", LOGIN + "/debug:1", "debug"),
                 kind="ephemeralContainers", api="events.k8s.io/v1")
    return w


@scenario("image-registry-firewall", "The registry's firewall allows only 198.51.100.0/24: the nodes pull through "
                                     "a private endpoint, but the machine running az is outside the rules.")
def image_registry_firewall():
    w, cluster, _ = image_world("image-registry-firewall", firewall=True)
    _failing(w, cluster, "err-c3", LOGIN + "/app:v1", article_text("C3", LOGIN + "/app:v1"))
    return w


@scenario("image-caller-no-pull", "The signed-in account holds no role on the registry, so it cannot read images.")
def image_caller_no_pull():
    w, cluster, _ = image_world("image-caller-no-pull", caller=False)
    _failing(w, cluster, "anon-repo-typo", LOGIN + "/aap:v1", anonymous_401(LOGIN + "/aap:v1", "aap"))
    return w
