"""Bad input: every form of each argument, right and wrong, unicode and very long values.

Each wrong value gives az's exit code for its kind (2 for a malformed argument, caught before any request;
3 when the cluster, resource group, registry, pod or namespace does not exist; 1 for other errors), exactly one
ERROR line that says what to do, and never a traceback. Right forms of --acr diagnose (exit 0).
"""
import pytest

from tests.e2e.figures import tally_fixture
from tests.simulator.world import SUBSCRIPTION

REGISTRY_ID = "/subscriptions/{}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myacr".format(
    SUBSCRIPTION)
LONG = 5000


def case(name, args, rc, words=(), scenario="mi-healthy", cluster=("-g", "rg1", "-n", "aks1")):
    return pytest.param(scenario, cluster, tuple(args), rc, tuple(words), id=name)


CASES = [
    # --image
    case("image-uppercase-repo", ["--image", "myacr.azurecr.io/App:1.0"], 2, ["invalid image reference"]),
    case("image-empty-tag", ["--image", "myacr.azurecr.io/app:"], 2, ["invalid image reference"]),
    case("image-short-digest", ["--image", "myacr.azurecr.io/app@sha256:abc"], 2, ["invalid image reference"]),
    case("image-empty", ["--image", ""], 2, ["invalid image reference"]),
    case("image-space", ["--image", "my acr.azurecr.io/app:1"], 2, ["invalid image reference"]),
    case("image-unicode", ["--image", "myacr.azurecr.io/äpp:1.0"], 2, ["invalid image reference"]),
    case("image-very-long", ["--image", "myacr.azurecr.io/" + "a" * LONG + ":1"], 2, ["invalid image reference"]),
    # --acr: the right forms
    case("acr-name", ["--acr", "myacr", "--checks", "registry-lookup"], 0),
    case("acr-login-server", ["--acr", "myacr.azurecr.io", "--checks", "registry-lookup"], 0),
    case("acr-url", ["--acr", "https://myacr.azurecr.io/", "--checks", "registry-lookup"], 0),
    case("acr-resource-id", ["--acr", REGISTRY_ID, "--checks", "registry-lookup"], 0),
    # --acr: wrong forms
    case("acr-china-cloud", ["--acr", "myacr.azurecr.cn"], 2, ["another Azure cloud", ".azurecr.io"]),
    case("acr-gov-cloud", ["--acr", "myacr.azurecr.us"], 2, ["another Azure cloud"]),
    case("acr-misspelt-suffix", ["--acr", "myacr.azureacr.io"], 2, ["azureacr.io"]),
    case("acr-other-registry", ["--acr", "ghcr.io"], 2, ["--acr"]),
    case("acr-garbage", ["--acr", "my_acr!"], 2, ["not a valid registry name", "resource ID"]),
    case("acr-empty", ["--acr", ""], 2, ["not a valid registry name"]),
    case("acr-too-short", ["--acr", "ab"], 2, ["5-50 letters and digits"]),
    case("acr-unicode", ["--acr", "mÿacr"], 2, ["not a valid registry name"]),
    case("acr-very-long", ["--acr", "x" * LONG], 2, ["not a valid registry name"]),
    case("acr-not-a-registry-id", ["--acr", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/disks/d"],
         2, ["not a registry resource ID"]),
    case("acr-child-resource-id", ["--acr", REGISTRY_ID + "/replications/westeurope"], 2,
         ["not a registry resource ID"]),
    case("acr-unknown-name", ["--acr", "nosuchacr"], 3, ["'nosuchacr' was not found", "az acr list"]),
    case("acr-unknown-login-server", ["--acr", "nosuchacr.azurecr.io"], 3, ["'nosuchacr' was not found"]),
    case("acr-unknown-id", ["--acr", REGISTRY_ID.replace("myacr", "nosuchacr")], 3, ["az acr show --ids"]),
    case("acr-id-unknown-subscription", ["--acr", REGISTRY_ID.replace(SUBSCRIPTION, "0" * 8 + "-0000-0000-0000-"
                                                                      + "0" * 12)], 3, ["az acr show --ids"]),
    # the cluster and its resource group
    case("cluster-unknown", ["--acr", "myacr"], 3, ["cluster 'nosuch' was not found", "az aks list"],
         cluster=("-g", "rg1", "-n", "nosuch")),
    case("resource-group-unknown", ["--acr", "myacr"], 3, ["Resource group 'nosuchrg' was not found", "az group list"],
         cluster=("-g", "nosuchrg", "-n", "aks1")),
    case("resource-group-unicode", ["--acr", "myacr"], 3, ["'grüppe' was not found"],
         cluster=("-g", "grüppe", "-n", "aks1")),
    case("cluster-name-unicode", ["--acr", "myacr"], 2, ["not a valid AKS cluster name", "az aks list"],
         cluster=("-g", "rg1", "-n", "aks✓")),
    case("cluster-name-too-long", ["--acr", "myacr"], 2, ["not a valid AKS cluster name"],
         cluster=("-g", "rg1", "-n", "a" * 64)),
    case("cluster-name-very-long", ["--acr", "myacr"], 2, ["not a valid AKS cluster name"],
         cluster=("-g", "rg1", "-n", "a" * LONG)),
    case("resource-group-trailing-dot", ["--acr", "myacr"], 2, ["not a valid resource group name"],
         cluster=("-g", "rg1.", "-n", "aks1")),
    case("resource-group-very-long", ["--acr", "myacr"], 2, ["not a valid resource group name", "az group list"],
         cluster=("-g", "r" * LONG, "-n", "aks1")),
    case("cluster-name-missing", ["--acr", "myacr"], 2, ["--name"], cluster=("-g", "rg1")),
    case("subscription-unknown", ["--acr", "myacr", "--subscription", "nosuchsub"], 3,
         ["Subscription 'nosuchsub' was not found", "az account list"]),
    # --pod and --namespace
    case("pod-unknown", ["--acr", "myacr", "--pod", "nosuch"], 3, ["pod 'nosuch' was not found", "kubectl get pods"],
         scenario="secrets-everywhere"),
    case("namespace-unknown", ["--acr", "myacr", "--pod", "web", "--namespace", "nosuchns"], 3,
         ["namespace 'nosuchns' does not exist", "kubectl get namespaces"], scenario="secrets-everywhere"),
    case("pod-uppercase", ["--pod", "Web_Pod"], 2, ["not a valid pod name"]),
    case("pod-unicode", ["--pod", "wéb"], 2, ["not a valid pod name"]),
    case("pod-very-long", ["--pod", "p" * LONG], 2, ["not a valid pod name"]),
    case("namespace-uppercase", ["--pod", "web", "--namespace", "Shop"], 2, ["not a valid Kubernetes namespace"]),
    case("namespace-too-long", ["--pod", "web", "--namespace", "n" * 64], 2, ["not a valid Kubernetes namespace"]),
    # --checks and --timeout
    case("checks-unknown", ["--checks", "no-such-check"], 2, ["unknown check id", "valid ids"]),
    case("checks-unicode", ["--checks", "pöd-pull-events"], 2, ["unknown check id"]),
    case("timeout-zero", ["--timeout", "0"], 2, ["between 1 and 3600"]),
    case("timeout-words", ["--timeout", "soon"], 2, ["between 1 and 3600"]),
    case("timeout-huge", ["--timeout", "99999"], 2, ["between 1 and 3600"]),
    # only an image outside ACR is named and the pull identity holds no role (naming nothing at all is no error:
    # the failing pods are looked for, see test_discovery.py)
    case("no-registry-anywhere", ["--image", "docker.io/library/nginx:1.27"], 1, ["--acr", "no role on any registry"],
         scenario="mi-acrpull-missing"),
    # its only role is on a resource group: it covers every registry there, so none can be picked
    case("no-registry-broader-role", ["--image", "docker.io/library/nginx:1.27"], 1,
         ["--acr", "broader scopes: /subscriptions/", "/resourceGroups/rg1; a pull role there"],
         scenario="auth-reader-rg"),
    # nothing named, no pod fails, no registry anywhere: the diagnosis ran and says so
    case("nothing-named-nothing-fails", [], 0, [], scenario="mi-acrpull-missing"),
]


tally = tally_fixture("bad-input")


@pytest.mark.parametrize("scenario_name,cluster,args,rc,words", CASES)
def test_bad_input(scenario, tally, scenario_name, cluster, args, rc, words):
    sc = scenario(scenario_name)
    tally.add(tried=1)
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "run", *cluster, *args, "-o", "json")
    assert result.rc == rc, result
    assert "Traceback" not in result.stderr, result
    assert sc.sim.writes() == []
    if rc == 0:
        assert result.json(), result
        tally.add(answered=1, right_forms=1)
        return
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, result
    assert len(errors[0]) < 600, "the error repeats a very long value whole: {} characters".format(len(errors[0]))
    for word in words:
        assert word in errors[0], (word, errors[0])
    assert result.stdout == ""
    if rc == 2:   # argparse refused it: nothing was sent to Azure
        assert not [e for e in sc.sim.log if e["host"] != "login.microsoftonline.com"], sc.sim.log
    tally.add(answered=1, **{"exit{}".format(rc): 1})
