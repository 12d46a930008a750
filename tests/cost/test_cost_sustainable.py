"""The sustainable-rate sweep (``advisor.cost.sustainable``): its rule and its search on runs whose outcome is given
(no clock), then on a real small model through advisor serve's own batcher in this process: the sweep finds a rate
it keeps up with and one it does not, the points are runs offered exactly 50% and 80% of the rate it found, and
every run is bounded by its request count. No timing is asserted: only what was run and how it was judged."""

from __future__ import annotations

import itertools

import pytest

from advisor.cost.latency import LatencyStats
from advisor.cost.sustainable import (MAX_FAILED_SHARE, P95_GROWTH, LoadRun, Outcome, SweepPlan, find_sustainable,
                                      kept_up, measure_points, saturation)
from advisor.figures import LOAD_FRACTIONS


def _outcome(target: float, achieved: float, p95: float | None = 10.0, failed: float = 0.0) -> Outcome:
    return Outcome(target, target, achieved, failed, p95)


# -- the rule ------------------------------------------------------------------------------------------------------

def test_a_run_that_answers_less_than_nine_tenths_of_its_offered_rate_is_not_kept_up_with():
    assert kept_up(_outcome(100.0, 90.0), 10.0) and not kept_up(_outcome(100.0, 89.0), 10.0)


def test_refused_or_failed_requests_at_one_percent_mean_not_kept_up_with():
    assert kept_up(_outcome(100.0, 100.0, failed=MAX_FAILED_SHARE / 2), 10.0)
    assert not kept_up(_outcome(100.0, 100.0, failed=MAX_FAILED_SHARE), 10.0)


def test_a_p95_past_its_bound_over_the_lowest_rates_is_not_kept_up_with():
    assert kept_up(_outcome(100.0, 100.0, p95=P95_GROWTH * 10.0), 10.0)
    assert not kept_up(_outcome(100.0, 100.0, p95=P95_GROWTH * 10.0 + 0.1), 10.0)
    assert not kept_up(_outcome(100.0, 100.0, p95=None), 10.0)  # nothing answered


def test_a_rate_past_the_first_one_not_kept_up_with_does_not_count():
    runs = [_outcome(10, 10), _outcome(40, 20), _outcome(20, 20), _outcome(80, 80)]
    assert saturation(runs) == (20, 40)


# -- the search, on runs whose outcome is given ----------------------------------------------------------------------

class Capacity:
    """Runs of a server that answers at most ``limit`` queries/s: below it, everything offered; above it, ``limit``.
    Records the (rate, requests, seed) of each run."""

    def __init__(self, limit: float) -> None:
        self.limit, self.calls = limit, []

    def __call__(self, rate: float, requests: int, seed: int) -> LoadRun:
        self.calls.append((rate, requests, seed))
        achieved = min(rate, self.limit)
        return LoadRun(rate, rate, achieved, requests, requests, 0, 0,
                       LatencyStats.from_samples([5.0, 6.0, 7.0]), 1.0)


def test_the_sweep_steps_up_until_a_rate_is_not_kept_up_with_then_refines_between():
    drive = Capacity(limit=100.0)
    plan = SweepPlan(start_fraction=0.5, step=2.0, refine=2, max_runs=10, requests=7)
    sweep = find_sustainable(drive, 40.0, plan)
    rates = [r for r, _, _ in drive.calls]
    assert rates[:3] == [20.0, 40.0, 80.0] and rates[3] == 160.0  # x2 from half the batch-1 capacity
    assert rates[4] == pytest.approx((80.0 * 160.0) ** 0.5)  # then geometric midpoints
    assert len(rates) == 6 and sweep.stopped == "saturated"
    assert sweep.sustainable_qps == max(r for r in rates if r <= 100.0 / 0.9)
    assert sweep.saturated_at_qps == min(r for r in rates if r > 100.0 / 0.9)
    assert all(requests == 7 for _, requests, _ in drive.calls) and [s for _, _, s in drive.calls] == list(range(6))
    assert [r.kept_up for r in sweep.runs] == [r.target_qps <= sweep.sustainable_qps for r in sweep.runs]


def test_the_sweep_steps_down_when_even_its_first_rate_is_not_kept_up_with():
    drive = Capacity(limit=3.0)
    sweep = find_sustainable(drive, 100.0, SweepPlan(requests=5, max_runs=8))
    rates = [r for r, _, _ in drive.calls]
    assert rates[0] == 50.0 and rates[1] == 3.0  # to what the first run answered, lower than 50 / 2
    assert sweep.sustainable_qps is not None and sweep.sustainable_qps <= 3.0 / 0.9
    assert sweep.saturated_at_qps is not None and sweep.saturated_at_qps > sweep.sustainable_qps


def test_the_sweep_is_bounded_by_its_runs_and_says_its_rate_is_then_a_lower_bound():
    drive = Capacity(limit=1e12)
    sweep = find_sustainable(drive, 10.0, SweepPlan(requests=3, max_runs=4))
    assert len(drive.calls) == 4 and sweep.stopped == "runs"
    assert sweep.saturated_at_qps is None and sweep.sustainable_qps == 40.0


def test_the_sweep_starts_no_run_after_its_budget():
    ticks = itertools.count(step=11.0)  # each look at the clock is 11 s later
    drive = Capacity(limit=1e12)
    sweep = find_sustainable(drive, 10.0, SweepPlan(requests=3, budget_s=30.0), clock=lambda: next(ticks))
    assert sweep.stopped == "budget" and len(drive.calls) == 3  # started at 0, 11 and 22 s; not at 33 s


def test_without_a_fixed_count_each_run_sends_its_seconds_of_arrivals_within_bounds():
    plan = SweepPlan(run_s=1.5, point_s=3.0, min_requests=20, max_requests=300)
    assert [plan.requests_at(r, plan.run_s) for r in (1.0, 100.0, 1000.0)] == [20, 150, 300]
    assert plan.requests_at(100.0, plan.point_s) == 300


def test_the_points_are_offered_exactly_their_fraction_of_the_sustainable_rate_and_a_policys_rate():
    drive = Capacity(limit=100.0)
    plan = SweepPlan(requests=4)
    sweep = find_sustainable(drive, 40.0, plan)
    measure_points(drive, sweep, plan, rates=(30, 10_000))
    assert set(sweep.points) == set(LOAD_FRACTIONS)
    for fraction, run in sweep.points.items():
        assert run.target_qps == fraction * sweep.sustainable_qps and run.kept_up and sweep.point(fraction) is run
    assert sweep.rates[30].target_qps == 30.0 and sweep.at_rate(30) is sweep.rates[30]
    assert 10_000 not in sweep.rates and "saturate" in sweep.skipped_rates[10_000]  # past saturation: not run


def test_a_point_that_is_not_kept_up_with_is_a_probe_and_gives_no_run_to_read():
    drive = Capacity(limit=100.0)
    plan = SweepPlan(requests=4)
    sweep = find_sustainable(drive, 40.0, plan)
    drive.limit = 1.0  # the server slowed down after the sweep
    measure_points(drive, sweep, plan, rates=(50,))
    assert all(run.kept_up is False for run in sweep.points.values())
    assert [sweep.point(f) for f in LOAD_FRACTIONS] == [None, None] and sweep.at_rate(50) is None


# -- a real model through advisor serve's batcher, in this process ---------------------------------------------------

QUERIES = ["a gripping thriller with a weak ending", "the cast is wonderful", "boring and far too long",
           "a family comedy about a dog", "visually stunning but hollow", "the best film of the year"]


@pytest.fixture(scope="module")
def static_encoder():
    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.models.resolve import resolve_model

    entry = resolve_model("wordllama-l2-supercat-256")  # a static model: a run of 20 queries takes milliseconds
    encoder = load_encoder(entry, LoadOptions())
    yield entry, encoder
    encoder.close()


@pytest.mark.slow
def test_a_real_model_in_process_sweeps_to_a_saturated_rate_and_measures_at_its_fractions(static_encoder):
    """advisor serve's batcher around a real model: a batch-1 capacity far above what one Python process can
    answer, so the sweep meets a rate it does not keep up with and a lower one it does, within its run bound."""
    from advisor.cost.inprocess_load import inprocess_driver
    from advisor.cost.latency import measure_latency
    from advisor.cost.stability import StabilityRule
    from advisor.models.batcher import input_limit
    from advisor.models.serve_config import ServeConfig

    entry, encoder = static_encoder
    p50 = measure_latency(encoder, QUERIES, rule=StabilityRule(round_samples=10, settle_rounds=2,
                                                                latency_tolerance=10.0, resamples=0)).stats.p50_ms
    config = ServeConfig(max_batch_requests=8)
    drive = inprocess_driver(encoder, QUERIES, config=config, max_tokens=input_limit(config, entry.max_tokens))
    plan = SweepPlan(requests=20, max_runs=8, budget_s=60.0)
    sweep = measure_points(drive, find_sustainable(drive, 1000.0 / p50, plan), plan)
    assert 2 <= len(sweep.runs) <= 8 and all(r.sent == 20 for r in sweep.runs)
    assert sweep.sustainable_qps is not None and sweep.saturated_at_qps is not None
    assert sweep.sustainable_qps < sweep.saturated_at_qps
    by_rate = {r.target_qps: r for r in sweep.runs}
    assert by_rate[sweep.sustainable_qps].kept_up and not by_rate[sweep.saturated_at_qps].kept_up
    assert sorted(sweep.points) == sorted(LOAD_FRACTIONS)
    for fraction, run in sweep.points.items():
        assert run.target_qps == fraction * sweep.sustainable_qps and run.sent == 20
        assert run.extra["batcher_class"] == "advisor.models.batcher.DynamicBatcher"
        assert run.ok + run.refused == 20 and run.kept_up is not None
