"""The ``gemini`` backend is a real client of the Gemini API and Vertex AI embedding endpoints: against a local
server that speaks their request and response formats, backed by the real shipped MiniLM, it returns MiniLM's own
vectors, sends the task type and output dimensionality per side, retries a 429, turns a timeout into one line,
and stays off the network unless allowed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from advisor.errors import ConfigError, UserError
from advisor.models.backends import load_encoder
from advisor.models.resolve import resolve_model

pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[serve]')")

from .hosted_server import local_api  # noqa: E402

QUERIES = ["how do I reset my password", "cheap flights to lisbon"]
DOCS = ["Open settings and choose 'forgot password' to get a reset link.", "Lisbon is the capital of Portugal.",
        "A recipe for lemon cake."]
GEMINI = r"/v1beta/models/(?P<m>[^/:]+):batchEmbedContents"
VERTEX = r"/v1/projects/proj-1/locations/europe-west4/publishers/google/models/(?P<m>[^/:]+):predict"


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


def _truncated(model, texts: list[str], dim: int | None) -> list[list[float]]:
    """What Google's endpoints do with outputDimensionality: the first ``dim`` values of the full vector."""
    vectors = model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    return vectors[:, :dim].tolist() if dim else vectors.tolist()


@pytest.fixture()
def google(minilm):
    """A local Gemini + Vertex server; ``state['fail_first']`` 429s to answer first, ``state['delay_s']`` to wait."""
    state = {"fail_first": 0, "delay_s": 0.0}

    def hold_back():
        time.sleep(state["delay_s"])
        if state["fail_first"] > 0:
            state["fail_first"] -= 1
            return 429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, {"retry-after": "0"}
        return None

    def gemini(body, headers):
        refused = hold_back()
        if refused:
            return refused
        reqs = body["requests"]
        texts = [r["content"]["parts"][0]["text"] for r in reqs]
        vectors = _truncated(minilm, texts, reqs[0].get("outputDimensionality"))
        return 200, {"embeddings": [{"values": v} for v in vectors]}, {}

    def vertex(body, headers):
        refused = hold_back()
        if refused:
            return refused
        texts = [i["content"] for i in body["instances"]]
        vectors = _truncated(minilm, texts, (body.get("parameters") or {}).get("outputDimensionality"))
        counts = [len(minilm.tokenizer(t)["input_ids"]) for t in texts]
        return 200, {"predictions": [{"embeddings": {"values": v, "statistics": {"token_count": c,
                                                                                  "truncated": False}}}
                                     for v, c in zip(vectors, counts)]}, {}

    with local_api([(GEMINI, gemini), (VERTEX, vertex)]) as api:
        api.state = state
        yield api


def _catalog(tmp_path: Path, embed_dim: int = 384, **options) -> Path:
    opts = "".join(f"\n      {k}: {v}" for k, v in {"model": "gemini-embedding-001", **options}.items())
    path = tmp_path / "google.yaml"
    path.write_text(f"""models:
  - name: gemini-test
    source: builtin:gemini
    backend: gemini
    license: LicenseRef-Google-Terms
    languages: [eng-Latn]
    embed_dim: {embed_dim}
    price_per_million_tokens: 0.15
    options:{opts}
""", encoding="utf-8")
    return path


def _encode(tmp_path, texts, kind, **options):
    encoder = load_encoder(resolve_model("gemini-test", [_catalog(tmp_path, **options)]))
    try:
        return encoder.encode(texts, kind=kind, batch_size=2), encoder
    finally:
        encoder.close()


def _cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def test_gemini_api_returns_minilms_vectors_and_sends_the_query_task_type(tmp_path, google, minilm, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "key-123")
    got, encoder = _encode(tmp_path, QUERIES, "query", base_url=google.url)
    assert _cosines(got, minilm.encode(QUERIES)).min() >= 0.9999
    sent = [r for req in google.requests for r in req["body"]["requests"]]
    assert {r["taskType"] for r in sent} == {"RETRIEVAL_QUERY"}
    assert {r["outputDimensionality"] for r in sent} == {384}
    assert {r["model"] for r in sent} == {"models/gemini-embedding-001"}
    assert {req["headers"]["x-goog-api-key"] for req in google.requests} == {"key-123"}
    assert len(google.requests) == 1 and encoder.info["network"] is False
    assert encoder.info["usage_tokens"] == sum((len(t) + 3) // 4 for t in QUERIES)  # the stated estimate
    assert encoder.info["usage_tokens_source"].startswith("estimate")


def test_documents_get_their_own_task_type_and_the_entry_can_override_it(tmp_path, google, minilm):
    _encode(tmp_path, DOCS, "document", base_url=google.url)
    _encode(tmp_path, DOCS[:1], "document", base_url=google.url, document_task_type="SEMANTIC_SIMILARITY")
    task_types = [[r["taskType"] for r in req["body"]["requests"]] for req in google.requests]
    assert task_types == [["RETRIEVAL_DOCUMENT"] * 2, ["RETRIEVAL_DOCUMENT"], ["SEMANTIC_SIMILARITY"]]


def test_output_dimensionality_reaches_the_server_and_shapes_the_vectors(tmp_path, google, minilm):
    got, _ = _encode(tmp_path, DOCS, "document", base_url=google.url, embed_dim=128)
    assert got.shape == (3, 128)
    assert {r["outputDimensionality"] for req in google.requests for r in req["body"]["requests"]} == {128}
    assert _cosines(got, minilm.encode(DOCS)[:, :128]).min() >= 0.9999


def test_vertex_ai_predict_with_a_bearer_token_and_the_servers_token_counts(tmp_path, google, minilm,
                                                                            monkeypatch):
    monkeypatch.setenv("MY_VERTEX_TOKEN", "ya29.token")
    got, encoder = _encode(tmp_path, DOCS, "document", base_url=google.url, api="vertex", project="proj-1",
                           location="europe-west4", api_key_env="MY_VERTEX_TOKEN", max_batch=2)
    assert _cosines(got, minilm.encode(DOCS)).min() >= 0.9999
    assert [len(req["body"]["instances"]) for req in google.requests] == [2, 1]
    assert {i["task_type"] for req in google.requests for i in req["body"]["instances"]} == {"RETRIEVAL_DOCUMENT"}
    assert {req["body"]["parameters"]["outputDimensionality"] for req in google.requests} == {384}
    assert {req["headers"]["authorization"] for req in google.requests} == {"Bearer ya29.token"}
    assert encoder.info["usage_tokens"] == sum(len(minilm.tokenizer(t)["input_ids"]) for t in DOCS)


def test_a_429_is_retried_and_then_succeeds(tmp_path, google, minilm):
    google.state["fail_first"] = 1
    got, encoder = _encode(tmp_path, QUERIES, "query", base_url=google.url)
    assert encoder.retries == 1 and len(google.requests) == 2
    assert _cosines(got, minilm.encode(QUERIES)).min() >= 0.9999


def test_a_timeout_is_a_one_line_error(tmp_path, google):
    google.state["delay_s"] = 1.5
    with pytest.raises(UserError) as err:
        _encode(tmp_path, QUERIES, "query", base_url=google.url, timeout_s=0.2, max_retries=0)
    message = str(err.value)
    assert "gemini-test" in message and "timeout" in message and "\n" not in message


def test_a_remote_host_needs_allow_network(tmp_path):
    entry = resolve_model("gemini-test", [_catalog(tmp_path)])  # the real Gemini API's URL, by default
    with pytest.raises(UserError, match="--allow-network"):
        load_encoder(entry)


@pytest.mark.parametrize("options, field", [({"api": "palm"}, "options.api"),
                                            ({"api": "vertex", "location": "us-central1"}, "options.project"),
                                            ({"query_task_type": "RETRIEVAL"}, "options.query_task_type"),
                                            ({"rpm": 0}, "options.rpm"),
                                            ({"base_url": "ftp://example.org"}, "options.base_url")])
def test_the_catalog_refuses_bad_gemini_options_in_one_line(tmp_path, options, field):
    with pytest.raises(ConfigError) as err:
        resolve_model("gemini-test", [_catalog(tmp_path, **options)])
    message = str(err.value)
    assert f"field '{field}'" in message and "google.yaml:" in message and "\n" not in message
