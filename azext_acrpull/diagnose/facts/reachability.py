"""The registry as seen from the machine that runs az: what `az acr check-health` checks.

DNS of the login server, the `/v2/` challenge (401 with a Bearer realm) and the AAD token exchange
with the signed-in account. The challenge and the exchange are the registry data-plane facts'
own (registry_data.py), so a run that also reads images asks the registry once. This is the
caller's network, not the cluster's; `cluster-pull-probe` looks from inside.
"""
import re

from .base import FactError


def redact(url):
    """A proxy URL without its user name and password."""
    return re.sub(r"//[^@/]*@", "//", url or "")


class ReachabilityFacts:
    """Mixin for LiveFacts: look-ups from where az runs."""

    def registry_health(self, registry):
        """{"loginServer", "proxy", "addresses", "steps": [{"step": dns|challenge|token, "ok", "detail"}]}; a failed
        step has ``fault`` when the service failed (timeout, 429, 5xx, no Entra ID token) rather than answered."""
        login = ((registry.get("properties") or {}).get("loginServer") or "").lower()
        return self.once(("registry_health", login), lambda: self._registry_health(registry, login))

    def _registry_health(self, registry, login):
        import socket

        import requests
        # The token exchange (and the Entra ID token it needs) does not wait for the steps before it: it is sent
        # beside the challenge (registry_data.py) and judged after it.
        self.prefetch(lambda: self._registry_refresh_token(registry))
        proxies = requests.utils.get_environ_proxies("https://{}/v2/".format(login))
        proxy = proxies.get("https") or proxies.get("all")
        health = {"loginServer": login, "proxy": redact(proxy) if proxy else None, "addresses": None, "steps": []}
        if proxy:
            health["steps"].append({"step": "dns", "ok": None,
                                    "detail": "names are resolved by the proxy {}".format(redact(proxy))})
        else:
            try:
                infos = socket.getaddrinfo(login, 443, proto=socket.IPPROTO_TCP)
                health["addresses"] = sorted({i[4][0] for i in infos})
                health["steps"].append({"step": "dns", "ok": True, "detail": ", ".join(health["addresses"])})
            except (socket.gaierror, UnicodeError) as err:
                health["steps"].append({"step": "dns", "ok": False, "detail": str(err)})
                return health
        try:
            challenge = self._registry_challenge(registry)
        except FactError as err:
            health["steps"].append({"step": "challenge", "ok": False, "status": err.status_code,
                                    "detail": err.reason, "fault": err.fault})
            return health
        health["steps"].append({"step": "challenge", "ok": True,
                                "detail": "401 with a Bearer challenge, realm {}".format(challenge["realm"])
                                if challenge else "200: the registry allows anonymous reads"})
        if challenge is None:
            return health
        try:
            self._registry_refresh_token(registry)
        except FactError as err:
            health["steps"].append({"step": "token", "ok": False, "status": err.status_code, "detail": err.reason,
                                    "fault": err.fault})
            return health
        health["steps"].append({"step": "token", "ok": True,
                                "detail": "the signed-in account's Entra ID token was exchanged for a registry "
                                          "refresh token"})
        return health
