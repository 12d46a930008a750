"""Shared encoder plumbing for the built-in backends: prompts, length-sorted batches, progress and float32 output.

A backend subclass only implements ``_encode_batch`` (a list of already prompted texts -> 2-D array). Sorting by
length keeps padding small (each batch holds texts of similar length); the rows are put back in input order.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Sequence

import numpy as np

from advisor.models.backends import Encoder, Progress, TextKind
from advisor.errors import UserError

if TYPE_CHECKING:
    from advisor.models.catalog import ModelEntry


class BatchedEncoder(Encoder):
    """An Encoder over one catalog entry; ``add_prompts`` False when the engine adds the entry's prompts itself."""

    add_prompts: bool = True

    def __init__(self, entry: "ModelEntry") -> None:
        self.entry = entry
        self.embed_dim = entry.embed_dim

    def prompt(self, kind: TextKind) -> str:
        if kind not in ("query", "document"):
            raise UserError(f"text kind must be 'query' or 'document', got {kind!r}")
        return self.entry.query_prompt if kind == "query" else self.entry.document_prompt

    def prompted(self, texts: Sequence[str], kind: TextKind) -> list[str]:
        prefix = self.prompt(kind) if self.add_prompts else ""
        return [prefix + t for t in texts]

    @abstractmethod
    def _encode_batch(self, texts: list[str], kind: TextKind) -> np.ndarray:
        """Embed one batch of prompted texts."""

    def encode(self, texts: Sequence[str], *, kind: TextKind = "document", batch_size: int = 32,
               progress: Progress | None = None) -> np.ndarray:
        if isinstance(texts, str):
            raise UserError("encode() takes a list of texts, not a single string")
        texts = list(texts)
        prepared = self.prompted(texts, kind)
        if not prepared:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        order = sorted(range(len(prepared)), key=lambda i: -len(prepared[i]))
        out = np.empty((len(prepared), self.embed_dim), dtype=np.float32)
        for start in range(0, len(order), max(1, batch_size)):
            idx = order[start:start + max(1, batch_size)]
            vectors = np.asarray(self._encode_batch([prepared[i] for i in idx], kind), dtype=np.float32)
            if vectors.shape != (len(idx), self.embed_dim):
                raise RuntimeError(f"{self.entry.name}: the model returned shape {vectors.shape}, expected "
                                   f"({len(idx)}, {self.embed_dim}); fix embed_dim in {self.entry.catalog}")
            out[idx] = vectors
            if progress is not None:
                progress(len(idx))
        return out


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def fixed_precision_reason(backend: str, entry: "ModelEntry", weight_precision: str) -> str | None:
    """For backends that run weights as shipped (ONNX files, static tables, packaged engines): the only runnable
    precision is the entry's ``weight_precision`` (fp32 when unset)."""
    shipped = entry.weight_precision or "fp32"
    if weight_precision != shipped:
        return (f"{entry.name} ships {shipped} weights and backend '{backend}' runs them as shipped; "
                f"{weight_precision} would need another export of the model")
    return None
