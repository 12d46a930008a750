"""Quality-test fixtures: the real MiniLM model through the advisor's own torch backend, embeddings of each example
task computed once per session, and an mteb encoder that hands mteb those very same vectors, so that any
difference between mteb and the advisor is the evaluators' and never the model's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def minilm_encoder():
    from advisor.models.backends import get_backend, load_encoder
    from advisor.models.resolve import resolve_model

    entry = resolve_model("all-MiniLM-L6-v2")
    encoder = load_encoder(entry, device="cpu", weight_precision="fp32")
    yield encoder
    encoder.close()


@pytest.fixture(scope="session")
def example_task() -> Callable[[str], Any]:
    """``example_task("rt-reviews-plots")``: a shipped example dataset, loaded through the task sources."""
    from advisor.datasets.tasks import load_task

    def load(name: str) -> Any:
        path = REPO / "data" / name
        if not path.exists():
            pytest.skip(f"example dataset data/{name} is not in this checkout")
        return load_task(path)
    return load


@pytest.fixture(scope="session")
def embed(minilm_encoder) -> Callable[[Any], dict[str, np.ndarray]]:
    """Full-size MiniLM embeddings per text set of a task (each distinct text encoded once per session)."""
    cache: dict[tuple[str, str], np.ndarray] = {}

    def run(task: Any) -> dict[str, np.ndarray]:
        out = {}
        for name, text_set in task.text_sets().items():
            todo = sorted({t for t in text_set.texts if (text_set.kind, t) not in cache})
            if todo:
                vecs = minilm_encoder.encode(todo, kind=text_set.kind, batch_size=64)
                cache.update({(text_set.kind, t): v for t, v in zip(todo, vecs)})
            out[name] = np.stack([cache[(text_set.kind, t)] for t in text_set.texts]).astype(np.float32)
        return out
    return run


class PrecomputedMtebEncoder:
    """An mteb encoder that returns given vectors for given texts (looked up by text and query/document kind)."""

    def __init__(self, query_vectors: dict[str, np.ndarray], document_vectors: dict[str, np.ndarray]) -> None:
        from mteb.models.model_meta import ModelMeta

        self.maps = {"query": query_vectors, "document": document_vectors}
        self.mteb_model_meta = ModelMeta.create_empty({"name": "advisor/precomputed", "revision": "test",
                                                       "similarity_fn_name": "cosine"})
        self.calls = 0

    def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str, prompt_type: Any = None,
               **kwargs: Any) -> np.ndarray:
        kind = getattr(prompt_type, "value", prompt_type) or "query"
        table = self.maps.get(kind) or self.maps["query"]
        texts = [t for batch in inputs for t in batch["text"]]
        self.calls += 1
        return np.stack([table[t] for t in texts])

    def similarity(self, a: Any, b: Any) -> Any:
        import torch
        a, b = torch.as_tensor(np.asarray(a)), torch.as_tensor(np.asarray(b))
        return torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T

    def similarity_pairwise(self, a: Any, b: Any) -> Any:
        import torch
        a, b = torch.as_tensor(np.asarray(a)), torch.as_tensor(np.asarray(b))
        return (torch.nn.functional.normalize(a, dim=-1) * torch.nn.functional.normalize(b, dim=-1)).sum(-1)


@pytest.fixture(scope="session")
def mteb_encoder_for() -> Callable[..., PrecomputedMtebEncoder]:
    """``mteb_encoder_for(task, vectors)``: vectors per text set (already in the variant's form) -> mteb encoder."""

    def make(task: Any, vectors: dict[str, np.ndarray]) -> PrecomputedMtebEncoder:
        query, document = {}, {}
        for name, text_set in task.text_sets().items():
            table = query if text_set.kind == "query" else document
            table.update(zip(text_set.texts, vectors[name]))
        if not document:
            document = query
        return PrecomputedMtebEncoder(query, document)
    return make
