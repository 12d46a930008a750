"""ONNX export of a transformers folder, once per model revision, cached and reused.

A CPU team ships a transformer through ONNX Runtime, often with int8 weights; to measure that deployment the
advisor exports the encoder itself (``torch.onnx.export`` with the dynamo exporter: batch and sequence length
dynamic, the graph returns the last hidden states and pooling stays in the harness) and quantizes it with
onnxruntime's dynamic int8 quantizer (per-channel weights). Files land in ``<cache>/onnx/<folder>-<key>/``, where
the key hashes the folder's config and weights with the torch, onnx and onnxruntime versions, so a changed model
or library exports again and an unchanged one never does. Writing is atomic (a temporary folder renamed into
place), so a killed export leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from advisor.errors import UserError
from advisor.models.sources import cache_root

ONNX_PRECISIONS = ("fp32", "int8")


def _file_digest(path: Path) -> str:
    """Size plus the first and last MiB: cheap, and changes whenever the weights do."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        h.update(fh.read(1 << 20))
        if size > 1 << 21:
            fh.seek(-(1 << 20), os.SEEK_END)
            h.update(fh.read(1 << 20))
    return h.hexdigest()


def export_key(folder: Path) -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = {"config": (folder / "config.json").read_text(encoding="utf-8"),
             "weights": _file_digest(folder / "model.safetensors")}
    for lib in ("torch", "onnx", "onnxscript", "onnxruntime"):
        try:
            parts[lib] = version(lib)
        except PackageNotFoundError:
            parts[lib] = "missing"
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def onnx_unsupported(folder: Path) -> str | None:
    """Why this folder cannot be exported here, or None."""
    import importlib.util

    for module, extra in (("onnx", "onnx"), ("onnxscript", "onnx"), ("onnxruntime", "onnx")):
        if importlib.util.find_spec(module) is None:
            return f"the ONNX runtime needs {module} (pip install 'embedding-advisor[{extra}]')"
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (folder / name).is_file():
            return f"{folder} has no {name} (the ONNX export needs a transformers folder with safetensors weights)"
    return None


def _export_fp32(folder: Path, target: Path) -> None:
    import warnings

    import torch
    from torch.export import Dim
    from transformers import AutoModel

    from advisor.models.attention import load_with_attention

    model, _ = load_with_attention(lambda attn: AutoModel.from_pretrained(
        str(folder), attn_implementation=attn, use_safetensors=True, trust_remote_code=False))
    model = model.eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.long)
    batch, seq = Dim("batch"), Dim("sequence", max=int(model.config.max_position_embeddings))
    with warnings.catch_warnings(), torch.inference_mode(False):
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHidden(model), (ids, torch.ones_like(ids)), str(target),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamo=True, dynamic_shapes={"input_ids": {0: batch, 1: seq},
                                                       "attention_mask": {0: batch, 1: seq}},
                          optimize=True, verbose=False)


def _quantize_int8(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs advice on every call
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


def export_onnx(folder: str | Path, weight_precision: str = "fp32", *, cache: Path | None = None) -> Path:
    """The ONNX file of ``folder`` at ``weight_precision`` (fp32 or int8), exporting it the first time."""
    folder = Path(folder)
    if weight_precision not in ONNX_PRECISIONS:
        raise UserError(f"the ONNX runtime runs fp32 or int8 weights here, not {weight_precision}")
    reason = onnx_unsupported(folder)
    if reason:
        raise UserError(reason)
    home = (cache or cache_root()) / "onnx" / f"{folder.name}-{export_key(folder)}"
    target = home / f"model-{weight_precision}.onnx"
    if target.is_file():
        return target
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home.parent, prefix=".export-") as tmp:
        work = Path(tmp)
        if home.is_dir():  # the fp32 export already exists: quantize from it
            for f in home.iterdir():
                shutil.copy2(f, work / f.name)
        fp32 = work / "model-fp32.onnx"
        if not fp32.is_file():
            try:
                _export_fp32(folder, fp32)
            except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds
                raise UserError(f"{folder}: torch.onnx.export failed ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''}); the ONNX runtime cannot run "
                                f"this model") from None
        if weight_precision == "int8":
            _quantize_int8(fp32, work / "model-int8.onnx")
        for name in ("tokenizer.json", "config.json"):
            shutil.copy2(folder / name, work / name)
        staged = home.parent / f".{home.name}-{os.getpid()}"
        if staged.exists():
            shutil.rmtree(staged)
        work.rename(staged)
        os.makedirs(work)  # TemporaryDirectory cleans up a folder of this name
        if home.exists():
            shutil.rmtree(home)
        staged.rename(home)
    return target
