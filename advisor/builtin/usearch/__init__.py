"""Built-in plugin: usearch HNSW over float32, float16, int8 and packed binary vectors. int8 vectors are handed
over decoded (usearch quantizes floats to its own i8 scale); binary vectors as their packed bits (metric hamming)."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from advisor.hookspecs import Register, hookimpl
from advisor.index import Index, IndexType, pad_results
from advisor.quality.vectors import VectorSet

_DTYPE = {"float32": "f32", "float16": "f16", "int8": "i8", "binary": "b1"}


class USearchIndex(Index):
    def __init__(self, **settings: Any) -> None:
        self.settings = dict(settings)
        self.index: Any = None
        self.precision = "float32"
        self.dim = 0

    def _rows(self, vectors: VectorSet) -> np.ndarray:
        if vectors.precision == "binary":
            return np.ascontiguousarray(vectors.data)
        if vectors.precision == "float16":
            return np.ascontiguousarray(vectors.data)
        return np.ascontiguousarray(vectors.as_float(), dtype=np.float32)

    def build(self, vectors: VectorSet, ids: np.ndarray) -> None:
        from usearch.index import Index as UIndex

        self.precision, self.dim = vectors.precision, vectors.dim
        s = self.settings
        self.index = UIndex(ndim=vectors.dim, metric="hamming" if vectors.precision == "binary" else "ip",
                            dtype=_DTYPE[vectors.precision], connectivity=int(s["M"]),
                            expansion_add=int(s["ef_construction"]), expansion_search=int(s["ef_search"]))
        self.add(vectors, ids)

    def add(self, vectors: VectorSet, ids: np.ndarray) -> None:
        # every core for a bulk add, as faiss's OpenMP build uses them (threads=0: usearch picks them all)
        self.index.add(np.asarray(ids, dtype=np.uint64), self._rows(vectors), threads=int(self.settings["threads"]))

    def search(self, queries: VectorSet, k: int) -> tuple[np.ndarray, np.ndarray]:
        # one query: one thread (batch-1 latency, and QPS clients bring their own threads); a batch: every core
        threads = 1 if len(queries) == 1 else int(self.settings["threads"])
        m = self.index.search(self._rows(queries), k, threads=threads)
        keys = np.atleast_2d(np.asarray(m.keys)).astype(np.int64)
        dist = np.atleast_2d(np.asarray(m.distances)).astype(np.float32)
        # many queries: BatchMatches with counts; one query: Matches holding only the hits found
        counts = np.asarray(m.counts) if hasattr(m, "counts") else np.array([keys.shape[1]])
        valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
        # ip distance is 1 - dot; hamming distance counts differing bits
        scores = self.dim - 2 * dist if self.precision == "binary" else 1.0 - dist
        return pad_results(np.where(valid, keys, -1), np.where(valid, scores, -np.inf), k)

    def memory_bytes(self) -> int:
        return 0 if self.index is None else int(self.index.memory_usage)

    def disk_bytes(self) -> int:
        return 0 if self.index is None else int(self.index.serialized_length)

    def info(self) -> dict[str, Any]:
        import usearch

        return {"library": "usearch", "version": usearch.__version__, "dtype": _DTYPE[self.precision]}


class USearchHNSW(IndexType):
    name = "usearch-hnsw"
    description = "usearch HNSW (f32, f16, i8, b1)"
    precisions = ("float32", "float16", "int8", "binary")
    metrics = ("ip", "hamming")
    defaults = {"M": 16, "ef_construction": 128, "ef_search": 64, "threads": 0}  # threads 0: all cores

    def available(self) -> str | None:
        return None if importlib.util.find_spec("usearch") else "usearch is not installed (pip install usearch)"

    def create(self, **settings: Any) -> Index:
        return USearchIndex(**{**self.defaults, **settings})


@hookimpl
def register_indexes(register: Register) -> None:
    register(USearchHNSW())
