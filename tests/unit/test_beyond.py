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
