"""A real ``advisor serve`` in a subprocess on 127.0.0.1 at a free port, always terminated and waited for."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]

SERVE_DEPS = ("starlette", "uvicorn", "prometheus_client", "httpx")


def require_serve_deps() -> None:
    """Skip the calling test module when the serve extra is not installed."""
    for module in SERVE_DEPS:
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[serve]')")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, proc: subprocess.Popen, url: str) -> None:
        self.proc, self.url = proc, url

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the server and wait for it; kill it if it does not stop in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextlib.contextmanager
def running_server(*args: str, env: dict[str, str] | None = None, ready_s: float = 90) -> Iterator[Server]:
    """Start ``advisor serve ARGS --port FREE``, wait for /health, yield; stop and reap it whatever happens."""
    import httpx

    port = free_port()
    script = Path(sys.executable).parent / "advisor"
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from advisor.cli import main; main()"]
    proc = subprocess.Popen([*command, "serve", *args, "--port", str(port)], cwd=REPO,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    server = Server(proc, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + ready_s
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"advisor serve exited {proc.returncode}: {proc.stdout.read()}")
            try:
                if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("advisor serve did not become healthy in time")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()
        if proc.stdout is not None:
            proc.stdout.close()


WORDLLAMA = "wordllama-l2-supercat-256"
