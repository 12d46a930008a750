"""The open-loop HTTP load client: Poisson arrivals at a target rate, latency from each request's scheduled send time.

A closed-loop client (send, wait, send) slows down with the server and so never sees the queue it would build:
coordinated omission. Here every request has a send time drawn before the run (exponential gaps, seeded); a
request that leaves late because the client or the connection pool was busy still counts from its scheduled
time. Each rate is bounded by a number of requests and a duration; requests still open at the end are counted
as timed out, never dropped silently.

It lives in ``advisor.cost`` (below ``advisor.serving``) because two callers share it: ``advisor loadtest``
(``advisor.serving.loadgen``) and the cost cell's load test against a real ``advisor serve`` subprocess
(``advisor.cost.served``). It is only a client: it talks HTTP and imports nothing of the server.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from advisor.cost.sustainable import SATURATION_RULE, Outcome, saturation as sustained_and_saturated
from advisor.errors import UserError

__all__ = ["SATURATION_RULE", "RateResult", "arrival_times", "drive_rates", "offered_rate", "outcome",
           "payloads_for", "saturation"]


@dataclass
class RateResult:
    target_qps: float
    sent: int
    ok: int
    rejected: int           # 429
    errors: int             # other statuses and transport errors
    timed_out: int
    duration_s: float
    achieved_qps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_send_lag_ms: float  # how late the client itself sent (a check on the generator, not the server)
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    offered_qps: float | None = None  # the rate the Poisson draw itself scheduled (it varies around the target)

    def to_dict(self, *, with_samples: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_samples:
            data.pop("latencies_ms")
        return data


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def arrival_times(rate: float, n: int, duration_s: float, seed: int) -> np.ndarray:
    """Send offsets (s) of a Poisson process at ``rate``: at most ``n``, all within ``duration_s``."""
    gaps = np.random.default_rng(seed).exponential(1.0 / rate, size=n)
    times = np.cumsum(gaps) - gaps[0]  # the first request goes at once
    return times[times < duration_s]


async def _one_rate(client: Any, url: str, payloads: Sequence[dict[str, Any]], rate: float, n: int,
                    duration_s: float, timeout_s: float, seed: int) -> RateResult:
    times = arrival_times(rate, n, duration_s, seed)
    latencies: list[float] = []
    lags: list[float] = []
    counts = {"ok": 0, "rejected": 0, "errors": 0, "timed_out": 0}
    finished: list[float] = []
    start = time.perf_counter() + 0.05

    async def fire(i: int, at: float) -> None:
        scheduled = start + at
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, time.perf_counter() - scheduled))
        try:
            response = await client.post(url, json=payloads[i % len(payloads)], timeout=timeout_s)
        except Exception as exc:  # transport errors and timeouts are results, not crashes
            import httpx

            counts["timed_out" if isinstance(exc, httpx.TimeoutException) else "errors"] += 1
            return
        done = time.perf_counter()
        if response.status_code == 200:
            counts["ok"] += 1
            latencies.append((done - scheduled) * 1000.0)
            finished.append(done)
        elif response.status_code == 429:
            counts["rejected"] += 1
        else:
            counts["errors"] += 1

    tasks = [asyncio.ensure_future(fire(i, float(at))) for i, at in enumerate(times)]
    hard_stop = duration_s + timeout_s + 1.0
    done, pending = await asyncio.wait(tasks, timeout=hard_stop)
    for task in pending:
        task.cancel()
        counts["timed_out"] += 1
    await asyncio.gather(*pending, return_exceptions=True)
    span = (max(finished) - start) if finished else 0.0
    return RateResult(target_qps=rate, sent=len(times), **counts, duration_s=round(span, 3),
                      achieved_qps=round(counts["ok"] / span, 3) if span > 0 else 0.0,
                      p50_ms=_percentile(latencies, 50), p95_ms=_percentile(latencies, 95),
                      p99_ms=_percentile(latencies, 99), max_send_lag_ms=round(max(lags, default=0.0) * 1000, 3),
                      latencies_ms=[round(v, 3) for v in latencies], offered_qps=offered_rate(times, rate))


def offered_rate(times: np.ndarray, rate: float) -> float:
    """The rate a schedule of send offsets offers: (n - 1) gaps over the span from first to last send."""
    if len(times) < 2 or times[-1] <= 0:
        return rate
    return round(float((len(times) - 1) / times[-1]), 3)


def outcome(r: RateResult) -> Outcome:
    """What ``SATURATION_RULE`` reads of one rate's row."""
    return Outcome(r.target_qps, r.offered_qps if r.offered_qps is not None else r.target_qps, r.achieved_qps,
                   (r.rejected + r.errors + r.timed_out) / max(1, r.sent), r.p95_ms)


def saturation(rates: list[RateResult]) -> tuple[float | None, float | None]:
    """(highest sustained target rate, first target rate not sustained), by ``SATURATION_RULE`` (the cost cell's
    sweep judges its runs by the same rule: ``advisor.cost.sustainable``)."""
    return sustained_and_saturated([outcome(r) for r in rates])


def payloads_for(endpoint: str, texts: Sequence[str], model: str | None) -> tuple[str, list[dict[str, Any]]]:
    if endpoint == "openai":
        return "/v1/embeddings", [{"input": t, **({"model": model} if model else {})} for t in texts]
    if endpoint == "tei":
        return "/embed", [{"inputs": t} for t in texts]
    raise UserError(f"endpoint must be openai or tei, not '{endpoint}'")




def drive_rates(base_url: str, path: str, payloads: Sequence[dict[str, Any]], rates: Sequence[float], *,
                requests: int, duration_s: float, timeout_s: float = 10.0, headers: Mapping[str, str] | None = None,
                max_connections: int = 256, seed: int = 0, warmup: int = 5) -> list[RateResult]:
    """POST ``payloads`` (cycled) to ``base_url + path`` at each rate in turn, lowest first, after ``warmup``
    untimed requests that open the connections and warm the server. A refused warm-up (401/403) or an unreachable
    server is a UserError; everything after that is a counted result."""
    import httpx

    from advisor.config.network import http_client

    async def main() -> list[RateResult]:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        # never through a proxy from the environment when the server is on this machine (its key and texts)
        async with http_client(base_url, asynchronous=True, base_url=base_url, headers=dict(headers or {}),
                               limits=limits) as client:
            for i in range(warmup):
                try:
                    response = await client.post(path, json=payloads[i % len(payloads)], timeout=timeout_s)
                except httpx.HTTPError as exc:
                    raise UserError(f"cannot reach {base_url}{path}: {exc}") from None
                if response.status_code in (401, 403):
                    raise UserError(f"{base_url}{path} refused the request ({response.status_code}): give --api-key")
            out = []
            for k, rate in enumerate(sorted(rates)):
                out.append(await _one_rate(client, path, payloads, float(rate), requests, duration_s, timeout_s,
                                           seed + k))
            return out

    return asyncio.run(main())
