"""The data screen as a person uses it, driven through Textual's Pilot: paths typed one after another, the dataset
type and a corpus file set in the screen, a split picked, the UNLABELED line shown first, a missing path refused in
one line, and the results of one dataset kept on screen while another has none yet.

Every task is read by the real loaders (``advisor.datasets.tasks.load_task``) from files built here out of the
shipped ``data/rt-reviews-plots``; the expected sizes are counted from those files, not from the loaders."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

pytest.importorskip("textual")

pytestmark = pytest.mark.anyio
SIZE = (160, 44)
TASK = "rt-reviews-plots"


def make_app(tmp_path: Path, datasets=(), store: Path | None = None):
    from advisor.builtin.tui.app import AdvisorApp
    from advisor.builtin.tui.session import Session

    return AdvisorApp(Session.open(datasets=list(datasets), store=store or tmp_path / "results.sqlite"))


async def wait_for(pilot, condition, what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.1)


def loaded(app) -> bool:
    return all(d.task is not None or d.error is not None for d in app.session.datasets)


def rows(app, table_id: str = "#datasets") -> dict[str, list[str]]:
    from textual.widgets import DataTable

    table = app.screen.query_one(table_id, DataTable)
    return {key.value: [str(c) for c in table.get_row(key)] for key in table.rows}


def column(app, name: str, table_id: str = "#datasets") -> int:
    from textual.widgets import DataTable

    table = app.screen.query_one(table_id, DataTable)
    return [str(c.label) for c in table.columns.values()].index(name)


def rendered(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def type_path(pilot, text: str) -> None:
    """Type ``text`` key by key, as a person does (each character goes through the app's key handling)."""
    await pilot.press(*text)
    await pilot.press("enter")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def joined(doc: dict) -> str:
    return (doc["title"] + " " + doc["text"]).strip() if doc.get("title") else doc["text"].strip()


def judgements(path: Path) -> list[tuple[str, str]]:
    _, *lines = path.read_text(encoding="utf-8").splitlines()
    return [(q, d) for q, d, _ in (line.split("\t") for line in lines if line.strip())]


def small_beir(repo: Path, out: Path, *, splits: dict[str, int] | None = None, n_queries: int = 40) -> Path:
    """The first ``n_queries`` queries of rt-reviews-plots and every plot, with judgement files ``qrels/<split>.tsv``
    for the first N of those queries each (``splits``; none: an unlabeled folder)."""
    src = repo / "data" / TASK
    out.mkdir(parents=True)
    queries = src.joinpath("queries.jsonl").read_text(encoding="utf-8").splitlines()[:n_queries]
    out.joinpath("queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    out.joinpath("corpus.jsonl").write_bytes(src.joinpath("corpus.jsonl").read_bytes())
    ids = [json.loads(q)["_id"] for q in queries]
    for split, n in (splits or {}).items():
        kept = [(q, d) for q, d in judgements(src / "qrels" / "test.tsv") if q in ids[:n]]
        (out / "qrels").mkdir(exist_ok=True)
        out.joinpath("qrels", f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in kept), encoding="utf-8")
    return out


# ---- typing paths -------------------------------------------------------------------------------------------------

async def test_typing_two_paths_in_a_row_keeps_focus_and_adds_exactly_those_two(repo, tmp_path):
    from textual.widgets import Input

    first, second = str(repo / "data" / "lee-sts"), str(repo / "data" / "rt-sentiment")
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        await pilot.click("#dataset-path")
        await type_path(pilot, first)
        await pilot.pause()
        await type_path(pilot, second)  # 'e' in a path must not add the examples, digits must not switch screens
        await pilot.pause()
        field = app.screen.query_one("#dataset-path", Input)
        assert [d.spec for d in app.session.datasets] == [first, second]
        assert app.focused is field and field.value == ""
        await wait_for(pilot, lambda: loaded(app), "both datasets to load")
        await pilot.pause()
        assert list(rows(app)) == [first, second]


async def test_the_data_screen_opens_in_the_path_field_and_escape_leaves_it_for_the_table(repo, tmp_path):
    from textual.widgets import DataTable, Input

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#dataset-path", Input)
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#datasets", DataTable)
        await pilot.press("1")  # the number keys switch screens again
        await pilot.pause()
        assert app.current_mode == "catalog"


# ---- how a dataset is read: its type, its corpus, its split --------------------------------------------------------

async def test_the_dataset_type_set_in_the_screen_reads_the_folder_with_that_source(repo, tmp_path):
    from textual.widgets import Select

    folder = str(repo / "data" / TASK)  # a labelled BEIR folder: detected as beir, read as unlabeled when told so
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        app.screen.query_one("#dataset-type", Select).value = "unlabeled"
        await pilot.pause()
        await type_path(pilot, folder)
        await wait_for(pilot, lambda: loaded(app), "the dataset to load")
        await pilot.pause()
        state = app.session.datasets[0]
        assert (state.spec, state.source) == (folder, "unlabeled")
        assert (state.task.source, state.task.type) == ("unlabeled", "unlabeled_retrieval")
        row = rows(app)[folder]
        assert row[column(app, "type")] == "unlabeled_retrieval" and row[column(app, "source")] == "unlabeled"
        ref = app.session.task_refs()[0]  # a sweep worker reads it the same way
        assert (ref.source, ref.content_hash) == ("unlabeled", state.task.content_hash)


async def test_a_pairs_csv_built_from_rt_reviews_plots_loads_in_the_screen_with_a_corpus_file(repo, tmp_path):
    from textual.widgets import Input

    src = repo / "data" / TASK
    queries = {q["_id"]: q["text"] for q in read_jsonl(src / "queries.jsonl")}
    corpus = {d["_id"]: joined(d) for d in read_jsonl(src / "corpus.jsonl")}
    pairs = [(queries[q], corpus[d]) for q, d in judgements(src / "qrels" / "test.tsv")][:50]
    pairs_csv = tmp_path / "review-plot-pairs.csv"
    with pairs_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["query", "positive"])
        writer.writerows(pairs)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        await type_path(pilot, str(pairs_csv))
        await wait_for(pilot, lambda: loaded(app), "the pairs file to load")
        await pilot.pause()
        task = app.session.datasets[0].task
        assert task is not None, app.session.datasets[0].error
        n_queries, n_docs = len({q for q, _ in pairs}), len({d for _, d in pairs})
        row = rows(app)[str(pairs_csv)]
        assert row[column(app, "type")] == "retrieval" and row[column(app, "source")] == "pairs"
        assert row[column(app, "size")] == f"{n_queries} queries, {n_docs} corpus"

        # the same file with the folder's whole corpus as distractors (--corpus): every distinct plot once
        app.screen.query_one("#dataset-corpus", Input).value = str(src / "corpus.jsonl")
        app.screen.query_one("#dataset-path", Input).focus()
        await type_path(pilot, str(pairs_csv))
        await wait_for(pilot, lambda: loaded(app), "the pairs file to load again with the corpus")
        await pilot.pause()
        assert len(app.session.datasets) == 1
        state = app.session.datasets[0]
        assert state.corpus == str(src / "corpus.jsonl"), state.error
        assert rows(app)[str(pairs_csv)][column(app, "size")] == f"{n_queries} queries, {len(set(corpus.values()))} corpus"
        assert app.session.task_refs()[0].corpus is not None


async def test_a_split_picked_in_the_screen_reads_that_judgement_file(repo, tmp_path):
    from textual.widgets import DataTable, Select

    folder = small_beir(repo, tmp_path / "two-splits", splits={"dev": 10, "test": 30})
    app = make_app(tmp_path, datasets=[str(folder)])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: loaded(app), "the folder to load")
        await pilot.pause()
        assert app.session.datasets[0].task.meta["split"] == "test"  # the loader's own preference
        app.screen.query_one("#datasets", DataTable).focus()
        await pilot.pause()
        split = app.screen.query_one("#dataset-split", Select)
        assert not split.disabled and split.value == "test"
        split.value = "dev"
        await wait_for(pilot, lambda: loaded(app) and app.session.datasets[0].task.meta.get("split") == "dev",
                       "the dev split to load")
        await pilot.pause()
        state = app.session.datasets[0]
        assert state.spec == str(folder / "qrels" / "dev.tsv") and len(app.session.datasets) == 1
        dev_queries = {q for q, _ in judgements(folder / "qrels" / "dev.tsv")}
        assert len(state.task.data.queries) == len(dev_queries) == 10
        assert rows(app)[state.spec][column(app, "split")] == "dev"


# ---- what the CLI prints first, and a mistake ----------------------------------------------------------------------

async def test_an_unlabeled_folder_shows_its_unlabeled_line_first_on_the_data_and_why_screens(repo, tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from snapshot import screen_text, settled_screenshot

    from advisor.datasets.tasks import load_task
    from advisor.inputs import unlabeled_notices

    folder = small_beir(repo, tmp_path / "no-judgements")
    expected = unlabeled_notices([load_task(folder)])  # what 'advisor run' / 'advisor datasets show' print first
    assert len(expected) == 1 and "UNLABELED" in expected[0]
    app = make_app(tmp_path, datasets=[str(repo / "data" / "lee-sts"), str(folder)])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: loaded(app), "the datasets to load")
        await pilot.pause()
        assert rendered(app, "#dataset-notices") == expected[0]
        lines = screen_text(await settled_screenshot(app, pilot))
        first = next(i for i, line in enumerate(lines) if "UNLABELED" in line)
        header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["dataset", "task"])
        assert first < header  # above the table, first thing after the hint
        await pilot.press("escape", "7")
        await pilot.pause()
        assert app.screen.shown.plain.startswith(expected[0] + "\n")


async def test_a_missing_path_is_one_line_and_nothing_else_changes(repo, tmp_path):
    from textual.widgets import Input

    from advisor.datasets.readers import missing_path

    kept = str(repo / "data" / "lee-sts")
    typo = str(repo / "data" / "rt-reviews-plot")
    app = make_app(tmp_path, datasets=[kept])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: loaded(app), "the first dataset to load")
        before = [(d.spec, d.task) for d in app.session.datasets]
        await type_path(pilot, typo)
        await pilot.pause()
        line = str(missing_path(typo))
        assert line.endswith(f"(did you mean {repo / 'data' / TASK}?)")
        assert rendered(app, "#dataset-message") == line
        assert [(d.spec, d.task) for d in app.session.datasets] == before
        assert list(rows(app)) == [kept]
        field = app.screen.query_one("#dataset-path", Input)
        assert field.value == typo and app.focused is field  # to fix the typo in place
        assert not any("Traceback" in str(n.message) for n in app._notifications)


# ---- results ---------------------------------------------------------------------------------------------------

async def test_results_of_a_loaded_dataset_stay_visible_while_another_has_none(repo, tmp_path):
    from advisor.sweep.results import CellKey, CellResult
    from advisor.sweep.store import ResultStore

    model, hw = "all-MiniLM-L6-v2", "hw-test"
    store = tmp_path / "results.sqlite"
    quality = CellKey("quality", model, None, "torch", "cpu", "fp32", TASK, "h1", None, "float32", hw, "v1")
    cost = CellKey("cost", model, None, "torch", "cpu", "fp32", TASK, "h1", None, None, hw, "v1")
    with ResultStore(store) as results:
        results.put_many([
            CellResult(quality, metrics={"ndcg_at_10": 0.61}, details={"main_metric": "ndcg_at_10"}, finished_at=1.0),
            CellResult(cost, metrics={"latency_p50_ms": 5.0, "latency_p95_ms": 9.0, "docs_per_s": 80.0},
                       finished_at=1.0)])
    app = make_app(tmp_path, datasets=[str(repo / "data" / TASK), str(repo / "data" / "lee-sts")], store=store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: loaded(app), "the datasets to load")
        await pilot.press("escape", "5")
        await wait_for(pilot, lambda: bool(app.screen.candidates) or "no results" in rendered(app, "#results-detail")
                       and not app.sweep.ranking_pending, "the ranking")
        await pilot.pause()
        shown = rows(app, "#results")
        assert [r[column(app, "model", "#results")].strip() for r in shown.values()] == [model]
        assert float(shown[f"model:{model}"][column(app, TASK, "#results")]) == pytest.approx(0.61)
        assert "lee-sts: no results in the store yet" in rendered(app, "#results-waiting")
        await pilot.press("7")
        await pilot.pause()
        assert "Recommended: " in app.screen.shown.plain
        assert "lee-sts: no results in the store yet" in app.screen.shown.plain
