"""Scenarios of the reliability suites: a world that holds a secret of every kind, each a unique marker.

Every secret value carries the word MARKER, so the secrets suite can look for that word, and for each value
the world holds, in everything az prints.
"""
from datetime import datetime, timedelta, timezone

from ..pods import nodes
from ..registry_content import push, signed_in_caller
from ..server import make_jwt
from ..world import SUBSCRIPTION, World, guid
from . import scenario
from .auth import acr_token, dockerconfig_secret, pod, service_account, sp_password, sp_with_secret

NOW = datetime.now(timezone.utc)
SECRETS_ARGS = ("--acr", "myacr", "--pod", "web", "--image", "myacr.azurecr.io/app:1.0")


def marker(kind):
    """A unique secret value: recognisable, and distinct for each kind of secret."""
    return "sim-{}-MARKER-{}".format(kind, guid("marker/" + kind)[:12])


@scenario("secrets-everywhere", "A service-principal cluster and an admin-enabled registry whose every secret is a "
                                "unique marker: the cluster's client secret, admin passwords, the kubeconfig token, "
                                "pull secrets (admin, service principal, ACR token, refresh token) and an app secret.")
def secrets_everywhere():
    w = World("secrets-everywhere")
    cluster_sp = w.service_principal("aks1-sp", password_end=[NOW + timedelta(days=200)],
                                     secret=marker("cluster-sp-secret"))
    cluster = w.cluster("aks1", "rg1", identity="sp", sp=cluster_sp,
                        pools=[{"name": "nodepool1", "mode": "System"}])
    registry = w.registry("myacr", "rg1", admin=True)
    w.assign(registry["id"], "AcrPull", cluster_sp["objectId"])
    signed_in_caller(w, "/subscriptions/" + SUBSCRIPTION)
    nodes(w, cluster)
    push(w, registry, "app", ["1.0"], ["linux/amd64"])
    login = "myacr.azurecr.io"
    admin = w.admin_credentials[registry["id"].lower()]
    pull_pw = sp_password("Mk1")
    puller = sp_with_secret(w, "ci-pull", pull_pw, [NOW + timedelta(days=100)])
    w.assign(registry["id"], "AcrPull", puller["objectId"])
    acr_token(w, registry, "puller", ["repositories/app/content/read"], [NOW + timedelta(days=90)])
    refresh = make_jwt({"aud": login, "exp": int((NOW + timedelta(hours=3)).timestamp()),
                        "grant_type": "refresh_token", "tenant": w.tenant_id, "jti": marker("acr-refresh")})
    dockerconfig_secret(w, cluster, "acr-admin", login, "myacr", admin["password"])
    dockerconfig_secret(w, cluster, "acr-sp", login, puller["appId"], pull_pw, auth_only=True)
    dockerconfig_secret(w, cluster, "acr-token", login, "puller", marker("acr-token-password"),
                        kind="kubernetes.io/dockercfg")
    dockerconfig_secret(w, cluster, "acr-refresh", login, "00000000-0000-0000-0000-000000000000", refresh)
    app_secret = dockerconfig_secret(w, cluster, "app-config", "db.contoso.internal", "app", marker("app-db"))
    app_secret["type"] = "Opaque"
    service_account(w, cluster, "deployer", ["acr-refresh"])
    pod(w, cluster, "web", login + "/app:1.0", ["acr-admin", "acr-sp", "acr-token"], service_account="deployer")
    return w
