"""What the server answers is what the model computes: served vectors equal ``load_encoder``'s, and a report's
recommended variant is the one served."""

from __future__ import annotations

import json

import numpy as np

from advisor.models.backends import load_encoder
from advisor.models.resolve import resolve_model
from advisor.quality.vectors import truncate_normalize

from .conftest import WORDLLAMA, require_serve_deps, running_server

require_serve_deps()
import httpx  # noqa: E402


TEXTS = ["how do I reset my password", "Embedding models map text to vectors.", "a third, different sentence"]


def test_served_minilm_vectors_equal_load_encoders():
    entry = resolve_model("all-MiniLM-L6-v2")
    encoder = load_encoder(entry, device="cpu")
    try:
        expected = truncate_normalize(encoder.encode(TEXTS, kind="query"))
    finally:
        encoder.close()
    with running_server("--model", "all-MiniLM-L6-v2") as srv:
        data = httpx.post(srv.url + "/v1/embeddings", json={"input": TEXTS}, timeout=60).json()["data"]
    served = np.array([d["embedding"] for d in data], dtype=np.float32)
    cosines = np.sum(truncate_normalize(served) * expected, axis=1)
    assert cosines.min() >= 0.9999


def test_serve_report_serves_the_recommended_variant(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"recommended": {
        "model": WORDLLAMA, "label": f"{WORDLLAMA} [cpu fp32, 64, float16 vectors]",
        "variant": {"device": "cpu", "weight_precision": "fp32", "dim": 64, "vector_precision": "float16",
                    "runtime": None}}}))
    with running_server("--report", str(report)) as srv:
        health = httpx.get(srv.url + "/health").json()
        vec = httpx.post(srv.url + "/embed", json={"inputs": "hello"}).json()[0]
    assert health["embed_dim"] == 64 and health["vector_precision"] == "float16"
    assert len(vec) == 64 and np.array_equal(np.float16(vec).astype(np.float32), np.float32(vec))
