"""Latency under load at a rate the server can sustain: an open-loop sweep of offered rates finds the highest rate
it keeps up with, then runs at fixed fractions of that rate give the load latencies.

Past saturation a latency measures the queue, not the server: the queue grows for as long as the run lasts, so its
p95 says how long the run was. So no load latency is taken at a rate the server did not keep up with:

1. **Sweep.** Offered rates in geometric steps (x ``step``) from ``start_fraction`` of the batch-1 capacity
   (1000 / p50 ms), each one bounded open-loop run, until a rate is not kept up with (``SATURATION_RULE``); then
   ``refine`` geometric midpoints between the last rate kept up with and the first one not. When even the first
   rate is not kept up with, it steps down (to the rate that run answered, when that is lower). No run starts after
   ``budget_s`` or past ``max_runs``: the rate found is then a lower bound (no saturated rate is reported).
2. **Points.** One run at each of ``fractions`` (50% and 80%) of the sustainable rate, and one at each rate a policy
   names (``limits.max_p95_latency_ms_at_load``). Each is judged by the same rule; one that was not kept up with is
   a saturation probe: kept in the details under that name, never a latency figure.

The driver (one run at one rate) is given by the caller: advisor serve's batcher in this process
(``advisor.cost.inprocess_load``) or a real advisor serve over HTTP (``advisor.cost.served``), so both sweep alike.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Sequence

from advisor.cost.latency import LatencyStats
from advisor.figures import LOAD_FRACTIONS
from advisor.formatting import duration, number, percent

KEPT_UP_SHARE = 0.9      # answered at least this share of the rate its arrival schedule offered
MAX_FAILED_SHARE = 0.01  # refused (queue bound, 429), failed or timed out: under this share of the requests
P95_GROWTH = 5.0         # p95 at most this many times the p95 at the lowest rate run
SATURATION_RULE = (f"a rate is sustained when the server achieves at least {percent(KEPT_UP_SHARE, decimals=0)} of "
                   f"the rate its arrival schedule offered (the Poisson draw's own rate, so a sparse draw does not "
                   f"count against the server), refuses or fails under {percent(MAX_FAILED_SHARE, decimals=0)} of "
                   f"requests, and its p95 stays under {number(P95_GROWTH)}x the p95 at the lowest rate")
PROBE = "saturation probe"  # what a run that was not kept up with is called wherever it is shown


class Outcome(NamedTuple):
    """What the rule reads of one run."""

    target_qps: float
    offered_qps: float
    achieved_qps: float
    failed_share: float
    p95_ms: float | None


def kept_up(run: Outcome, base_p95_ms: float | None) -> bool:
    """``SATURATION_RULE`` for one run; ``base_p95_ms`` is the p95 at the lowest rate run."""
    return (run.achieved_qps >= KEPT_UP_SHARE * run.offered_qps and run.failed_share < MAX_FAILED_SHARE
            and run.p95_ms is not None and base_p95_ms is not None
            and run.p95_ms <= P95_GROWTH * max(base_p95_ms, 1.0))


def base_p95(runs: Sequence[Outcome]) -> float | None:
    """The p95 of the lowest-rate run that has one: what the rule's p95 bound is relative to."""
    return next((r.p95_ms for r in sorted(runs, key=lambda r: r.target_qps) if r.p95_ms is not None), None)


def saturation(runs: Sequence[Outcome]) -> tuple[float | None, float | None]:
    """(highest target rate kept up with, first target rate not), in order of rate: a rate above the first one
    not kept up with does not count, whatever its run showed."""
    base = base_p95(runs)
    sustained = None
    for r in sorted(runs, key=lambda r: r.target_qps):
        if not kept_up(r, base):
            return sustained, r.target_qps
        sustained = r.target_qps
    return sustained, None


@dataclass
class LoadRun:
    """One open-loop run at one offered rate, as either driver reports it."""

    target_qps: float
    offered_qps: float       # the rate the Poisson draw actually scheduled
    achieved_qps: float
    sent: int
    ok: int
    refused: int             # at the queue bound (a server's 429): counted, not timed
    failed: int              # errors and timeouts
    latency: LatencyStats | None
    mean_batch_size: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # the driver's own details (server, send lag, batcher)
    kept_up: bool | None = None  # by SATURATION_RULE, once judged

    def outcome(self) -> Outcome:
        return Outcome(self.target_qps, self.offered_qps, self.achieved_qps,
                       (self.refused + self.failed) / max(1, self.sent),
                       None if self.latency is None else self.latency.p95_ms)


# One run: (offered rate in queries/s, requests, seed) -> the run
Drive = Callable[[float, int, int], LoadRun]


@dataclass(frozen=True)
class SweepPlan:
    """How far the sweep goes. Every run is bounded by requests (``min_requests`` to ``max_requests``, about
    ``run_s`` seconds of arrivals in the sweep and ``point_s`` at the points; ``requests`` fixes the count), the
    sweep by ``max_runs`` and ``budget_s`` (no sweep run starts after it)."""

    start_fraction: float = 0.5
    step: float = 2.0
    refine: int = 2
    max_runs: int = 8
    budget_s: float = 30.0
    run_s: float = 1.5
    point_s: float = 3.0
    min_requests: int = 20
    max_requests: int = 300
    requests: int | None = None
    fractions: tuple[float, ...] = LOAD_FRACTIONS

    def __post_init__(self) -> None:
        if self.step <= 1 or self.start_fraction <= 0 or self.max_runs < 1 or self.min_requests < 1 \
                or self.max_requests < self.min_requests or (self.requests is not None and self.requests < 1):
            raise ValueError(f"not a sweep plan: {self}")
        if any(f not in LOAD_FRACTIONS for f in self.fractions):
            raise ValueError(f"fractions must be among {LOAD_FRACTIONS}, got {self.fractions}")

    def requests_at(self, rate: float, seconds: float) -> int:
        if self.requests is not None:
            return self.requests
        return int(min(self.max_requests, max(self.min_requests, math.ceil(rate * seconds))))

    def describe(self) -> str:
        count = (f"{self.requests} requests a run" if self.requests is not None else
                 f"{self.min_requests} to {self.max_requests} requests a run (about {duration(self.run_s)} of "
                 f"arrivals in the sweep, {duration(self.point_s)} at each point)")
        return (f"offered rates from {percent(self.start_fraction, decimals=0)} of the batch-1 capacity in steps of "
                f"x{number(self.step)}, then {self.refine} midpoints; at most {self.max_runs} sweep runs, none started "
                f"after {duration(self.budget_s)}; {count}; then one run at each of "
                f"{', '.join(percent(f, decimals=0) for f in self.fractions)} of the sustainable rate")


@dataclass
class Sweep:
    """What the sweep found and the runs at the points."""

    capacity_qps: float                      # batch-1 capacity the sweep started from
    runs: list[LoadRun]                      # the sweep's runs, in the order run
    sustainable_qps: float | None            # highest offered rate kept up with (None: not even the lowest)
    saturated_at_qps: float | None           # first offered rate not kept up with (None: budget ended first)
    stopped: str                             # why the sweep stopped: saturated, budget, runs
    base_p95_ms: float | None = None         # the rule's reference p95 (lowest rate run)
    points: dict[float, LoadRun] = field(default_factory=dict)    # fraction of the sustainable rate -> run
    rates: dict[int, LoadRun] = field(default_factory=dict)       # a policy's rate -> run
    skipped_rates: dict[int, str] = field(default_factory=dict)   # a policy's rate not run, and why

    def point(self, fraction: float) -> LoadRun | None:
        """The run at ``fraction`` of the sustainable rate, if it was kept up with (else it is a probe)."""
        run = self.points.get(fraction)
        return run if run is not None and run.kept_up else None

    def at_rate(self, rate_qps: int) -> LoadRun | None:
        run = self.rates.get(rate_qps)
        return run if run is not None and run.kept_up else None


def find_sustainable(drive: Drive, capacity_qps: float, plan: SweepPlan, *,
                     progress: Callable[[int, float], None] | None = None,
                     clock: Callable[[], float] = time.monotonic) -> Sweep:
    """Step the offered rate until ``drive`` does not keep up (see the module docstring); every run judged by
    ``SATURATION_RULE`` against the lowest rate run. ``progress(run index, rate)`` before each run."""
    if capacity_qps <= 0 or not math.isfinite(capacity_qps):
        raise ValueError(f"batch-1 capacity must be a positive rate, got {capacity_qps}")
    runs: list[LoadRun] = []
    started = clock()
    rate = plan.start_fraction * capacity_qps
    refinements = plan.refine
    stopped = "runs"
    while len(runs) < plan.max_runs:
        if runs and clock() - started > plan.budget_s:
            stopped = "budget"
            break
        if progress is not None:
            progress(len(runs), rate)
        runs.append(drive(rate, plan.requests_at(rate, plan.run_s), len(runs)))
        sustained, saturated = saturation([r.outcome() for r in runs])
        if saturated is None:        # every rate so far kept up with: go higher
            rate = max(r.target_qps for r in runs) * plan.step
        elif sustained is None:      # not even the lowest: go lower, to what it answered when it is lower still
            lowest = min(runs, key=lambda r: r.target_qps)
            rate = min(lowest.target_qps / plan.step, lowest.achieved_qps or lowest.target_qps / plan.step)
        elif refinements > 0:        # bracketed: the geometric midpoint
            refinements -= 1
            rate = math.sqrt(sustained * saturated)
        else:
            stopped = "saturated"
            break
    outcomes = [r.outcome() for r in runs]
    base = base_p95(outcomes)
    for r in runs:
        r.kept_up = kept_up(r.outcome(), base)
    sustained, saturated = saturation(outcomes)
    return Sweep(capacity_qps, runs, sustained, saturated, stopped, base)


def measure_points(drive: Drive, sweep: Sweep, plan: SweepPlan, *, rates: Sequence[int] = (),
                   progress: Callable[[str, float], None] | None = None) -> Sweep:
    """One run at each of the plan's fractions of the sustainable rate (offered exactly ``fraction x sustainable``)
    and at each of ``rates``, each judged by the rule against the sweep's lowest rate; fills ``sweep.points`` and
    ``sweep.rates``. A rate at or past the one the sweep saw saturate is not run (it is in ``skipped_rates``)."""
    seed = len(sweep.runs)
    if sweep.sustainable_qps is not None:
        for fraction in plan.fractions:
            rate = fraction * sweep.sustainable_qps
            if progress is not None:
                progress(f"{percent(fraction, decimals=0)} of the sustainable rate", rate)
            run = drive(rate, plan.requests_at(rate, plan.point_s), seed)
            seed += 1
            run.kept_up = kept_up(run.outcome(), sweep.base_p95_ms)
            sweep.points[fraction] = run
    for rate_qps in sorted(set(rates)):
        if sweep.saturated_at_qps is not None and rate_qps >= sweep.saturated_at_qps:
            sweep.skipped_rates[rate_qps] = (f"not run: the sweep saw advisor serve saturate at "
                                             f"{number(sweep.saturated_at_qps)} queries/s offered")
            continue
        if progress is not None:
            progress(f"{rate_qps} queries/s (the policy's rate)", float(rate_qps))
        run = drive(float(rate_qps), plan.requests_at(rate_qps, plan.point_s), seed)
        seed += 1
        run.kept_up = kept_up(run.outcome(), sweep.base_p95_ms)
        sweep.rates[rate_qps] = run
    return sweep
