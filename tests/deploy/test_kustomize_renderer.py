"""tests.support.kustomize refuses what it does not render as kustomize would."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.kustomize import Unsupported, render, split_image

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
    "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app"}]}}},
}


def kustomization(folder: Path, patch: dict | None = None, **fields: object) -> Path:
    (folder / "app.yaml").write_text(yaml.safe_dump(DEPLOYMENT))
    if patch is not None:
        (folder / "patch.yaml").write_text(yaml.safe_dump(patch))
        fields["patches"] = [{"path": "patch.yaml"}]
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["app.yaml"],
                                                               **fields}))
    return folder


def test_a_field_it_does_not_render_is_refused(tmp_path):
    with pytest.raises(Unsupported, match="commonLabels"):
        render(kustomization(tmp_path, commonLabels={"a": "b"}))


def test_a_patch_of_a_list_kustomize_merges_by_key_is_refused(tmp_path):
    patch = {**DEPLOYMENT, "spec": {"template": {"spec": {
        "containers": [{"name": "app", "args": ["--x"]}]}}}}
    with pytest.raises(Unsupported, match="containers"):
        render(kustomization(tmp_path, patch))


def test_images_keep_a_registry_s_port_apart_from_the_tag(tmp_path):
    assert split_image("registry:5000/team/caviar:0.1.0") == ("registry:5000/team/caviar",
                                                              "0.1.0")
    assert split_image("registry:5000/caviar") == ("registry:5000/caviar", "")
    [rendered] = render(kustomization(tmp_path, images=[
        {"name": "app", "newName": "registry:5000/app", "newTag": "2"}], namespace="ns"))
    assert rendered["spec"]["template"]["spec"]["containers"][0]["image"] == "registry:5000/app:2"
    assert rendered["metadata"]["namespace"] == "ns"
