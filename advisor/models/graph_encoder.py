"""An Encoder over an exported graph (an ONNX Runtime session, an OpenVINO compiled model) of a transformer folder.

Everything but the graph is the torch fast path's (``advisor.models.fastpath``): the folder's Rust tokenizer, the
same token-budget batches produced on a background thread, the folder's pooling (``advisor.models.pooling``) and
normalization, the entry's prompts; batch 1 without padding. So when runtimes are compared, only the runtime
differs: the same texts reach each graph in the same batches, and the same code turns hidden states into vectors.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from advisor.errors import UserError
from advisor.models.backends import Encoder, Progress, TextKind
from advisor.models.batching import l2_normalize
from advisor.models.fastpath import DEFAULT_TOKEN_BUDGET, ModelLayout, prefetched, token_batches
from advisor.models.pooling import pool

Run = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (ids, mask) int64 -> last hidden states (B, L, H)


class GraphEncoder(Encoder):
    """``run(ids, mask)`` returns last hidden states; this class does the rest. ``graph`` is the runtime's own
    object (kept here so that what the encoder holds names its library). ``info`` is set by the runtime."""

    def __init__(self, layout: ModelLayout, run: Run, *, graph: Any = None, prompts: Mapping[str, str] | None = None,
                 pooling: str | None = None, normalize: bool | None = None, max_length: int | None = None,
                 token_budget: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.layout, self.run, self.graph = layout, run, graph
        self.prompts = dict(prompts or {})
        self.pooling = pooling or layout.pooling
        self.normalize = layout.normalize if normalize is None else normalize
        self.max_length = min(max_length or layout.max_length, layout.max_length)
        self.token_budget = token_budget or DEFAULT_TOKEN_BUDGET["cpu"]
        self.embed_dim = int(layout.config["hidden_size"])
        self.pad_id = int(layout.config.get("pad_token_id") or 0)
        self.tokenizer = Tokenizer.from_file(str(layout.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)

    def _with_prompt(self, texts: Sequence[str], kind: TextKind) -> list[str]:
        if kind not in ("query", "document"):
            raise UserError(f"text kind must be 'query' or 'document', got {kind!r}")
        prefix = self.prompts.get(kind) or ""
        return [prefix + t for t in texts] if prefix else list(texts)

    def _vectors(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        hidden = np.asarray(self.run(ids, mask))
        out = pool(hidden.astype(np.float32, copy=False), mask, self.pooling) if hidden.ndim == 3 else hidden
        out = np.asarray(out, dtype=np.float32)
        return l2_normalize(out) if self.normalize else out

    def encode(self, texts: Sequence[str], *, kind: TextKind = "document", batch_size: int = 32,
               progress: Progress | None = None) -> np.ndarray:
        """Float32 (n, embed_dim) in input order; the token budget, not ``batch_size``, sizes the batches."""
        if isinstance(texts, str):
            raise UserError("encode() takes a list of texts, not a single string")
        texts = self._with_prompt(texts, kind)
        out = np.zeros((len(texts), self.embed_dim), dtype=np.float32)
        if not texts:
            return out
        for idx, ids, mask in prefetched(token_batches(self.tokenizer, texts, self.token_budget, self.pad_id)):
            out[idx] = self._vectors(ids, mask)
            if progress is not None:
                progress(len(idx))
        return out

    def encode_one(self, text: str, *, kind: TextKind = "query") -> np.ndarray:
        ids = np.array([self.tokenizer.encode(self._with_prompt([text], kind)[0]).ids], dtype=np.int64)
        return self._vectors(ids, np.ones_like(ids))[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def close(self) -> None:
        self.run, self.graph = None, None  # type: ignore[assignment]


def onnx_session_runner(path: Any, threads: int) -> tuple[Run, Any]:
    """An ONNX Runtime CPU session of ``path`` at ``threads`` intra-op threads (one inter-op thread) and its
    runner, which feeds the graph the inputs it asks for."""
    from advisor.models.ort import onnxruntime
    ort = onnxruntime()

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise UserError(f"onnxruntime cannot load {path}: {str(exc).splitlines()[0]}") from None
    names = [i.name for i in session.get_inputs()]
    unknown = [n for n in names if n not in ("input_ids", "attention_mask", "token_type_ids")]
    if unknown:
        raise UserError(f"{path}: the graph wants inputs {unknown}; only input_ids, attention_mask and "
                        f"token_type_ids can be fed")

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return session.run(None, {n: feeds[n] for n in names})[0]

    return run, session
