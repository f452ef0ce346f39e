"""AKS run command: a look from inside the cluster, through ARM only.

`POST .../managedClusters/{name}/runCommand` makes AKS start a short-lived pod (namespace
aks-command) that runs a shell command with kubectl at hand; its logs come back from
`.../commandResults/{id}`. It needs no kubectl, no network path to the API server and no privileged
pod, so it works for private clusters too. It is used in two cases only (the contract's safety rule):
`kubectl get` of the objects a diagnosis reads when the API server cannot be reached from where az runs
(announced on stderr; --no-run-command refuses it), and the probe script, only with --probe.
"""
import json
import shlex

from knack.log import get_logger

from .base import FactError

logger = get_logger(__name__)

POLL_SECONDS = 3
RUN_TIMEOUT = 300
PROBE_MARKER = "acrpull-probe"


def _command_result_polling():
    """Location polling whose status is the body's provisioningState (AKS answers 202 until done).
    Every final state counts as done so that a failed command's reason and logs are still returned."""
    from azure.core.polling.base_polling import LocationPolling, _as_json, _is_empty

    class CommandResultPolling(LocationPolling):
        def get_status(self, pipeline_response):
            response = pipeline_response.http_response
            if response.status_code == 202 or _is_empty(response):
                return "InProgress"
            state = ((_as_json(response) or {}).get("properties") or {}).get("provisioningState") or ""
            return "Succeeded" if state.lower() in ("succeeded", "failed", "canceled", "") else "InProgress"

    return CommandResultPolling()


def probe_script(login_server, hosts):
    """A POSIX shell script that resolves each host, opens TCP 443 to each address, and asks the
    login server's /v2/ from inside the cluster. It prints one `acrpull-probe` line per fact."""
    return "\n".join([
        "# {} v1: resolve the registry's hosts and open TCP 443 from inside the cluster".format(PROBE_MARKER),
        "HOSTS={}".format(shlex.quote(" ".join(hosts))),
        "LOGIN={}".format(shlex.quote(login_server)),
        "for h in $HOSTS; do",
        "  ips=$(getent ahostsv4 \"$h\" 2>/dev/null | awk '{print $1}' | sort -u | tr '\\n' ' ')",
        # ahostsv4 asks with AI_ADDRCONFIG: without an IPv4 address besides loopback it answers nothing; ahosts
        # does not, so its IPv4 answers are the next best.
        "  if [ -z \"$ips\" ]; then",
        "    ips=$(getent ahosts \"$h\" 2>/dev/null | awk '$1 ~ /^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$/ {print $1}' | "
        "sort -u | tr '\\n' ' ')",
        "  fi",
        "  if [ -z \"$ips\" ] && command -v nslookup >/dev/null 2>&1; then",
        "    ips=$(nslookup \"$h\" 2>/dev/null | awk '/^Name:/{n=1;next} n&&/^Address/{print $NF}' | sort -u | "
        "tr '\\n' ' ')",
        "  fi",
        "  echo \"{} dns $h $ips\"".format(PROBE_MARKER),
        "  for ip in $ips; do",
        "    if command -v nc >/dev/null 2>&1; then nc -z -w 5 \"$ip\" 443 >/dev/null 2>&1 && r=open || r=closed",
        "    elif command -v bash >/dev/null 2>&1; then timeout 5 bash -c \"exec 3<>/dev/tcp/$ip/443\" "
        ">/dev/null 2>&1 && r=open || r=closed",
        "    else r=untested; fi",
        "    echo \"{} tcp $h $ip $r\"".format(PROBE_MARKER),
        "  done",
        "done",
        "if command -v curl >/dev/null 2>&1; then",
        "  code=$(curl -s -o /tmp/acrpull-v2 -w '%{http_code}' --max-time 10 \"https://$LOGIN/v2/\")",
        "  client=$(sed -n \"s/.*client with IP '\\([0-9a-fA-F.:]*\\)'.*/\\1/p\" /tmp/acrpull-v2 2>/dev/null | "
        "head -n 1)",
        "  echo \"{} http $LOGIN $code $client\"".format(PROBE_MARKER),
        "fi",
    ])


def parse_probe(logs):
    """{"dns": {host: [ips]}, "tcp": {host: {ip: open|closed|untested}}, "http": {host: {...}}}."""
    out = {"dns": {}, "tcp": {}, "http": {}}
    for line in (logs or "").splitlines():
        parts = line.strip().split()
        if len(parts) < 3 or parts[0] != PROBE_MARKER:
            continue
        kind, host = parts[1], parts[2].lower()
        if kind == "dns":
            out["dns"][host] = sorted(set(parts[3:]))
        elif kind == "tcp" and len(parts) >= 5:
            out["tcp"].setdefault(host, {})[parts[3]] = parts[4]
        elif kind == "http":
            out["http"][host] = {"status": parts[3] if len(parts) > 3 else "000",
                                 "clientIp": parts[4] if len(parts) > 4 else None}
    return out


class RunCommandFacts:
    """Mixin for LiveFacts: commands run inside the cluster through AKS run command."""

    def probe_enabled(self):
        return bool((self.request.options or {}).get("probe"))

    def run_command_allowed(self):
        """Whether Kubernetes objects may be read with kubectl through run command (not with --no-run-command)."""
        return not (self.request.options or {}).get("no_run_command")

    def run_command(self, command):
        """The result of running ``command`` in the cluster: id, exitCode, logs, provisioningState, reason."""
        return self.once(("run_command", command), lambda: self._gated_run(command))

    def _gated_run(self, command):
        """The first command runs alone; the others start once it has answered. When run command is refused,
        throttled or down, they all learn it from that one instead of each asking (and retrying) again."""
        first = self.once("run_command_first", lambda: self._run_command(command))
        return first if first["command"] == command else self._run_command(command)

    def _run_command(self, command):
        from ..._client_factory import cf_container_service
        from .sdk import rest
        if PROBE_MARKER in command and not self.probe_enabled():
            raise FactError("AKS run command starts a pod in the cluster, so it runs only with --probe")
        if PROBE_MARKER not in command and not self.run_command_allowed():
            raise FactError("AKS run command was turned off with --no-run-command")
        props = self.cluster().get("properties") or {}
        if (props.get("apiServerAccessProfile") or {}).get("disableRunCommand"):
            raise FactError("run command is disabled on cluster {} (apiServerAccessProfile.disableRunCommand); "
                            "enable it with `az aks update -g {} -n {} --enable-run-command`".format(
                                self.cluster_name, self.cluster_resource_group, self.cluster_name))
        from azure.core.polling.base_polling import StatusCheckPolling
        from azure.mgmt.containerservice.models import RunCommandRequest
        from azure.mgmt.core.polling.arm_polling import ARMPolling
        request = RunCommandRequest(command=command)
        if (props.get("aadProfile") or {}).get("managed"):
            request.cluster_token = self._aks_aad_token({})   # the command then runs as the signed-in account
        rg, name = self.cluster_resource_group, self.cluster_name
        client = self._client(cf_container_service)
        what = "AKS run command on cluster {}".format(name)
        permission = "Microsoft.ContainerService/managedClusters/runCommand/action"
        # 202 + Location (commandResults) as AKS answers; a 200 with the result at once is read as it is.
        # No network trace even with --debug: the request may carry the cluster token, and the logs of
        # `kubectl get --raw` may hold a pull secret.
        polling = ARMPolling(POLL_SECONDS, lro_algorithms=[_command_result_polling(), StatusCheckPolling()],
                             lro_options={"final-state-via": "location"}, logging_enable=False)
        poller = self._read(what, permission, lambda: client.managed_clusters.begin_run_command(
            rg, name, request, polling=polling, polling_interval=POLL_SECONDS, logging_enable=False))
        wait = min(RUN_TIMEOUT, self.deadline.remaining())
        result = self._read(what, permission, lambda: poller.result(timeout=wait))
        if not poller.done() or result is None:
            bound = self.deadline.words() if wait < RUN_TIMEOUT else "within {} s".format(RUN_TIMEOUT)
            raise FactError("timed out reading the result of AKS run command on cluster {}: it did not finish "
                            "{}".format(name, bound), fault=True)
        body = rest(result) or {}
        run = body.get("properties") or {}
        return {"id": body.get("id"), "command": command, "provisioningState": run.get("provisioningState"),
                "exitCode": run.get("exitCode"), "logs": run.get("logs") or "", "reason": run.get("reason"),
                "startedAt": run.get("startedAt"), "finishedAt": run.get("finishedAt")}

    def cluster_probe(self, login_server, hosts):
        """Resolve ``hosts`` and open TCP 443 from a pod in the cluster; the parsed answers and the run."""
        script = probe_script(login_server, hosts)
        run = self.run_command(script)
        if (run.get("provisioningState") or "").lower() not in ("succeeded", ""):
            raise FactError("AKS run command {} on cluster {} ended {}{}".format(
                run.get("id"), self.cluster_name, run.get("provisioningState"),
                ": " + run["reason"] if run.get("reason") else ""))
        return {"run": {k: run[k] for k in ("id", "exitCode", "startedAt", "finishedAt")},
                "script": script, "answers": parse_probe(run["logs"])}

    # -- Kubernetes reads of an API server closed to the caller ---------------------------------
    def private_api_server(self):
        return bool(((self.cluster().get("properties") or {}).get("apiServerAccessProfile") or {})
                    .get("enablePrivateCluster"))

    def api_server_closed_to_caller(self):
        """A private cluster, or authorized IP ranges: the reasons an API server may not answer from here while
        the cluster's own pods (and so run command) still reach it."""
        profile = (self.cluster().get("properties") or {}).get("apiServerAccessProfile") or {}
        return bool(profile.get("enablePrivateCluster") or profile.get("authorizedIPRanges"))

    def kube_through_run_command(self):
        return getattr(self, "_kube_via_run_command", False)

    def kube_access(self):
        """How Kubernetes objects were read, for findings to say: through the API server or run command."""
        if self.kube_through_run_command():
            return {"via": "runCommand", "note": "(Kubernetes objects read with kubectl through AKS run command: the "
                                                 "API server is not reachable from here.)"}
        return {"via": "apiServer", "note": ""}

    def kube_get_private(self, path, params, unreachable, parse=None, read=None):
        """An API server that cannot be reached from here: read with kubectl through run command (``read``, or
        `kubectl get --raw`), said once on stderr; with --no-run-command, the reads that needed it fail with what
        to do."""
        if not self.run_command_allowed():
            raise FactError("{}; or rerun without --no-run-command to read it with kubectl through AKS run "
                            "command".format(unreachable))
        self._kube_via_run_command = True   # later reads go straight to run command
        self.once("run_command_announced", lambda: logger.warning(
            "The Kubernetes API server of cluster %s cannot be reached from here (%s): reading its objects with "
            "`kubectl get` through AKS run command (read-only; --no-run-command turns this off).", self.cluster_name,
            "private cluster" if self.private_api_server() else "authorized IP ranges") or True)
        return read() if read else self.kube_get_via_run_command(path, params, parse)

    def kube_get_via_run_command(self, path, params=None, parse=None):
        """GET a Kubernetes API path with `kubectl get --raw` inside the cluster; None when not found."""
        from urllib.parse import urlencode
        target = path + ("?" + urlencode(sorted(params.items())) if params else "")
        return self._kubectl(path, "kubectl get --raw {}".format(shlex.quote(target)), parse or json.loads,
                             "kubectl get --raw {}".format(path), "run this from a machine that reaches the API "
                             "server")

    def _kubectl(self, path, command, parse, what, narrow):
        """Run a kubectl command; its output parsed, None when not found. ``path`` names the API path it reads
        (for the RBAC permission it needs), ``narrow`` what to do when the output is cut at run command's limit."""
        from ..discovery import RUN_COMMAND_OUTPUT_LIMIT, LinesCut
        from .kube import kube_permission
        run = self.run_command(command)
        logs = run.get("logs") or ""
        if run.get("exitCode") == 0:
            try:
                return parse(logs)
            except LinesCut:
                raise
            except ValueError:
                if len(logs.encode()) >= RUN_COMMAND_OUTPUT_LIMIT - 1024:   # cut where AKS stops
                    raise FactError("the output of {} through AKS run command {} was cut at run command's {} KB "
                                    "limit, so it cannot be read whole: {}".format(
                                        what, run.get("id"), RUN_COMMAND_OUTPUT_LIMIT // 1024, narrow)) from None
                raise FactError("kubectl in AKS run command {} returned an unreadable answer for {}".format(
                    run.get("id"), path)) from None
        if "(NotFound)" in logs:
            return None
        if "(Forbidden)" in logs:   # the signed-in account's Kubernetes RBAC, as through the API server
            raise FactError("the signed-in account may not read {} in the cluster (needs Kubernetes RBAC permission "
                            "to {}): {}".format(path, kube_permission(path), logs.strip().splitlines()[0][:300]), 403)
        first = logs.strip().splitlines()[0] if logs.strip() else run.get("reason") or "no output"
        raise FactError("{} through AKS run command {} failed (exit code {}): {}".format(
            what, run.get("id"), run.get("exitCode"), first[:200]))

    def failing_via_run_command(self, path, namespace=None):
        """The failing pods of one LIST, as discovery.read_page answers a page: (pods, None, pods read). Through
        run command the pods come as lines (see discovery.pod_lines_command): skeletons, until
        ``complete_failing`` fetches the objects of the pods diagnosed one by one."""
        from ..discovery import RUN_COMMAND_OUTPUT_LIMIT, LinesCut, parse_pod_lines, pod_lines_command
        scope = "namespace " + namespace if namespace else "every namespace"
        narrow = "pass --namespace <namespace> to search one namespace, or --pod <name> --namespace <namespace>"
        try:
            pods, read = self._kubectl(path, pod_lines_command(namespace), parse_pod_lines,
                                       "the list of active pods in " + scope, narrow)
        except LinesCut as cut:
            limit = RUN_COMMAND_OUTPUT_LIMIT // 1024
            raise FactError("{} of the {} active pods in {} wait on an image pull, more than the {} KB that AKS run "
                            "command returns can list ({} listed): {}".format(
                                cut.failing, cut.read, scope, limit, cut.printed, narrow)) from None
        return pods, None, read

    def complete_failing(self, pods):
        """``pods`` with the skeletons of the groups' representatives (the pods diagnosed one by one) replaced by
        their objects, read in one command; a pod deleted since it was listed is dropped."""
        from ..discovery import REPORTED_GROUPS, SKELETON, group_failing, objects_command, parse_objects
        wanted = [pod for pod, _ in group_failing(pods)[:REPORTED_GROUPS] if pod.get(SKELETON)]
        if not wanted:
            return pods
        first = wanted[0]["metadata"]   # for the permission a refusal names: get pods in its namespace
        found = self._kubectl("/api/v1/namespaces/{}/pods/{}".format(first.get("namespace"), first.get("name")),
                              objects_command(wanted), parse_objects,
                              "the objects of the failing pods", "pass --pod <name> --namespace <namespace>")
        by_name = {_key(p): p for p in found or []}
        gone = {_key(p) for p in wanted} - set(by_name)
        return [by_name.get(_key(p), p) if p.get(SKELETON) else p for p in pods if _key(p) not in gone]


def _key(pod):
    meta = pod.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")
