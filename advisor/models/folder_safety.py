"""What a model folder may make the advisor run: the one check every load path calls before a library reads the
folder (the torch backend and its onnx export, training, students, decoders, the cross-encoder rater, mteb_local).

A model folder is untrusted input. Two things in it can run code when it is loaded:

- **Module code.** sentence-transformers imports the class each ``modules.json`` entry (and each Router's
  ``types``) names; a class outside the ``sentence_transformers`` package (``{"type": "evil_module.Evil"}``) is
  imported from a ``.py`` file in the folder, and transformers does the same for a config's ``auto_map``. A folder
  passes only when every module type is a known sentence-transformers module class (``ST_MODULE_CLASSES``, in the
  ``sentence_transformers.`` namespace) and no config names ``auto_map``, unless remote code is granted (the catalog
  entry's ``trust_remote_code`` and the policy's ``remote_code: true``, both: ``LoadOptions.allow_remote_code``).
- **Pickle files.** ``torch.load`` of a ``.bin``/``.pt``/``.pth``/``.pkl``/``.ckpt`` file can run code. Every such
  file in a folder a loader reads (the model folder and each module folder ``modules.json`` names) is refused unless
  pickle is granted (the entry's ``weights_format: pickle`` and the policy's ``pickle_weights: true``), with one
  exception: a weights file whose safetensors twin sits beside it (``pytorch_model.bin`` beside
  ``model.safetensors``), because every loader takes the safetensors file first and the advisor asks transformers
  for safetensors only (``SAFE_MODEL_KWARGS``). Hub snapshots ship both; the pickle one is never opened.

The check reads JSON files only; it never imports anything the folder names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from advisor.errors import UserError

# The module classes sentence-transformers itself ships (6.x names; ``sentence_transformers.models.X`` is the
# older spelling of the same classes). Abstract bases and modules built from a Python callable are left out.
ST_MODULE_CLASSES = frozenset({
    "Asym", "BoW", "CLIPModel", "CNN", "Dense", "Dropout", "LayerNorm", "LogitScore", "LSTM", "MLMTransformer",
    "Normalize", "Pooling", "Router", "SparseAutoEncoder", "SparseStaticEmbedding", "SpladePooling",
    "StaticEmbedding", "Transformer", "WeightedLayerPooling", "WordEmbeddings", "WordWeights",
})
_ST_TYPE = re.compile(r"^sentence_transformers(\.[A-Za-z_][A-Za-z0-9_]*)+$")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
# A pickle weights file a loader never opens when its safetensors twin is beside it (transformers with
# use_safetensors=True; sentence-transformers' load_torch_weights takes model.safetensors first).
SAFETENSORS_TWIN = {"pytorch_model": ("model.safetensors", "model.safetensors.index.json"),
                    "adapter_model": ("adapter_model.safetensors",)}
# What every transformers / sentence-transformers load in the advisor passes (model_kwargs) unless pickle is granted.
SAFE_MODEL_KWARGS = {"use_safetensors": True}
REMOTE_CODE_SWITCH = ("grant it in both the catalog entry ('trust_remote_code: true') and the policy "
                      "('remote_code: true') after reviewing the code")
PICKLE_SWITCH = ("grant it in both the catalog entry ('weights_format: pickle') and the policy "
                 "('pickle_weights: true'), or convert the file to safetensors")


def is_known_module_type(type_name: str) -> bool:
    """True for a sentence-transformers module class (``sentence_transformers.models.Pooling``,
    ``sentence_transformers.sentence_transformer.modules.Pooling``, ...); False for anything else."""
    return bool(_ST_TYPE.match(type_name)) and type_name.rsplit(".", 1)[-1] in ST_MODULE_CLASSES


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read it ({exc}); the folder cannot be checked, so it is not loaded") from None


def _inside(folder: Path, relative: Any, where: Path) -> Path:
    """``folder / relative``, refusing a path that leaves the folder (absolute, or through '..')."""
    text = str(relative or "")
    target = (folder / text).resolve()
    if Path(text).is_absolute() or (target != folder.resolve() and folder.resolve() not in target.parents):
        raise UserError(f"{where}: module path {text!r} leaves the model folder; the folder is not loaded")
    return target


def _modules(folder: Path) -> list[tuple[str, Path, Path]]:
    """(type, module folder, file that names it) of every module a sentence-transformers load would build,
    Router sub-modules included."""
    found: list[tuple[str, Path, Path]] = []
    folder = folder.resolve()
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return found
    data = _read_json(modules_file)
    if not isinstance(data, list):
        raise UserError(f"{modules_file}: not a list of modules; the folder is not loaded")
    for item in data:
        item = item if isinstance(item, dict) else {}
        type_name, path = str(item.get("type", "")), _inside(folder, item.get("path", ""), modules_file)
        found.append((type_name, path, modules_file))
        if type_name.rsplit(".", 1)[-1] in ("Router", "Asym"):
            for name in ("router_config.json", "config.json"):
                config = path / name
                if config.is_file() and isinstance(types := _read_json(config).get("types"), dict):
                    found.extend((str(t), _inside(path, sub, config), config) for sub, t in types.items())
                    break
    return found


def read_folders(folder: Path) -> list[Path]:
    """The folders a loader reads weights from: the model folder and each module folder."""
    folders = [folder.resolve()]
    for _, path, _ in _modules(folder):
        if path.is_dir() and path not in folders:
            folders.append(path)
    return folders


def custom_code(folder: Path) -> list[str]:
    """What in ``folder`` would make a loader import code the folder chooses: each module type outside the
    allow-list (``modules.json``, Router types) and each config's ``auto_map``; empty when there is none."""
    root = folder.resolve()
    found = [f"{file.relative_to(root)} names module '{t}'" for t, _, file in _modules(folder)
             if not is_known_module_type(t)]
    for directory in read_folders(folder):
        for name in ("config.json", "tokenizer_config.json"):
            config = directory / name
            if config.is_file() and isinstance(data := _read_json(config), dict) and data.get("auto_map"):
                found.append(f"{config.relative_to(root)} has an auto_map (custom model code)")
    return found


def pickle_files(folder: Path) -> list[Path]:
    """The pickle files a loader could open in ``folder``: every ``.bin``/``.pt``/``.pth``/``.pkl``/``.ckpt`` in the
    model folder and its module folders, less a weights file whose safetensors twin is beside it."""
    out: list[Path] = []
    for directory in read_folders(folder):
        for path in sorted(directory.iterdir()):
            if not path.is_file() or path.suffix not in PICKLE_SUFFIXES:
                continue
            stem = re.sub(r"-\d+-of-\d+$", "", path.stem)
            twins = SAFETENSORS_TWIN.get(stem, ())
            if any((directory / twin).is_file() for twin in twins):
                continue
            out.append(path)
    return out


def check_model_folder(folder: str | Path, what: str, *, allow_remote_code: bool = False,
                       allow_pickle: bool = False, pickle_grant: str = PICKLE_SWITCH) -> bool:
    """Refuse, in one line naming ``what`` and the file, a folder that would run its own code (unless
    ``allow_remote_code``) or make a loader open a pickle file (unless ``allow_pickle``; ``pickle_grant`` says how
    to grant it). Every load path calls it before a library reads the folder. Returns True when pickle files will
    be read (granted and present)."""
    folder = Path(folder)
    if not allow_remote_code:
        code = custom_code(folder)
        if code:
            raise UserError(f"{what}: {folder} would run its own Python code when loaded ({code[0]}"
                            f"{f'; and {len(code) - 1} more' if len(code) > 1 else ''}); the advisor loads only "
                            f"sentence-transformers' own modules unless remote code is granted: {REMOTE_CODE_SWITCH}")
    pickled = pickle_files(folder)
    if pickled and not allow_pickle:
        shown = pickled[0].relative_to(folder.resolve())
        raise UserError(f"{what}: {folder} holds pickle weights a loader would open ({shown}"
                        f"{f' and {len(pickled) - 1} more' if len(pickled) > 1 else ''}), which can run code when "
                        f"loaded; {pickle_grant}")
    return bool(pickled)


def model_kwargs(attn_implementation: str, pickle_ok: bool = False) -> dict[str, Any]:
    """The ``model_kwargs`` of a sentence-transformers / transformers load: the attention kernel, and safetensors
    only unless pickle was granted."""
    return {"attn_implementation": attn_implementation, **({} if pickle_ok else SAFE_MODEL_KWARGS)}
