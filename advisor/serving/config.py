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
           "variant_from_report"]

SERVABLE_PRECISIONS = ("float32", "float16", "binary")


@dataclass(frozen=True)
class VectorForm:
    """The output form of the served vectors: the first ``dim`` components, re-normalized, at ``precision``
    (float16 values are rounded to float16; binary vectors are sign bits, served as +-1)."""

    dim: int | None = None
    precision: str = "float32"

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
    """The model and variant a report recommends."""

    model: str
    device: str = "cpu"
    weight_precision: str | None = None
    runtime: str | None = None
    dim: int | None = None
    vector_precision: str = "float32"
    source: dict[str, Any] = field(default_factory=dict)


def variant_from_report(path: Path) -> ServedVariant:
    """The recommended candidate of a ``report.json`` (``advisor report`` / ``recommend``)."""
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
    variant = rec.get("variant") or {}
    return ServedVariant(model=rec["model"], device=variant.get("device", "cpu"),
                         weight_precision=variant.get("weight_precision"), runtime=variant.get("runtime"),
                         dim=variant.get("dim"), vector_precision=variant.get("vector_precision", "float32"),
                         source={"report": str(path), "label": rec.get("label")})
