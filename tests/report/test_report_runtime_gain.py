"""What a runtime or weight precision gains over the plain model, in the figure registry's words: the speed-up
(docs/s over fp32 on the model's own runtime, the same machine) and the quality kept, in the headline and the why
line of the candidate that ships on it; and a machine whose runtimes ran at different thread counts is named.

Cells are stored in a real SQLite store and read back; the expected ratios are computed here from the figures
given to the cells."""

from __future__ import annotations

import pytest

from advisor.figures import DOCS_PER_S, LATENCY_P95_MS, QUALITY_RETAINED, SPEEDUP, lookup
from advisor.models.catalog import ModelEntry
from advisor.policy.spec import load_policy
from advisor.ranking import rank
from advisor.reporting.content import headline
from advisor.sweep.results import CellKey, CellResult
from advisor.sweep.store import ResultStore

ENTRY = ModelEntry(name="mini", source="builtin:x", backend="torch", embed_dim=64, license="apache-2.0",
                   languages=("eng-Latn",))
PLAIN_Q = [0.9, 0.8, 0.85, 0.95, 0.7, 0.9, 0.88, 0.92] * 4


def _cells(runtime: str, precision: str, docs_per_s: float, quality: list[float], threads: int) -> list[CellResult]:
    qkey = CellKey("quality", "mini", None, "torch", "cpu", precision, "reviews", "h1", None, "float32", "hw", "v",
                   runtime=runtime)
    ckey = CellKey.cost(ENTRY, "reviews", "h1", "cpu", precision, hardware="hw", versions="v", runtime=runtime or None)
    return [CellResult(qkey, metrics={"ndcg_at_10": sum(quality) / len(quality)},
                       details={"main_metric": "ndcg_at_10", "task_type": "retrieval", "per_item": quality}),
            CellResult(ckey, metrics={LATENCY_P95_MS: 1000.0 / docs_per_s, DOCS_PER_S: docs_per_s},
                       details={"stability": {"unstable": {}}, "runtime": {"threads": threads}})]


def _rank(tmp_path, fast_threads: int = 4):
    """The plain model (torch fp32, 100 docs/s) and the same model on OpenVINO int8-static (412 docs/s, a little
    less quality); the policy weighs throughput, so the fast one is recommended."""
    fast_q = [q - 0.004 for q in PLAIN_Q]
    cells = _cells("", "fp32", 100.0, PLAIN_Q, 4) + _cells("openvino", "int8-static", 412.0, fast_q, fast_threads)
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put_many(cells)
        stored = store.results()
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text("name: speed\nbaselines: []\nranking:\n  weights: {quality: 1, throughput: 3}\n")
    return rank(stored, [ENTRY], load_policy(policy_file)), sum(fast_q) / sum(PLAIN_Q)


def test_the_headline_ships_the_model_on_its_runtime_with_its_speed_up_and_quality_kept(tmp_path):
    rec, kept = _rank(tmp_path)
    best = rec.recommended
    assert (best.variant.runtime, best.variant.weight_precision) == ("openvino", "int8-static")
    assert best.speedup == pytest.approx(412.0 / 100.0) and best.quality_retained == pytest.approx(kept)
    gain = (f"{lookup(SPEEDUP).text(412.0 / 100.0)} the docs/s of the plain model, "
            f"{lookup(QUALITY_RETAINED).text(kept)} of its quality")
    assert gain == "4.12x the docs/s of the plain model, 99.5% of its quality"
    assert headline(rec).startswith(f"Ship mini on OpenVINO int8-static (") and f"): {gain}; " in headline(rec)
    assert best.why.endswith(f"; on OpenVINO int8-static: {gain}")


def test_the_plain_model_is_named_on_its_runtime_without_a_speed_up(tmp_path):
    rec, _ = _rank(tmp_path)
    plain = next(c for c in rec.candidates() if c.variant.runtime is None)
    assert plain.speedup == pytest.approx(1.0)
    assert "docs/s of the plain model" not in plain.why


def test_a_machine_whose_runtimes_ran_at_different_thread_counts_is_named(tmp_path):
    rec, _ = _rank(tmp_path, fast_threads=2)
    [note] = [n for n in rec.notes if "thread counts" in n]
    assert "2 threads: mini openvino int8-static" in note and "4 threads: mini own fp32" in note


def test_runtimes_at_the_same_thread_count_get_no_such_note(tmp_path):
    rec, _ = _rank(tmp_path, fast_threads=4)
    assert not [n for n in rec.notes if "thread counts" in n]
