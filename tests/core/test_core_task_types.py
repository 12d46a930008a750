"""Every task type of the table (``advisor.config.task_types.TASK_TYPES``) walks the whole way: load a shipped
example of that type through the task sources, slice it, evaluate a real static model on it through the sweep's own
worker, store the cell in a real SQLite store, rank the store and write the report. The type's main metric must be
what the cell names, what the ranking ranks on and what the report shows. The test is parametrized over the table,
so a new type is walked as soon as it is added (and fails here until it has an example below)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pytest

from advisor.config.task_types import TASK_TYPES, type_of_cell
from advisor.datasets.types import DATASET_TYPES
from advisor.quality.bootstrap import plural
from advisor.quality.evaluation import EVALUATORS

DATA = Path(__file__).resolve().parents[2] / "data"
MODEL = "wordllama-l2-supercat-256"  # a static model: the fastest real model the catalogs ship


def _pairs(data: Any) -> int:
    n = len(data.texts)
    return n * (n - 1) // 2


# type -> (example folder under data/, task source or None to detect, slice size, items of its unit in a slice)
EXAMPLES: dict[str, tuple[str, str | None, int, Callable[[Any], int]]] = {
    "retrieval": ("rt-reviews-plots", None, 20, lambda d: len(d.qrels)),
    "sts": ("lee-sts", None, 60, lambda d: len(d.scores)),
    "classification": ("rt-sentiment", None, 60, lambda d: len(d.test_labels)),
    "pair_classification": ("rt-same-movie", None, 60, lambda d: len(d.labels)),
    "unlabeled_retrieval": ("rt-reviews-plots", "unlabeled", 8, lambda d: len(d.queries)),
    "clustering": ("rt-reviews-by-movie", None, 45, lambda d: len(d.texts)),
    "deduplication": ("rt-near-duplicates", None, 40, _pairs),
    "reranking": ("rt-reviews-plots-rerank", None, 20, lambda d: len(d.qrels)),
}


@pytest.fixture(scope="module")
def walk_policy(tmp_path_factory) -> Any:
    from advisor.policy.spec import load_policy

    path = tmp_path_factory.mktemp("policy") / "walk.yaml"
    path.write_text("name: walk\nbaselines: []\n")  # the model alone: BM25 is a retrieval-only candidate
    return load_policy(path)


@pytest.mark.parametrize("type_name", list(TASK_TYPES))
def test_every_task_type_walks_from_load_to_report(type_name: str, walk_policy: Any, tmp_path: Path) -> None:
    from advisor.datasets.slicing import head
    from advisor.datasets.tasks import load_task
    from advisor.models.resolve import resolve_model
    from advisor.pipeline import rank_results, write_report
    from advisor.sweep.planner import plan_sweep
    from advisor.sweep.store import ResultStore
    from advisor.sweep.worker import run_group

    assert type_name in EXAMPLES, f"add a shipped example dataset of type {type_name} to EXAMPLES"
    spec, kind = TASK_TYPES[type_name], DATASET_TYPES[type_name]
    folder, source, n, units = EXAMPLES[type_name]

    # load: a shipped dataset, through one of the readers the table names for the type
    task = load_task(DATA / folder, source=source)
    assert task.type == type_name and task.source in kind.sources and isinstance(task.data, kind.data_class)
    small = replace(head(task, n, corpus_limit=60), name=f"walk-{type_name}")
    assert [(name, ts.kind) for name, ts in small.text_sets().items()] == [(t.name, t.kind) for t in spec.text_sets]

    # evaluate: the sweep's worker encodes and scores every planned cell, and the cells go into a real store
    entry = resolve_model(MODEL)
    plan = plan_sweep([entry], walk_policy, [small], measure_cost=False)
    store = ResultStore(tmp_path / "runs.db")
    for group in plan.groups:
        for event in run_group(group, is_done=lambda _: False, preloaded={small.name: small}):
            if event.kind == "cell":
                assert event.result.status == "ok", event.result.error
                store.put(event.result)
    [cell] = store.results(task=small.name)
    assert cell.details["task_type"] == type_name and cell.details["main_metric"] == spec.main_metric
    assert set(cell.metrics) == set(spec.metrics)  # the figures the table says the type reports
    assert len(cell.details["per_item"]) == units(small.data)  # one per item
    boot = cell.details["bootstrap"]  # what its intervals resample: the items, or the texts they share
    if cell.details["ci"]:  # (clustering's V-measure has no interval, so no unit)
        assert boot["n_items"] == len(cell.details["per_item"]) and 1 <= boot["n_units"]
        assert boot["unit"] in (spec.unit, "text", "text group")
    # a cell that did not record its type gets it back from the table, pair classification told from deduplication
    assert type_of_cell(cell.details["main_metric"], cell.metrics) == type_name

    # rank: the ranking reads the store and ranks the task on the type's main metric
    ranked = rank_results(store, [entry], walk_policy)
    [info] = ranked.recommendation.tasks
    assert (info.name, info.type, info.metric) == (small.name, type_name, spec.main_metric)
    [candidate] = [c for c in ranked.recommendation.candidates() if c.model == MODEL]
    assert candidate.quality_metric[small.name] == spec.main_metric
    assert candidate.quality[small.name] == pytest.approx(cell.metrics[spec.main_metric])

    # report: the Markdown report says which type the task is and which figure ranked it
    paths = write_report(ranked, tmp_path / "report", ["markdown"])
    text = paths["markdown"].read_text()
    assert f"{small.name} ({type_name}, ranked on {spec.main_metric}" in text
    if cell.details["ci"]:
        assert info.units == plural(boot["unit"], boot["n_units"]) and f"bootstrap over {info.units}" in text
    else:
        assert info.units is None and "bootstrap over" not in text


def test_every_layer_has_its_functions_for_every_type() -> None:
    assert list(DATASET_TYPES) == list(TASK_TYPES) and set(EVALUATORS) == set(TASK_TYPES)


def test_a_layer_table_that_lacks_a_type_fails_naming_it() -> None:
    from advisor.config.task_types import require_every_type

    partial = {name: None for name in TASK_TYPES if name != "reranking"}
    with pytest.raises(RuntimeError, match="missing reranking"):
        require_every_type(partial, "a test table")


def test_every_figure_of_the_table_is_a_registered_figure() -> None:
    from advisor.figures import is_figure

    for spec in TASK_TYPES.values():
        assert spec.main_metric in spec.metrics, spec.name
        assert all(is_figure(m) for m in spec.metrics), spec.name


def test_only_one_type_claims_each_main_metric_unless_its_figures_tell_them_apart() -> None:
    by_main: dict[str, list[str]] = {}
    for spec in TASK_TYPES.values():
        by_main.setdefault(spec.main_metric, []).append(spec.name)
    for main, names in by_main.items():
        figure_sets = [frozenset(TASK_TYPES[n].metrics) for n in names]
        assert len(set(figure_sets)) == len(names), f"{names} share {main} and the same figures"


def test_an_unknown_task_type_is_one_line_with_the_closest_name() -> None:
    from advisor.config.task_types import task_type
    from advisor.errors import UserError

    with pytest.raises(UserError, match="did you mean reranking"):
        task_type("re-ranking")


def test_the_type_checkers_literal_names_the_table_s_types() -> None:
    from typing import get_args

    from advisor.config.task_types import TaskTypeName

    assert get_args(TaskTypeName) == tuple(TASK_TYPES)
