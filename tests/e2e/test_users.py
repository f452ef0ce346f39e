"""What the README promises a user: the permission table matches what each check really reads, and the tables
of its examples fit a 120-column terminal.

The permission table (README.md, between <!-- permissions:begin --> and <!-- permissions:end -->) names, per
check, the permissions it reads with as short keys; its legend says what each key is. Here each check runs
alone (`--checks`) on scenarios that exercise its reads, and every request the simulated Azure logged is mapped
to the key of the permission it needs: a check must read nothing the table does not name, and every key the
table names must be read in one of its scenarios. The cluster and the registry are read for every check (the
command needs them), so their keys are the table's common row.
"""
import os
import re

import pytest

from tests.e2e.arguments import diagnose_args
from tests.e2e.test_beyond import PARTNER_ID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
WIDTH = 120

# Request (METHOD host/path?query, lower case) -> the permission key it needs; None: needs none of the signed-in
# account's permissions (sign-in itself). First match wins.
REQUEST_KEYS = [
    (r"^[a-z]+ login\.microsoftonline\.com/", None),
    (r"^get management\.azure\.com/subscriptions\?", None),        # az's own subscription list
    # run's Resource Graph hints (the registry's role assignments, its private path) only decide what is read early;
    # Resource Graph has no permission of its own and shows what the other keys allow (README, `roles` and under the
    # table)
    (r"^post management\.azure\.com/providers/microsoft\.resourcegraph/resources\?", None),
    (r"/listclusterusercredential\b", "aks-user"),
    (r"/runcommand\b|/commandresults/", "run-command"),
    (r"/providers/microsoft\.containerservice/managedclusters", "aks"),
    (r"/providers/microsoft\.containerregistry/registries/[^/?]+/listcredentials\b", "acr-keys"),
    (r"/providers/microsoft\.containerregistry/", "acr"),
    (r"/providers/microsoft\.authorization/", "roles"),
    (r"/providers/microsoft\.keyvault/", "keyvault"),
    (r"/providers/microsoft\.compute/", "compute"),
    (r"/providers/microsoft\.managedidentity/", "identity"),
    (r"/providers/microsoft\.network/privatednszones|privatednszones", "dns"),
    (r"/providers/microsoft\.network/|resourcetype eq 'microsoft\.network/", "network"),
    (r"^get management\.azure\.com/subscriptions/[^/?]+/resources\?", "resources"),
    (r"^get management\.azure\.com/subscriptions/[^/?]+(\?|$)", "subscription"),
    (r"^get graph\.microsoft\.com/v1\.0/auditlogs/", "audit"),
    (r"^[a-z]+ graph\.microsoft\.com/", "graph"),
    (r"^[a-z]+ [^/ ]+\.azurecr\.io/", "acr-data"),
    (r"/api/v1/nodes\b", "k8s-nodes"),
    (r"/api/v1/namespaces/[^/]+/secrets\b", "k8s-secrets"),
    (r"/api/v1/namespaces/[^/]+/serviceaccounts\b", "k8s-read"),
    (r"/api/v1/namespaces/[^/]+/(pods|events)\b|/apis/events\.k8s\.io/|/api/v1/(pods|events)\b", "k8s-read"),
    (r"/api/v1/namespaces/[^/?]+(\?|$)|/api/v1/namespaces(\?|$)", "k8s-read"),
    (r"/apis/apps/|/apis/batch/", "k8s-read"),
]

# check -> the scenarios (and extra arguments) whose reads it is held to; diagnose_args() names the cluster, the
# first registry and the first pod stuck pulling of each.
CASES = {
    "pod-pull-events": [("image-pods", ())],
    "registry-lookup": [("mi-healthy", ())],
    "registry-health": [("mi-healthy", ())],
    "cluster-pull-probe": [("net-hub-spoke-healthy", ("--probe",))],
    "acr-role-assignment": [("mi-healthy", ()), ("auth-group-role", ()), ("sp-healthy", ())],
    "sp-credential-expiry": [("sp-healthy", ())],
    "sp-role-principal": [("auth-sp-old-principal", ())],
    "kubelet-identity-vmss": [("mi-healthy", ()), ("beyond-drift-recreated", ())],
    "pull-secret-sp": [("auth-secrets", ())],
    "pull-secret-admin": [("auth-secrets", ())],
    "image-reference": [("image-pods", ())],
    "image-manifest": [("image-pods", ())],
    "image-platform": [("image-pods", ())],
    "private-dns-link": [("net-hub-spoke-healthy", ())],
    "acr-network-rules": [("net-acl-lb-ip-allowed", ()), ("net-hub-spoke-healthy", ())],
    "vnet-peering": [("net-hub-spoke-healthy", ())],
    "egress-path": [("net-route-to-firewall", ()), ("net-acl-lb-ip-allowed", ()), ("net-fw-policy-login-only", ())],
    "pull-rate-limit": [("image-pods", ())],
    "registry-arm-audience": [("beyond-armaud-disabled", ())],
    "registry-tenant": [("auth-mg-cross-sub", ()), ("beyond-tenant-other", ("--acr", PARTNER_ID))],
    "node-provisioning-identity": [("beyond-nap", ()), ("mi-healthy", ())],
    "artifact-cache-rule": [("cache-credentials-unhealthy", ()), ("cache-vault-access-missing", ())],
    "pod-admission": [("admission-refused", ())],
    "node-disk-pressure": [("node-disk-full", ())],
    "subnet-endpoint-policy": [("net-sep-storage-blocked", ())],
}


def request_key(entry):
    line = "{} {}{}".format(entry["method"], entry["host"], entry["path"]).lower()
    query = "&".join("{}={}".format(k, v) for k, v in sorted((entry.get("query") or {}).items())).lower()
    line = line + ("?" + query if query else "")
    for pattern, key in REQUEST_KEYS:
        if re.search(pattern, line):
            return key
    return "unmapped: " + line


def readme_table():
    """{check id or 'every check': set of permission keys}, from the README's permission table."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("<!-- permissions:begin -->", 1)[1].split("<!-- permissions:end -->", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3:
            continue
        name = re.fullmatch(r"`([a-z0-9-]+)`|(every check)|with `(--pod)`", cells[0])
        if name:
            rows[name.group(1) or name.group(2) or name.group(3)] = set(re.findall(r"`([a-z0-9-]+)`", cells[1]))
    return rows


def test_every_check_has_a_permission_row_and_cases():
    from azext_acrpull.diagnose.catalog import catalog
    rows = readme_table()
    ids = [c.check_id for c in catalog()]
    assert [i for i in ids if i not in rows] == [], "checks missing from the README's permission table"
    assert {"every check", "--pod"} <= set(rows)
    assert [i for i in ids if i not in CASES] == [], "checks without scenarios in CASES"


@pytest.mark.parametrize("check_id", sorted(CASES))
def test_permission_table_matches_what_the_check_reads(scenario, check_id):
    rows = readme_table()
    declared = rows[check_id] | rows["every check"]
    seen = {}
    for name, extra in CASES[check_id]:
        sc = scenario(name)
        args = diagnose_args(sc.world)
        if "--pod" in args:   # the command reads the pod it is given, whichever checks run
            declared = declared | rows["--pod"]
        sc.sim.clear_log()
        result = sc.az("aks", "diagnose-pull", "run", *args, *extra, "--checks", check_id, "-o", "json")
        assert result.rc == 0 and "Traceback" not in result.stderr, result
        for entry in sc.sim.log:
            key = request_key(entry)
            if key:
                seen.setdefault(key, "{} {}{} ({})".format(entry["method"], entry["host"], entry["path"], name))
    unmapped = [k for k in seen if k.startswith("unmapped")]
    assert not unmapped, unmapped
    undeclared = {k: v for k, v in seen.items() if k not in declared}
    assert not undeclared, "{} reads what the README's permission table does not name: {}".format(
        check_id, undeclared)
    unused = rows[check_id] - set(seen)
    assert not unused, "the README says {} needs {}, but it read none of it in {}".format(
        check_id, sorted(unused), [n for n, _ in CASES[check_id]])


@pytest.mark.parametrize("name,command,args", [
    ("demo-broken", "run", ("-g", "rg1", "-n", "aks1", "--acr", "myacr")),
    ("image-pods", "check-image", ("-g", "rg1", "-n", "aks1", "--pod", "err-c2")),
    ("net-selected-endpoint-unused", "check-network", ("-g", "rg1", "-n", "aks1", "--acr", "myacr")),
    ("demo-broken", "fix", ("-g", "rg1", "-n", "aks1", "--acr", "myacr")),
    ("fleet-mixed", "fleet", ()),
    ("mi-healthy", "list-checks", ()),
])
def test_tables_fit_120_columns(scenario, name, command, args):
    """Every table the group prints fits 120 columns; what the table leaves out is in the summary under it."""
    sc = scenario(name)
    if name.startswith("net-") or name.startswith("fleet"):
        assert sc.az("account", "list", "--refresh", "-o", "none").rc == 0
    extra = ("--yes",) if command == "fix" else ()
    result = sc.az("aks", "diagnose-pull", command, *args, *extra, "-o", "table")
    assert result.rc == 0, result
    lines = result.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= WIDTH, result.stdout
    if command in ("list-checks", "fix"):
        return   # fix shows each command whole in its plan on stderr
    items = sc.az("aks", "diagnose-pull", command, *args, "-o", "json").json()
    remedies = [i["remediation"] for i in items if i.get("remediation")]
    if remedies and "Remediation" not in lines[0].split():
        for remedy in remedies:
            assert remedy in result.stderr, (remedy, result.stderr)
