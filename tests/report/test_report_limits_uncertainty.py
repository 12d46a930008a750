"""Limits judge measured figures with their uncertainty: an interval wholly beyond a limit rejects, one that
straddles it makes the candidate borderline (rejected only under ``limits.strict``), and an unstable figure never
rejects. Near misses say what each limit cost."""

from __future__ import annotations

import textwrap

from advisor.models.catalog import ModelEntry
from advisor.policy.rules import Measured, check_measured
from advisor.policy.spec import load_policy
from advisor.ranking import rank
from advisor.sweep.results import CellKey, CellResult


def _policy(tmp_path, extra: str = ""):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        name: latency-budget
        limits:
          max_p95_latency_ms: 200
          min_throughput_docs_per_s: 50
        {extra}
    """))
    return load_policy(path)


def test_an_interval_wholly_over_the_limit_rejects(tmp_path):
    rejections, flags = check_measured(_policy(tmp_path), {"latency_p95_ms": Measured(230.0, 221.0, 240.0),
                                       "docs_per_s": Measured(80.0, 78.0, 82.0)})
    assert [r.rule for r in rejections] == ["limits.max_p95_latency_ms"] and flags == []
    assert "p95 query latency 230 ms (95% CI 221 to 240 ms) is over the limit of 200 ms" in rejections[0].reason


def test_an_interval_straddling_the_limit_is_borderline_not_rejected(tmp_path):
    rejections, flags = check_measured(_policy(tmp_path), {"latency_p95_ms": Measured(203.0, 190.0, 215.0),
                                       "docs_per_s": Measured(80.0, 78.0, 82.0)})
    assert rejections == []
    assert [(f.rule, f.kind) for f in flags] == [("limits.max_p95_latency_ms", "borderline")]


def test_strict_limits_reject_borderline_candidates(tmp_path):
    policy = _policy(tmp_path)
    policy = policy.__class__(**{**policy.__dict__, "limits": policy.limits.__class__(
        **{**policy.limits.__dict__, "strict": True})})
    rejections, flags = check_measured(policy, {"latency_p95_ms": Measured(203.0, 190.0, 215.0),
                                       "docs_per_s": Measured(80.0, 78.0, 82.0)})
    assert [r.rule for r in rejections] == ["limits.max_p95_latency_ms"] and "borderline" in rejections[0].reason
    assert flags == []


def test_strict_is_read_from_the_policy_file(tmp_path):
    assert _policy(tmp_path, "").limits.strict is False
    strict = load_policy(_write(tmp_path, "limits:\n  max_p95_latency_ms: 200\n  strict: true\n"))
    assert strict.limits.strict is True


def _write(tmp_path, text):
    path = tmp_path / "strict.yaml"
    path.write_text(text)
    return path


def test_an_unstable_figure_is_flagged_and_never_rejects(tmp_path):
    noisy = Measured(432.0, 300.0, 600.0, ("other processes kept 1.20 of 2 cores busy while it was measured",))
    rejections, flags = check_measured(_policy(tmp_path), {"latency_p95_ms": noisy,
                                       "docs_per_s": Measured(80.0, 78.0, 82.0)})
    assert rejections == []
    assert flags[0].kind == "unstable" and "1.20 of 2 cores" in flags[0].reason


# -- through the ranking, on stored cells ---------------------------------------------------------------------

ENTRY = dict(backend="hashing", embed_dim=64, license="apache-2.0", languages=("eng-Latn",))


def _cells(model: str, quality: list[float], p95: float, ci: tuple[float, float], unstable: list[str] | None = None):
    entry = ModelEntry(name=model, source="builtin:x", **ENTRY)
    qkey = CellKey("quality", model, None, "hashing", "cpu", "fp32", "reviews", "h1", None, "float32", "hw", "v")
    ckey = CellKey.cost(entry, "reviews", "h1", "cpu", "fp32", hardware="hw", versions="v")
    q = CellResult(qkey, metrics={"ndcg_at_10": sum(quality) / len(quality)},
                   details={"main_metric": "ndcg_at_10", "task_type": "retrieval", "per_item": quality})
    metrics = {"latency_p95_ms": p95, "latency_p95_ms_ci_low": ci[0], "latency_p95_ms_ci_high": ci[1],
               "docs_per_s": 100.0, "docs_per_s_ci_low": 99.0, "docs_per_s_ci_high": 101.0}
    details = {"stability": {"unstable": {"latency": unstable}} if unstable else {"unstable": {}}}
    return entry, [q, CellResult(ckey, metrics=metrics, details=details)]


def test_the_ranking_keeps_an_unstable_candidate_and_lists_a_near_miss(tmp_path):
    policy = _policy(tmp_path)
    strong = [0.9, 0.8, 0.85, 0.95, 0.7, 0.9, 0.88, 0.92] * 4
    weak = [0.1, 0.2, 0.15, 0.05, 0.3, 0.1, 0.12, 0.08] * 4
    e1, c1 = _cells("noisy-strong", strong, 432.0, (300.0, 600.0), ["did not settle"])
    e2, c2 = _cells("quiet-weak", weak, 20.0, (19.0, 21.0))
    e3, c3 = _cells("slow-strong", strong, 230.0, (221.0, 240.0))
    rec = rank(c1 + c2 + c3, [e1, e2, e3], policy)
    by_model = {c.model: c for c in rec.candidates()}
    assert by_model["noisy-strong"].status != "rejected"
    assert by_model["noisy-strong"].flags[0].kind == "unstable"
    assert by_model["slow-strong"].status == "rejected"
    group = rec.groups[0]
    [miss] = group.near_misses
    assert miss.label == by_model["slow-strong"].label and abs(miss.miss - 0.15) < 1e-9
    assert miss.better is False or miss.difference is not None
