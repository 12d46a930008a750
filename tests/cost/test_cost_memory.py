"""The serving footprint (advisor.cost.memory): BM25 and a real model (all-MiniLM-L6-v2) measured by the same
function, each in a fresh process of its own that is reaped; the model's footprint holds more than its weights; the
index part grows with the corpus; the ranking's memory ratio is the footprints' (never the retired figure's); a
stored cost cell measured the old way is measured again by a sweep. Memory is asserted as structure and
order-of-magnitude facts only (which stage holds what, exact index bytes), never as a number of megabytes."""

from __future__ import annotations

import os

import pytest

from advisor.cost.memory import (FOOTPRINT_METHOD, MODEL_PROBE, QUERIES, Footprint, FootprintSpec, encoder_libraries,
                                 reload_spec, serving_footprint)
from advisor.figures import (PEAK_MEMORY_MB, SERVING_INDEX_MB, SERVING_MEMORY_MB, SERVING_RUNTIME_MB,
                             SERVING_WEIGHTS_MB)

pytestmark = pytest.mark.slow

DATASET = "rt-reviews-plots"  # 156 movie plots, reviews as queries
HALF, FULL = "half", "full"  # two sizes of its corpus: the first 78 plots, all 156


def _reaped(pid: int) -> bool:
    """The process ``pid`` is no child of this one left running or unreaped (waitpid would answer for it)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.fixture(scope="module")
def task(repo):
    from advisor.datasets.tasks import load_task

    return load_task(repo / "data" / DATASET)


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.models.resolve import resolve_model

    entry, load = resolve_model("all-MiniLM-L6-v2"), LoadOptions()
    encoder = load_encoder(entry, load)
    yield entry, load, encoder
    encoder.close()


@pytest.fixture(scope="module")
def footprints(task, minilm) -> dict[tuple[str, str], Footprint]:
    """(candidate, corpus size) -> its footprint, BM25's and MiniLM's each through ``serving_footprint``: the one
    function, fed the spec of each kind of serving process."""
    from advisor.index.bm25 import DEFAULTS, PROBE

    entry, load, encoder = minilm
    docs, queries = list(task.data.corpus.values()), list(task.data.queries.values())
    vectors = encoder.encode(docs, kind="document")
    out = {}
    for size, n in ((HALF, len(docs) // 2), (FULL, len(docs))):
        out[("bm25", size)] = serving_footprint(FootprintSpec(PROBE, queries, ["bm25s"], documents=docs[:n],
                                                              settings=dict(DEFAULTS)))
        out[("minilm", size)] = serving_footprint(FootprintSpec(MODEL_PROBE, queries, encoder_libraries(encoder),
                                                                model=reload_spec(entry, load), vectors=vectors[:n]))
    return out


def test_each_footprint_comes_from_a_fresh_process_that_is_reaped(footprints):
    pids = {f.pid for f in footprints.values()}
    assert len(pids) == len(footprints) and os.getpid() not in pids  # one process each, none of them this one
    assert all(_reaped(pid) for pid in pids)


def test_bm25_and_the_model_go_through_the_same_stages(footprints):
    for f in footprints.values():
        assert list(f.stages_mb) == ["start", "runtime", "loaded", "indexed", "answered"]
        assert f.queries == QUERIES
        # the peak is the process's high-water mark: at least what it held after every stage
        assert f.peak_mb >= max(f.stages_mb.values()) and f.peak_mb >= f.peaks_mb["answered"]
        assert f.runtime_mb == f.stages_mb["runtime"] > f.stages_mb["start"] > 0  # the libraries took memory


def test_bm25_loads_no_model_and_the_model_loads_its_libraries_first(footprints, minilm):
    bm25, model = footprints[("bm25", FULL)], footprints[("minilm", FULL)]
    assert bm25.libraries == ["bm25s"] and bm25.weights_mb < 1.0  # nothing between "runtime" and "loaded"
    assert "torch" in model.libraries  # imported before the model, so the runtime part holds torch
    assert model.runtime_mb > bm25.runtime_mb  # torch and its tokenizer against bm25s: an order of magnitude apart


def test_the_models_footprint_holds_more_than_its_weights(footprints, minilm_dir):
    model = footprints[("minilm", FULL)]
    weights_file_mb = (minilm_dir / "model.safetensors").stat().st_size / 2**20
    # the weights part is the weights' order of magnitude (fp32 in memory as in the file, plus the tokenizer)
    assert 0.5 * weights_file_mb < model.weights_mb < 3 * weights_file_mb
    assert model.peak_mb > model.runtime_mb + model.weights_mb > model.weights_mb


def test_the_index_part_grows_with_the_corpus(footprints, task):
    for candidate in ("bm25", "minilm"):
        half, full = footprints[(candidate, HALF)], footprints[(candidate, FULL)]
        assert (half.index_docs, full.index_docs) == (len(task.data.corpus) // 2, len(task.data.corpus))
        assert full.index_bytes > half.index_bytes > 0
    # a model's exact index is its full-size float32 vectors: exactly linear, so the same per million documents
    for name in (HALF, FULL):
        f = footprints[("minilm", name)]
        assert f.index_bytes == f.index_docs * 384 * 4
        assert f.index_mb_per_million_docs == pytest.approx(1e6 * 384 * 4 / 2**20)


def test_the_figures_are_the_registrys_serving_figures(footprints):
    f = footprints[("minilm", FULL)]
    figures = f.figures()
    assert figures[SERVING_MEMORY_MB] == round(f.peak_mb, 2) and figures[SERVING_RUNTIME_MB] == f.runtime_mb
    assert figures[SERVING_INDEX_MB] == pytest.approx(f.index_bytes / 2**20, abs=1e-4)
    assert f.details()["method"] == FOOTPRINT_METHOD


def test_bm25_cost_and_measure_cost_record_the_footprint(task, minilm):
    """The producers a sweep's cost cells come from: both store the serving figures and the method."""
    from advisor.cost import CostOptions, measure_cost
    from advisor.cost.stability import StabilityRule
    from advisor.index.bm25 import bm25_cost

    bm25 = bm25_cost(task, latency_queries=5, rounds=1)
    assert bm25["memory"]["method"] == FOOTPRINT_METHOD and bm25["memory"]["pid"] != os.getpid()
    assert bm25[SERVING_MEMORY_MB] > 0 and PEAK_MEMORY_MB not in bm25  # the retired figure is no longer written
    entry, load, encoder = minilm
    rule = StabilityRule(round_samples=8, max_latency_rounds=2, latency_budget_s=2.0, max_bulk_rounds=2,
                         bulk_budget_s=3.0)
    f = measure_cost(encoder, task, entry=entry, load=load,
                     options=CostOptions(bulk_docs=16, stability=rule, load_test=False, warmup=2))
    assert f["memory"]["method"] == FOOTPRINT_METHOD and f["memory"]["index_docs"] == len(task.data.corpus)
    assert "encoded" in f["memory"]["vectors"]  # no vectors handed over: it encoded the documents first
    assert f[SERVING_MEMORY_MB] > f[SERVING_WEIGHTS_MB] > 0 and PEAK_MEMORY_MB not in f


def _cells(footprints):
    """A BM25 and a MiniLM candidate as a sweep stores them, with the measured footprints and the retired figure
    the old way would have stored beside them (BM25's index alone against a model's process without its vectors)."""
    from advisor.sweep.results import CellKey, CellResult

    out = []
    for name, backend, quality, retired in (("bm25", "bm25", 0.30, 0.19), ("minilm", "torch", 0.60, 498.0)):
        f = footprints[(name, FULL)]
        q = CellKey("quality", name, None, backend, "cpu", "fp32", "t", "h", None, "float32", "hw", "v")
        c = CellKey("cost", name, None, backend, "cpu", "fp32", "t", "h", None, None, "hw", "v")
        out.append(CellResult(q, metrics={"ndcg_at_10": quality}, details={"main_metric": "ndcg_at_10"}))
        out.append(CellResult(c, metrics={"latency_p95_ms": 5.0, "docs_per_s": 100.0, PEAK_MEMORY_MB: retired,
                                          **f.figures()}, details={"memory": f.details()}))
    return out


def test_the_rankings_memory_ratio_is_the_footprints(footprints):
    from advisor.formatting import number
    from advisor.models.catalog import ModelEntry
    from advisor.policy.spec import Policy
    from advisor.ranking import rank

    entries = [ModelEntry(name="minilm", source="path:/nowhere", backend="torch", embed_dim=384, license="MIT",
                          languages=("eng-Latn",))]
    rec = rank(_cells(footprints), entries, Policy("p"))
    by_model = {c.model: c for c in rec.candidates()}
    bm25, model = by_model["bm25"], by_model["minilm"]
    assert {bm25.status, model.status} == {"recommended", "pareto"}  # better quality against less memory
    other, best = (bm25, model) if model.status == "recommended" else (model, bm25)
    serving = other.cost[SERVING_MEMORY_MB] / best.cost[SERVING_MEMORY_MB]
    ratio = serving if serving >= 1 else 1 / serving
    word = "more" if serving >= 1 else "less"
    assert f"{number(ratio, digits=2)}x {word} serving memory" in other.why
    retired = max(498.0 / 0.19, 0.19 / 498.0)
    assert f"{number(retired, digits=2)}x" not in other.why  # 2,621x: the unlike figures' ratio is gone


def test_a_cost_cell_measured_the_old_way_is_measured_again(tmp_path, repo, footprints):
    """A stored cost cell without the serving footprint's method (BM25's index alone, a model's process without its
    vectors) is in the sweep's redo set; one with it is reused. And a real sweep then measures BM25's again."""
    from advisor.datasets.tasks import load_task
    from advisor.policy.spec import Policy
    from advisor.sweep.driver import memory_changed, run_plan
    from advisor.sweep.planner import build_plan
    from advisor.sweep.results import CellResult
    from advisor.sweep.store import ResultStore

    plan = build_plan([], Policy("p"), [load_task(repo / "data" / DATASET)])  # the BM25 baseline alone
    (cost,) = [c for c in plan.cells if c.key.kind == "cost"]
    with ResultStore(tmp_path / "results.sqlite") as store:
        store.put(CellResult(cost.key, metrics={PEAK_MEMORY_MB: 0.19}, details={}))
        assert memory_changed(plan, store) == {cost.fingerprint}
        store.put(CellResult(cost.key, metrics=footprints[("bm25", FULL)].figures(),
                             details={"memory": footprints[("bm25", FULL)].details()}))
        assert memory_changed(plan, store) == set()
        store.put(CellResult(cost.key, metrics={PEAK_MEMORY_MB: 0.19}, details={}))  # the old way again
        summary = run_plan(plan, store)
        assert summary.failed == 0
        (measured,) = store.results(fingerprint=[cost.fingerprint], status="ok")
        assert measured.details["memory"]["method"] == FOOTPRINT_METHOD and SERVING_MEMORY_MB in measured.metrics
        assert memory_changed(plan, store) == set()


def test_a_note_says_when_stored_memory_was_measured_the_old_way():
    from advisor.models.catalog import ModelEntry
    from advisor.policy.spec import Policy
    from advisor.ranking import rank
    from advisor.sweep.results import CellKey, CellResult

    q = CellKey("quality", "old", None, "torch", "cpu", "fp32", "t", "h", None, "float32", "hw", "v")
    c = CellKey("cost", "old", None, "torch", "cpu", "fp32", "t", "h", None, None, "hw", "v")
    cells = [CellResult(q, metrics={"ndcg_at_10": 0.5}, details={"main_metric": "ndcg_at_10"}),
             CellResult(c, metrics={"latency_p95_ms": 5.0, PEAK_MEMORY_MB: 498.0}, details={})]
    entry = ModelEntry(name="old", source="path:/nowhere", backend="torch", embed_dim=384, license="MIT",
                       languages=("eng-Latn",))
    rec = rank(cells, [entry], Policy("p"))
    (candidate,) = rec.candidates()
    assert SERVING_MEMORY_MB not in candidate.cost and "memory" not in rec.groups[0].objectives
    assert any("old was measured before the serving footprint" in n and "advisor run" in n for n in rec.notes)
