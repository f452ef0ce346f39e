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
    namespace_given: bool = False   # --namespace was given (it narrows the search for failing pods)
    checks: tuple = None            # check ids, or None for every check of the group
    group: str = "run"
    acr_suffix: str = ".azurecr.io"
    options: dict = field(default_factory=dict)

    def registry_names_from_images(self, images=None):
        """Registry names behind ACR images (the user's, or ``images`` such as the pod's), in order, without
        repeats; a login server written wrongly counts for the registry it plainly means."""
        from .reference import intended_registry_name
        names = []
        for image in self.images if images is None else images:
            name = intended_registry_name(image.registry, self.acr_suffix)
            if name and name.lower() not in [n.lower() for n in names]:
                names.append(name)
        return names
