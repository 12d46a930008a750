"""Search indexes as they are served: the contract every index plugin satisfies, and how to find them.

A registered ``IndexType`` (hook ``register_indexes``) declares what it can hold (vector precisions, metrics) and
makes ``Index`` objects from settings. An ``Index`` is built from a ``VectorSet`` with integer ids, searched top-k,
grown with ``add``, and reports its memory and disk. Scores are "higher is better": the dot product for float and
int8 vectors (unit vectors, so cosine), ``dim - 2 * hamming`` for packed binary vectors, as in
``advisor.quality.search``. Heavy libraries (faiss, usearch, psycopg) are imported by the plugins, lazily.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from advisor.errors import UserError
from advisor.quality.vectors import VectorSet


class Index(ABC):
    """One built index with fixed ``settings``. ``search`` returns (ids, scores), both (n_queries, k), best first;
    rows with fewer than k hits are padded with id -1 and score -inf."""

    settings: dict[str, Any]

    @abstractmethod
    def build(self, vectors: VectorSet, ids: np.ndarray) -> None:
        """Index ``vectors`` (one row per id) from scratch."""

    @abstractmethod
    def search(self, queries: VectorSet, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The top-``k`` ids and scores per query."""

    @abstractmethod
    def add(self, vectors: VectorSet, ids: np.ndarray) -> None:
        """Insert more vectors into the built index (what a live corpus does between rebuilds)."""

    @abstractmethod
    def memory_bytes(self) -> int:
        """Bytes the index holds in memory (vectors and graph or lists)."""

    def disk_bytes(self) -> int:
        """Bytes the index takes when saved; the memory figure when an index has no separate form on disk."""
        return self.memory_bytes()

    def info(self) -> dict[str, Any]:
        """How it runs (library and version, what was adapted); stored with the results."""
        return {}

    def close(self) -> None:
        """Release what the index holds (a database table, a server connection)."""


class IndexType(ABC):
    """A kind of index a plugin offers: its name, what it can hold, and a factory for built indexes."""

    name: str
    description: str = ""
    precisions: tuple[str, ...] = ("float32",)
    metrics: tuple[str, ...] = ("ip",)
    defaults: dict[str, Any] = {}
    exact: bool = False  # True: returns exactly advisor.quality.search's ranking (the reference)

    def available(self) -> str | None:
        """None when this index can run here, else why not (a missing package, no server)."""
        return None

    def capabilities(self) -> dict[str, Any]:
        """What the index declares it supports; an index that inspects a server can say more here."""
        return {"precisions": list(self.precisions), "metrics": list(self.metrics), "exact": self.exact}

    @abstractmethod
    def create(self, **settings: Any) -> Index:
        """A new, empty index with ``settings`` over ``defaults``."""

    def metric_for(self, precision: str) -> str:
        return "hamming" if precision == "binary" else "ip"


def index_types() -> dict[str, IndexType]:
    """Every registered index type by name."""
    from advisor.plugins import registered

    return registered("indexes")


def get_index_type(name: str) -> IndexType:
    types = index_types()
    if name not in types:
        raise UserError(f"unknown index '{name}'; available: {', '.join(sorted(types))}")
    return types[name]


def make_index(name: str, precision: str, **settings: Any) -> Index:
    """An empty index of type ``name`` for vectors at ``precision``, refused in one line when it cannot hold them."""
    kind = get_index_type(name)
    if precision not in kind.precisions:
        raise UserError(f"index '{name}' does not hold {precision} vectors; it holds {', '.join(kind.precisions)}")
    why = kind.available()
    if why is not None:
        raise UserError(f"index '{name}' is not available here: {why}")
    unknown = set(settings) - set(kind.defaults)
    if unknown:
        raise UserError(f"index '{name}' has no setting(s) {', '.join(sorted(unknown))}; "
                        f"it takes {', '.join(sorted(kind.defaults)) or 'none'}")
    return kind.create(**settings)


def pad_results(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill rows to width ``k`` with id -1 / score -inf (an index that found fewer hits than asked)."""
    ids, scores = np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float32)
    if ids.shape[1] < k:
        pad = k - ids.shape[1]
        ids = np.concatenate([ids, np.full((len(ids), pad), -1, dtype=np.int64)], axis=1)
        scores = np.concatenate([scores, np.full((len(scores), pad), -np.inf, dtype=np.float32)], axis=1)
    return ids, scores


__all__ = ["Index", "IndexType", "index_types", "get_index_type", "make_index", "pad_results"]
