"""Help texts. Only the diagnose-pull group and its commands: the built-in `aks` help stays as it is."""
from knack.help_files import helps

helps["aks diagnose-pull"] = """
type: group
short-summary: Find out why an AKS cluster cannot pull images from Azure Container Registry, and how to fix it.
long-summary: |
    Runs the checks of Microsoft's "Can't pull images from Azure Container Registry to AKS" troubleshooting
    guide against the live cluster and registry: role assignments, service principal, kubelet identity,
    registry and image. Diagnosis only reads. Each finding has a status (Pass, Fail, Warning, Skipped,
    Error), the facts behind it and, when something is wrong, a ready-to-run remediation.
"""

_COMMON = """
    - name: Diagnose a cluster against its registry.
      text: az aks diagnose-pull {cmd} -g rg1 -n aks1 --acr myacr
    - name: Give the registry by login server or by resource ID (registry in another subscription).
      text: az aks diagnose-pull {cmd} -g rg1 -n aks1 --acr /subscriptions/<sub>/resourceGroups/rg2/providers/Microsoft.ContainerRegistry/registries/myacr
    - name: Check the registry of an image and show only what failed.
      text: az aks diagnose-pull {cmd} -g rg1 -n aks1 --image myacr.azurecr.io/app:1.2 --query "[?status=='Fail']"
"""

helps["aks diagnose-pull run"] = """
type: command
short-summary: Run every check that applies and report findings, failures first in table output.
long-summary: |
    Exit status is 0 whenever the diagnosis ran, whatever it found; read the status of each finding.
    A short summary with the first fix to try goes to stderr (hidden by --only-show-errors).
examples:""" + _COMMON.format(cmd="run") + """
    - name: Run two checks only, as a table.
      text: az aks diagnose-pull run -g rg1 -n aks1 --acr myacr --checks acr-role-assignment kubelet-identity-vmss -o table
"""

helps["aks diagnose-pull check-auth"] = """
type: command
short-summary: Run the 401 Unauthorized checks (Cause 1) - pull roles and the identity the nodes pull with.
examples:""" + _COMMON.format(cmd="check-auth")

helps["aks diagnose-pull check-registry"] = """
type: command
short-summary: Run the registry checks - does the registry exist and can it be read.
examples:""" + _COMMON.format(cmd="check-registry")

helps["aks diagnose-pull list-checks"] = """
type: command
short-summary: List the checks this version runs, with their ids and article keys. Needs no login.
examples:
    - name: List the checks.
      text: az aks diagnose-pull list-checks -o table
    - name: Only the ids, for --checks.
      text: az aks diagnose-pull list-checks --query "[].checkId" -o tsv
"""
