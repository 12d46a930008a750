"""A torch catalog entry on ONNX Runtime: exported and optimized once per revision (``advisor.models.export``),
then run by an ONNX Runtime session through the graph encoder (``advisor.models.graph_encoder``: the fast path's
tokenizer, batches and pooling). Imports no torch unless the export has to be made, so the memory a fresh process
needs to serve the model is ONNX Runtime's, as in the deployment."""

from __future__ import annotations

from pathlib import Path

from advisor.errors import UserError
from advisor.models.backends import Encoder, LoadOptions
from advisor.models.catalog import ModelEntry
from advisor.models.export import export_onnx
from advisor.models.fastpath import ModelLayout
from advisor.models.folder_safety import check_model_folder
from advisor.models.graph_encoder import GraphEncoder, onnx_session_runner
from advisor.models.sources import resolve_source


def entry_prompts(entry: ModelEntry) -> dict[str, str]:
    return {"query": entry.query_prompt or "", "document": entry.document_prompt or ""}


def graph_layout(entry: ModelEntry, folder: Path) -> tuple[ModelLayout, str, bool]:
    """The folder's layout, and the pooling and normalization the entry runs it with (a plain transformers folder
    takes them from the entry, a sentence-transformers folder from its modules)."""
    layout = ModelLayout.read(folder)
    plain = not (folder / "modules.json").is_file()
    pooling = (entry.pooling or "mean") if plain else layout.pooling
    return layout, pooling, bool(entry.normalize or layout.normalize)


def model_folder(entry: ModelEntry, options: LoadOptions, runtime: str) -> Path:
    folder = resolve_source(entry.source, revision=entry.revision, allow_network=options.allow_network)
    if folder is None or not Path(folder).is_dir():
        raise UserError(f"{entry.name}: the {runtime} runtime needs a model folder, got {folder}")
    folder = Path(folder)
    check_model_folder(folder, entry.name)  # the conversion reads the folder: none of its code, no pickle file
    return folder


def load_onnx_runtime(entry: ModelEntry, options: LoadOptions) -> Encoder:
    from advisor.environment import thread_budget

    weight_precision = options.precision_for(entry)
    folder = model_folder(entry, options, "onnx")
    calibration = options.calibration.prompted(entry_prompts(entry)) if options.calibration else None
    made = export_onnx(folder, weight_precision, calibration=calibration)
    layout, pooling, normalize = graph_layout(entry, folder)
    threads = thread_budget()
    run, session = onnx_session_runner(made.path, threads)
    encoder = GraphEncoder(layout, run, graph=session, prompts=entry_prompts(entry), pooling=pooling,
                           normalize=normalize, max_length=entry.max_tokens)
    encoder.info = {"runtime": "onnx", "path": "onnxruntime (exported by the advisor)", "provider":
                    session.get_providers()[0], "file": str(made.path), "folder": str(folder), "threads": threads,
                    "token_budget": encoder.token_budget, "quantization": None, **made.info}
    return encoder
