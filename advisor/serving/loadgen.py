"""Open-loop load generation: Poisson arrivals at a target rate, latency from each request's scheduled send time.

A closed-loop client (send, wait, send) slows down with the server and so never sees the queue it would build:
coordinated omission. Here every request has a send time drawn before the run (exponential gaps, seeded); a
request that leaves late because the client or the connection pool was busy still counts from its scheduled
time. Each rate is bounded by a number of requests and a duration; requests still open at the end are counted
as timed out, never dropped silently.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence
from urllib.parse import urlsplit

import numpy as np

from advisor.errors import UserError

DEFAULT_TEXTS = (
    "how do I reset my password",
    "what is the refund policy for annual plans",
    "Embedding models map text to vectors so that similar meanings land close together.",
    "best way to store vectors at int8 precision",
    "The quick brown fox jumps over the lazy dog.",
    "which languages does the model cover",
)


def require_loopback(url: str) -> str:
    """The URL, if it points at this machine; a load test is never aimed at someone else's server."""
    from advisor.models.hosted import is_loopback

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"'{url}' is not an http(s) URL")
    if not is_loopback(parts.hostname):
        raise UserError(f"loadtest only targets this machine (127.0.0.1, ::1, localhost), not {parts.hostname}")
    return url.rstrip("/")


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


@dataclass
class LoadTestResult:
    url: str
    endpoint: str
    rates: list[RateResult]
    saturation_qps: float | None  # the highest target rate the server kept up with
    saturated_at: float | None    # the first target rate it did not
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "endpoint": self.endpoint, "rates": [r.to_dict() for r in self.rates],
                "saturation_qps": self.saturation_qps, "saturated_at": self.saturated_at, "rule": self.rule}


SATURATION_RULE = ("a rate is sustained when the server achieves at least 90% of the rate its arrival schedule "
                   "offered (the Poisson draw's own rate, so a sparse draw does not count against the server), refuses "
                   "or fails under 1% of requests, and its p95 stays under 5x the p95 at the lowest rate")


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
                      latencies_ms=[round(v, 3) for v in latencies], offered_qps=_offered(times, rate))


def _offered(times: np.ndarray, rate: float) -> float:
    """The rate a schedule of send offsets offers: (n - 1) gaps over the span from first to last send."""
    if len(times) < 2 or times[-1] <= 0:
        return rate
    return round(float((len(times) - 1) / times[-1]), 3)


def saturation(rates: list[RateResult]) -> tuple[float | None, float | None]:
    """(highest sustained target rate, first target rate not sustained), by ``SATURATION_RULE``."""
    ordered = sorted(rates, key=lambda r: r.target_qps)
    base = next((r.p95_ms for r in ordered if r.p95_ms is not None), None)
    sustained = None
    for r in ordered:
        failed = (r.rejected + r.errors + r.timed_out) / max(1, r.sent)
        offered = r.offered_qps if r.offered_qps is not None else r.target_qps
        ok = (r.achieved_qps >= 0.9 * offered and failed < 0.01 and r.p95_ms is not None
              and base is not None and r.p95_ms <= 5 * max(base, 1.0))
        if not ok:
            return sustained, r.target_qps
        sustained = r.target_qps
    return sustained, None


def payloads_for(endpoint: str, texts: Sequence[str], model: str | None) -> tuple[str, list[dict[str, Any]]]:
    if endpoint == "openai":
        return "/v1/embeddings", [{"input": t, **({"model": model} if model else {})} for t in texts]
    if endpoint == "tei":
        return "/embed", [{"inputs": t} for t in texts]
    raise UserError(f"endpoint must be openai or tei, not '{endpoint}'")


def run_loadtest(url: str, rates: Sequence[float], *, requests: int = 200, duration_s: float = 10.0,
                 endpoint: str = "openai", texts: Sequence[str] = DEFAULT_TEXTS, model: str | None = None,
                 api_key: str | None = None, timeout_s: float = 10.0, max_connections: int = 256,
                 seed: int = 0, warmup: int = 5) -> LoadTestResult:
    """Drive the server at each rate in turn (lowest first); see the module docstring for the rules."""
    import httpx

    base = require_loopback(url)
    if not rates or any(r <= 0 for r in rates):
        raise UserError("give one or more target rates above 0 (requests per second)")
    if not texts:
        raise UserError("no texts to send")
    path, payloads = payloads_for(endpoint, texts, model)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def main() -> list[RateResult]:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
            for i in range(warmup):  # connections opened and the server warm before anything is timed
                try:
                    response = await client.post(path, json=payloads[i % len(payloads)], timeout=timeout_s)
                except httpx.HTTPError as exc:
                    raise UserError(f"cannot reach {base}{path}: {exc}") from None
                if response.status_code in (401, 403):
                    raise UserError(f"{base}{path} refused the request ({response.status_code}): give --api-key")
            out = []
            for k, rate in enumerate(sorted(rates)):
                out.append(await _one_rate(client, path, payloads, float(rate), requests, duration_s, timeout_s,
                                           seed + k))
            return out

    results = asyncio.run(main())
    sustained, saturated = saturation(results)
    return LoadTestResult(url=base, endpoint=endpoint, rates=results, saturation_qps=sustained,
                          saturated_at=saturated, rule=SATURATION_RULE)


def plot(result: LoadTestResult, path: Any) -> Any:
    """Latency percentiles against achieved QPS, one point per target rate (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result.rates if r.p50_ms is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for key, style in (("p50_ms", "o-"), ("p95_ms", "s-"), ("p99_ms", "^-")):
        ax.plot([r.achieved_qps for r in rows], [getattr(r, key) for r in rows], style, label=key[:3])
    if result.saturation_qps is not None:
        ax.axvline(result.saturation_qps, color="grey", ls="--", lw=1, label=f"sustained {result.saturation_qps:g}")
    ax.set_xlabel("achieved requests/s")
    ax.set_ylabel("latency from scheduled send (ms)")
    ax.set_yscale("log")
    ax.set_title(f"latency vs load: {result.url}{' (' + result.endpoint + ')'}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
