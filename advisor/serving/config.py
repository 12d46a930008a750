"""What a server runs and the form of its vectors: plain data, validated at the edge. ``ServeConfig`` (how it
batches and where it listens) lives in ``advisor.models.serve_config``, below the cost layer that builds it too."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advisor.errors import UserError
from advisor.models.serve_config import ServeConfig

__all__ = ["SERVABLE_PRECISIONS", "ServeConfig", "ServedVariant", "VectorForm", "decode_base64", "encode_base64",
           "untrained_dim", "untrained_text", "variant_from_report"]

SERVABLE_PRECISIONS = ("float32", "float16", "binary")
ALLOW_UNTRAINED = "--allow-untrained-dims"
WARNING_HEADER = "X-Advisor-Warning"  # on every response whose vectors have a size the model was not trained for


def untrained_dim(entry: Any, dim: int | None) -> bool:
    """Whether ``dim`` is a size ``entry`` was not trained for: not its full size, not one of its Matryoshka sizes
    (what the report marks "untrained")."""
    return dim is not None and dim != entry.embed_dim and dim not in entry.trained_dims()


def untrained_text(entry: Any, dim: int) -> str:
    """Why an untrained size costs quality, in one clause."""
    sizes = entry.trained_dims()
    if len(sizes) == 1:
        listed = f"its full {sizes[0]} dims only (its catalog entry lists no Matryoshka size)"
    else:
        listed = (f"{', '.join(map(str, sizes[:-1]))} and {sizes[-1]} dims only (its full size and the Matryoshka "
                  f"sizes its catalog entry lists)")
    return (f"{entry.name} was trained for {listed}, so its first {dim} components were not trained to stand alone "
            f"and lose quality (the report marks such sizes 'untrained')")


@dataclass(frozen=True)
class VectorForm:
    """The output form of the served vectors: the first ``dim`` components, re-normalized, at ``precision``
    (float16 values are rounded to float16; binary vectors are sign bits, served as +-1). ``allow_untrained``:
    sizes the model was not trained for may be served (the server and each such response say so); without it
    they are refused."""

    dim: int | None = None
    precision: str = "float32"
    allow_untrained: bool = False

    def __post_init__(self) -> None:
        if self.precision not in SERVABLE_PRECISIONS:
            raise UserError(f"vector precision '{self.precision}' cannot be served: int8 codes need the ranges the "
                            f"index calibrates on its documents; serve float32 and let the index quantize "
                            f"(servable: {', '.join(SERVABLE_PRECISIONS)})")

    def apply(self, embeddings: np.ndarray, dim: int | None = None) -> np.ndarray:
        """float32 (n, dim) vectors in this form; ``dim`` (a request's ``dimensions``) overrides the server's."""
        from advisor.quality.vectors import quantize, truncate_normalize

        unit = truncate_normalize(embeddings, dim if dim is not None else self.dim)
        return np.asarray(quantize(unit, self.precision).as_float(), dtype=np.float32)


def encode_base64(vector: np.ndarray) -> str:
    """OpenAI's ``encoding_format: base64``: the little-endian float32 bytes of the vector."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_base64(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


@dataclass(frozen=True)
class ServedVariant:
    """The model and variant a report recommends (or, when it recommends BM25, its best-ranked embedding model:
    ``instead_of`` then names what the report recommends)."""

    model: str
    device: str = "cpu"
    weight_precision: str | None = None
    runtime: str | None = None
    dim: int | None = None
    vector_precision: str = "float32"
    source: dict[str, Any] = field(default_factory=dict)
    instead_of: str | None = None


def variant_from_report(path: Path) -> ServedVariant:
    """The recommended candidate of a ``report.json`` (``advisor report`` / ``recommend``). When the report
    recommends BM25 (lexical: no vectors to serve), its best-ranked embedding model on the same machine instead,
    with ``instead_of`` set; a report that ranks none is a UserError saying what to do."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"report {path} does not exist (write one with 'advisor report --format json')") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"report {path} is not readable JSON: {exc}") from None
    rec = data.get("recommended") if isinstance(data, dict) else None
    if not rec:
        raise UserError(f"report {path} recommends no candidate (nothing passed the policy), so there is nothing "
                        f"to serve")
    instead_of = None
    if not _has_vectors(rec):
        best = best_embedding_candidate(data, rec)
        if best is None:
            raise UserError(f"report {path} recommends {rec.get('label') or rec.get('model')}, which is lexical "
                            f"(BM25: no vectors to serve), and ranks no embedding model; sweep at least one (advisor "
                            f"recommend --model NAME ...) or serve a model by name (advisor serve --model NAME)")
        instead_of, rec = rec.get("label") or rec.get("model"), best
    variant = rec.get("variant") or {}
    return ServedVariant(model=rec["model"], device=variant.get("device", "cpu"),
                         weight_precision=variant.get("weight_precision"), runtime=variant.get("runtime"),
                         dim=variant.get("dim"), vector_precision=variant.get("vector_precision", "float32"),
                         source={"report": str(path), "label": rec.get("label"), "position": rec.get("position")},
                         instead_of=instead_of)


RANKED = ("recommended", "pareto", "dominated")  # the statuses a ranked candidate has (not rejected, not failed)


def _has_vectors(candidate: dict[str, Any]) -> bool:
    from advisor.index.bm25 import NAME, VECTORS

    variant = candidate.get("variant") or {}
    return candidate.get("backend") != NAME and variant.get("vector_precision") != VECTORS


def best_embedding_candidate(data: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any] | None:
    """The best-ranked candidate with vectors on the machine the report's recommendation was measured on (not
    fused with BM25: a hybrid ranks the fusion, not the model alone); None when the report ranks none."""
    group = next((g for g in data.get("groups") or [] if g.get("hardware") == rec.get("hardware")), None)
    ranked = [c for c in (group or {}).get("candidates") or []
              if c.get("status") in RANKED and c.get("position") and _has_vectors(c) and c.get("hybrid") is None]
    return min(ranked, key=lambda c: c["position"], default=None)
