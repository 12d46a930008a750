"""Traffic to a server on this machine never goes through a proxy named in the environment.

A real tiny proxy (a socket server on 127.0.0.1 that records what it receives and answers 502) is set as
HTTP_PROXY, HTTPS_PROXY and ALL_PROXY; a real ``advisor serve`` on 127.0.0.1 requires an API key. The openai
backend (the hosted client), the served load test's driver, ``advisor loadtest``'s generator and the served load
test's own server (health, metrics and warm-up requests) all reach the server directly: the proxy receives nothing,
neither the ``Authorization: Bearer`` header nor the texts."""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Iterator

import pytest

pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[serve]')")

from ..serve.conftest import WORDLLAMA, running_server  # noqa: E402

KEY_ENV, KEY = "ADVISOR_PROXY_TEST_KEY", "sk-must-not-reach-the-proxy"
TEXT = "a text that must stay on this machine"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class RecordingProxy(socketserver.ThreadingTCPServer):
    """Accepts connections on 127.0.0.1, keeps every byte it is sent, answers 502."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.received: list[bytes] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(2)
        chunks = []
        try:
            while not b"\r\n\r\n" in b"".join(chunks):
                data = self.request.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except socket.timeout:
            pass
        self.server.received.append(b"".join(chunks) or b"<connection>")
        self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    import os

    os.environ[KEY_ENV] = KEY
    try:
        with running_server("--model", WORDLLAMA, "--api-key-env", KEY_ENV, env={KEY_ENV: KEY}) as srv:
            yield srv.url
    finally:
        os.environ.pop(KEY_ENV, None)


@pytest.fixture
def proxy(monkeypatch) -> Iterator[RecordingProxy]:
    recorder = RecordingProxy()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, recorder.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield recorder
    finally:
        recorder.shutdown()
        recorder.server_close()


def _proxy_saw_nothing(proxy: RecordingProxy) -> None:
    assert proxy.received == [], f"the proxy received: {proxy.received[0][:300]!r}"


def test_the_proxy_catches_a_client_that_trusts_the_environment(proxy, server):
    """The trap works: a plain httpx client (trust_env, as httpx defaults) sends a loopback request to it."""
    import httpx

    with httpx.Client() as client:
        assert client.get(server + "/health").status_code == 502
    assert proxy.received and b"/health" in proxy.received[0]


def test_the_hosted_client_reaches_a_loopback_server_without_the_proxy(proxy, server, tmp_path, monkeypatch):
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    catalog = tmp_path / "hosted.yaml"
    catalog.write_text(f"""models:
  - name: served-wordllama
    source: builtin:openai
    backend: openai
    license: MIT
    languages: [eng-Latn]
    embed_dim: 256
    options:
      base_url: {server}/v1
      model: {WORDLLAMA}
      api_key_env: {KEY_ENV}
""", encoding="utf-8")
    monkeypatch.setenv(KEY_ENV, KEY)
    encoder = load_encoder(resolve_model("served-wordllama", [catalog]))
    try:
        assert encoder.encode([TEXT]).shape == (1, 256)
    finally:
        encoder.close()
    _proxy_saw_nothing(proxy)


def test_the_served_load_drivers_requests_bypass_the_proxy(proxy, server):
    from advisor.cost.http_load import drive_rates

    (result,) = drive_rates(server, "/v1/embeddings", [{"input": TEXT}], [20.0], requests=10, duration_s=10.0,
                            headers={"Authorization": f"Bearer {KEY}"}, warmup=2)
    assert result.ok == 10 and result.errors == 0
    _proxy_saw_nothing(proxy)


def test_the_load_generators_requests_bypass_the_proxy(proxy, server):
    from advisor.serving.loadgen import run_loadtest

    out = run_loadtest(server, [20.0], requests=10, duration_s=10.0, api_key=KEY, warmup=2)
    assert out.rates[0].ok == 10
    _proxy_saw_nothing(proxy)


def test_the_served_load_tests_own_server_is_probed_without_the_proxy(proxy):
    """serve_subprocess waits for /health and reads /metrics of the advisor serve it starts on 127.0.0.1."""
    from advisor.cost.served import _batch_totals, serve_subprocess
    from advisor.models.backends import LoadOptions
    from advisor.models.resolve import resolve_model
    from advisor.models.serve_config import ServeConfig

    with serve_subprocess(resolve_model(WORDLLAMA), LoadOptions(), ServeConfig(), ready_s=120) as served:
        assert _batch_totals(served.url) == (0.0, 0.0)
    _proxy_saw_nothing(proxy)


def test_a_host_off_this_machine_still_honours_the_proxy(proxy):
    """The bypass is for loopback only: a request to another host goes where the environment says."""
    from advisor.config.network import http_client

    with http_client("http://embeddings.example.com") as client:
        assert client.get("http://embeddings.example.com/v1/models").status_code == 502
    assert proxy.received and b"embeddings.example.com" in proxy.received[0]
