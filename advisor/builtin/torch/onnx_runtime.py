"""A torch catalog entry on ONNX Runtime: exported once per revision (``advisor.models.export``), then run by the
onnx backend. Imports no torch unless the export has to be made, so the memory a fresh process needs to serve the
model is ONNX Runtime's, as in the deployment."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from advisor.errors import UserError
from advisor.models.backends import Encoder, LoadOptions, get_backend
from advisor.models.catalog import ModelEntry
from advisor.models.export import export_onnx
from advisor.models.fastpath import ModelLayout
from advisor.models.folder_safety import check_model_folder
from advisor.models.sources import resolve_source


def load_onnx_runtime(entry: ModelEntry, options: LoadOptions) -> Encoder:
    weight_precision = options.precision_for(entry)
    folder = resolve_source(entry.source, revision=entry.revision, allow_network=options.allow_network)
    if folder is None or not Path(folder).is_dir():
        raise UserError(f"{entry.name}: the onnx runtime needs a model folder, got {folder}")
    folder = Path(folder)
    check_model_folder(folder, entry.name)  # the export reads the folder: none of its code, no pickle file
    path = export_onnx(folder, weight_precision)
    layout = ModelLayout.read(folder)
    plain = not (folder / "modules.json").is_file()
    onnx_entry = replace(entry, backend="onnx", source=str(path), tokenizer=str(path.parent),
                         weight_precision=weight_precision, weights_format="onnx",
                         pooling=(entry.pooling or "mean") if plain else layout.pooling,
                         normalize=entry.normalize or layout.normalize,
                         max_tokens=min(entry.max_tokens or layout.max_length, layout.max_length))
    encoder = get_backend("onnx").load(onnx_entry, replace(options, runtime=None, weight_precision=weight_precision))
    encoder.info = {**dict(encoder.info), "runtime": "onnx", "path": "onnxruntime (exported by the advisor)",
                    "export": str(path), "folder": str(folder),
                    "quantization": "onnxruntime dynamic int8 (per-channel)" if weight_precision == "int8" else None}
    return encoder
