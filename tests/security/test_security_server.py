"""``advisor serve`` under untrusted requests: what one request may cost is bounded before the work is done, every
malformed request is a 4xx (never a 500), a keyed server answers nothing but ``/health`` without the key, a loopback
server answers only requests addressed to this machine, and a server that would listen beyond this machine without
a key does not start. Real servers on 127.0.0.1: ``advisor serve`` in a subprocess, or the same app under uvicorn
in this process where a test counts the tokenizer's calls through a wrapper around the real encoder."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from advisor.cli import cli

from ..serve.conftest import WORDLLAMA, free_port, require_serve_deps, running_server

require_serve_deps()
import httpx  # noqa: E402

from advisor.serving.metrics import parse  # noqa: E402

KEY = {"ADVISOR_TEST_SECURITY_KEY": "s3cret"}
AUTH = {"Authorization": "Bearer s3cret"}
MB = 1_000_000


# -- the servers ---------------------------------------------------------------------------------------------------

class CountingEncoder:
    """The real encoder, with every ``count_tokens`` call recorded and ``encode`` held until ``gate`` opens."""

    def __init__(self, inner: Any, gate: threading.Event) -> None:
        self.inner, self.gate = inner, gate
        self.counted: list[list[str]] = []

    def count_tokens(self, texts):
        self.counted.append(list(texts))
        return self.inner.count_tokens(texts)

    def encode(self, texts, **kwargs):
        assert self.gate.wait(120), "the test never opened the gate"
        return self.inner.encode(texts, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextlib.contextmanager
def inprocess_server(gate: threading.Event | None = None, **config: Any) -> Iterator[tuple[str, CountingEncoder]]:
    """The served app of the real wordllama model under uvicorn on 127.0.0.1 in a thread of this process, its
    encoder wrapped to count tokenizer calls; stopped and joined whatever happens."""
    import uvicorn

    from advisor.models.backends import LoadOptions
    from advisor.models.resolve import resolve_model
    from advisor.models.serve_config import ServeConfig
    from advisor.serving.app import build_app
    from advisor.serving.server import load_served

    gate = gate if gate is not None else threading.Event()
    if not config.pop("held", False):
        gate.set()
    port = free_port()
    served = load_served(resolve_model(WORDLLAMA), LoadOptions(), config=ServeConfig(port=port, **config))
    counting = CountingEncoder(served.encoder, gate)
    served.encoder = counting
    server = uvicorn.Server(uvicorn.Config(build_app(served), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the in-process server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", counting
    finally:
        gate.set()
        server.should_exit = True
        thread.join(60)
        counting.inner.close()


@pytest.fixture(scope="module")
def server():
    """A real ``advisor serve`` with its default limits and no key."""
    with running_server("--model", WORDLLAMA) as srv:
        yield srv


@pytest.fixture(scope="module")
def keyed():
    """A real ``advisor serve`` with an API key."""
    with running_server("--model", WORDLLAMA, "--api-key-env", "ADVISOR_TEST_SECURITY_KEY", env=KEY) as srv:
        yield srv


def tokenizations(url: str, headers: dict[str, str] | None = None) -> float:
    """How many requests the server has tokenized, from its own /metrics."""
    return parse(httpx.get(url + "/metrics", headers=headers or {}).text)["te_tokenization_duration_count"]


def raw_exchange(url: str, head: bytes, body_parts: Iterator[bytes], timeout_s: float = 60) -> tuple[bytes, int]:
    """Send a request byte by byte over a plain socket, stopping as soon as the server answers (or closes); return
    (the answer's first bytes, the body bytes sent). Bounded by ``timeout_s`` per read."""
    import select

    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(head)
        for part in body_parts:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(part)
        try:
            return sock.recv(4096), sent
        except ConnectionResetError:
            return b"", sent


# -- what one request may cost -------------------------------------------------------------------------------------

def test_a_60mb_body_is_refused_before_it_is_read(server):
    before = tokenizations(server.url)
    head = (f"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {60 * MB}\r\n\r\n").encode()
    answer, sent = raw_exchange(server.url, head, iter([b'{"input": "' + b"a" * 65536]))
    # the answer came while 59.9 MB were still unsent: the server did not wait for the body
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 60 * MB and tokenizations(server.url) == before


def test_a_chunked_body_past_the_limit_is_refused_while_it_streams(server):
    head = (b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"a" * 262144

    def chunks() -> Iterator[bytes]:
        yield b'%x\r\n{"input": "\r\n' % len(b'{"input": "')
        for _ in range(60 * MB // len(piece)):  # 60 MB if nothing stops it
            yield b"%x\r\n" % len(piece) + piece + b"\r\n"
        yield b'2\r\n"}\r\n0\r\n\r\n'

    answer, sent = raw_exchange(server.url, head, chunks())
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 60 * MB


def test_200000_inputs_are_refused_before_tokenization(server):
    before = tokenizations(server.url)
    response = httpx.post(server.url + "/v1/embeddings", json={"input": ["a"] * 200_000}, timeout=60)
    assert response.status_code == 413 and "--max-inputs" in response.json()["error"]["message"]
    assert tokenizations(server.url) == before


def test_concurrent_requests_past_the_bound_are_refused_before_tokenization():
    gate = threading.Event()  # the first batch's encode waits here: every other request arrives meanwhile
    with inprocess_server(gate, held=True, max_queue=2, max_batch_requests=1) as (url, counting):
        counting.counted.clear()
        answers: list[int] = []

        def send() -> None:
            answers.append(httpx.post(url + "/v1/embeddings", json={"input": "hello there"}, timeout=120).status_code)

        threads = [threading.Thread(target=send) for _ in range(60)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30  # a bound, not a timing: the refusals need no model time at all
        while len(answers) < 57 and time.monotonic() < deadline:
            time.sleep(0.05)
        refused_while_held = answers.count(429)
        gate.set()
        for t in threads:
            t.join(120)
    # one request encoding, at most max_queue (2) more admitted: the other 57 were refused untokenized
    assert len(counting.counted) <= 3, f"{len(counting.counted)} requests were tokenized"
    assert refused_while_held >= 57 and sorted(set(answers)) == [200, 429]


def test_a_huge_input_is_cut_by_characters_before_it_is_tokenized():
    with inprocess_server() as (url, counting):
        counting.counted.clear()
        response = httpx.post(url + "/v1/embeddings", json={"input": "word " * 200_000}, timeout=120)
    assert response.status_code == 200
    from advisor.models.batcher import CHARS_PER_TOKEN

    longest = max(len(t) for call in counting.counted for t in call)
    assert longest <= 512 * CHARS_PER_TOKEN  # wordllama reads 512 tokens: 16,384 characters hold them


def test_a_huge_input_is_refused_unread_when_truncation_is_off():
    with inprocess_server(truncate=False) as (url, counting):
        counting.counted.clear()
        response = httpx.post(url + "/v1/embeddings", json={"input": "word " * 200_000}, timeout=120)
    assert response.status_code == 413 and "characters" in response.json()["error"]["message"]
    assert counting.counted == []


def test_the_limits_are_raised_by_their_options():
    with inprocess_server(max_inputs=3, max_body_bytes=200) as (url, _):
        assert httpx.post(url + "/embed", json={"inputs": ["a", "b", "c"]}).status_code == 200
        assert httpx.post(url + "/embed", json={"inputs": ["a", "b", "c", "d"]}).status_code == 413
        assert httpx.post(url + "/embed", json={"inputs": "x" * 300}).status_code == 413


# -- malformed requests are 4xx ------------------------------------------------------------------------------------

def test_deeply_nested_json_is_a_400_not_a_500(server):
    body = "[" * 100_000 + "]" * 100_000
    response = httpx.post(server.url + "/v1/embeddings", content=body,
                          headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 400 and "not JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize("value", [["query"], {"a": 1}, 3])
def test_a_non_string_prompt_name_is_a_422_not_a_500(server, value):
    response = httpx.post(server.url + "/embed", json={"inputs": "x", "prompt_name": value}, timeout=60)
    assert response.status_code == 422 and "prompt_name" in response.json()["error"]["message"]


def test_a_request_model_is_never_echoed_back(server):
    sent = "<script>alert(1)</script>"
    answer = httpx.post(server.url + "/v1/embeddings", json={"input": "x", "model": sent}, timeout=60).json()
    assert answer["model"] == WORDLLAMA and sent not in json.dumps(answer)
    assert httpx.post(server.url + "/v1/embeddings", json={"input": "x", "model": ["m"]}).status_code == 422


def test_v1_models_lists_the_served_model_in_openai_shape(server):
    answer = httpx.get(server.url + "/v1/models")
    assert answer.status_code == 200
    assert answer.json() == {"object": "list", "data": [{"id": WORDLLAMA, "object": "model", "created": 0,
                                                        "owned_by": "embedding-advisor"}]}


def test_a_text_plain_body_is_refused_as_unsupported(server):
    response = httpx.post(server.url + "/v1/embeddings", content=json.dumps({"input": "x"}),
                          headers={"Content-Type": "text/plain"}, timeout=60)
    assert response.status_code == 415 and "application/json" in response.json()["error"]["message"]


# -- who may reach it ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/metrics", "/v1/models", "/no/such/route"])
def test_a_keyed_server_answers_nothing_but_health_without_the_key(keyed, path):
    assert httpx.get(keyed.url + path).status_code == 401
    assert httpx.get(keyed.url + path, headers=AUTH).status_code in (200, 404)


def test_a_keyed_server_answers_health_without_the_key(keyed):
    assert httpx.get(keyed.url + "/health").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil"])
def test_a_rebinding_host_header_is_refused(server, host):
    response = httpx.post(server.url + "/v1/embeddings", json={"input": "x"}, headers={"Host": host}, timeout=60)
    assert response.status_code == 421


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:1234", "[::1]:8080", "{port}"])
def test_requests_addressed_to_this_machine_are_answered(server, host):
    port = server.url.rsplit(":", 1)[1]
    host = f"127.0.0.1:{port}" if host == "{port}" else host
    assert httpx.post(server.url + "/v1/embeddings", json={"input": "x"}, headers={"Host": host}).status_code == 200


def test_a_request_without_a_host_is_refused(server):
    answer, _ = raw_exchange(server.url, b"GET /health HTTP/1.0\r\n\r\n", iter(()))
    assert answer.startswith(b"HTTP/1.1 421"), answer[:200]


def test_listening_beyond_loopback_without_a_key_does_not_start():
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: nothing could listen there even if the check failed
    result = CliRunner().invoke(cli, ["serve", "--model", WORDLLAMA, "--host", "192.0.2.1", "--port",
                                      str(free_port())])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--insecure" in result.output and "--api-key-env" in result.output


def test_insecure_or_a_key_lets_a_server_listen_beyond_loopback():
    from advisor.models.serve_config import ServeConfig
    from advisor.serving.server import check_exposure

    check_exposure(ServeConfig(host="0.0.0.0", insecure=True))  # the user's explicit choice
    check_exposure(ServeConfig(host="0.0.0.0", api_key="k"))
    check_exposure(ServeConfig(host="127.0.0.1"))
