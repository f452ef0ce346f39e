"""What the user asked for, after validation: the engine's only input besides facts."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DiagnoseRequest:
    resource_group: str
    name: str
    registry: tuple = None          # ("id", resource id) or ("name", registry name)
    images: tuple = ()              # parsed ImageReference values
    pod: str = None
    namespace: str = "default"
    checks: tuple = None            # check ids, or None for every check of the group
    group: str = "run"
    acr_suffix: str = ".azurecr.io"
    options: dict = field(default_factory=dict)

    def registry_names_from_images(self):
        """Registry names behind the ACR images the user gave, in order, without repeats."""
        from .reference import registry_name_from_host
        names = []
        for image in self.images:
            name = registry_name_from_host(image.registry, self.acr_suffix)
            if name and name.lower() not in [n.lower() for n in names]:
                names.append(name)
        return names
