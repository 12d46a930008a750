"""The asymmetric pair at run time: queries encoded by a small query model, documents by a big document model, the
two sides loaded through ``load_encoder`` like any model, so each side runs on its own backend.

Why one Encoder: the harness (quality, cost, sweep) then treats the pair as one candidate. Quality needs nothing
special (queries go through ``kind="query"``, documents through ``kind="document"``). Cost is what the user pays:
batch-1 latency and the load test go through the query side, bulk throughput and tokens through the document
side, the index through the document side's vectors, and serving memory in a fresh process that loads the query
side alone (``serving_entry``) and holds the document side's vectors; ``info["cost_sides"]`` says which side each
figure comes from and is stored with the cost cell.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Sequence

from advisor.figures import (BYTES_PER_VECTOR, DOCS_PER_S, GPU_PEAK_MEMORY_MB, INDEX_SIZE_MB, LOAD_TIME_S,
                             MEAN_TOKENS_PER_DOC, SERVING_INDEX_MB, SERVING_INDEX_MB_PER_M, SERVING_MEMORY_MB,
                             SERVING_RUNTIME_MB, SERVING_WEIGHTS_MB, TOKENS_PER_S)
from advisor.models.backends import Backend, BackendCapabilities, Encoder, LoadOptions, Progress, TextKind
from advisor.models.variants import WEIGHT_PRECISIONS, Variant

if TYPE_CHECKING:
    import numpy as np

    from advisor.models.catalog import ModelEntry

# Which side each cost figure is measured on (prefixes of the figure names measure_cost writes). The serving
# footprint's process loads the query model and holds the document model's vectors as its index.
COST_SIDES = {"latency": "query", "load_": "query", SERVING_MEMORY_MB: "query", SERVING_RUNTIME_MB: "query",
              SERVING_WEIGHTS_MB: "query", GPU_PEAK_MEMORY_MB: "query", SERVING_INDEX_MB: "document",
              SERVING_INDEX_MB_PER_M: "document", DOCS_PER_S: "document", TOKENS_PER_S: "document",
              MEAN_TOKENS_PER_DOC: "document", INDEX_SIZE_MB: "document", BYTES_PER_VECTOR: "document",
              "reembed_": "document", LOAD_TIME_S: "both"}


def pair_sides(entry: "ModelEntry") -> tuple["ModelEntry", "ModelEntry"]:
    """(query entry, document entry) of a pair entry (rebuilt from its options: pure data)."""
    from advisor.models.catalog import ModelEntry

    return (ModelEntry.from_dict(entry.options["query_model"]),
            ModelEntry.from_dict(entry.options["document_model"]))


def sides_to_add(entries: Sequence["ModelEntry"]) -> list["ModelEntry"]:
    """The sides of the pairs among ``entries`` that are not themselves among them, each once, in order. The
    planner adds them (and the ranking knows their metadata) so the report compares every pair with each of its
    sides alone on the same tasks, variants and machine; a side the policy rejects is screened out as any model."""
    from advisor.models.catalog import PAIR_BACKEND

    names = {e.name for e in entries}
    out: list["ModelEntry"] = []
    for entry in entries:
        if entry.backend != PAIR_BACKEND:
            continue
        for side in pair_sides(entry):
            if side.name not in names:
                names.add(side.name)
                out.append(side)
    return out


def side_variant(pair_variant: Variant, side: "ModelEntry") -> Variant:
    """The variant a side runs at inside a pair of ``pair_variant`` (a side that ships fixed weights keeps them),
    so the pair is compared with each side alone at the variant the pair ran it."""
    return replace(pair_variant, weight_precision=side.weight_precision or pair_variant.weight_precision)


def _side_options(options: LoadOptions, side: "ModelEntry") -> LoadOptions:
    """The pair's options for one side: a side that ships fixed weights keeps them."""
    return replace(options, weight_precision=side.weight_precision or options.weight_precision)


class PairEncoder(Encoder):
    """Routes ``kind="query"`` to the query encoder and everything else to the document encoder."""

    def __init__(self, query: Encoder, document: Encoder, query_entry: "ModelEntry",
                 document_entry: "ModelEntry", options: LoadOptions) -> None:
        self.query, self.document = query, document
        self.embed_dim = document.embed_dim
        # what a fresh process loads to measure serving memory: the query model only
        self.serving_entry, self.serving_options = query_entry, _side_options(options, query_entry)
        self.info = {"pair": {"query_model": query_entry.name, "document_model": document_entry.name},
                     "query_side": dict(getattr(query, "info", {}) or {}),
                     "document_side": dict(getattr(document, "info", {}) or {}),
                     "cost_sides": {**{k: (query_entry.name if v == "query" else document_entry.name
                                           if v == "document" else "both models") for k, v in COST_SIDES.items()}}}

    def _side(self, kind: TextKind) -> Encoder:
        return self.query if kind == "query" else self.document

    def encode(self, texts: Sequence[str], *, kind: TextKind = "document", batch_size: int = 32,
               progress: Progress | None = None) -> "np.ndarray":
        return self._side(kind).encode(texts, kind=kind, batch_size=batch_size, progress=progress)

    def encode_one(self, text: str, *, kind: TextKind = "query") -> "np.ndarray":
        return self._side(kind).encode_one(text, kind=kind)

    def warmup(self, texts: Sequence[str] = ("warm up",)) -> None:
        self.query.warmup(texts)
        self.document.warmup(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        return self.document.count_tokens(texts)  # tokens/s is a bulk figure: the document side's

    def close(self) -> None:
        for side in (self.query, self.document):
            side.close()


class PairBackend(Backend):
    """Backend ``pair``: loads both sides with their own backends; a variant runs only where both sides can."""

    name = "pair"
    description = "an asymmetric pair: a small query model beside a big document model (catalog pair entries)"
    capabilities = BackendCapabilities(
        devices=("cpu", "cuda"),
        weight_precisions={"cpu": WEIGHT_PRECISIONS, "cuda": WEIGHT_PRECISIONS},
        can_truncate=True, notes="each side keeps its own backend; a variant needs both sides to support it")

    def unsupported_reason(self, entry: "ModelEntry", variant: Variant) -> str | None:
        from advisor.models.backends import get_backend

        for label, side in zip(("query", "document"), pair_sides(entry)):
            side_variant = replace(variant, weight_precision=side.weight_precision or variant.weight_precision)
            reason = get_backend(side.backend).unsupported_reason(side, side_variant)
            if reason:
                return f"{label} model {side.name}: {reason}"
        return None

    def load(self, entry: "ModelEntry", options: LoadOptions) -> Encoder:
        from advisor.models.backends import load_encoder

        query_entry, document_entry = pair_sides(entry)
        query = load_encoder(query_entry, _side_options(options, query_entry))
        try:
            document = load_encoder(document_entry, _side_options(options, document_entry))
        except BaseException:
            query.close()
            raise
        return PairEncoder(query, document, query_entry, document_entry, options)
