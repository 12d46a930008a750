"""Latency under concurrent load: many clients send single queries at a target rate into a server-side dynamic
batcher (max batch size, max wait), as a serving stack such as Triton or TEI does.

The load is open-loop: arrival times are drawn up front (Poisson at the target rate) and each request's latency
counts from its *scheduled* send time, so a server that falls behind shows it in the percentiles instead of
slowing the clients down (no coordinated omission). "Without batching" is the same server with max batch size 1.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from advisor.cost.latency import LatencyStats

EncodeBatch = Callable[[list[str]], np.ndarray]


class DynamicBatcher:
    """One server thread: takes the first waiting request, keeps collecting until ``max_batch_size`` requests or
    ``max_wait_ms`` after that first one, encodes them in one call and hands each client its own row."""

    def __init__(self, encode_batch: EncodeBatch, *, max_batch_size: int = 32, max_wait_ms: float = 2.0,
                 encode_one: Callable[[str], np.ndarray] | None = None) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        self.encode_batch, self.encode_one = encode_batch, encode_one
        self.max_batch_size, self.max_wait_s = max_batch_size, max(0.0, max_wait_ms) / 1000.0
        self.batch_sizes: list[int] = []
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="advisor-batcher", daemon=True)
        self._closed = False

    def __enter__(self) -> "DynamicBatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def submit(self, text: str) -> Future:
        if self._closed:
            raise RuntimeError("batcher is closed")
        fut: Future = Future()
        self._queue.put((text, fut))
        return fut

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            if self._thread.is_alive():
                self._thread.join()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.perf_counter() + self.max_wait_s
            stop = False
            while len(batch) < self.max_batch_size:
                left = deadline - time.perf_counter()
                try:
                    item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._run(batch)
            if stop:
                return

    def _run(self, batch: list[tuple[str, Future]]) -> None:
        texts = [t for t, _ in batch]
        self.batch_sizes.append(len(batch))
        try:
            if len(texts) == 1 and self.encode_one is not None:
                rows = np.asarray(self.encode_one(texts[0]))[None, :]
            else:
                rows = np.asarray(self.encode_batch(texts))
        except BaseException as exc:  # every waiting client learns of the failure
            for _, fut in batch:
                fut.set_exception(exc)
            return
        for i, (_, fut) in enumerate(batch):
            fut.set_result(rows[i])


@dataclass
class LoadResult:
    target_qps: float
    achieved_qps: float
    latency: LatencyStats
    requests: int
    clients: int
    max_batch_size: int
    max_wait_ms: float
    mean_batch_size: float
    vectors: list[np.ndarray] = field(default_factory=list, repr=False)

    def figures(self, prefix: str) -> dict[str, float]:
        out = {f"{prefix}_qps": round(self.achieved_qps, 3), f"{prefix}_mean_batch": round(self.mean_batch_size, 3)}
        out.update(self.latency.figures(prefix))
        return out


def run_load(encode_batch: EncodeBatch, queries: Sequence[str], *, rate_qps: float, requests: int = 200,
             clients: int = 16, max_batch_size: int = 32, max_wait_ms: float = 2.0, seed: int = 0,
             encode_one: Callable[[str], np.ndarray] | None = None) -> LoadResult:
    """Send ``requests`` single queries from ``clients`` threads at ``rate_qps`` (Poisson arrivals) through a
    DynamicBatcher and time each from its scheduled send to its answer. ``vectors[i]`` answers request i
    (``queries[i % len(queries)]``)."""
    if not queries or requests < 1 or rate_qps <= 0:
        raise ValueError("run_load needs queries, requests >= 1 and rate_qps > 0")
    rng = np.random.default_rng(seed)
    offsets = np.cumsum(rng.exponential(1.0 / rate_qps, size=requests))
    offsets -= offsets[0]
    latency = np.zeros(requests)
    done_at = np.zeros(requests)
    vectors: list[Any] = [None] * requests
    errors: list[BaseException] = []
    with DynamicBatcher(encode_batch, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
                        encode_one=encode_one) as batcher:
        start = time.perf_counter() + 0.01

        def client(c: int) -> None:
            for i in range(c, requests, clients):
                scheduled = start + offsets[i]
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                try:
                    vectors[i] = batcher.submit(queries[i % len(queries)]).result()
                except BaseException as exc:  # noqa: BLE001 - reported after the run
                    errors.append(exc)
                    return
                done_at[i] = time.perf_counter()
                latency[i] = (done_at[i] - scheduled) * 1000.0

        threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(min(clients, requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sizes = list(batcher.batch_sizes)
    if errors:
        raise errors[0]
    span = float(done_at.max() - start)
    return LoadResult(target_qps=float(rate_qps), achieved_qps=requests / span if span > 0 else float("inf"),
                      latency=LatencyStats.from_samples(latency), requests=requests, clients=min(clients, requests),
                      max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
                      mean_batch_size=float(np.mean(sizes)) if sizes else 0.0, vectors=vectors)
