"""Built-in plugin: the exact index, ``advisor.quality.search`` behind the index contract. Every other index's
recall is measured against it."""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.hookspecs import Register, hookimpl
from advisor.index import Index, IndexType
from advisor.models.variants import VECTOR_PRECISIONS
from advisor.quality.vectors import VectorSet


class ExactIndex(Index):
    """The stored vectors as they are; search scores every document (chunked, tie-stable by row)."""

    def __init__(self, **settings: Any) -> None:
        self.settings = dict(settings)
        self._vectors: VectorSet | None = None
        self._ids = np.zeros(0, dtype=np.int64)

    def build(self, vectors: VectorSet, ids: np.ndarray) -> None:
        self._vectors, self._ids = vectors, np.asarray(ids, dtype=np.int64)

    def add(self, vectors: VectorSet, ids: np.ndarray) -> None:
        assert self._vectors is not None, "build before add"
        self._vectors = VectorSet(vectors.precision, vectors.dim, np.concatenate([self._vectors.data, vectors.data]),
                                  self._vectors.calibration)
        self._ids = np.concatenate([self._ids, np.asarray(ids, dtype=np.int64)])

    def search(self, queries: VectorSet, k: int) -> tuple[np.ndarray, np.ndarray]:
        from advisor.index import pad_results
        from advisor.quality.search import search

        assert self._vectors is not None, "build before search"
        res = search(queries, self._vectors, k)
        return pad_results(self._ids[res.indices], res.scores, k)

    def memory_bytes(self) -> int:
        return 0 if self._vectors is None else int(self._vectors.data.nbytes + self._ids.nbytes)

    def info(self) -> dict[str, Any]:
        return {"library": "advisor.quality.search", "exact": True}


class Exact(IndexType):
    name = "exact"
    description = "exact top-k over the stored vectors (advisor.quality.search): the reference"
    precisions = tuple(VECTOR_PRECISIONS)
    metrics = ("ip", "hamming")
    defaults: dict[str, Any] = {}
    exact = True

    def create(self, **settings: Any) -> Index:
        return ExactIndex(**settings)


@hookimpl
def register_indexes(register: Register) -> None:
    register(Exact())
