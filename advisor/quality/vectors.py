"""Derive every shipped vector form from one set of full-size embeddings: truncate (Matryoshka-style) and
re-normalize, then store as float32, float16, int8 (per-dimension ranges calibrated on a sample) or packed bits.

Re-encoding for a smaller dimension or a cheaper precision is waste: a model is run once and every (dim, vector
precision) variant is derived here. The scoring rules follow what vector stores do with these forms: float and
float16 by dot product, int8 by dot product of the de-quantized values (faiss SQ8, Qdrant scalar quantization),
binary by Hamming distance of sign bits (sentence-transformers ``quantize_embeddings(precision="ubinary")``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from advisor.errors import UserError
from advisor.models.variants import VECTOR_PRECISIONS, bytes_per_vector

CALIBRATION_SAMPLE = 10_000
CALIBRATION_SEED = 0


def truncate_normalize(embeddings: np.ndarray, dim: int | None = None) -> np.ndarray:
    """The first ``dim`` components (all when None), scaled to unit length; float32, a new array."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n, dim), got shape {x.shape}")
    if dim is not None:
        if dim < 1 or dim > x.shape[1]:
            raise UserError(f"dim {dim} is outside 1..{x.shape[1]} (the model's output size)")
        x = x[:, :dim]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0  # an all-zero vector stays zero instead of becoming NaN
    return (x / norms).astype(np.float32, copy=False)


@dataclass(frozen=True)
class Int8Calibration:
    """Per-dimension ranges: value v maps to round((v - start) / step) - 128, clipped to int8."""

    start: np.ndarray   # (dim,) float32: the per-dimension minimum of the calibration sample
    step: np.ndarray    # (dim,) float32: (max - min) / 255
    sample_size: int
    seed: int

    @classmethod
    def fit(cls, embeddings: np.ndarray, *, sample: int = CALIBRATION_SAMPLE,
            seed: int = CALIBRATION_SEED) -> "Int8Calibration":
        """Ranges from at most ``sample`` rows drawn without replacement (seeded, so runs repeat exactly)."""
        x = np.asarray(embeddings, dtype=np.float32)
        if len(x) > sample:
            x = x[np.sort(np.random.default_rng(seed).choice(len(x), sample, replace=False))]
        lo, hi = x.min(axis=0), x.max(axis=0)
        step = (hi - lo) / 255.0
        step[step == 0] = 1.0  # a constant dimension: any step maps it to one code
        return cls(start=lo.astype(np.float32), step=step.astype(np.float32), sample_size=len(x), seed=seed)

    def encode(self, x: np.ndarray) -> np.ndarray:
        codes = np.rint((np.asarray(x, dtype=np.float32) - self.start) / self.step) - 128.0
        return np.clip(codes, -128, 127).astype(np.int8)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return ((codes.astype(np.float32) + 128.0) * self.step + self.start).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """What is recorded with a result: the ranges themselves and how they were drawn."""
        return {"sample_size": self.sample_size, "seed": self.seed,
                "min": [round(float(v), 7) for v in self.start],
                "max": [round(float(s * 255.0 + v), 7) for v, s in zip(self.start, self.step)]}


@dataclass
class VectorSet:
    """Vectors in their stored form. ``data`` is float32, float16, int8 codes, or uint8 packed bits."""

    precision: str
    dim: int
    data: np.ndarray
    calibration: Int8Calibration | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def nbytes_per_vector(self) -> int:
        return bytes_per_vector(self.dim, self.precision)

    def take(self, rows: np.ndarray | slice) -> "VectorSet":
        return VectorSet(self.precision, self.dim, self.data[rows], self.calibration, self.meta)

    def as_float(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """float32 view for float scoring: decoded int8 values, or +-1 for bits (what rescoring uses)."""
        data = self.data if rows is None else self.data[rows]
        if self.precision == "float32":
            return data
        if self.precision == "float16":
            return data.astype(np.float32)
        if self.precision == "int8":
            assert self.calibration is not None
            return self.calibration.decode(data)
        bits = np.unpackbits(data, axis=1, count=self.dim)
        return bits.astype(np.float32) * 2.0 - 1.0

    def unit_float(self) -> np.ndarray:
        """float32 vectors scaled to unit length: cosine similarity of the stored form as a dot product."""
        return truncate_normalize(self.as_float())


def quantize(x: np.ndarray, precision: str, *, calibration: Int8Calibration | None = None) -> VectorSet:
    """Store unit vectors ``x`` (from ``truncate_normalize``) at ``precision``. int8 needs a calibration; pass
    the same one for queries and documents so both are coded on one scale."""
    if precision not in VECTOR_PRECISIONS:
        raise UserError(f"unknown vector precision '{precision}'; choose one of {', '.join(VECTOR_PRECISIONS)}")
    x = np.asarray(x, dtype=np.float32)
    dim = x.shape[1]
    if precision == "float32":
        return VectorSet(precision, dim, x)
    if precision == "float16":
        return VectorSet(precision, dim, x.astype(np.float16))
    if precision == "int8":
        cal = calibration if calibration is not None else Int8Calibration.fit(x)
        return VectorSet(precision, dim, cal.encode(x), calibration=cal)
    return VectorSet(precision, dim, np.packbits(x > 0, axis=1))


def derive(embeddings: dict[str, np.ndarray], dim: int | None, precision: str, *,
           calibrate_on: str | None = None) -> dict[str, VectorSet]:
    """Every text set of a task in one variant's stored form. int8 ranges are fitted on ``calibrate_on`` (the
    corpus for retrieval, else all sets together) and shared, as an index would fit them once on its documents."""
    unit = {name: truncate_normalize(x, dim) for name, x in embeddings.items()}
    cal = None
    if precision == "int8":
        basis = unit[calibrate_on] if calibrate_on else np.concatenate(list(unit.values()))
        cal = Int8Calibration.fit(basis)
    return {name: quantize(x, precision, calibration=cal) for name, x in unit.items()}


def pair_similarity(a: VectorSet, b: VectorSet) -> np.ndarray:
    """Cosine similarity of row i of ``a`` with row i of ``b`` in their stored form, in float64. Binary codes get
    the exact value 1 - 2 * hamming / dim, so equal distances stay exactly tied (rank statistics depend on it)."""
    if a.precision == "binary":
        diff = np.unpackbits(a.data ^ b.data, axis=1, count=a.dim).sum(axis=1)
        return 1.0 - 2.0 * diff.astype(np.float64) / a.dim
    x, y = a.as_float().astype(np.float64), b.as_float().astype(np.float64)
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return np.einsum("ij,ij->i", x, y) / np.where(norms > 0, norms, 1.0)
