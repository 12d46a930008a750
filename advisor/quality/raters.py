"""Quality without relevance judgements: a *rater* scores each query's retrieved documents, and a candidate's
figure is the position-weighted average of those scores over its top k (``rated_score_at_k``).

Raters are plugins (``register_raters``). The built-in ones work offline: a stronger or different embedding model
run through the advisor's own backends ("judge" raters, scoring a pair by the judge's cosine similarity), and a
sentence-transformers cross-encoder when the user points ``ADVISOR_CROSS_ENCODER`` at one on disk. Ratings are
cached per (rater, query, document), so every variant of every candidate asks the rater only about pairs it has
not seen yet; a rater with a ``rating_store`` (the chat-model rater, ``advisor.quality.chat_rater``) keeps them on
disk, so a later run asks it nothing it answered before. A judge rates its own retrieval favourably: never judge a
model with itself.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from advisor.errors import UserError
from advisor.models.attention import load_with_attention

if TYPE_CHECKING:
    from advisor.datasets.tasks import Task
    from advisor.quality.rating_store import RatingStore

RATED_K = (1, 3, 5, 10)
DEFAULT_PREFERENCE = ("cross-encoder", "e5-judge", "minilm-judge")


class Rater(ABC):
    """Scores (query, document) pairs in [0, 1]; higher is more relevant."""

    name: str
    description: str = ""

    def available(self) -> str | None:
        """None when the rater can run here, else why not (a missing package or model)."""
        return None

    @abstractmethod
    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """One score in [0, 1] per pair."""

    def identity(self) -> dict[str, Any]:
        """What a rating depends on (recorded with results, part of the cache key)."""
        return {"rater": self.name}

    def rating_store(self) -> "RatingStore | None":
        """Where ratings persist across runs (None: this process only); a rater that writes it itself in
        ``score`` makes every answer it paid for survive an interruption."""
        return None

    def usage(self) -> dict[str, Any]:
        """Running counters (requests, tokens, money); ``rate_results`` records what each call added."""
        return {}


class EmbeddingJudge(Rater):
    """Cosine similarity under a judge model from the catalogs, clipped to [0, 1]."""

    def __init__(self, name: str, model: str, description: str = "") -> None:
        self.name, self.model = name, model
        self.description = description or f"cosine similarity under {model} (offline, through the backends)"
        self._encoder: Any = None
        self._vectors_cache: dict[str, dict[str, np.ndarray]] = {}

    def _entry(self) -> Any:
        from advisor.models.resolve import resolve_model

        return resolve_model(self.model)

    def available(self) -> str | None:
        try:
            from advisor.models.backends import get_backend
            from advisor.models.sources import resolve_source

            entry = self._entry()
            get_backend(entry.backend)
            resolve_source(entry.source, revision=entry.revision)
        except Exception as exc:  # any failure means: not usable here
            return f"{self.model}: {exc}"
        return None

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        if self._encoder is None:
            from advisor.models.backends import load_encoder

            self._encoder = load_encoder(self._entry())
        x = np.asarray(self._encoder.encode(texts, kind=kind), dtype=np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    def _vectors(self, texts: set[str], kind: str) -> dict[str, np.ndarray]:
        """Each distinct text is encoded once per judge: later variants only add the documents they surface."""
        cache = self._vectors_cache.setdefault(kind, {})
        todo = sorted(t for t in texts if t not in cache)
        if todo:
            cache.update(zip(todo, self._encode(todo, kind)))
        return cache

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        qv = self._vectors({q for q, _ in pairs}, "query")
        dv = self._vectors({d for _, d in pairs}, "document")
        return np.clip(np.array([float(qv[q] @ dv[d]) for q, d in pairs]), 0.0, 1.0)

    def identity(self) -> dict[str, Any]:
        return {"rater": self.name, "model": self.model}


class CrossEncoderRater(Rater):
    """A sentence-transformers CrossEncoder from a local folder (``ADVISOR_CROSS_ENCODER``); sigmoid of its logit
    unless the model already ends in an activation."""

    name = "cross-encoder"
    description = "sentence-transformers CrossEncoder from the folder named by ADVISOR_CROSS_ENCODER"

    def __init__(self) -> None:
        self._model: Any = None

    @property
    def path(self) -> str | None:
        return os.environ.get("ADVISOR_CROSS_ENCODER") or None

    def available(self) -> str | None:
        if not self.path:
            return "set ADVISOR_CROSS_ENCODER to a local cross-encoder folder to use it"
        if not os.path.isdir(self.path):
            return f"ADVISOR_CROSS_ENCODER={self.path} is not a folder"
        return None

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if self._model is None:
            reason = self.available()
            if reason:
                raise UserError(reason)
            from sentence_transformers import CrossEncoder

            from advisor.models.folder_safety import check_model_folder, model_kwargs

            check_model_folder(self.path, f"ADVISOR_CROSS_ENCODER={self.path}")  # none of its code, no pickle file
            self._model, _ = load_with_attention(lambda attn: CrossEncoder(
                self.path, local_files_only=True, trust_remote_code=False, model_kwargs=model_kwargs(attn)))
        raw = np.asarray(self._model.predict(list(pairs), show_progress_bar=False), dtype=np.float64)
        if raw.ndim == 2:  # several labels: take the last ("relevant")
            raw = raw[:, -1]
        return raw if (raw.min() >= 0 and raw.max() <= 1) else 1.0 / (1.0 + np.exp(-raw))

    def identity(self) -> dict[str, Any]:
        return {"rater": self.name, "model": self.path}


def builtin_raters() -> list[Rater]:
    from advisor.quality.chat_rater import ChatRater

    return [CrossEncoderRater(),
            EmbeddingJudge("e5-judge", "multilingual-e5-small-q4"),
            EmbeddingJudge("minilm-judge", "all-MiniLM-L6-v2"),
            ChatRater()]


def get_rater(name: str | None = None) -> Rater:
    """The rater called ``name``, or the first available one in ``DEFAULT_PREFERENCE`` order."""
    from advisor.plugins import registered

    raters = registered("raters")
    if name is not None:
        if name not in raters:
            raise UserError(f"rater '{name}' is not registered; available: {', '.join(sorted(raters)) or 'none'}")
        reason = raters[name].available()
        if reason:
            raise UserError(f"rater '{name}' cannot run here: {reason}")
        return raters[name]
    reasons = []
    for candidate in list(DEFAULT_PREFERENCE) + sorted(set(raters) - set(DEFAULT_PREFERENCE)):
        if candidate in raters:
            reason = raters[candidate].available()
            if reason is None:
                return raters[candidate]
            reasons.append(f"{candidate}: {reason}")
    raise UserError("no rater can run for this unlabeled dataset (" + "; ".join(reasons) + ")")


_CACHE: dict[str, float] = {}


def rating_key(identity: dict[str, Any], query: str, doc: str) -> str:
    blob = repr(sorted(identity.items())) + "\x00" + query + "\x00" + doc
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


_key = rating_key


def rate_pairs(rater: Rater, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, int]:
    """Scores for ``pairs``, asking the rater only about pairs not rated before; returns (scores, new ratings).
    A rater with a ``rating_store`` is looked up there (and writes its answers there), else in this process."""
    ident = rater.identity()
    keys = [rating_key(ident, q, d) for q, d in pairs]
    store = rater.rating_store()
    cache = store.get_many(keys) if store is not None else _CACHE
    todo = {k: p for k, p in zip(keys, pairs) if k not in cache}
    if todo:
        fresh = rater.score(list(todo.values()))
        if store is not None:
            cache = {**cache, **dict(zip(todo.keys(), (float(s) for s in fresh)))}
        else:
            _CACHE.update(zip(todo.keys(), (float(s) for s in fresh)))
    return np.array([cache[k] for k in keys], dtype=np.float64), len(todo)


def _weighted(ratings: np.ndarray, k: int) -> np.ndarray:
    """The position-weighted score; a pair without a rating (NaN: a malformed answer) is left out and the weights
    of the rated positions renormalised; a query with no rated pair in its top k has no score (NaN)."""
    from advisor.quality.metrics import position_weighted_score

    if not np.isnan(ratings).any():
        return position_weighted_score(ratings, k)
    r = ratings[:, :k]
    w = 1.0 / np.log2(np.arange(2, r.shape[1] + 2))
    rated = ~np.isnan(r)
    total = (w * rated).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (np.where(rated, r, 0.0) * w).sum(axis=1) / total, np.nan)


def rate_results(task: "Task", indices: np.ndarray, *, rater: Rater | None = None,
                 k_values: Sequence[int] = RATED_K) -> tuple[dict[str, float], dict[str, np.ndarray], dict[str, Any]]:
    """Rate each query's top documents and average them with DCG-like position weights per cutoff k."""
    rater = rater or get_rater()
    ks = [k for k in k_values if k <= max(RATED_K)] or list(RATED_K)
    depth = min(max(ks), indices.shape[1])
    queries, docs = list(task.data.queries.values()), list(task.data.corpus.values())
    pairs = [(queries[i], docs[j]) for i in range(len(indices)) for j in indices[i, :depth]]
    before = rater.usage()
    scores, fresh = rate_pairs(rater, pairs)
    ratings = scores.reshape(len(indices), depth)
    per_query = {f"rated_score_at_{k}": _weighted(ratings, k) for k in ks}
    metrics = {name: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
               for name, v in per_query.items()}
    details = {**rater.identity(), "depth": depth, "ratings": len(pairs), "new_ratings": fresh,
               "weighting": "1/log2(rank+1), normalised over the top k"}
    details["malformed_answers"] = malformed = int(np.isnan(scores).sum())  # counted, never guessed
    if malformed:
        details["unrated_queries"] = {name: int(np.isnan(v).sum()) for name, v in per_query.items()}
    after = rater.usage()
    if after:
        details["usage"] = {k: (round(v - before.get(k, 0), 9) if isinstance(v, float) else v - before.get(k, 0))
                            for k, v in after.items() if isinstance(v, (int, float))}
    return metrics, per_query, details
