"""Which encoder a cost measurement runs: the entry's backend, or the fast path over the same model folder.

``auto`` picks the fast path for torch-backend entries whose folder it reproduces (a BERT/transformers folder with
a ``tokenizer.json`` and safetensors weights, Transformer + Pooling [+ Normalize] modules) and the backend
otherwise, so that a small model is not made to look slow by a naive loop.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from advisor.errors import UserError

if TYPE_CHECKING:
    from advisor.models.backends import Encoder
    from advisor.models.catalog import ModelEntry

ENGINES = ("auto", "fast", "backend")


def fast_path_folder(entry: "ModelEntry") -> tuple[Path | None, str | None]:
    """(folder, None) when the fast path can run ``entry``, else (None, why not)."""
    from advisor.models.sources import resolve_source
    from advisor.models.fastpath import fast_path_unsupported

    if entry.backend != "torch":
        return None, f"backend '{entry.backend}' is not the torch backend"
    if entry.trust_remote_code or entry.weights_format != "safetensors":
        return None, "the entry needs remote code or pickle weights"
    try:
        folder = resolve_source(entry.source, revision=entry.revision, allow_network=False)
    except UserError as exc:
        return None, str(exc)
    if folder is None or not Path(folder).is_dir():
        return None, f"{entry.source} is not a local model folder"
    reason = fast_path_unsupported(folder)
    return (None, reason) if reason else (Path(folder), None)


def load_for_cost(entry: "ModelEntry", *, device: str, weight_precision: str,
                  engine: str = "auto") -> tuple["Encoder", str, float, str | None]:
    """(encoder, engine used, load seconds, why the fast path was not used)."""
    if engine not in ENGINES:
        raise UserError(f"--engine must be one of {', '.join(ENGINES)}, got '{engine}'")
    why_not = None
    if engine in ("auto", "fast"):
        folder, why_not = fast_path_folder(entry)
        if folder is None and engine == "fast":
            raise UserError(f"{entry.name}: the fast path cannot run this model: {why_not}; use --engine backend")
        if folder is not None:
            from advisor.models.fastpath import FastTransformerEncoder

            t0 = time.perf_counter()
            enc = FastTransformerEncoder(folder, device=device, weight_precision=weight_precision,
                                         prompts={"query": entry.query_prompt, "document": entry.document_prompt},
                                         max_length=entry.max_tokens, normalize=entry.normalize)
            enc.entry = entry  # lets the memory probe and the storage table read the entry
            return enc, "fast", time.perf_counter() - t0, None
    from advisor.models.backends import load_encoder

    t0 = time.perf_counter()
    enc = load_encoder(entry, device=device, weight_precision=weight_precision)
    return enc, "backend", time.perf_counter() - t0, why_not
