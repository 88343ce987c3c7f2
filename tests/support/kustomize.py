"""A small kustomize, for the subset deploy/kubernetes uses, so the tests render the overlays
without a kubectl binary: `resources` (files, and directories holding a kustomization),
`namespace`, `images` (newName, newTag) and `patches` given by `path` (strategic merge of
one object, matched by apiVersion, kind and name). Anything else in a kustomization or a
patch raises Unsupported rather than render something kustomize would not.

Strategic merge, as kustomize does it where the patches go: maps merge key by key, a null
deletes the key, a list is set where the object has none, and other lists are replaced,
except those kustomize merges item by item (`MERGED_BY_KEY`): patching one of those that
exists raises Unsupported. tests/deploy checks the result against `kubectl kustomize`
where one is installed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

KEYS = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
MERGED_BY_KEY = {"containers", "initContainers", "ephemeralContainers", "env", "volumes",
                 "volumeMounts", "ports", "imagePullSecrets", "tolerations"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass", "CustomResourceDefinition"}

Object = dict[str, Any]


class Unsupported(ValueError):
    """A kustomization or patch uses what this renderer does not do."""


def render(directory: Path) -> list[Object]:
    """The objects `kubectl kustomize directory` prints, in the order of their resources."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KEYS
    if unknown:
        raise Unsupported(f"{directory}: kustomization fields {sorted(unknown)}")
    objects: list[Object] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        objects += render(path) if path.is_dir() else load(path)
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise Unsupported(f"{directory}: a patch other than a path: {patch}")
        for document in load(directory / patch["path"]):
            apply_patch(objects, document)
    if "namespace" in kustomization:
        for item in objects:
            if item["kind"] not in CLUSTER_SCOPED:
                item["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        set_image(objects, image)
    return objects


def load(path: Path) -> list[Object]:
    """The YAML documents of a file, empty ones left out."""
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def apply_patch(objects: list[Object], patch: Object) -> None:
    """Merge the patch into the one object of its apiVersion, kind and name."""
    key = (patch["apiVersion"], patch["kind"], patch["metadata"]["name"])
    targets = [item for item in objects
               if (item["apiVersion"], item["kind"], item["metadata"]["name"]) == key]
    if len(targets) != 1:
        raise Unsupported(f"patch {key}: {len(targets)} objects match, not 1")
    merged = merge(targets[0], patch)
    targets[0].clear()
    targets[0].update(merged)


def merge(target: Any, patch: Any, field: str = "") -> Any:
    """The strategic merge of patch into target (see the module's docstring)."""
    if isinstance(patch, dict):
        if any(key.startswith("$") for key in patch):
            raise Unsupported(f"patch directive in {field}: {sorted(patch)}")
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = merge(result.get(key), value, key)
        return result
    if isinstance(patch, list) and field in MERGED_BY_KEY and target is not None:
        raise Unsupported(f"a patch of the list {field}, which kustomize merges by key")
    return copy.deepcopy(patch)


def pod_specs(item: Object) -> list[Object]:
    """The pod specs an object holds (Deployments, StatefulSets, Jobs), or none."""
    template = item.get("spec", {}).get("template")
    return [template["spec"]] if template else []


def containers(item: Object) -> list[Object]:
    """Every container and init container of an object's pods."""
    return [container for spec in pod_specs(item)
            for container in spec.get("initContainers", []) + spec["containers"]]


def set_image(objects: list[Object], image: Object) -> None:
    """kustomize's `images` entry: containers whose image is `name` (any tag) get its
    newName and newTag."""
    if set(image) - {"name", "newName", "newTag"}:
        raise Unsupported(f"images entry {image}")
    for item in objects:
        for container in containers(item):
            name, tag = split_image(container["image"])
            if name == image["name"]:
                name = image.get("newName", name)
                tag = str(image.get("newTag", tag))
                container["image"] = f"{name}:{tag}" if tag else name


def split_image(reference: str) -> tuple[str, str]:
    """An image reference's name and tag ("" if none); a digest is not supported."""
    if "@" in reference:
        raise Unsupported(f"image digest in {reference}")
    colon, slash = reference.rfind(":"), reference.rfind("/")
    return (reference[:colon], reference[colon + 1:]) if colon > slash else (reference, "")
