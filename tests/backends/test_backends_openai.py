"""The ``openai`` backend is a real OpenAI-compatible client: against a real ``advisor serve`` it returns the
served model's vectors, retries a 429, stays off the network unless allowed, and keeps to its per-minute limits."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from advisor.errors import UserError
from advisor.models.backends import load_encoder
from advisor.models.resolve import resolve_model
from advisor.quality.vectors import truncate_normalize

pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[serve]')")

from ..serve.conftest import WORDLLAMA, running_server  # noqa: E402

TEXTS = ["how do I reset my password", "a second text", "and a third one"]


def _catalog(tmp_path: Path, base_url: str, **options) -> Path:
    opts = "".join(f"\n      {k}: {v}" for k, v in {"base_url": base_url, "model": WORDLLAMA, **options}.items())
    path = tmp_path / "hosted.yaml"
    path.write_text(f"""models:
  - name: served-wordllama
    source: builtin:openai
    backend: openai
    license: MIT
    languages: [eng-Latn]
    embed_dim: 256
    price_per_million_tokens: 0.02
    options:{opts}
""", encoding="utf-8")
    return path


def test_openai_backend_returns_what_advisor_serve_computes(tmp_path):
    local = load_encoder(resolve_model(WORDLLAMA))
    expected = truncate_normalize(local.encode(TEXTS, kind="query"))
    with running_server("--model", WORDLLAMA) as srv:
        entry = resolve_model("served-wordllama", [_catalog(tmp_path, srv.url + "/v1")])
        encoder = load_encoder(entry)
        try:
            got = encoder.encode(TEXTS, kind="query", batch_size=2)
        finally:
            encoder.close()
    assert entry.price_per_million_tokens == 0.02
    assert np.sum(truncate_normalize(got) * expected, axis=1).min() >= 0.9999
    assert encoder.info["usage_tokens"] > 0 and encoder.info["network"] is False


def test_a_429_is_retried_after_the_servers_retry_after(tmp_path):
    with running_server("--model", WORDLLAMA, "--max-queue", "1", "--max-wait-ms", "600") as srv:
        entry = resolve_model("served-wordllama", [_catalog(tmp_path, srv.url + "/v1")])
        encoders = [load_encoder(entry) for _ in range(3)]
        results = {}

        def run(i):
            results[i] = encoders[i].encode(["hello"], kind="query")

        threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for e in encoders:
            e.close()
    assert len(results) == 3 and all(v.shape == (1, 256) for v in results.values())
    assert sum(e.retries for e in encoders) >= 1


def test_a_remote_base_url_needs_allow_network(tmp_path):
    entry = resolve_model("served-wordllama", [_catalog(tmp_path, "https://api.openai.com/v1")])
    with pytest.raises(UserError, match="--allow-network"):
        load_encoder(entry)


def test_the_minute_limiter_holds_requests_and_tokens_per_minute():
    from advisor.models.hosted import MinuteLimiter

    limiter = MinuteLimiter(rpm=2, tpm=100)
    limiter.sent.extend([(0.0, 10), (1.0, 10)])
    assert limiter.delay(10, now=2.0) == pytest.approx(58.0)   # the third request in a minute waits for the first
    limiter = MinuteLimiter(tpm=100)
    limiter.sent.extend([(0.0, 60), (5.0, 30)])
    assert limiter.delay(5, now=10.0) == 0.0
    assert limiter.delay(50, now=10.0) == pytest.approx(50.0)  # 60 tokens must leave the window first


def test_one_loopback_rule_reads_urls_and_bare_hosts():
    """Backends pass URLs, ``advisor serve`` a bind host: the one ``is_loopback`` answers both the same way."""
    from advisor.models.hosted import is_loopback

    assert all(is_loopback(v) for v in ("http://127.0.0.1:8080/v1", "http://[::1]:9", "::1", "127.0.0.1",
                                        "localhost", "http://LOCALHOST:1"))
    assert not any(is_loopback(v) for v in ("https://api.openai.com/v1", "0.0.0.0", "10.1.2.3", "http://[2001:db8::1]/"))


def test_an_azure_deployment_is_called_at_its_path_with_an_api_key_header(tmp_path, monkeypatch):
    """Azure OpenAI's shape (shared with the chat rater: ``advisor.models.hosted.openai_route``), on a local server."""
    from .hosted_server import local_api

    monkeypatch.setenv("AZURE_TEST_KEY", "az-key")

    def embeddings(body, headers):
        rows = [{"index": i, "embedding": [float(i + 1)] * 256} for i in range(len(body["input"]))]
        return 200, {"data": rows, "usage": {"prompt_tokens": 3}}, {}

    with local_api([(r"/openai/deployments/(?P<d>[^/]+)/embeddings", embeddings)]) as api:
        entry = resolve_model("served-wordllama", [_catalog(tmp_path, api.url, azure_deployment="emb-dep",
                                                            api_version="'2024-02-01'", api_key_env="AZURE_TEST_KEY")])
        encoder = load_encoder(entry)
        try:
            got = encoder.encode(TEXTS[:2])
        finally:
            encoder.close()
    (request,) = api.requests
    assert request["path"] == "/openai/deployments/emb-dep/embeddings?api-version=2024-02-01"
    assert request["headers"]["api-key"] == "az-key" and "authorization" not in request["headers"]
    assert got[:, 0].tolist() == [1.0, 2.0]
