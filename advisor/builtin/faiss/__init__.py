"""Built-in plugin: faiss (the faiss-cpu wheel). HNSW and IVF-PQ over float vectors (float16 is widened to
float32, as faiss stores it), and a binary index (flat or HNSW) over packed sign bits with Hamming distance."""

from __future__ import annotations

import importlib.util
import math
from typing import Any

import numpy as np

from advisor.hookspecs import Register, hookimpl
from advisor.index import Index, IndexType, pad_results
from advisor.quality.vectors import VectorSet


def _float(vectors: VectorSet) -> np.ndarray:
    return np.ascontiguousarray(vectors.as_float(), dtype=np.float32)


class FaissIndex(Index):
    def __init__(self, kind: str, **settings: Any) -> None:
        self.kind, self.settings = kind, dict(settings)
        self.index: Any = None
        self.notes: list[str] = []
        self.dim = 0

    # -- construction per kind ------------------------------------------------------------------------------
    def _new(self, vectors: VectorSet) -> Any:
        import faiss

        d, s = vectors.dim, self.settings
        if self.kind == "hnsw":
            inner = faiss.IndexHNSWFlat(d, int(s["M"]), faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = int(s["ef_construction"])
            inner.hnsw.efSearch = int(s["ef_search"])
            return faiss.IndexIDMap2(inner)
        if self.kind == "ivfpq":
            n = len(vectors)
            nlist = max(1, min(int(s["nlist"]), n // 39 or 1))
            m = int(s["m"])
            while d % m:
                m -= 1
            nbits = min(int(s["nbits"]), max(1, int(math.log2(max(n // 39, 2)))))  # ~39 points per centroid
            if (nlist, m, nbits) != (int(s["nlist"]), int(s["m"]), int(s["nbits"])):
                self.notes.append(f"adapted to {n} training vectors and dim {d}: nlist={nlist}, m={m}, nbits={nbits}")
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFPQ(quantizer, d, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
            index.nprobe = min(int(s["nprobe"]), nlist)
            index.train(_float(vectors))
            self._keep = quantizer
            return index
        if s.get("M"):
            inner = faiss.IndexBinaryHNSW(d, int(s["M"]))
            inner.hnsw.efSearch = int(s["ef_search"])
        else:
            inner = faiss.IndexBinaryFlat(d)
        return faiss.IndexBinaryIDMap2(inner) if s.get("M") else faiss.IndexBinaryIDMap(inner)

    def _rows(self, vectors: VectorSet) -> np.ndarray:
        return np.ascontiguousarray(vectors.data) if self.kind == "binary" else _float(vectors)

    def build(self, vectors: VectorSet, ids: np.ndarray) -> None:
        self.dim = vectors.dim
        self.index = self._new(vectors)
        self.add(vectors, ids)

    def add(self, vectors: VectorSet, ids: np.ndarray) -> None:
        self.index.add_with_ids(self._rows(vectors), np.asarray(ids, dtype=np.int64))

    def search(self, queries: VectorSet, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.index.search(self._rows(queries), k)
        if self.kind == "binary":  # faiss returns Hamming distances; the contract wants dim - 2 * hamming
            scores = np.where(ids >= 0, self.dim - 2 * scores.astype(np.float32), -np.inf)
        else:
            scores = np.where(ids >= 0, scores, -np.inf)
        return pad_results(ids, scores, k)

    def memory_bytes(self) -> int:
        import faiss

        if self.index is None:
            return 0
        blob = faiss.serialize_index_binary(self.index) if self.kind == "binary" else faiss.serialize_index(self.index)
        return int(len(blob))

    def info(self) -> dict[str, Any]:
        import faiss

        return {"library": "faiss", "version": faiss.__version__, "kind": self.kind, "notes": self.notes,
                "memory": "serialized size (faiss.serialize_index)"}


class _FaissType(IndexType):
    kind = ""

    def available(self) -> str | None:
        return None if importlib.util.find_spec("faiss") else "faiss is not installed (pip install faiss-cpu)"

    def create(self, **settings: Any) -> Index:
        return FaissIndex(self.kind, **{**self.defaults, **settings})


class FaissHNSW(_FaissType):
    name, kind = "faiss-hnsw", "hnsw"
    description = "faiss IndexHNSWFlat, inner product"
    precisions = ("float32", "float16")
    defaults = {"M": 16, "ef_construction": 40, "ef_search": 64}


class FaissIVFPQ(_FaissType):
    name, kind = "faiss-ivfpq", "ivfpq"
    description = "faiss IndexIVFPQ, inner product (nlist, m and nbits shrink to fit a small corpus; noted)"
    precisions = ("float32", "float16")
    defaults = {"nlist": 64, "m": 16, "nbits": 8, "nprobe": 8}


class FaissBinary(_FaissType):
    name, kind = "faiss-binary", "binary"
    description = "faiss IndexBinaryFlat (M=0) or IndexBinaryHNSW (M>0), Hamming distance over packed bits"
    precisions = ("binary",)
    metrics = ("hamming",)
    defaults = {"M": 0, "ef_search": 64}


@hookimpl
def register_indexes(register: Register) -> None:
    for kind in (FaissHNSW(), FaissIVFPQ(), FaissBinary()):
        register(kind)
