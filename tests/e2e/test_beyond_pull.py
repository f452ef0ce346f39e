"""Causes beyond the article on the node and before the pull, end to end: node-disk-pressure (B.disk) and
pod-admission (B.admission)."""
from tests.simulator.scenarios.beyond_pull import IMAGE


def check_image(sc, *args):
    findings, result = sc.diagnose(*args, command="check-image")
    for f in findings:
        assert (f["remediation"] != "") == (f["status"] in ("Fail", "Warning")), f
    sc.assert_read_only()
    sc.assert_no_duplicate_reads()
    sc.assert_no_unknown_routes()
    return findings, result


def test_a_node_short_of_disk_fails_with_the_pool_and_a_bigger_disk(scenario):
    sc = scenario("node-disk-full")
    findings, result = check_image(sc, "--pod", "app", "--namespace", "default")
    f = sc.status_of(findings, "node-disk-pressure")
    assert f["status"] == "Fail", f
    assert f["target"].startswith("node aks-nodepool1-") and "(pool nodepool1)" in f["target"]
    assert "condition DiskPressure=True" in f["message"] and "taint node.kubernetes.io/disk-pressure" in \
        f["message"] and "event ImageGCFailed x7" in f["message"] and "FreeDiskSpaceFailed" in f["message"]
    assert f["evidence"]["nodePool"] == "nodepool1" and f["evidence"]["osDiskSizeGB"] == 128
    assert f["remediation"].startswith("Give pool nodepool1 more OS disk: az aks nodepool add -g rg1 --cluster-name "
                                       "aks1 -n nodepool12 --node-vm-size ")
    assert "--node-osdisk-size 256" in f["remediation"]
    pod = sc.status_of(findings, "pod-pull-events")
    assert (pod["evidence"]["cause"], pod["evidence"]["lookAt"]) == ("B.disk", ["node-disk-pressure"]), pod
    paths = [e["path"] for e in sc.sim.log if e["method"] == "GET"]
    assert any(p.endswith("/api/v1/namespaces/default/events") for p in paths)
    assert "node-disk-pressure" in result.stderr


def test_a_node_with_room_passes_and_no_pod_is_skipped(scenario):
    sc = scenario("node-disk-fine")
    findings, _ = check_image(sc, "--pod", "app", "--namespace", "default")
    f = sc.status_of(findings, "node-disk-pressure")
    assert f["status"] == "Pass" and "shows no disk pressure" in f["message"], f
    findings, _ = check_image(sc, "--image", IMAGE)
    f = sc.status_of(findings, "node-disk-pressure")
    assert f["status"] == "Skipped" and "No failing pod is bound to a node" in f["message"], f


def test_admission_refusals_fail_per_workload_without_pod(scenario):
    sc = scenario("admission-refused")
    findings, _ = check_image(sc, "--acr", "myacr")
    refused = [f for f in findings if f["checkId"] == "pod-admission"]
    assert [(f["status"], f["target"]) for f in refused] == [
        ("Fail", "job batch/nightly-report"), ("Fail", "replicaset shop/web-6d8f7b9c4d")], refused
    job, rs = refused
    assert rs["evidence"]["policy"] == "azurepolicy-k8sazurev2containerallowedimages-8f3c2d1e0b"
    assert rs["evidence"]["image"] == "docker.io/library/nginx:1.27"
    assert "admission webhook validation.gatekeeper.sh refused them" in rs["message"]
    assert "Azure Policy assignment" in rs["remediation"] and "az policy exemption create" in rs["remediation"]
    assert job["evidence"]["policy"] == "ratify-constraint" and "Ratify" in job["remediation"]
    assert job["evidence"]["image"].startswith("myacr.azurecr.io/batch/report@sha256:")
    # one cluster-wide read of FailedCreate events
    reads = [e for e in sc.sim.log if e["method"] == "GET" and e["path"].endswith("/api/v1/events")]
    assert len(reads) == 1 and reads[0]["query"].get("fieldSelector") == "reason=FailedCreate", reads


def test_admission_with_a_pod_name_that_names_the_workload(scenario):
    sc = scenario("admission-refused")
    findings, _ = sc.diagnose("--checks", "pod-admission", "--pod", "web", "--namespace", "shop",
                              command="check-image")
    refused = [f for f in findings if f["checkId"] == "pod-admission"]
    assert [(f["status"], f["target"]) for f in refused] == [("Fail", "replicaset shop/web-6d8f7b9c4d")], refused


def test_admission_passes_when_no_webhook_refused(scenario):
    sc = scenario("admission-allowed")
    findings, _ = check_image(sc, "--acr", "myacr")
    f = sc.status_of(findings, "pod-admission")
    assert f["status"] == "Pass" and "No FailedCreate event from an admission webhook" in f["message"], f


def test_list_checks_shows_the_new_ids(azenv):
    listed = azenv.run("aks", "diagnose-pull", "list-checks", "-o", "json").json()
    articles = {c["checkId"]: c["article"] for c in listed}
    assert articles["node-disk-pressure"] == "B.disk" and articles["pod-admission"] == "B.admission"
    ids = [c["checkId"] for c in listed]
    assert ids.index("pull-rate-limit") < ids.index("pod-admission") < ids.index("node-disk-pressure")
    # Behaviours added to existing checks keep their article (the contract's value) and name their keys in the
    # description list-checks shows.
    described = {c["checkId"]: c["description"] for c in listed}
    assert articles["acr-role-assignment"] == "C1.S1,X.abac"
    assert "B.wi:" in described["acr-role-assignment"] and "B.recent:" in described["acr-role-assignment"]
    assert "B.purge" in described["image-manifest"] and "B.cache" in described["image-manifest"]
    assert "once per registry" in described["artifact-cache-rule"]


# -- B.cache: artifact cache rules ------------------------------------------------------------------------------------
def test_unhealthy_credential_set_of_the_rule_serving_the_pods_image_fails(scenario):
    from tests.simulator.scenarios.beyond_pull import CACHED
    sc = scenario("cache-credentials-unhealthy")
    findings, _ = check_image(sc, "--pod", "web", "--namespace", "default")
    f = sc.status_of(findings, "artifact-cache-rule")
    assert f["status"] == "Fail" and f["target"] == "image " + CACHED, f
    assert "cache rule dockerhub-library" in f["message"] and "dockerhub is Unhealthy" in f["message"]
    assert "KeyVaultSecretRetrievalFailed" in f["message"]
    assert f["evidence"]["credentialState"] == "unhealthy" and f["evidence"]["identityPrincipalId"]
    assert f["remediation"].startswith("Let credential set dockerhub's identity read its secrets: az role assignment "
                                       "create --role \"Key Vault Secrets User\" --assignee-object-id ")
    assert "az acr credential-set update -r myacr -n dockerhub" in f["remediation"]
    pod = sc.status_of(findings, "pod-pull-events")
    assert (pod["evidence"]["cause"], pod["evidence"]["lookAt"]) == ("B.cache", ["artifact-cache-rule"]), pod
    paths = [e["path"].lower() for e in sc.sim.log if e["method"] == "GET"]
    assert any(p.endswith("/registries/myacr/cacherules") for p in paths)
    assert any(p.endswith("/registries/myacr/credentialsets") for p in paths)


def test_docker_hub_rule_without_credential_set_warns_at_registry_level(scenario):
    sc = scenario("cache-docker-hub-anonymous")
    findings, _ = check_image(sc, "--acr", "myacr")
    rules = {f["target"]: f for f in findings if f["checkId"] == "artifact-cache-rule"}
    docker = rules["registry myacr (cache rule dockerhub-library)"]
    assert docker["status"] == "Warning" and "Docker Hub rate-limits anonymous pulls" in docker["message"], docker
    assert docker["remediation"].startswith("az acr credential-set create -r myacr -n docker-creds -l docker.io ")
    assert docker["remediation"].endswith("az acr cache update -r myacr -n dockerhub-library -c docker-creds")
    assert rules["registry myacr (cache rule mcr-dotnet)"]["status"] == "Pass"


def test_healthy_credential_set_passes_and_an_image_no_rule_serves_is_skipped(scenario):
    from tests.simulator.scenarios.beyond_pull import CACHED
    sc = scenario("cache-credentials-healthy")
    findings, _ = check_image(sc, "--image", CACHED, "myacr.azurecr.io/app:1.0")
    f = sc.status_of(findings, "artifact-cache-rule", "image " + CACHED)
    assert f["status"] == "Pass" and "dockerhub is Healthy" in f["message"], f
    assert "its identity can read its secrets in Key Vault contoso-kv (access policy of {} with get on secrets)".format(
        f["evidence"]["identityPrincipalId"]) in f["message"], f["message"]
    other = sc.status_of(findings, "artifact-cache-rule", "image myacr.azurecr.io/app:1.0")
    assert other["status"] == "Skipped" and "No cache rule of registry myacr serves repository app" in \
        other["message"], other


def test_an_image_the_rule_fetches_from_upstream_passes_image_manifest(scenario):
    """ACR creates a cache rule's repository on the first pull: the manifest read goes through the rule to the
    upstream, and the image is then in the registry."""
    from tests.simulator.scenarios.beyond_pull import CACHED
    sc = scenario("cache-credentials-healthy")
    findings, _ = check_image(sc, "--image", CACHED, "--checks", "image-manifest", "image-platform")
    f = sc.status_of(findings, "image-manifest")
    assert f["status"] == "Pass" and f["evidence"]["missing"] is None, f
    assert sc.status_of(findings, "image-platform")["status"] == "Pass"
    reads = [e for e in sc.sim.log if e["path"] == "/v2/docker.io/library/nginx/manifests/1.27"]
    assert [e["status"] for e in reads] == [200], reads


def test_a_tag_the_rule_has_not_fetched_yet_is_a_warning_naming_the_rule(scenario):
    sc = scenario("cache-credentials-healthy")
    image = "myacr.azurecr.io/docker.io/library/nginx:9.99"
    findings, result = check_image(sc, "--image", image, "--checks", "image-manifest")
    f = sc.status_of(findings, "image-manifest")
    assert f["status"] == "Warning", f
    assert "cache rule dockerhub-library of registry myacr" in f["message"] and "first pull through the rule" in \
        f["message"]
    assert (f["evidence"]["missing"], f["evidence"]["cacheRule"]) == ("notCachedYet", "dockerhub-library")
    assert f["evidence"]["upstreamImage"] == "docker.io/library/nginx:9.99"
    assert "--checks artifact-cache-rule" in f["remediation"]
    assert "docker manifest inspect docker.io/library/nginx:9.99" in f["remediation"]
    reads = [e for e in sc.sim.log if "/manifests/9.99" in e["path"]]
    assert [e["status"] for e in reads] == [404], reads


def test_a_rule_that_cannot_authenticate_is_not_an_image_manifest_failure(scenario):
    from tests.simulator.scenarios.beyond_pull import CACHED
    sc = scenario("cache-credentials-unhealthy")
    findings, _ = check_image(sc, "--pod", "web", "--namespace", "default", "--checks", "image-manifest",
                              "artifact-cache-rule", "pod-pull-events")
    f = sc.status_of(findings, "image-manifest")
    assert f["status"] == "Warning" and f["evidence"]["missing"] == "upstream", f
    assert "could not fetch it from docker.io" in f["message"] and "authentication required with source registry " \
        "for cache rule" in f["message"]
    assert sc.status_of(findings, "artifact-cache-rule", "image " + CACHED)["status"] == "Fail"
    assert sc.status_of(findings, "pod-pull-events")["evidence"]["cause"] == "B.cache"
    reads = [e for e in sc.sim.log if e["path"] == "/v2/docker.io/library/nginx/manifests/1.27"]
    assert [e["status"] for e in reads] == [401], reads


def test_a_missing_repository_no_rule_serves_still_fails(scenario):
    sc = scenario("cache-credentials-healthy")
    findings, _ = check_image(sc, "--image", "myacr.azurecr.io/nginx:1.27", "--checks", "image-manifest")
    f = sc.status_of(findings, "image-manifest")
    assert f["status"] == "Fail" and f["evidence"]["missing"] == "repository", f


def test_healthy_credential_set_whose_identity_cannot_read_its_rbac_vault_fails(scenario):
    from tests.simulator.scenarios.beyond_pull import CACHED
    sc = scenario("cache-vault-access-missing")
    vault = next(r for k, r in sc.world.arm.items() if k.endswith("/vaults/contoso-kv"))
    cs = next(r for k, r in sc.world.arm.items() if k.endswith("/credentialsets/dockerhub"))
    pid = cs["identity"]["principalId"]
    findings, _ = check_image(sc, "--pod", "web", "--namespace", "default")
    f = sc.status_of(findings, "artifact-cache-rule")
    assert f["status"] == "Fail" and f["target"] == "image " + CACHED, f
    assert "credential set dockerhub: its identity (principal {}) cannot read its secrets in Key Vault contoso-kv: " \
        "no role assignment at the vault, above it or on the secrets grants " \
        "Microsoft.KeyVault/vaults/secrets/getSecret/action".format(pid) in f["message"], f["message"]
    assert f["remediation"] == ("Let credential set dockerhub's identity read its secrets: az role assignment create "
                                "--role \"Key Vault Secrets User\" --assignee-object-id {} --assignee-principal-type "
                                "ServicePrincipal --scope {}".format(pid, vault["id"]))
    assert f["evidence"]["keyVaults"][0]["access"] == "lacking" and \
        f["evidence"]["keyVaults"][0]["authorization"] == "rbac"
    reads = [(e["method"], e["path"].lower()) for e in sc.sim.log]
    assert ("GET", vault["id"].lower()) in reads
    assert ("GET", vault["id"].lower() + "/providers/microsoft.authorization/roleassignments") in reads
    assert any(p.endswith("/resources") for m, p in reads if m == "GET")   # the vault found by name


def test_identity_holding_key_vault_secrets_user_on_an_rbac_vault_passes(scenario):
    from tests.simulator.scenarios.beyond_pull import CACHED
    sc = scenario("cache-vault-access-rbac")
    vault = next(r for k, r in sc.world.arm.items() if k.endswith("/vaults/contoso-kv"))
    findings, _ = check_image(sc, "--image", CACHED)
    f = sc.status_of(findings, "artifact-cache-rule", "image " + CACHED)
    assert f["status"] == "Pass", f
    assert "its identity can read its secrets in Key Vault contoso-kv (Key Vault Secrets User at {})".format(
        vault["id"]) in f["message"], f["message"]
    assert [e for e in sc.sim.log if e["method"] == "GET" and e["path"].lower() == vault["id"].lower()]


# -- B.purge: image-manifest HEADs the children the node pools need ---------------------------------------------
def test_a_purged_child_manifest_fails_naming_digest_and_platform(scenario):
    from tests.simulator.registry_content import index_children
    from tests.simulator.scenarios.beyond_pull import MULTI
    sc = scenario("purge-child-missing")
    registry = next(r for k, r in sc.world.arm.items() if k.endswith("/registries/myacr"))
    child = index_children(sc.world, registry, "app", "2.0")["linux/arm64"]
    findings, _ = check_image(sc, "--pod", "app-arm", "--namespace", "default")
    f = sc.status_of(findings, "image-manifest")
    assert f["status"] == "Fail" and f["evidence"]["missing"] == "child", f
    assert "{} for linux/arm64 (needed by node pool armpool)".format(child) in f["message"], f["message"]
    assert f["evidence"]["purgedChildren"] == [{"digest": child, "platform": "linux/arm64", "nodePools": ["armpool"]}]
    assert f["remediation"].startswith("Push the image again (docker buildx build --platform linux/arm64 -t "
                                       "myacr.azurecr.io/app:2.0 --push .)")
    heads = [e["path"] for e in sc.sim.log if e["method"] == "HEAD" and "/manifests/" in e["path"]]
    assert heads == ["/v2/app/manifests/" + child], heads    # only the child the pod's pool needs
    pod = sc.status_of(findings, "pod-pull-events")
    assert (pod["evidence"]["cause"], pod["evidence"]["lookAt"]) == ("B.purge", ["image-manifest"]), pod
    assert MULTI in pod["message"]


def test_an_index_with_its_children_passes(scenario):
    from tests.simulator.scenarios.beyond_pull import MULTI
    sc = scenario("purge-children-intact")
    findings, _ = check_image(sc, "--image", MULTI)
    f = sc.status_of(findings, "image-manifest")
    assert f["status"] == "Pass", f
    heads = [e["path"] for e in sc.sim.log if e["method"] == "HEAD" and "/manifests/" in e["path"]]
    assert len(heads) == 2, heads    # without a pod, both pools may run it: both children are checked


def test_fleet_judges_cache_rules_listed_once_from_arm(scenario):
    """Resource Graph does not index cache rules or credential sets: fleet lists them through ARM, once for the
    registry."""
    sc = scenario("cache-docker-hub-anonymous")
    sc.sim.clear_log()
    result = sc.az("aks", "diagnose-pull", "fleet", "--checks", "artifact-cache-rule", "-o", "json")
    assert result.rc == 0, result
    rules = {f["target"]: f for f in result.json() if f["checkId"] == "artifact-cache-rule"}
    docker = rules["registry myacr (cache rule dockerhub-library)"]
    assert docker["status"] == "Warning" and docker["cluster"].endswith("/managedClusters/aks1"), docker
    assert rules["registry myacr (cache rule mcr-dotnet)"]["status"] == "Pass"
    reads = sorted((e["method"], e["path"].rsplit("/", 1)[-1], e["status"]) for e in sc.sim.log
                   if e["path"].lower().endswith(("/cacherules", "/credentialsets")))
    assert reads == [("GET", "cacheRules", 200), ("GET", "credentialSets", 200)], reads
