"""Azure resource ids: parsing and comparison without the SDK, so checks stay pure."""
import re
from dataclasses import dataclass

_RID = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
                  r"/providers/(?P<ns>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)(?P<rest>(/[^/]+/[^/]+)*)/?$",
                  re.IGNORECASE)


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    namespace: str
    type: str
    name: str
    child: str = ""

    @property
    def id(self):
        return "/subscriptions/{}/resourceGroups/{}/providers/{}/{}/{}{}".format(
            self.subscription, self.resource_group, self.namespace, self.type, self.name, self.child)


def parse_resource_id(text):
    """A ResourceId, or None when the text is not a full ARM resource id."""
    m = _RID.match((text or "").strip())
    if not m:
        return None
    return ResourceId(m["sub"], m["rg"], m["ns"], m["type"], m["name"], m["rest"] or "")


def same_id(a, b):
    """ARM ids compare case-insensitively and without trailing slashes."""
    return (a or "").rstrip("/").lower() == (b or "").rstrip("/").lower()


def id_name(resource_id):
    return (resource_id or "").rstrip("/").rsplit("/", 1)[-1]
