"""Which sources a check read: attribution survives caching, nested threads and the order checks run in."""
import threading

from azext_acrpull.diagnose import sources
from azext_acrpull.diagnose.facts.base import Facts
from azext_acrpull.diagnose.findings import PASS, Check
from azext_acrpull.diagnose.request import DiagnoseRequest
from azext_acrpull.diagnose.runner import run_checks

VIA_RUN_COMMAND = {"via": "runCommand", "note": "Kubernetes objects were read through AKS run command."}


class KubeFacts(Facts):
    """A pod read from Kubernetes inside a cached higher-level fact, fetched on a nested worker thread."""

    def __init__(self, via):
        super().__init__(DiagnoseRequest(resource_group="rg1", name="aks1"))
        self.via = via
        self.reads = 0

    def _raw_pod(self):
        sources.note(sources.KUBERNETES)
        self.reads += 1
        return {"image": "myacr.azurecr.io/app:1.0"}

    def containers(self):
        return self.once("containers", lambda: self.parallel(lambda _: self.once("pod", self._raw_pod), [1, 2])[0])

    def registry(self):
        return self.once("registry", lambda: {"name": "myacr"})

    def kube_access(self):
        return self.via


def _check(check_id, func):
    return Check(check_id, "X", check_id, "", ("run",), lambda chk, facts: [chk.finding("t", PASS, func(facts))])


def test_every_check_that_used_a_kubernetes_fact_says_how_it_was_read_whoever_fetched_it_first():
    facts = KubeFacts(VIA_RUN_COMMAND)
    gate = threading.Event()

    def first(f):
        f.containers()
        gate.set()
        return "first"

    def second(f):
        gate.wait(5)          # reads the fact only once the other check has cached it
        return "image {}".format(f.containers()["image"])

    checks = [_check("a", first), _check("b", second), _check("c", lambda f: f.registry()["name"])]
    findings = {f.check_id: f for f in run_checks(checks, facts)}
    assert facts.reads == 1
    for check_id in ("a", "b"):
        assert findings[check_id].evidence["kubernetesReadVia"] == "runCommand"
        assert findings[check_id].message.endswith(VIA_RUN_COMMAND["note"])
    assert "kubernetesReadVia" not in findings["c"].evidence and findings["c"].message == "myacr"


def test_api_server_reads_add_evidence_but_no_words():
    facts = KubeFacts({"via": "apiServer", "note": ""})
    [finding] = run_checks([_check("a", lambda f: f.containers()["image"])], facts)
    assert finding.evidence["kubernetesReadVia"] == "apiServer" and finding.message == "myacr.azurecr.io/app:1.0"


def test_notes_outside_a_check_go_nowhere():
    sources.note(sources.KUBERNETES)     # no check is running: nothing to record, nothing raised
    read, token = sources.begin()
    sources.end(token)
    assert read == set()
