"""Kubernetes facts: reads from the cluster's API server with credentials from ARM.

The kubeconfig comes from `listClusterUserCredential`, the same call `az aks get-credentials`
makes. Token and client-certificate users are used as they are; an Entra ID (exec/kubelogin)
user gets a token from az's own login for the AKS server application, so kubelogin is not needed.
Nothing read here is logged: secrets pass through only as facts for the checks.
"""
import base64
import os
import tempfile

from ..sources import KUBERNETES, note
from .base import FactError

AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"


class KubeFacts:
    """Mixin for LiveFacts: everything read from the Kubernetes API."""

    def kube_connection(self):
        return self.once("kube_connection", self._kube_connection)

    def _kube_connection(self):
        import yaml

        from .arm import CLUSTER_API
        creds = self._read("the cluster's user credentials", "Microsoft.ContainerService/managedClusters/"
                           "listClusterUserCredential/action",   # a POST that only reads: see arm.py
                           lambda: self.arm_post(self.cluster_path() + "/listClusterUserCredential", CLUSTER_API))
        kubeconfigs = (creds or {}).get("kubeconfigs") or []
        if not kubeconfigs or not isinstance(kubeconfigs[0], dict) or not kubeconfigs[0].get("value"):
            raise FactError("ARM returned no kubeconfig for the cluster")
        try:
            text = base64.b64decode(kubeconfigs[0]["value"]).decode()
        except (ValueError, TypeError):
            raise FactError("the cluster's kubeconfig could not be read") from None
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
        elif (user.get("auth-provider") or {}).get("name") == "azure":
            # The older "azure" format: the server application id sits in the provider's config.
            server_id = ((user["auth-provider"].get("config") or {}).get("apiserver-id")) or AKS_SERVER_APP
            conn["headers"] = {"Authorization": "Bearer " + self._aks_aad_token({"args": ["--server-id", server_id]})}
        else:
            raise FactError("the cluster's kubeconfig has no usable user credential")
        return conn

    def _aks_aad_token(self, exec_spec):
        """A token for the AKS server application from az's own login (what kubelogin would get)."""
        args = exec_spec.get("args") or []
        server_id = AKS_SERVER_APP
        if "--server-id" in args and args.index("--server-id") + 1 < len(args):
            server_id = args[args.index("--server-id") + 1]
        token, _ = self._tokens.raw_token(self.cli_ctx, server_id)   # retried and bounded, see transport.py
        return token

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

    def kube_list_page(self, path, params, parse, via_run_command=None):
        """One page of a LIST, handed to ``parse`` as the bytes the server sent (see discovery.read_page); through
        AKS run command, ``via_run_command()`` reads it instead when given."""
        key = ("kube-page", path, tuple(sorted(params.items())))
        return self.once(key, lambda: self._kube_get(path, params, parse, via_run_command))

    def _kube_get(self, path, params, parse=None, via_run_command=None):
        from .transport import Unreachable, request
        note(KUBERNETES)   # findings built from this say how Kubernetes was read (runner.py)
        if self.kube_through_run_command():
            return via_run_command() if via_run_command else self.kube_get_via_run_command(path, params, parse)
        conn = self.kube_connection()
        unreachable = None
        with self.reading("{} from the cluster's Kubernetes API server".format(path)):
            try:   # transient answers are retried within the run's bounds (transport.py)
                response = request("GET", conn["server"] + path, self.deadline, "the cluster's Kubernetes API server",
                                   params=params, headers=conn.get("headers"), cert=conn.get("cert"),
                                   verify=conn["verify"])
            except Unreachable as err:
                unreachable = err
        if unreachable is not None:   # outside the API server read: what is waited for now is the run command
            if self.api_server_closed_to_caller():   # read through AKS run command, see runcommand.py
                return self.kube_get_private(path, params, self._unreachable(conn["server"], unreachable.cause), parse,
                                             via_run_command)
            raise FactError(self._unreachable(conn["server"], unreachable.cause), fault=unreachable.fault)
        if response.status_code == 404:
            return None
        if response.status_code == 401:
            raise FactError("the cluster's Kubernetes API server refused the cluster user credentials from "
                            "listClusterUserCredential (HTTP 401) reading {}".format(path), 401,
                            "KubernetesUnauthorized")
        if response.status_code == 403:
            raise FactError("the signed-in account may not read {} in the cluster (needs Kubernetes RBAC permission "
                            "to {}, for example the Azure Kubernetes Service RBAC Reader role): {}".format(
                                path, kube_permission(path), _status_message(response)), 403)
        if response.status_code >= 400:
            raise FactError("the Kubernetes API answered HTTP {} for {}: {}".format(
                response.status_code, path, _status_message(response)), response.status_code)
        try:
            return parse(response.content) if parse else response.json()
        except ValueError:
            raise FactError("the Kubernetes API returned an unreadable answer for {}".format(path),
                            fault=True) from None

    def _unreachable(self, server, err):
        """Why the API server could not be reached, in words that say what to do."""
        profile = self.cluster().get("properties", {}).get("apiServerAccessProfile") or {}
        reason = "the cluster's Kubernetes API server {} could not be reached ({})".format(server, type(err).__name__)
        if profile.get("enablePrivateCluster"):
            return reason + ": it is a private cluster, reachable only from its virtual network or networks " \
                "linked to it; run this from there, or over a VPN or jump box"
        if profile.get("authorizedIPRanges"):
            return reason + ": the API server accepts only the authorized IP ranges {}; run this from one of " \
                "them".format(", ".join(profile["authorizedIPRanges"]))
        return reason

    def namespace(self, name):
        """The namespace, or None when the cluster has no namespace of this name."""
        return self.kube_get("/api/v1/namespaces/{}".format(name))

    def pod(self, namespace, name):
        return self.kube_get("/api/v1/namespaces/{}/pods/{}".format(namespace, name))

    def pod_events(self, namespace, name):
        """Events about the pod in the core v1 shape, from both event APIs, each event once.

        Both APIs serve one store, but RBAC may grant only one of them; an event read through both is kept
        once (same uid). A read that fails is an error only when the other one failed too."""
        return self.once(("pod_events", namespace, name), lambda: self._pod_events(namespace, name))

    def _pod_events(self, namespace, name):
        reads = self.parallel(lambda read: read(), [
            lambda: self.kube_get("/api/v1/namespaces/{}/events".format(namespace), {
                "fieldSelector": "involvedObject.kind=Pod,involvedObject.name={}".format(name)}),
            lambda: self.kube_get("/apis/events.k8s.io/v1/namespaces/{}/events".format(namespace), {
                "fieldSelector": "regarding.kind=Pod,regarding.name={}".format(name)})])
        if all(isinstance(r, FactError) for r in reads):
            raise reads[0]
        events, seen = [], set()
        for read, shape in zip(reads, (dict, core_event), strict=True):
            items = [] if isinstance(read, FactError) else (read or {}).get("items") or []
            for item in items:
                event = shape(item)
                uid = (event.get("metadata") or {}).get("uid")
                if uid and uid in seen:
                    continue
                seen.add(uid)
                events.append(event)
        return events

    def failing_pods(self):
        """The pods that fail to pull, from one paged LIST of the active pods (see discovery.py): {"pods",
        "podsRead", "scope", "unreadableNamespaces"}. Without permission to list pods cluster-wide, the namespaces
        are listed and read one by one, and those the caller may not read are named."""
        return self.once("failing_pods", self._failing_pods)

    def _failing_pods(self):
        found = self._failing_pods_listed()
        if self.kube_through_run_command():   # lines: fetch the objects of the pods diagnosed one by one
            found["pods"] = self.complete_failing(found["pods"])
        return found

    def _failing_pods_listed(self):
        request = self.request
        if request.namespace_given:
            pods, count = self._list_failing("/api/v1/namespaces/{}/pods".format(request.namespace))
            return {"pods": pods, "podsRead": count, "scope": "namespace " + request.namespace,
                    "unreadableNamespaces": []}
        try:
            pods, count = self._list_failing("/api/v1/pods")
            return {"pods": pods, "podsRead": count, "scope": "every namespace", "unreadableNamespaces": []}
        except FactError as err:
            if err.status_code != 403:
                raise
            cluster_wide = err
        try:
            listed = (self.kube_get("/api/v1/namespaces") or {}).get("items") or []
        except FactError:
            raise FactError("{}; nor may it list the namespaces to read them one by one: pass --namespace with a "
                            "namespace it can read, or --pod".format(cluster_wide.reason.rstrip(".")), 403) from None
        names = [(n.get("metadata") or {}).get("name") for n in listed]
        results = self.parallel(lambda ns: self._list_failing("/api/v1/namespaces/{}/pods".format(ns)), names)
        pods, count, unreadable = [], 0, []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, FactError):
                if result.status_code != 403:
                    raise result
                unreadable.append(name)
                continue
            pods += result[0]
            count += result[1]
        if len(unreadable) == len(names):
            raise cluster_wide
        return {"pods": pods, "podsRead": count, "unreadableNamespaces": unreadable,
                "scope": "the {} of {} namespaces the signed-in account may read".format(
                    len(names) - len(unreadable), len(names))}

    def _list_failing(self, path):
        """(failing pods, pods read) of one LIST, page by page; through AKS run command, as lines (runcommand.py)."""
        from ..discovery import ACTIVE_PODS, PAGE_SIZE, read_page
        parts = path.split("/")
        namespace = parts[4] if len(parts) > 5 and parts[3] == "namespaces" else None
        pods, count, token = [], 0, None
        while True:
            params = {"fieldSelector": ACTIVE_PODS, "limit": str(PAGE_SIZE)}
            if token:
                params["continue"] = token
            found, token, read = self.kube_list_page(path, params, read_page,
                                                     lambda: self.failing_via_run_command(path, namespace))
            pods += found
            count += read
            if not token:
                return pods, count

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

    def node(self, name):
        """One node, or None when it does not exist."""
        return self.kube_get("/api/v1/nodes/{}".format(name))

    def node_events(self, name):
        """Events about a node (kubelet records them in the default namespace), in the core v1 shape."""
        found = self.kube_get("/api/v1/namespaces/default/events",
                              {"fieldSelector": "involvedObject.kind=Node,involvedObject.name={}".format(name)}) or {}
        return found.get("items") or []

    def workload_named(self, namespace, name):
        """The workload (Deployment, ReplicaSet, Job, StatefulSet, DaemonSet) a name means when no pod has it: the
        workload of that name, or the one whose pods' names start with it; None when there is none."""
        for path in ("/apis/apps/v1/namespaces/{}/replicasets", "/apis/apps/v1/namespaces/{}/deployments",
                     "/apis/batch/v1/namespaces/{}/jobs", "/apis/apps/v1/namespaces/{}/statefulsets",
                     "/apis/apps/v1/namespaces/{}/daemonsets"):
            for item in (self.kube_get(path.format(namespace)) or {}).get("items") or []:
                found = (item.get("metadata") or {}).get("name") or ""
                if found == name or name.startswith(found + "-"):
                    return item
        return None

    def workload_events(self, namespace=None, reason="FailedCreate"):
        """Events with this reason about any object, in one namespace or the whole cluster (core v1 shape)."""
        path = "/api/v1/namespaces/{}/events".format(namespace) if namespace else "/api/v1/events"
        found = self.kube_get(path, {"fieldSelector": "reason={}".format(reason)}) or {}
        return found.get("items") or []


def core_event(event):
    """An events.k8s.io/v1 Event in the core v1 shape (note -> message, regarding -> involvedObject, series)."""
    series = event.get("series") or {}
    return {
        "metadata": event.get("metadata") or {}, "involvedObject": event.get("regarding") or {},
        "reason": event.get("reason"), "message": event.get("note") or "", "type": event.get("type"),
        "count": series.get("count") or event.get("deprecatedCount") or 1,
        "firstTimestamp": event.get("deprecatedFirstTimestamp") or event.get("eventTime"),
        "lastTimestamp": series.get("lastObservedTime") or event.get("deprecatedLastTimestamp")
        or event.get("eventTime"),
        "source": event.get("deprecatedSource") or {"component": event.get("reportingController"),
                                                    "host": event.get("reportingInstance")},
    }


def kube_permission(path):
    """The Kubernetes RBAC verb and resource a GET of ``path`` needs: 'get pods in namespace default'."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:]      # drop api/v1 or apis/<group>/<version>
    namespace = None
    if len(parts) >= 2 and parts[0] == "namespaces" and len(parts) != 2:
        namespace, parts = parts[1], parts[2:]
    verb = "get" if len(parts) % 2 == 0 else "list"
    resource = parts[0] if parts else "the resource"
    return "{} {}{}".format(verb, resource, " in namespace {}".format(namespace) if namespace else "")


def _status_message(response):
    """The message of a Kubernetes Status body, or the HTTP reason."""
    try:
        message = (response.json() or {}).get("message")
    except (ValueError, AttributeError):
        message = None
    return (message or "{} {}".format(response.status_code, response.reason or "")).strip().splitlines()[0][:300]


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
