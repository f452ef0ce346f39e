"""The registry's data plane (Docker Registry HTTP API v2 with ACR's AAD token exchange)."""


def _reply(*args, **kwargs):
    from .server import Reply
    return Reply(*args, **kwargs)


def challenge(host):
    return {"WWW-Authenticate": 'Bearer realm="https://{0}/oauth2/token",service="{0}"'.format(host),
            "Docker-Distribution-Api-Version": "registry/2.0"}


def route(req):
    if req.path in ("/v2", "/v2/"):
        return _reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required",
                                        "detail": None}]}, challenge(req.host))
    return _reply(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "unknown route"}]}, unknown=True)
