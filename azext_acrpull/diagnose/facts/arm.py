"""Plain ARM reads: a resource or a collection as its REST JSON, without the resource provider's SDK.

Facts are REST JSON, so for a plain GET an SDK is a detour that costs CPU on every run: importing the
compute, authorization, container registry or resource SDK takes about 0.1 s each, and the answer is
parsed into models only to be serialized back (``rest``). On two busy cores that CPU is wall time.
These reads go through the pipeline of the container service client that every run creates for the
cluster anyway, so az's login, cloud, proxies, user agent, --debug logging and the run's retry and
timeout bounds all apply; a refusal is the same ``HttpResponseError`` (ARM error format) that
``LiveFacts._read`` turns into a FactError. Actions with side effects, and anything that is not a GET,
keep using the SDKs.
"""
from .base import FactError

MAX_PAGES = 50
# The API versions that az's own SDKs use for these reads, so the answers have the shapes they had.
VMSS_API = "2024-11-01"
REGISTRY_API = "2026-09-01-preview"
ROLE_ASSIGNMENTS_API = "2022-04-01"
ROLE_DEFINITIONS_API = "2022-05-01-preview"
IDENTITY_API = "2024-11-30"


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

    def _arm_send(self, url, params, subscription_id):
        from azure.core.exceptions import DecodeError, HttpResponseError
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.exceptions import ARMErrorFormat

        from ..._client_factory import cf_container_service
        client = self._client(cf_container_service, subscription_id)
        response = client.send_request(HttpRequest("GET", url, params=params))
        if response.status_code >= 400:
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        try:
            return response.json()
        except ValueError:
            raise DecodeError("not JSON", response=response) from None
