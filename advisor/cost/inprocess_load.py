"""Latency under concurrent load in this process: open-loop clients send single queries at a target rate into
``advisor serve``'s own dynamic batcher (``advisor.models.batcher.DynamicBatcher``: the same admission and token
counting, token budget, max wait, queue bound and model thread), around the model this process has loaded.

It differs from the served load test (``advisor.cost.served``) only by what a real server adds around the batcher:
HTTP, JSON and a client in another process. The load is open-loop: arrival times are drawn up front (Poisson at
the target rate) and each request's latency counts from its *scheduled* send time, so a batcher that falls behind
shows it in the percentiles instead of slowing the clients down (no coordinated omission). ``inprocess_driver``
hands the sustainable-rate sweep (``advisor.cost.sustainable``) one such run per offered rate.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from advisor.cost.http_load import offered_rate
from advisor.cost.latency import LatencyStats
from advisor.cost.sustainable import Drive, LoadRun
from advisor.models.batcher import DynamicBatcher, Job, QueueFull, qualified_name
from advisor.models.serve_config import ServeConfig

if TYPE_CHECKING:
    from advisor.models.backends import Encoder


@dataclass
class LoadResult:
    target_qps: float
    achieved_qps: float
    latency: LatencyStats
    requests: int
    ok: int
    rejected: int            # refused at the queue bound (a server's 429): counted, not timed
    clients: int
    config: ServeConfig
    mean_batch_size: float
    batcher: str             # the batcher class that ran (module.Class): advisor serve's own
    vectors: list[Any] = field(default_factory=list, repr=False)
    offered_qps: float | None = None  # the rate the Poisson draw itself scheduled (it varies around the target)

    def run(self) -> LoadRun:
        """As the sweep reads a run."""
        return LoadRun(self.target_qps, self.offered_qps or self.target_qps, self.achieved_qps, self.requests,
                       self.ok, self.rejected, 0, self.latency, self.mean_batch_size, {"batcher_class": self.batcher})


def inprocess_driver(encoder: "Encoder", queries: Sequence[str], *, config: ServeConfig, clients: int = 256,
                     max_tokens: int | None = None) -> Drive:
    """One in-process run per call (a fresh batcher each, after its warm-up): what the sweep drives."""
    def drive(rate: float, requests: int, seed: int) -> LoadRun:
        return run_load(encoder, queries, config=config, rate_qps=rate, requests=requests, clients=clients,
                        max_tokens=max_tokens, seed=seed).run()
    return drive


def run_load(encoder: "Encoder", queries: Sequence[str], *, config: ServeConfig, rate_qps: float,
             requests: int = 200, clients: int = 256, max_tokens: int | None = None, kind: str = "query",
             warmup: int = 5, seed: int = 0) -> LoadResult:
    """Send ``requests`` single queries (``queries`` cycled) at ``rate_qps`` (Poisson arrivals), at most ``clients``
    in flight (like an HTTP client's connection pool), through a ``DynamicBatcher`` of ``encoder`` set up by
    ``config``, after ``warmup`` untimed requests; time each from its scheduled send to its answer. ``max_tokens``
    is the input limit (``advisor.models.batcher.input_limit``). ``vectors[i]`` answers request i (None if it was
    refused). A model error is raised after the run."""
    if not queries or requests < 1 or rate_qps <= 0 or clients < 1:
        raise ValueError("run_load needs queries, requests >= 1, clients >= 1 and rate_qps > 0")
    rng = np.random.default_rng(seed)
    offsets = np.cumsum(rng.exponential(1.0 / rate_qps, size=requests))
    offsets -= offsets[0]
    latency = np.full(requests, np.nan)
    done_at = np.full(requests, np.nan)
    vectors: list[Any] = [None] * requests
    errors: list[BaseException] = []
    sizes: list[int] = []

    def on_batch(batch: list[Job]) -> None:
        sizes.append(sum(len(job.texts) for job in batch))

    async def main() -> tuple[float, str]:
        batcher = DynamicBatcher(encoder, config, max_tokens=max_tokens, on_batch=on_batch)
        batcher.start()
        try:
            for i in range(warmup):
                await batcher.embed([queries[i % len(queries)]], kind)
            sizes.clear()
            slots = asyncio.Semaphore(clients)
            start = time.perf_counter() + 0.01

            async def client(i: int) -> None:
                scheduled = start + offsets[i]
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                async with slots:
                    try:
                        vectors[i] = (await batcher.embed([queries[i % len(queries)]], kind))[0][0]
                    except QueueFull:
                        return
                    except Exception as exc:  # noqa: BLE001 - reported after the run
                        errors.append(exc)
                        return
                done_at[i] = time.perf_counter()
                latency[i] = (done_at[i] - scheduled) * 1000.0

            await asyncio.gather(*(client(i) for i in range(requests)))
        finally:
            await batcher.drain(config.drain_timeout_s)
        return start, qualified_name(type(batcher))

    start, batcher_name = asyncio.run(main())
    if errors:
        raise errors[0]
    answered = ~np.isnan(latency)
    ok = int(answered.sum())
    if ok == 0:
        raise RuntimeError(f"the batcher answered none of {requests} requests (all refused at its queue bound of "
                           f"{config.max_queue})")
    span = float(np.nanmax(done_at) - start)
    return LoadResult(target_qps=float(rate_qps), achieved_qps=ok / span if span > 0 else float("inf"),
                      latency=LatencyStats.from_samples(latency[answered]), requests=requests, ok=ok,
                      rejected=requests - ok, clients=min(clients, requests), config=config,
                      mean_batch_size=float(np.mean(sizes)) if sizes else 0.0, batcher=batcher_name, vectors=vectors,
                      offered_qps=offered_rate(offsets, float(rate_qps)))
