"""``limits.max_p95_latency_ms_at_load``: p95 under load at a rate (``{rate_qps: 20, ms: 200}``) or at a fraction of
each candidate's sustainable rate (``{fraction: 0.8, ms: 200}``). It parses, refuses each mistake in one line, is
written back as read, and judges candidates from cells stored in a real SQLite store with their intervals; the
report's headline says the sustainable rate and p95 at its fractions, and never calls a saturation probe a
latency."""

from __future__ import annotations

import textwrap

import pytest

from advisor.errors import ConfigError
from advisor.figures import (LOAD_P95, LOAD_SATURATED_AT_QPS, LOAD_SERVED, LOAD_SUSTAINABLE_QPS, load_figure,
                             load_rate_figure, lookup)
from advisor.models.catalog import ModelEntry
from advisor.policy.spec import LoadLimit, load_policy, policy_to_dict, write_policy
from advisor.ranking import rank
from advisor.reporting.content import headline
from advisor.sweep.results import CellKey, CellResult
from advisor.sweep.store import ResultStore

LIMIT = "max_p95_latency_ms_at_load"


def _policy(tmp_path, limit: str):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        name: load-budget
        baselines: []
        limits:
          {LIMIT}: {limit}
    """), encoding="utf-8")
    return load_policy(path)


# -- parsing ---------------------------------------------------------------------------------------------------------

def test_a_load_limit_at_a_rate_and_at_a_fraction_parse_and_name_the_figure_they_bound(tmp_path):
    at_rate = _policy(tmp_path, "{rate_qps: 20, ms: 200}").limits.max_p95_latency_ms_at_load
    at_share = _policy(tmp_path, "{fraction: 0.8, ms: 150.5}").limits.max_p95_latency_ms_at_load
    assert at_rate == LoadLimit(200.0, rate_qps=20) and at_rate.figure == load_rate_figure(20)
    assert at_share == LoadLimit(150.5, fraction=0.8) and at_share.figure == load_figure(0.8, LOAD_P95)


def test_a_load_limit_is_written_back_as_it_was_read(tmp_path):
    for limit in ("{rate_qps: 20, ms: 200}", "{fraction: 0.5, ms: 90}"):
        policy = _policy(tmp_path, limit)
        again = load_policy(write_policy(policy, tmp_path / "again.yaml"))
        assert again.limits == policy.limits
        assert set(policy_to_dict(policy)["limits"][LIMIT]) in ({"rate_qps", "ms"}, {"fraction", "ms"})


@pytest.mark.parametrize("limit, field, words", [
    ("200", LIMIT, "must be a mapping like {rate_qps: 20, ms: 200}"),
    ("{rate_qps: 20}", "ms", "is required"),
    ("{ms: 200}", "rate_qps", "exactly one of rate_qps"),
    ("{rate_qps: 20, fraction: 0.8, ms: 200}", "rate_qps", "exactly one of rate_qps"),
    ("{rate_qps: 2.5, ms: 200}", "rate_qps", "must be an integer >= 1"),
    ("{fraction: 0.7, ms: 200}", "fraction", "must be one of 0.5, 0.8"),
    ("{rate_qps: 20, ms: -1}", "ms", "must be >= 0"),
    ("{rate: 20, ms: 200}", "rate", "did you mean 'rate_qps'?"),
])
def test_each_mistake_in_a_load_limit_is_one_line_naming_its_field(tmp_path, limit, field, words):
    with pytest.raises(ConfigError) as err:
        _policy(tmp_path, limit)
    message = str(err.value)
    assert f"field '{field}'" in message and words in message and "\n" not in message


# -- judging stored cells --------------------------------------------------------------------------------------------

ENTRY = dict(backend="hashing", embed_dim=64, license="apache-2.0", languages=("eng-Latn",))
QUALITY = [0.9, 0.8, 0.85, 0.95, 0.7, 0.9, 0.88, 0.92] * 4


def _stored(tmp_path, model: str, load: dict[str, float]) -> tuple[ModelEntry, list[CellResult]]:
    """A quality cell and a cost cell with ``load``'s figures, put in a real store and read back."""
    entry = ModelEntry(name=model, source="builtin:x", **ENTRY)
    qkey = CellKey("quality", model, None, "hashing", "cpu", "fp32", "reviews", "h1", None, "float32", "hw", "v")
    ckey = CellKey.cost(entry, "reviews", "h1", "cpu", "fp32", hardware="hw", versions="v")
    cells = [CellResult(qkey, metrics={"ndcg_at_10": sum(QUALITY) / len(QUALITY)},
                        details={"main_metric": "ndcg_at_10", "task_type": "retrieval", "per_item": QUALITY}),
             CellResult(ckey, metrics={"latency_p95_ms": 10.0, "docs_per_s": 100.0, **load},
                        details={"stability": {"unstable": {}}})]
    with ResultStore(tmp_path / f"{model}.sqlite") as store:
        store.put_many(cells)
        return entry, store.results()


def _sweep(p95_80: float, ci: tuple[float, float], sustainable: float = 40.0, **more: float) -> dict[str, float]:
    name = load_figure(0.8, LOAD_P95)
    return {LOAD_SUSTAINABLE_QPS: sustainable, LOAD_SATURATED_AT_QPS: sustainable * 1.2, LOAD_SERVED: 1.0,
            load_figure(0.5, LOAD_P95): p95_80 / 2, name: p95_80, lookup(name).ci_low: ci[0],
            lookup(name).ci_high: ci[1], **more}


def _verdict(tmp_path, policy, load: dict[str, float]):
    entry, cells = _stored(tmp_path, "m", load)
    (c,) = rank(cells, [entry], policy).candidates()
    return c


def test_a_p95_at_the_fraction_wholly_over_the_limit_rejects(tmp_path):
    c = _verdict(tmp_path, _policy(tmp_path, "{fraction: 0.8, ms: 200}"), _sweep(230.0, (221.0, 240.0)))
    assert c.status == "rejected" and [r.rule for r in c.rejections] == [f"limits.{LIMIT}"]
    assert "p95 under load at 80% of the sustainable rate 230 ms (95% CI 221 to 240 ms) is over the limit of " \
           "200 ms" in c.rejections[0].reason


def test_a_p95_at_the_fraction_under_the_limit_passes(tmp_path):
    c = _verdict(tmp_path, _policy(tmp_path, "{fraction: 0.8, ms: 200}"), _sweep(120.0, (110.0, 130.0)))
    assert c.status == "recommended" and c.flags == []


def test_a_p95_whose_interval_straddles_the_limit_is_borderline(tmp_path):
    c = _verdict(tmp_path, _policy(tmp_path, "{fraction: 0.8, ms: 200}"), _sweep(205.0, (190.0, 215.0)))
    assert c.status == "recommended" and [(f.rule, f.kind) for f in c.flags] == [(f"limits.{LIMIT}", "borderline")]


def test_a_p95_at_the_policys_rate_is_judged_on_that_run(tmp_path):
    at_20 = {load_rate_figure(20): 90.0, lookup(load_rate_figure(20)).ci_low: 85.0,
             lookup(load_rate_figure(20)).ci_high: 95.0}
    policy = _policy(tmp_path, "{rate_qps: 20, ms: 80}")
    c = _verdict(tmp_path, policy, _sweep(50.0, (45.0, 55.0), **at_20))
    assert c.status == "rejected" and "p95 under load at 20 queries/s 90 ms" in c.rejections[0].reason
    ok = _verdict(tmp_path, _policy(tmp_path, "{rate_qps: 20, ms: 100}"), _sweep(50.0, (45.0, 55.0), **at_20))
    assert ok.status == "recommended"


def test_a_rate_above_the_sustainable_rate_rejects_without_a_latency(tmp_path):
    """The run at 20 queries/s was not kept up with (no figure): the candidate cannot serve that load at all."""
    c = _verdict(tmp_path, _policy(tmp_path, "{rate_qps: 20, ms: 5000}"), _sweep(50.0, (45.0, 55.0), 12.0))
    assert c.status == "rejected"
    assert "sustainable rate 12 queries/s is under the 20 queries/s the limit asks p95 at" in c.rejections[0].reason


def test_a_cell_with_only_the_retired_saturation_probe_cannot_pass_a_load_limit(tmp_path):
    """p95 of the old probe at 1.5x the batch-1 capacity is not a latency at any rate: never judged as one."""
    probe = {"load_batched_p95_ms": 12.0, "load_batched_qps": 90.0, "load_target_qps": 187.0, LOAD_SERVED: 1.0}
    c = _verdict(tmp_path, _policy(tmp_path, "{fraction: 0.8, ms: 5000}"), probe)
    assert c.status == "rejected" and "was not measured" in c.rejections[0].reason


# -- the headline ----------------------------------------------------------------------------------------------------

def test_the_headline_says_the_sustainable_rate_and_p95_at_its_fractions(tmp_path):
    entry, cells = _stored(tmp_path, "m", _sweep(38.0, (35.0, 41.0), 54.0))
    head = headline(rank(cells, [entry], _policy(tmp_path, "{fraction: 0.8, ms: 200}")))
    assert ("sustains 54 queries/s under load (a real advisor serve), p95 19 ms at 50% and 38 ms at 80% of that "
            "rate") in head


def test_the_headline_never_calls_the_retired_saturation_probe_a_latency(tmp_path):
    probe = {"load_batched_p95_ms": 1526.0, "load_batched_qps": 89.2, "load_target_qps": 187.0, LOAD_SERVED: 1.0}
    entry, cells = _stored(tmp_path, "m", probe)
    policy = load_policy(_write(tmp_path, "name: none\nbaselines: []\n"))
    head = headline(rank(cells, [entry], policy))
    assert "saturation probe" in head and "not a latency" in head
    assert "1,526" not in head and "under load at" not in head and "sustains" not in head


def _write(tmp_path, text: str):
    path = tmp_path / "plain.yaml"
    path.write_text(text, encoding="utf-8")
    return path
