"""Pure parts of the beyond-the-article checks: admission refusals and a node's disk signs."""
import pytest

from azext_acrpull.diagnose.checks.admission import refusal, where_to_change
from azext_acrpull.diagnose.checks.node import disk_signs

GATEKEEPER = ('Error creating: admission webhook "validation.gatekeeper.sh" denied the request: '
              "[azurepolicy-k8sazurev2containerallowedimages-0c4a] Container image docker.io/library/nginx:1.27 for "
              "container web has not been allowed.")
RATIFY = ('Error creating: admission webhook "validation.gatekeeper.sh" denied the request: [ratify-constraint] '
          "Subject failed verification: myacr.azurecr.io/app@sha256:" + "a" * 64)


@pytest.mark.parametrize("message, expected", [
    (GATEKEEPER, ("validation.gatekeeper.sh", "azurepolicy-k8sazurev2containerallowedimages-0c4a",
                  "docker.io/library/nginx:1.27")),
    (RATIFY, ("validation.gatekeeper.sh", "ratify-constraint", "myacr.azurecr.io/app@sha256:" + "a" * 64)),
    ('Error creating: pods "x" is forbidden: exceeded quota: compute', None),
    ("", None),
])
def test_refusal(message, expected):
    assert refusal(message) == expected


def test_where_to_change_names_the_place():
    assert "Azure Policy assignment" in where_to_change("validation.gatekeeper.sh", "azurepolicy-x", "i", "ns")
    assert "Ratify" in where_to_change("validation.gatekeeper.sh", "ratify-constraint", "i", "ns")
    assert "kubectl get constraints" in where_to_change("validation.gatekeeper.sh", "k8srequiredlabels", "i", "ns")


def test_disk_signs():
    node = {"status": {"conditions": [{"type": "DiskPressure", "status": "True", "message": "kubelet has disk "
                                                                                            "pressure"},
                                      {"type": "Ready", "status": "True"}]},
            "spec": {"taints": [{"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"}]}}
    events = [{"reason": "ImageGCFailed", "count": 3, "message": "failed"}, {"reason": "Pulled", "message": "ok"}]
    assert len(disk_signs(node, events)) == 3
    assert disk_signs({"status": {"conditions": [{"type": "DiskPressure", "status": "False"}]}}, []) == []


# -- artifact cache rules ---------------------------------------------------------------------------------------------
from azext_acrpull.diagnose.checks.cache import credential_state, judge_rule, rule_for  # noqa: E402


def _rule(name, source, target, set_id=None):
    props = {"sourceRepository": source, "targetRepository": target}
    if set_id:
        props["credentialSetResourceId"] = set_id
    return {"name": name, "properties": props}


RULES = [_rule("all-hub", "docker.io/*", "hub/*"), _rule("library", "docker.io/library/*", "hub/library/*"),
         _rule("exact", "docker.io/library/nginx", "hub/library/nginx")]


@pytest.mark.parametrize("repository, rule", [("hub/library/nginx", "exact"), ("hub/library/redis", "library"),
                                              ("hub/bitnami/redis", "all-hub"), ("app", None), ("hubx/a", None)])
def test_rule_for(repository, rule):
    found = rule_for(RULES, repository)
    assert (found or {}).get("name") == rule


SET_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/credentialSets/cs"


@pytest.mark.parametrize("health, state", [({"status": "Healthy"}, "healthy"), ({"status": "Unhealthy"}, "unhealthy"),
                                           (None, "unknown"), ({}, "unknown")])
def test_credential_health_absent_is_unknown_never_fine(health, state):
    cred = {"name": "Credential1"}
    if health is not None:
        cred["credentialHealth"] = health
    sets = [{"id": SET_ID, "name": "cs", "properties": {"authCredentials": [cred]}}]
    assert credential_state(_rule("r", "docker.io/x", "x", SET_ID), sets)[0] == state


def test_verdicts():
    registry = {"name": "r"}
    assert judge_rule(registry, _rule("r", "docker.io/library/x", "x"), [])[0] == "Warning"
    assert judge_rule(registry, _rule("r", "mcr.microsoft.com/x", "x"), [])[0] == "Pass"
    assert judge_rule(registry, _rule("r", "docker.io/x", "x", SET_ID), [], served="r.azurecr.io/x:1")[0] == "Fail"
    assert judge_rule(registry, _rule("r", "docker.io/x", "x", SET_ID), [])[0] == "Warning"   # no image: Warning level
