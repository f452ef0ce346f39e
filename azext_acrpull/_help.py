"""Help texts. Only the diagnose-pull group and its commands: the built-in `aks` help stays as it is."""
from knack.help_files import helps

helps["aks diagnose-pull"] = """
type: group
short-summary: Find out why an AKS cluster cannot pull images from Azure Container Registry, and how to fix it.
long-summary: |
    Runs the checks of Microsoft's "Can't pull images from Azure Container Registry to AKS" troubleshooting
    guide against the live cluster and registry: role assignments, service principal, kubelet identity,
    registry, image, and the network path (private DNS, firewall, peering, routes, NSGs). Given only the cluster,
    it first finds the pods that fail to pull and diagnoses them and their registries. Diagnosis only reads; when
    the API server cannot be reached from here (private cluster, authorized IP ranges) it reads Kubernetes objects
    with `kubectl get` through AKS run command (--no-run-command turns this off), and with --probe it also looks
    from inside the cluster through a run command pod. Each finding has a status (Pass,
    Fail, Warning, Skipped, Error), the facts behind it and, when something is wrong, a ready-to-run remediation.
"""

_COMMON = """
    - name: Find the pods that fail to pull and diagnose them and their registries (nothing else to name).
      text: az aks diagnose-pull {cmd} -g rg1 -n aks1
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
    The run is bounded by --timeout (default 60 s): a service that does not answer, or keeps failing,
    makes the checks that needed it Error ("timed out reading ..."), never Fail, and the others are printed.
examples:""" + _COMMON.format(cmd="run") + """
    - name: Run two checks only, as a table.
      text: az aks diagnose-pull run -g rg1 -n aks1 --acr myacr --checks acr-role-assignment kubelet-identity-vmss -o table
    - name: Give up after 30 seconds (default 60); checks still waiting for Azure then report Error and what they waited for.
      text: az aks diagnose-pull run -g rg1 -n aks1 --acr myacr --timeout 30
    - name: Start from the pod that is stuck; its pull error is classified first, then every check runs for its images.
      text: az aks diagnose-pull run -g rg1 -n aks1 --pod web-7c9d8f6b5-x2x4q --namespace shop
    - name: Look for failing pods in one namespace only.
      text: az aks diagnose-pull run -g rg1 -n aks1 --namespace shop
    - name: Include the look from inside the cluster (a short-lived pod started through AKS run command).
      text: az aks diagnose-pull run -g rg1 -n aks1 --acr myacr --probe
    - name: A private cluster, without AKS run command (the checks that need Kubernetes then say Error).
      text: az aks diagnose-pull run -g rg1 -n aks1 --acr myacr --no-run-command
"""

helps["aks diagnose-pull check-auth"] = """
type: command
short-summary: Run the 401 Unauthorized checks (Cause 1) - pull roles, the identity the nodes pull with, and pull secrets.
long-summary: |
    Roles are judged by what they grant (actions, notActions, wildcards; inherited from the resource group,
    subscription or management group), on ABAC registries by repository permissions and their conditions. On a
    service-principal cluster its secret's end date and the principal the registry's roles point at are checked.
    Image pull secrets (of --pod and its service account, or of --namespace) are decoded and judged as the admin
    user, a service principal or an ACR token; the cluster's Kubernetes API is read with credentials from Azure.
    Beyond the article: the kubelet identity itself (deleted or recreated), a registry that refuses ARM-audience
    tokens or lives in another Microsoft Entra tenant, and nodes made by node auto-provisioning; with --pod, the
    token its pull error says failed (none offered, or one refused) orders where to look first.
examples:""" + _COMMON.format(cmd="check-auth") + """
    - name: Check the image pull secrets of a failing pod and the role on its image's repository.
      text: az aks diagnose-pull check-auth -g rg1 -n aks1 --pod web-7d9c --namespace shop --image myacr.azurecr.io/shop/web:2.3
"""

helps["aks diagnose-pull check-registry"] = """
type: command
short-summary: Run the registry checks - does the registry exist, can it be read, and does it answer from here.
long-summary: |
    registry-health looks as `az acr check-health` does, from the machine that runs az (DNS of the login server,
    the /v2/ challenge, the token exchange with your login): your network, not the cluster's. For the cluster's
    view run check-network with --probe.
examples:""" + _COMMON.format(cmd="check-registry")

helps["aks diagnose-pull check-network"] = """
type: command
short-summary: Run the 403 Forbidden and i/o timeout checks (Causes 3 and 4) - private DNS, firewall, peering, routes.
long-summary: |
    Reads the network facts from Azure: the registry's private endpoints and their privatelink DNS zone links
    and records, the registry's network rules against the cluster's egress IPs (load balancer, NAT gateway; with
    userDefinedRouting the firewall's address cannot be known), VNet peering state, and the node subnet's route
    table and NSGs. With --probe it also looks from inside the cluster through AKS run command (a short-lived pod,
    no kubectl needed, works for private clusters): it resolves the registry's names and opens TCP 443.
examples:""" + _COMMON.format(cmd="check-network") + """
    - name: Also resolve the registry and open TCP 443 from inside the cluster (AKS run command).
      text: az aks diagnose-pull check-network -g rg1 -n aks1 --acr myacr --probe
    - name: Only the private DNS and peering checks, as a table.
      text: az aks diagnose-pull check-network -g rg1 -n aks1 --acr myacr --checks private-dns-link vnet-peering -o table
"""

helps["aks diagnose-pull check-image"] = """
type: command
short-summary: Run the image checks (Causes 2 and 5, CPU architecture, pull rate limit) - is the image named right, does it exist, can the nodes run it.
long-summary: |
    Checks each image of --image and of the --pod's containers: the reference as kubelet parses it and its login
    server (misspelt suffix, another cloud's suffix, the privatelink name, a registry that does not exist), the
    repository and tag or digest in the registry's data plane (read with your own login, as `az acr login` does:
    you need pull permission and a network the registry's firewall allows), and the image's OS and architecture
    against the node pools the pod can be scheduled on. With --pod, the pod's pull error is classified first
    (pod-pull-events) and `pull QPS exceeded` events are looked for. --acr is not needed when the images name
    their registry.
examples:
    - name: Start from the pod that is stuck; its images, events and node pools are read.
      text: az aks diagnose-pull check-image -g rg1 -n aks1 --pod web-7c9d8f6b5-x2x4q --namespace shop
    - name: Check images before deploying them.
      text: az aks diagnose-pull check-image -g rg1 -n aks1 --image myacr.azurecr.io/web:1.4 myacr.azurecr.io/api@sha256:<digest>
    - name: Only what failed, as a table.
      text: az aks diagnose-pull check-image -g rg1 -n aks1 --pod web-7c9d8f6b5-x2x4q --query "[?status=='Fail']" -o table
"""

helps["aks diagnose-pull list-checks"] = """
type: command
short-summary: List the checks this version runs, with their ids and article keys. Needs no login.
examples:
    - name: List the checks.
      text: az aks diagnose-pull list-checks -o table
    - name: Only the ids, for --checks.
      text: az aks diagnose-pull list-checks --query "[].checkId" -o tsv
"""

helps["aks diagnose-pull fix"] = """
type: command
short-summary: Diagnose, then apply the remedies that are safe to automate, after confirmation.
long-summary: |
    Runs the checks, then shows a plan: for each failed check with a safe automatic remedy, the change and the
    exact az command it stands for; every other failure (expired secrets, pull-secret contents, peering state,
    firewall rules, image names) is listed as a step to do by hand and never applied. With a terminal, fix asks
    once; with --yes it applies without asking; with neither it refuses. Automatic remedies: a pull role for the
    cluster's pull identity on the registry (AcrPull, or Container Registry Repository Reader on ABAC registries),
    a reconcile of the cluster (as `az aks update -g -n`) when a node pool's scale set lost the kubelet identity,
    the cluster's missing egress IPs in the registry's IP rules (switching public access from Disabled to selected
    networks only when the plan says so), and a private DNS zone's missing VNet link or A records. After applying,
    the affected checks run again: each item's statusAfter is what they find now.
    Output: one item per failed finding with checkId, target, action (apply or manual), command, status
    (Applied, Failed, Planned, Manual), message and statusAfter. `fix` is the only command of the group that
    writes.
examples:
    - name: Show the plan and apply it after answering y.
      text: az aks diagnose-pull fix -g rg1 -n aks1 --acr myacr
    - name: Apply without asking (scripts, pipelines) and show the results as a table.
      text: az aks diagnose-pull fix -g rg1 -n aks1 --acr myacr --yes -o table
    - name: Fix only the pull role, for the registry of an image.
      text: az aks diagnose-pull fix -g rg1 -n aks1 --image myacr.azurecr.io/app:1.2 --checks acr-role-assignment --yes
    - name: List what could not be applied, with its command.
      text: az aks diagnose-pull fix -g rg1 -n aks1 --acr myacr --yes --query "[?status!='Applied'].[checkId, command]" -o tsv
"""

helps["aks diagnose-pull fleet"] = """
type: command
short-summary: Every AKS cluster in scope at once - which can no longer pull, and why - read in bulk from Azure Resource Graph.
long-summary: |
    Finds every AKS cluster of the subscriptions in scope and runs, for each, the checks that Azure's resource
    facts decide (registry-lookup, acr-role-assignment, sp-credential-expiry, sp-role-principal,
    kubelet-identity-vmss, acr-network-rules, private-dns-link, vnet-peering, egress-path), with the same
    verdicts, messages and remediations as `run` gives for that cluster. Clusters, scale sets, registries,
    networks, role assignments and definitions come from a few paged Azure Resource Graph queries (within its
    throttling quota); only private DNS record sets and service principal credentials are read directly, in bulk.
    Registries, role assignments and networks are read from every subscription the signed-in account can read,
    since a cluster's registry or hub network often sits in another subscription.
    Every finding carries the key `cluster` (the cluster's resource ID); findings are sorted by cluster, then in
    catalog order. A summary with the clusters scanned and failing, the checks not run in fleet mode and any
    subscription that could not be read goes to stderr. Exit status is 0 whenever the scan ran. --timeout (default
    600 s) bounds every request and wait of the scan.
examples:
    - name: Which clusters of the tenant can no longer pull, as a table with a Cluster column.
      text: az aks diagnose-pull fleet -o table
    - name: Check every cluster of two subscriptions against one registry after a firewall change.
      text: az aks diagnose-pull fleet --subscriptions Production 3f2b8c4e-1d6a-4e9b-8c7f-5a4d3e2b1c0a --acr myacr --checks acr-network-rules private-dns-link
    - name: The clusters under a management group whose pull role is missing, by resource ID.
      text: az aks diagnose-pull fleet --management-group platform-mg --checks acr-role-assignment --query "[?status=='Fail'].cluster" -o tsv
    - name: A quick look across a large tenant, giving up on whatever has not answered after two minutes.
      text: az aks diagnose-pull fleet --timeout 120 -o table
"""
