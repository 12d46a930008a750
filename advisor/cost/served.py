"""The cost cell's load test against a real ``advisor serve`` subprocess (policy ``costs: {load_server: subprocess}``).

The in-process load test (``advisor.cost.inprocess_load``) drives the server's own batcher around the model this
process has loaded; this times the whole server a user would deploy: the same catalog entry and ``LoadOptions``,
served with the same ``ServeConfig`` on 127.0.0.1 at a free port (HTTP and JSON around the same batcher), driven by
the same open-loop client as ``advisor loadtest`` (``advisor.cost.http_load``) from this process. One server answers
the whole sustainable-rate sweep and its points (``advisor.cost.sustainable``). The server is a subprocess, not an
import (``advisor.serving`` sits above ``advisor.cost``): ``python -P -m advisor.serving SPEC`` with a ``ServeSpec``
file, no command line in between. It is always stopped and reaped, on errors and Ctrl-C too.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from advisor.config.network import http_client
from advisor.cost.http_load import drive_rates
from advisor.cost.latency import LatencyStats
from advisor.cost.sustainable import Drive, LoadRun
from advisor.figures import MAX_SEND_LAG_MS
from advisor.formatting import duration
from advisor.models.serve_config import ServeConfig, ServeSpec

if TYPE_CHECKING:
    from advisor.models.backends import LoadOptions
    from advisor.models.catalog import ModelEntry

SOURCE = "advisor serve subprocess"
IN_PROCESS = "in process (advisor serve's batcher, no HTTP)"
SERVE_MODULE = "advisor.serving"  # ``python -P -m advisor.serving SPEC.json``: serves a ServeSpec
RUN_WARMUP = 2  # untimed requests before each served run (its client's connections are new)
# Before the one batcher, the in-process load test ran a thread-based simulation with a batcher of its own
RETIRED_SIMULATION = "in-process simulation (advisor.cost.batcher)"
# How load figures are taken now (``load_test.method``): the sustainable-rate sweep and runs at fractions of its rate.
# Before it, one run at 1.5x the batch-1 capacity: a saturation probe, past saturation for most served models.
SWEEP_METHOD = "sustainable-rate sweep (advisor.cost.sustainable)"


def retired_load_test(load_test: dict[str, Any]) -> bool:
    """Whether a stored cell's load figures (its ``load_test`` details) came from a retired load test: the
    thread-based simulation (a batcher advisor serve never ran; stamped with its source, or stored before load tests
    were stamped at all), or the single run at 1.5x the batch-1 capacity (a saturation probe: no ``method``)."""
    source = load_test.get("source")
    return source is None or source == RETIRED_SIMULATION or load_test.get("method") != SWEEP_METHOD


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
def serve_subprocess(entry: "ModelEntry", load: "LoadOptions", config: ServeConfig, *, threads: int | None = None,
                     ready_s: float = 300.0) -> Iterator[ServedProcess]:
    """Serve ``entry`` loaded with ``load``, batching by ``config``, in a fresh interpreter on 127.0.0.1 at a free
    port (whatever ``config`` says about host and port), wait until GET /health answers 200, yield it; stop it
    whatever happens."""
    import httpx

    config = replace(config, host="127.0.0.1", port=free_port())
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if threads:  # the same intra-op thread count as the measuring process
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory(prefix="advisor-serve-") as tmp:
        spec_file, log = Path(tmp) / "spec.json", Path(tmp) / "serve.log"
        spec_file.write_text(ServeSpec(entry, load, config).to_json(), encoding="utf-8")
        # -P: the working directory is not put on sys.path, so a folder named like a module there cannot shadow it
        command = [sys.executable, "-P", "-m", SERVE_MODULE, str(spec_file)]
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=str(Path.cwd()))
        served = ServedProcess(proc, f"http://{config.host}:{config.port}", log, config.settings())
        try:
            deadline = time.monotonic() + ready_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"advisor serve exited {proc.returncode} before it was ready: "
                                       f"{served.log_tail()}")
                with contextlib.suppress(httpx.HTTPError), http_client(served.url) as probe:
                    if probe.get(served.url + "/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"advisor serve was not healthy within {duration(ready_s)}: "
                                       f"{served.log_tail()}")
                time.sleep(0.2)
            yield served
        finally:
            _stop(proc)


def _batch_totals(url: str) -> tuple[float, float]:
    """(texts, batches) the server has formed so far, from its /metrics ``te_batch_size`` histogram."""
    with http_client(url) as client:
        text = client.get(url + "/metrics", timeout=10).text

    def sample(name: str) -> float:
        match = re.search(rf"^{name} ([0-9.eE+-]+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    return sample("te_batch_size_sum"), sample("te_batch_size_count")


@contextlib.contextmanager
def served_driver(entry: "ModelEntry", load: "LoadOptions", config: ServeConfig, queries: Sequence[str], *,
                  clients: int = 256, threads: int | None = None, warmup: int = 5,
                  timeout_s: float = 60.0) -> Iterator[tuple[Drive, dict[str, Any]]]:
    """Serve ``entry`` with ``config`` in one subprocess for the whole sweep and yield what drives it, with the
    server's settings, pid and endpoint: each call
    sends ``requests`` single queries (``queries`` cycled) at one offered rate (Poisson, open loop, at most
    ``clients`` connections) to its ``/v1/embeddings``, latency from each scheduled send time, and reads the mean
    batch from the server's own ``/metrics``. The server is stopped and reaped when the block ends."""
    if not queries:
        raise ValueError("served_driver needs queries")
    payloads = [{"input": q} for q in queries]
    with serve_subprocess(entry, load, config, threads=threads) as served:
        with http_client(served.url, base_url=served.url) as client:  # warm the server before anything is timed
            for i in range(warmup):
                client.post("/v1/embeddings", json=payloads[i % len(payloads)], timeout=timeout_s).raise_for_status()
        server = {**served.settings, "pid": served.proc.pid, "endpoint": "POST /v1/embeddings"}

        def drive(rate: float, requests: int, seed: int) -> LoadRun:
            if requests < 1 or rate <= 0:
                raise ValueError("a served run needs requests >= 1 and a rate > 0")
            texts0, batches0 = _batch_totals(served.url)
            duration_s = 3.0 * requests / rate + 1.0  # the request count bounds the run, not the clock
            # ``warmup`` untimed requests, one after the other, open the new client's connections: each is a batch
            # of one text, taken out of the server's totals below
            (result,) = drive_rates(served.url, "/v1/embeddings", payloads, [rate], requests=requests,
                                    duration_s=duration_s, timeout_s=timeout_s, max_connections=clients, seed=seed,
                                    warmup=RUN_WARMUP)
            texts1, batches1 = _batch_totals(served.url)
            texts1, batches1 = texts1 - RUN_WARMUP, batches1 - RUN_WARMUP
            mean_batch = (texts1 - texts0) / (batches1 - batches0) if batches1 > batches0 else 0.0
            latency = LatencyStats.from_samples(result.latencies_ms) if result.latencies_ms else None
            return LoadRun(rate, result.offered_qps or rate, result.achieved_qps, result.sent, result.ok,
                           result.rejected, result.errors + result.timed_out, latency, mean_batch,
                           {"errors": result.errors, "timed_out": result.timed_out,
                            MAX_SEND_LAG_MS: result.max_send_lag_ms})

        yield drive, server
