"""The runner and the local executor on real encoders, a real task and a real store: one encode per text set for
a whole grid, derived cells equal to evaluating independently encoded embeddings, failures (an exception, a
killed process, out-of-memory) recorded as cells while the sweep goes on, --force recomputes."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.models.backends import Backend, BackendCapabilities
from advisor.models.catalog import load_catalog
from advisor.quality.evaluation import evaluate_embeddings
from advisor.hookspecs import hookimpl
from advisor.sweep.planner import build_plan
from advisor.policy.spec import load_policy
from advisor.models.encode import encode_with_retry
from advisor.sweep.driver import run_plan
from advisor.sweep.worker import run_group
from advisor.sweep.store import ResultStore
from advisor.datasets.tasks import load_task

from .conftest import grid_policy, hashing_catalog


class CountingBackend(Backend):
    """The hashing backend, counting every encode call it serves (to show the grid encodes each set once)."""

    name = "hashing-counted"
    capabilities = BackendCapabilities()

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def load(self, entry, options):
        from advisor_hashing.encoder import HashingEncoder

        calls = self.calls

        class Counted(HashingEncoder):
            def encode(self, texts, *, kind="document", batch_size=32, progress=None):
                calls.append((kind, len(texts)))
                return super().encode(texts, kind=kind, batch_size=batch_size, progress=progress)

        return Counted(entry.embed_dim)


def test_grid_encodes_each_text_set_once(tmp_path, hashing_plugin, retrieval_dir):
    from advisor.plugins import register_plugin, unregister_plugin

    backend = CountingBackend()

    class Plugin:
        @hookimpl
        def register_backends(self, register):
            register(backend)

    register_plugin(Plugin(), "counting-test")
    try:
        catalog = tmp_path / "c.yaml"
        catalog.write_text("models:\n  - {name: counted-300, source: 'builtin:x', backend: hashing-counted, "
                           "embed_dim: 300, license: MIT, languages: [eng-Latn]}\n")
        entry = load_catalog(catalog)[0]
        policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full, 256, 128, 64, 32]"))
        task = load_task(retrieval_dir)
        plan = build_plan([entry], policy, [task], measure_cost=False)
        events = list(run_group(plan.groups[0], is_done=lambda fp: False))
    finally:
        unregister_plugin("counting-test")
    cells = [e.result for e in events if e.kind == "cell"]
    assert len(cells) == 15 and all(c.status == "ok" for c in cells)
    sets = task.text_sets()
    assert sorted(backend.calls) == sorted((s.kind, len(s.texts)) for s in sets.values())  # once per set
    # every derived cell equals evaluating embeddings encoded independently by a fresh encoder
    from advisor_hashing.encoder import HashingEncoder

    fresh = HashingEncoder(300)
    embeddings = {name: fresh.encode(s.texts, kind=s.kind) for name, s in sets.items()}
    for cell in cells:
        direct = evaluate_embeddings(task, embeddings, plan.groups[0].cells[0].variant.__class__(
            "cpu", "fp32", cell.key.dim, cell.key.vector_precision))
        assert cell.metrics == pytest.approx(direct.metrics, abs=1e-12), cell.key
        assert cell.details["per_item"] == pytest.approx(list(direct.per_item), abs=1e-12)


def test_failures_are_cells_and_the_sweep_goes_on(tmp_path, hashing_plugin, retrieval_dir):
    catalog = hashing_catalog(tmp_path / "c.yaml", [128], crashy={"corrupt": "mode: raise", "killed": "mode: kill",
                                                                  "small-gpu": "max_batch: 8"})
    policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full, 64]", precisions="[float32, binary]"))
    plan = build_plan(load_catalog(catalog), policy, [load_task(retrieval_dir)], measure_cost=False)
    store = ResultStore(tmp_path / "r.sqlite")
    summary = run_plan(plan, store, executor="local")
    assert summary.status == "finished" and summary.computed == 16 and summary.failed == 8
    by_model = {m: store.results(model=m) for m in ("corrupt", "killed", "small-gpu", "hash-128")}
    assert all(c.status == "failed" and "weights file is corrupt" in c.error for c in by_model["corrupt"])
    assert all(c.status == "failed" and "killed by SIGKILL" in c.error for c in by_model["killed"])
    assert all(c.status == "ok" for c in by_model["hash-128"] + by_model["small-gpu"])
    # out of memory at batch 32 -> 16 -> 8, noted in the cell; the vectors are those of an unbatched encode
    notes = by_model["small-gpu"][0].details["notes"]
    assert by_model["small-gpu"][0].details["batch_size"] == 8 and len(notes) == 2 and "out of memory" in notes[0]
    assert store.integrity_check() == "ok"
    run = store.run(summary.run_id)
    assert (run["ok"], run["failed"], run["missing"], run["status"]) == (8, 8, 0, "finished")


def test_encode_with_retry_gives_up_on_other_errors(hashing_plugin):
    from advisor_hashing.encoder import HashingEncoder

    class Broken(HashingEncoder):
        def encode(self, texts, **kw):
            raise ValueError("tokenizer missing")

    notes: list[str] = []
    with pytest.raises(ValueError):
        encode_with_retry(Broken(8), ("a",), kind="query", batch_size=32, notes=notes)
    assert notes == []
    vectors, batch = encode_with_retry(HashingEncoder(8), ("a b", "c"), kind="query", batch_size=4, notes=notes)
    assert vectors.dtype == np.float32 and vectors.shape == (2, 8) and batch == 4


def test_finished_cells_are_skipped_and_force_recomputes(tmp_path, hashing_plugin, retrieval_dir):
    catalog = hashing_catalog(tmp_path / "c.yaml", [64])
    policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full, 32]", precisions="[float32]"))
    plan = build_plan(load_catalog(catalog), policy, [load_task(retrieval_dir)], measure_cost=False)
    store = ResultStore(tmp_path / "r.sqlite")
    first = run_plan(plan, store)
    again = run_plan(plan, store)
    assert (first.computed, again.computed, again.already_done) == (2, 0, 2)
    forced = run_plan(plan, store, force=True)
    assert forced.computed == 2
    assert set(store.compute_counts().values()) == {2}
    assert [r["status"] for r in store.runs()] == ["finished"] * 3


def test_cost_cell_measured_once_per_load_and_joins_quality(tmp_path, hashing_plugin, retrieval_dir):
    catalog = hashing_catalog(tmp_path / "c.yaml", [128])
    policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full, 64]", precisions="[float32, int8]"))
    plan = build_plan(load_catalog(catalog), policy, [load_task(retrieval_dir)])
    events = list(run_group(plan.groups[0], is_done=lambda fp: False))
    cells = [e.result for e in events if e.kind == "cell"]
    cost = [c for c in cells if c.key.kind == "cost"]
    quality = [c for c in cells if c.key.kind == "quality"]
    assert len(cost) == 1 and len(quality) == 4 and cost[0].status == "ok", cost[0].error
    figures = cost[0].metrics
    for name in ("docs_per_s", "tokens_per_s", "latency_p50_ms", "latency_p95_ms", "latency_samples",
                 "load_time_s"):
        assert name in figures and figures[name] >= 0, name
    assert figures["latency_p50_ms"] <= figures["latency_p95_ms"] <= figures["latency_p99_ms"]
    assert len(cost[0].details["latency_raw_ms"]) == figures["latency_samples"]
    # the ranking finds a quality cell's cost figures through CellKey.cost_key()
    assert all(q.key.cost_key() == cost[0].key for q in quality)
