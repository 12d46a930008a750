"""``advisor loadtest``: open-loop load at each of several rates against a server on this machine, the saturation
point and a plot. A rate the server did not keep up with is a saturation probe, labelled so in the table, the JSON
and the plot: its percentiles are the growth of a queue, not a latency. The client itself (arrivals, timing, the
saturation rule) is ``advisor.cost.http_load``, shared with the cost cell's load test against a real ``advisor
serve``.

It is open-loop (no coordinated omission): see that module's docstring for the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import urlsplit

from advisor.cost.http_load import (SATURATION_RULE, RateResult, arrival_times, drive_rates, payloads_for,
                                    saturation)
from advisor.cost.sustainable import PROBE
from advisor.errors import UserError
from advisor.formatting import number

__all__ = ["DEFAULT_TEXTS", "PROBE", "SATURATION_RULE", "LoadTestResult", "RateResult", "arrival_times", "payloads_for",
           "plot", "require_loopback", "run_loadtest", "saturation"]

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
    from advisor.config.network import is_loopback

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"'{url}' is not an http(s) URL")
    if not is_loopback(parts.hostname):
        raise UserError(f"loadtest only targets this machine (127.0.0.1, ::1, localhost), not {parts.hostname}")
    return url.rstrip("/")


@dataclass
class LoadTestResult:
    url: str
    endpoint: str
    rates: list[RateResult]
    saturation_qps: float | None  # the highest target rate the server kept up with
    saturated_at: float | None    # the first target rate it did not
    rule: str

    def kept_up(self, r: RateResult) -> bool:
        """Whether the server kept up with ``r``'s rate: at or below the sustained rate. A rate at or past the first
        one it did not keep up with is a saturation probe: its latencies are the queue's growth, not a latency."""
        return self.saturation_qps is not None and r.target_qps <= self.saturation_qps

    def to_dict(self) -> dict[str, Any]:
        """The rows as data; a row past saturation keeps its percentiles under ``saturation_probe``, so nothing
        reads them as the server's latency."""
        rows = []
        for r in self.rates:
            row = {**r.to_dict(), "kept_up": self.kept_up(r)}
            if not row["kept_up"]:
                probe = {k: row.pop(k) for k in ("p50_ms", "p95_ms", "p99_ms")}
                row["saturation_probe"] = {**probe, "what": f"{PROBE}: not kept up with, so these are the growth of "
                                                            f"a queue over the run, not a latency"}
            rows.append(row)
        return {"url": self.url, "endpoint": self.endpoint, "rates": rows,
                "saturation_qps": self.saturation_qps, "saturated_at": self.saturated_at, "rule": self.rule}


def run_loadtest(url: str, rates: Sequence[float], *, requests: int = 200, duration_s: float = 10.0,
                 endpoint: str = "openai", texts: Sequence[str] = DEFAULT_TEXTS, model: str | None = None,
                 api_key: str | None = None, timeout_s: float = 10.0, max_connections: int = 256,
                 seed: int = 0, warmup: int = 5) -> LoadTestResult:
    """Drive the server at each rate in turn (lowest first); see ``advisor.cost.http_load`` for the rules."""
    base = require_loopback(url)
    if not rates or any(r <= 0 for r in rates):
        raise UserError("give one or more target rates above 0 (requests per second)")
    if not texts:
        raise UserError("no texts to send")
    path, payloads = payloads_for(endpoint, texts, model)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    results = drive_rates(base, path, payloads, rates, requests=requests, duration_s=duration_s,
                          timeout_s=timeout_s, headers=headers, max_connections=max_connections, seed=seed,
                          warmup=warmup)
    sustained, saturated = saturation(results)
    return LoadTestResult(url=base, endpoint=endpoint, rates=results, saturation_qps=sustained,
                          saturated_at=saturated, rule=SATURATION_RULE)


def plot(result: LoadTestResult, path: Any) -> Any:
    """Latency percentiles against achieved QPS, one point per target rate (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result.rates if r.p50_ms is not None and result.kept_up(r)]
    probes = [r for r in result.rates if r.p95_ms is not None and not result.kept_up(r)]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for key, style in (("p50_ms", "o-"), ("p95_ms", "s-"), ("p99_ms", "^-")):
        ax.plot([r.achieved_qps for r in rows], [getattr(r, key) for r in rows], style, label=key[:3])
    if probes:  # past saturation: shown apart and named, never joined to the latency curve
        ax.plot([r.achieved_qps for r in probes], [r.p95_ms for r in probes], "x", color="grey",
                label=f"p95, {PROBE} (not kept up)")
    if result.saturation_qps is not None:
        ax.axvline(result.saturation_qps, color="grey", ls="--", lw=1,
                   label=f"sustained {number(result.saturation_qps, digits=6)}")
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
