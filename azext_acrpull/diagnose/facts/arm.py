"""Plain ARM reads: a resource or a collection as its REST JSON, without the resource provider's SDK.

Facts are REST JSON, so for a plain GET an SDK is a detour that costs CPU on every run: importing the
compute, authorization, container registry or resource SDK takes about 0.1 s each, and the answer is
parsed into models only to be serialized back (``rest``). On two busy cores that CPU is wall time.
These reads go through the pipeline of the container service client that every run creates anyway (az
imports that SDK for any `az aks` command), so az's login, cloud, proxies, user agent, --debug logging and
the run's retry and timeout bounds all apply; a refusal is the same ``HttpResponseError`` (ARM error
format) that ``LiveFacts._read`` turns into a FactError. The cluster and its user credentials are read this
way too: their SDK models would be built only to be serialized back. Actions with side effects keep using
the SDKs.
"""
from .base import FactError, foreign_tenant  # noqa: F401 (foreign_tenant: where ARM reads are)

MAX_PAGES = 50
# The API versions that az's own SDKs use for these reads, so the answers have the shapes they had.
VMSS_API = "2024-11-01"
REGISTRY_API = "2026-09-01-preview"
ROLE_ASSIGNMENTS_API = "2022-04-01"
ROLE_DEFINITIONS_API = "2022-05-01-preview"
IDENTITY_API = "2024-11-30"
SUBSCRIPTIONS_API = "2022-12-01"
CLUSTER_API = "2026-06-01"
class ArmFacts:
    """Mixin for LiveFacts (needs its ``_client``)."""

    def arm_get(self, path, api_version, subscription_id=None):
        """GET one ARM resource by its path (``/subscriptions/...``) and return its REST JSON."""
        return self._arm_send(path, {"api-version": api_version}, subscription_id)

    def arm_list(self, path, api_version, subscription_id=None, **params):
        """Every item of an ARM collection, following ``nextLink`` (extra query parameters such as
        ``$filter`` as keywords: ``**{"$filter": ...}``)."""
        items, url, query = [], path, dict(params, **{"api-version": api_version})
        for _ in range(MAX_PAGES):
            page = self._arm_send(url, query, subscription_id)
            items.extend(page.get("value") or [])
            url, query = page.get("nextLink"), None
            if not url:
                return items
        raise FactError("ARM kept paging {} past {} pages".format(path, MAX_PAGES))

    def arm_post(self, path, api_version, subscription_id=None):
        """POST an ARM action that only reads (``listClusterUserCredential``) and return its REST JSON."""
        return self._arm_send(path, {"api-version": api_version}, subscription_id, method="POST",
                              logging_enable=False)   # its answer holds credentials: never in --debug output

    def _arm_send(self, url, params, subscription_id, method="GET", **options):
        from azure.core.exceptions import DecodeError, HttpResponseError
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.exceptions import ARMErrorFormat

        from ..._client_factory import cf_container_service
        client = self._client(cf_container_service, subscription_id)
        response = pipeline_send(client, HttpRequest(method, url, params=params), **options)
        if response.status_code >= 400:
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        try:
            return response.json()
        except ValueError:
            raise DecodeError("not JSON", response=response) from None


def pipeline_send(client, request, **options):
    """Send ``request`` through a generated SDK client's pipeline (its policies, credential and retries).

    Single-API clients have ``send_request``; the multi-API clients of older azure-cli releases
    (azure-mgmt-containerservice 37.0.0 in azure-cli 2.75) do not, but every generated client keeps its pipeline in
    ``_client`` (an azure-core ``PipelineClient``), which is what ``send_request`` itself calls."""
    send = getattr(client, "send_request", None)
    if send is not None:
        return send(request, **options)
    pipeline = client._client  # pylint: disable=protected-access
    request.url = pipeline.format_url(request.url)
    return pipeline.send_request(request, **options)
