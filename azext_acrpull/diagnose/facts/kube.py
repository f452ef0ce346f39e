"""Kubernetes facts: reads from the cluster's API server with credentials from ARM.

The kubeconfig comes from `listClusterUserCredential`, the same call `az aks get-credentials`
makes. Token and client-certificate users are used as they are; an Entra ID (exec/kubelogin)
user gets a token from az's own login for the AKS server application, so kubelogin is not needed.
Nothing read here is logged: secrets pass through only as facts for the checks.
"""
import base64
import os
import tempfile

from .base import FactError

AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
KUBE_TIMEOUT = 20


class KubeFacts:
    """Mixin for LiveFacts: everything read from the Kubernetes API."""

    def kube_connection(self):
        return self.once("kube_connection", self._kube_connection)

    def _kube_connection(self):
        import yaml

        from ..._client_factory import cf_container_service
        rg, name = self.request.resource_group, self.request.name
        client = self._client(cf_container_service)
        creds = self._read("the cluster's user credentials", "Microsoft.ContainerService/managedClusters/"
                           "listClusterUserCredential/action",
                           lambda: client.managed_clusters.list_cluster_user_credentials(rg, name))
        kubeconfigs = getattr(creds, "kubeconfigs", None) or []
        if not kubeconfigs:
            raise FactError("ARM returned no kubeconfig for the cluster")
        value = kubeconfigs[0].value
        text = value.decode() if isinstance(value, (bytes, bytearray)) else base64.b64decode(value).decode()
        try:
            config = yaml.safe_load(text)
            context_name = config.get("current-context")
            context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
            cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
            user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        except (ValueError, KeyError, StopIteration, TypeError, AttributeError, yaml.YAMLError):
            raise FactError("the cluster's kubeconfig could not be read") from None
        conn = {"server": cluster["server"].rstrip("/"), "files": []}
        if cluster.get("certificate-authority-data"):
            conn["verify"] = self._temp_file(base64.b64decode(cluster["certificate-authority-data"]), conn)
        else:
            conn["verify"] = not cluster.get("insecure-skip-tls-verify", False)
        if user.get("token"):
            conn["headers"] = {"Authorization": "Bearer " + user["token"]}
        elif user.get("client-certificate-data"):
            conn["cert"] = (self._temp_file(base64.b64decode(user["client-certificate-data"]), conn),
                            self._temp_file(base64.b64decode(user["client-key-data"]), conn))
        elif user.get("exec"):
            conn["headers"] = {"Authorization": "Bearer " + self._aks_aad_token(user["exec"])}
        else:
            raise FactError("the cluster's kubeconfig has no usable user credential")
        return conn

    def _aks_aad_token(self, exec_spec):
        """A token for the AKS server application from az's own login (what kubelogin would get)."""
        from azure.cli.core._profile import Profile
        args = exec_spec.get("args") or []
        server_id = AKS_SERVER_APP
        if "--server-id" in args and args.index("--server-id") + 1 < len(args):
            server_id = args[args.index("--server-id") + 1]
        try:
            creds, _, _ = Profile(cli_ctx=self.cli_ctx).get_raw_token(resource=server_id)
        except Exception as err:  # pylint: disable=broad-except
            raise FactError("could not get an Entra ID token for the cluster's API server: {}".format(
                str(err).splitlines()[0] if str(err) else type(err).__name__)) from None
        return creds[1]

    def _temp_file(self, data, conn):
        fd, path = tempfile.mkstemp(prefix="acrpull-", suffix=".pem")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        conn["files"].append(path)
        self.on_close(lambda: _remove(path))
        return path

    def kube_get(self, path, params=None):
        """GET a Kubernetes API path; None when the object does not exist."""
        key = ("kube", path, tuple(sorted((params or {}).items())))
        return self.once(key, lambda: self._kube_get(path, params))

    def _kube_get(self, path, params):
        import requests
        conn = self.kube_connection()
        try:
            response = requests.get(conn["server"] + path, params=params, headers=conn.get("headers"),
                                    cert=conn.get("cert"), verify=conn["verify"], timeout=KUBE_TIMEOUT)
        except requests.RequestException as err:
            raise FactError("the cluster's API server {} could not be reached ({}); for a private cluster run "
                            "this where the API server is reachable".format(
                                conn["server"], type(err).__name__)) from None
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise FactError("the Kubernetes API refused to read {} (HTTP {}): the signed-in account needs read "
                            "access in the cluster".format(path, response.status_code), response.status_code)
        if response.status_code >= 400:
            raise FactError("the Kubernetes API answered HTTP {} for {}".format(response.status_code, path),
                            response.status_code)
        try:
            return response.json()
        except ValueError:
            raise FactError("the Kubernetes API returned an unreadable answer for {}".format(path)) from None

    def pod(self, namespace, name):
        return self.kube_get("/api/v1/namespaces/{}/pods/{}".format(namespace, name))

    def pod_events(self, namespace, name):
        """Core v1 events about the pod (events.k8s.io/v1 carries the same objects)."""
        found = self.kube_get("/api/v1/namespaces/{}/events".format(namespace), {
            "fieldSelector": "involvedObject.kind=Pod,involvedObject.name={}".format(name)}) or {}
        return found.get("items") or []

    def service_account(self, namespace, name):
        return self.kube_get("/api/v1/namespaces/{}/serviceaccounts/{}".format(namespace, name))

    def secret(self, namespace, name):
        return self.kube_get("/api/v1/namespaces/{}/secrets/{}".format(namespace, name))

    def secrets(self, namespace):
        found = self.kube_get("/api/v1/namespaces/{}/secrets".format(namespace)) or {}
        return found.get("items") or []

    def nodes(self):
        found = self.kube_get("/api/v1/nodes") or {}
        return found.get("items") or []


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
