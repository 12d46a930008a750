"""The cost cell's load test against a real ``advisor serve`` subprocess (policy ``costs: {load_server: subprocess}``).

The in-process simulation (``advisor.cost.batcher``) times the model behind a thread-based batcher; this times what
a user would deploy: the same catalog entry and ``LoadOptions`` served by ``advisor serve`` on 127.0.0.1 at a free
port (HTTP, JSON, the token-budget batcher, the 429 queue), driven by the same open-loop client as ``advisor
loadtest`` (``advisor.cost.http_load``). The server is a subprocess, not an import (``advisor.serving`` sits above
``advisor.cost``), and it is always stopped and reaped, on errors and Ctrl-C too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from advisor.cost.http_load import RateResult, drive_rates
from advisor.cost.latency import LatencyStats

SOURCE = "advisor serve subprocess"
SIMULATED = "in-process simulation (advisor.cost.batcher)"
SERVE_ENTRY = "from advisor.cli import main; main()"  # the CLI's own entry point, in this interpreter
MAX_BATCH_TOKENS = 16384  # advisor serve's defaults, recorded with the figures
MAX_QUEUE = 512


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServedProcess:
    proc: subprocess.Popen
    url: str
    log: Path
    settings: dict[str, Any]

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "no output"
        return lines[-1] if lines else "no output"


def _stop(proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """SIGTERM (the server drains), then SIGKILL if it does not exit in time; always reaped."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


@contextlib.contextmanager
def serve_subprocess(spec: dict[str, Any], *, max_batch_requests: int, max_wait_ms: float, batch_size: int,
                     threads: int | None = None, ready_s: float = 300.0) -> Iterator[ServedProcess]:
    """Start ``advisor serve --load-spec`` for ``spec`` (``reload_spec``: entry + LoadOptions) on 127.0.0.1, wait
    until GET /health answers 200, yield it; stop it whatever happens."""
    import httpx

    port = free_port()
    settings = {"host": "127.0.0.1", "port": port, "max_batch_requests": max_batch_requests,
                "max_wait_ms": max_wait_ms, "max_batch_tokens": MAX_BATCH_TOKENS, "max_queue": MAX_QUEUE,
                "batch_size": batch_size}
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if threads:  # the same intra-op thread count as the measuring process
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory(prefix="advisor-serve-") as tmp:
        spec_file, log = Path(tmp) / "spec.json", Path(tmp) / "serve.log"
        spec_file.write_text(json.dumps(spec), encoding="utf-8")
        command = [sys.executable, "-c", SERVE_ENTRY, "serve", "--load-spec", str(spec_file), "--host", "127.0.0.1",
                   "--port", str(port), "--max-batch-requests", str(max_batch_requests), "--max-wait-ms",
                   str(max_wait_ms), "--max-batch-tokens", str(MAX_BATCH_TOKENS), "--max-queue", str(MAX_QUEUE),
                   "--batch-size", str(batch_size)]
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=str(Path.cwd()))
        served = ServedProcess(proc, f"http://127.0.0.1:{port}", log, settings)
        try:
            deadline = time.monotonic() + ready_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"advisor serve exited {proc.returncode} before it was ready: "
                                       f"{served.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(served.url + "/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"advisor serve was not healthy within {ready_s:.0f} s: {served.log_tail()}")
                time.sleep(0.2)
            yield served
        finally:
            _stop(proc)


def _batch_totals(url: str) -> tuple[float, float]:
    """(texts, batches) the server has formed so far, from its /metrics ``te_batch_size`` histogram."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=10).text

    def sample(name: str) -> float:
        match = re.search(rf"^{name} ([0-9.eE+-]+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    return sample("te_batch_size_sum"), sample("te_batch_size_count")


@dataclass
class ServedLoad:
    rate: RateResult
    latency: LatencyStats
    mean_batch_size: float
    server: dict[str, Any]

    def figures(self, prefix: str) -> dict[str, float]:
        """The same names as the simulation's ``LoadResult.figures``."""
        out = {f"{prefix}_qps": round(self.rate.achieved_qps, 3), f"{prefix}_mean_batch": round(self.mean_batch_size, 3)}
        out.update(self.latency.figures(prefix))
        return out


def served_load(spec: dict[str, Any], queries: Sequence[str], *, rate_qps: float, requests: int,
                max_batch_requests: int, max_wait_ms: float, batch_size: int, threads: int | None = None,
                warmup: int = 5, seed: int = 0, timeout_s: float = 60.0) -> ServedLoad:
    """Serve ``spec`` in a subprocess with this batching and send ``requests`` single queries (``queries`` cycled)
    at ``rate_qps`` (Poisson, open loop) to its ``/v1/embeddings``; latency from each scheduled send time."""
    import httpx

    if not queries or requests < 1 or rate_qps <= 0:
        raise ValueError("served_load needs queries, requests >= 1 and rate_qps > 0")
    payloads = [{"input": q} for q in queries]
    duration_s = 3.0 * requests / rate_qps + 1.0  # the request count bounds the run, not the clock
    with serve_subprocess(spec, max_batch_requests=max_batch_requests, max_wait_ms=max_wait_ms,
                          batch_size=batch_size, threads=threads) as served:
        with httpx.Client(base_url=served.url) as client:  # warm the server before anything is timed
            for i in range(warmup):
                client.post("/v1/embeddings", json=payloads[i % len(payloads)], timeout=timeout_s).raise_for_status()
        texts0, batches0 = _batch_totals(served.url)
        (result,) = drive_rates(served.url, "/v1/embeddings", payloads, [rate_qps], requests=requests,
                                duration_s=duration_s, timeout_s=timeout_s, seed=seed, warmup=0)
        texts1, batches1 = _batch_totals(served.url)
        pid = served.proc.pid
    if not result.latencies_ms:
        raise RuntimeError(f"advisor serve answered none of {result.sent} requests ({result.rejected} refused 429, "
                           f"{result.errors} failed, {result.timed_out} timed out)")
    mean_batch = (texts1 - texts0) / (batches1 - batches0) if batches1 > batches0 else 0.0
    return ServedLoad(rate=result, latency=LatencyStats.from_samples(result.latencies_ms), mean_batch_size=mean_batch,
                      server={**served.settings, "pid": pid, "endpoint": "POST /v1/embeddings"})
