"""``advisor serve`` over real HTTP: the OpenAI and TEI request shapes, health, metrics, the API key, 429 when the
queue is full, refusing over-long inputs, and draining on shutdown. The model is a real shipped one."""

from __future__ import annotations

import signal
import threading

import numpy as np
import pytest

from advisor.serving.config import decode_base64
from advisor.serving.metrics import parse

from .conftest import WORDLLAMA, require_serve_deps, running_server

require_serve_deps()
import httpx  # noqa: E402


KEY = {"ADVISOR_TEST_SERVE_KEY": "s3cret"}
AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture(scope="module")
def server():
    with running_server("--model", WORDLLAMA, "--dim", "128", "--api-key-env", "ADVISOR_TEST_SERVE_KEY",
                        env=KEY) as srv:
        yield srv


def post(server, path, body, headers=AUTH):
    return httpx.post(server.url + path, json=body, headers=headers, timeout=30)


def test_openai_embeddings_takes_a_string_or_a_list_and_counts_tokens(server):
    one = post(server, "/v1/embeddings", {"input": "hello world", "model": "m"}).json()
    many = post(server, "/v1/embeddings", {"input": ["hello world", "a longer second text here"]}).json()
    assert one["object"] == "list" and one["model"] == WORDLLAMA and len(one["data"]) == 1  # the served model
    assert [d["index"] for d in many["data"]] == [0, 1]
    assert len(many["data"][0]["embedding"]) == 128  # the server's --dim
    assert np.allclose(many["data"][0]["embedding"], one["data"][0]["embedding"], atol=1e-6)
    assert many["usage"]["prompt_tokens"] == many["usage"]["total_tokens"] > one["usage"]["total_tokens"] > 0


def test_dimensions_truncates_and_renormalizes(server):
    vec = np.array(post(server, "/v1/embeddings", {"input": "hello", "dimensions": 64}).json()["data"][0]["embedding"])
    assert vec.shape == (64,) and abs(np.linalg.norm(vec) - 1) < 1e-5


def test_base64_is_the_float32_bytes_of_the_float_answer(server):
    floats = post(server, "/v1/embeddings", {"input": "hello"}).json()["data"][0]["embedding"]
    b64 = post(server, "/v1/embeddings", {"input": "hello", "encoding_format": "base64"}).json()
    assert np.allclose(decode_base64(b64["data"][0]["embedding"]), floats)


def test_tei_embed_answers_a_list_of_vectors(server):
    vectors = post(server, "/embed", {"inputs": ["one", "two", "three"]}).json()
    assert np.array(vectors).shape == (3, 128)


def test_a_bad_request_is_a_422_with_a_message(server):
    response = post(server, "/v1/embeddings", {"input": [1, 2, 3]})
    assert response.status_code == 422 and "list of strings" in response.json()["error"]["message"]


def test_a_missing_or_wrong_api_key_is_refused(server):
    assert post(server, "/v1/embeddings", {"input": "x"}, headers={}).status_code == 401
    assert post(server, "/v1/embeddings", {"input": "x"}, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_health_says_what_is_served(server):
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "ok" and health["model"] == WORDLLAMA and health["embed_dim"] == 128


def test_metrics_are_prometheus_text_named_like_tei(server):
    post(server, "/embed", {"inputs": ["a", "b"]})
    samples = parse(httpx.get(server.url + "/metrics", headers=AUTH).text)
    for name in ("te_request_duration", "te_queue_duration", "te_tokenization_duration", "te_inference_duration",
                 "te_batch_size", "te_queue_size"):
        assert samples[f"{name}_count"] >= 1, name
    assert samples['te_request_success_total{method="embed"}'] >= 1


@pytest.fixture(scope="module")
def strict_server():
    """A queue of one whose batches wait 800 ms to fill, and over-long inputs refused at 4 tokens."""
    with running_server("--model", WORDLLAMA, "--max-queue", "1", "--max-wait-ms", "800", "--no-truncate",
                        "--max-input-tokens", "4") as srv:
        yield srv


def test_a_full_queue_answers_429_with_retry_after(strict_server):
    answers = []

    def send():
        answers.append(httpx.post(strict_server.url + "/v1/embeddings", json={"input": "hi"}, timeout=30))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    assert 200 in codes and 429 in codes
    refused = next(r for r in answers if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1


def test_an_over_long_input_is_refused_when_truncation_is_off(strict_server):
    response = httpx.post(strict_server.url + "/v1/embeddings",
                          json={"input": "one two three four five six seven eight"}, timeout=30)
    assert response.status_code == 413 and "more than the 4 allowed" in response.json()["error"]["message"]


def test_shutdown_drains_the_requests_already_queued():
    with running_server("--model", WORDLLAMA, "--max-wait-ms", "1500") as srv:
        answers = []

        def send():
            answers.append(httpx.post(srv.url + "/v1/embeddings", json={"input": "drain me"}, timeout=30))

        threads = [threading.Thread(target=send) for _ in range(3)]
        for t in threads:
            t.start()
        deadline = 0
        while deadline < 50 and "te_queue_depth 3.0" not in httpx.get(srv.url + "/metrics").text:
            threading.Event().wait(0.02)
            deadline += 1
        code = srv.stop(signal.SIGTERM)
        for t in threads:
            t.join()
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained; never -SIGKILL
