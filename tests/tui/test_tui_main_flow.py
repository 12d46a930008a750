"""The main flow on a real model through the real runner: open, filter, select, type two dataset paths, run,
cancel mid-run, resume, watch the run table fill, read the results, the plot and the recommendation, export the
report.

wordllama-l2-supercat-256 (the offline catalog's static model: real weights and tokenizer, Matryoshka dims, so the
grid of 2 dims x 2 vector precisions is the same as a transformer's, and its cost cells take seconds, not the minutes
a transformer's bulk, latency, load-sweep and serving-memory measurements take on 2 cores) runs on a 30-query and a
20-query slice of the shipped rt-reviews-plots retrieval task, through ``advisor.sweep.driver.run_plan`` with the local executor (a fresh worker
process), into a real SQLite store. The TUI's figures are checked against the store and against
``advisor.pipeline.rank_results`` on the files read by ``advisor.inputs``, i.e. what ``advisor rank`` prints.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("textual")

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(1500)]
SIZE = (160, 44)
MODEL = "wordllama-l2-supercat-256"


def small_retrieval(repo: Path, out: Path, n_queries: int = 30, n_docs: int = 60) -> Path:
    """The first ``n_queries`` queries of data/rt-reviews-plots with their judgements, over their relevant plots
    and other plots as distractors (``n_docs`` in all): small enough for a quick run on 2 CPU cores."""
    src = repo / "data" / "rt-reviews-plots"
    (out / "qrels").mkdir(parents=True)
    queries = src.joinpath("queries.jsonl").read_text(encoding="utf-8").splitlines()[:n_queries]
    ids = {json.loads(q)["_id"] for q in queries}
    out.joinpath("queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    header, *rows = src.joinpath("qrels", "test.tsv").read_text(encoding="utf-8").splitlines()
    kept = [r for r in rows if r.split("\t")[0] in ids]
    relevant = {r.split("\t")[1] for r in kept}
    corpus = src.joinpath("corpus.jsonl").read_text(encoding="utf-8").splitlines()
    # every relevant plot, then other plots as distractors, up to n_docs
    docs = [d for d in corpus if json.loads(d)["_id"] in relevant]
    docs += [d for d in corpus if json.loads(d)["_id"] not in relevant][: max(0, n_docs - len(docs))]
    out.joinpath("corpus.jsonl").write_text("\n".join(docs) + "\n", encoding="utf-8")
    out.joinpath("qrels", "test.tsv").write_text("\n".join([header, *kept]) + "\n", encoding="utf-8")
    return out


def small_policy(path: Path) -> Path:
    # baselines: [] keeps the run to the selected model's cells (BM25 is planned on retrieval tasks by default)
    path.write_text("name: tui-test\nbaselines: []\nlicenses: {commercial_use: true}\nlanguages: {require: [en]}\n"
                    "limits: {max_p95_latency_ms: 5000}\n"
                    "variants: {dims: [full, 128], vector_precisions: [float32, binary]}\n", encoding="utf-8")
    return path


async def wait_for(pilot, condition, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.2)


def rows(app, table_id: str) -> dict[str, list[str]]:
    from textual.widgets import DataTable

    table = app.screen.query_one(table_id, DataTable)
    return {key.value: [str(c) for c in table.get_row(key)] for key in table.rows}


async def test_main_flow_run_cancel_resume_recommend(repo, tmp_path):
    from textual.widgets import DataTable, Input, Select

    from advisor.inputs import open_store, read_inputs
    from advisor.pipeline import rank_results
    from advisor.sweep.store import ResultStore
    from advisor.builtin.tui.app import AdvisorApp
    from advisor.builtin.tui.session import Session

    dataset = small_retrieval(repo, tmp_path / "rt-small")
    # a second task: one model load computes a task's cells together (its cost cell, then its quality cells from the
    # same encoding), so the cancel after the first stored cell lands while the second task is being computed
    dataset_b = small_retrieval(repo, tmp_path / "rt-small-b", n_queries=20, n_docs=40)
    policy = small_policy(tmp_path / "policy.yaml")
    store_path = tmp_path / "results.sqlite"
    session = Session.open(policy=policy, store=store_path)
    app = AdvisorApp(session, out_dir=tmp_path / "report")

    async with app.run_test(size=SIZE, notifications=True) as pilot:
        # open + filter: English static models
        await pilot.pause()
        app.screen.query_one("#filter-backend", Select).value = "static"
        app.screen.query_one("#filter-language", Input).value = "eng"
        await pilot.pause()
        shown = rows(app, "#catalog")
        assert MODEL in shown and all(r[2] == "static" for r in shown.values())
        # select the candidate under the cursor
        table = app.screen.query_one("#catalog", DataTable)
        table.move_cursor(row=table.get_row_index(MODEL))
        await pilot.press("space")
        await pilot.pause()
        assert session.selected == [MODEL]
        assert rows(app, "#catalog")[MODEL][0] == "●"

        # type the datasets on the datasets screen (it opens in the path field), one after the other; each loads
        # in a worker
        await pilot.press("3")
        await pilot.pause()
        for path in (dataset, dataset_b):
            await pilot.press(*str(path))
            await pilot.press("enter")
        assert app.focused is app.screen.query_one("#dataset-path", Input)
        await wait_for(pilot, lambda: len(session.tasks()) == 2, 60, "the datasets to load")
        await pilot.pause()
        task, task_b = session.tasks()
        for path, t, size in ((dataset, task, "30 queries, 60 corpus"), (dataset_b, task_b, "20 queries, 40 corpus")):
            row = rows(app, "#datasets")[str(path)]
            assert [row[1], row[2], row[5]] == [t.name, "retrieval", size]

        # run; cancel as soon as the first cell is stored (escape leaves the path field, where '4' is typed)
        await pilot.press("escape", "4")
        await pilot.pause()
        await pilot.press("ctrl+r")
        sweep = app.sweep
        await wait_for(pilot, lambda: sweep.state.count("ok") >= 1 or not sweep.running, 600, "the first cell")
        assert sweep.running, (sweep.state.status, sweep.state.message, [str(n.message) for n in app._notifications], sweep.worker)
        planned = len(sweep.state.cells)
        assert planned == 10  # 2 tasks x (2 dims x 2 vector precisions + 1 cost cell)
        await pilot.press("c")
        await wait_for(pilot, lambda: not sweep.running, 120, "the cancelled run to stop")
        assert sweep.state.status == "interrupted", sweep.state.message
        first = sweep.state.count("ok")
        assert 1 <= first < planned
        with ResultStore(store_path) as store:
            stored = {r.fingerprint for r in store.results(status="ok")}
            assert len(stored) == first
            assert store.runs()[0]["status"] == "interrupted"
        table_states = {r[0] for r in rows(app, "#cells").values()}
        assert table_states == {"ok", "pending"}

        # resume: the finished cells are reused, the rest computed, and the table fills
        seen: set[tuple[str, ...]] = set()
        await pilot.press("ctrl+r")

        def progressed() -> bool:
            seen.add(tuple(sorted(r[0] for r in rows(app, "#cells").values())))
            return not sweep.running and sweep.state.status != "planning"

        await wait_for(pilot, progressed, 600, "the resumed run to finish")
        assert sweep.state.status == "finished", sweep.state.message
        final = [r[0] for r in rows(app, "#cells").values()]
        assert sorted(final) == sorted(["stored"] * first + ["ok"] * (planned - first))
        assert len(seen) >= 2, "the run table changed while the run went on"
        with ResultStore(store_path) as store:
            assert set(store.compute_counts().values()) == {1}, "no cell computed twice"
            results = store.results()
            assert len(results) == planned and all(r.status == "ok" for r in results)

        # results: the same candidates and figures as 'advisor rank'
        inputs = read_inputs(policy=policy)
        with open_store(store_path) as store:
            expected = rank_results(store, inputs.entries, inputs.policy,
                                    tasks=[task.name, task_b.name]).recommendation
        await pilot.press("5")  # the ranking runs in a worker; the screen fills when its message arrives
        await wait_for(pilot, lambda: bool(app.screen.candidates) and not sweep.ranking_pending, 120,
                       "the ranking")
        await pilot.press("x")  # expand every model's variants
        await pilot.pause()
        table = app.screen.query_one("#results", DataTable)
        assert table.row_count == len(expected.candidates()) == 4
        headers = [str(c.label).split(" ")[0] for c in table.columns.values()]
        ndcg = {r.key.dim: r.metrics["ndcg_at_10"] for r in results
                if r.key.kind == "quality" and r.key.vector_precision == "float32" and r.key.task == task.name}
        shown_rows = rows(app, "#results")
        full_row = next(v for v in shown_rows.values() if "full float32" in v[2])
        assert float(full_row[headers.index(task.name)]) == pytest.approx(ndcg[None], abs=5e-5)
        # chance on 60 documents with about one relevant each is nDCG@10 ~0.08
        assert ndcg[None] > 0.15, "the model finds plots for reviews far better than chance"
        # sort by mean quality ('s' moves the sort to the next column; quality sorts best first), then reverse
        screen = app.screen
        while screen.columns()[screen.sort_column][0] != "quality":
            await pilot.press("s")
        await pilot.pause()
        qualities = [float(r[headers.index("quality")]) for r in rows(app, "#results").values()][1:]  # variants
        assert qualities == sorted(qualities, reverse=True) and len(set(qualities)) > 1
        await pilot.press("r")
        await pilot.pause()
        qualities = [float(r[headers.index("quality")]) for r in rows(app, "#results").values()][1:]
        assert qualities == sorted(qualities)
        await pilot.press("x")  # collapse: one row per model
        await pilot.pause()
        assert app.screen.query_one("#results", DataTable).row_count == 1

        # the plot holds every candidate with both figures; the recommendation is starred
        await pilot.press("6")
        await pilot.pause()
        plotted = {label for points in app.screen.series.values() for *_, label in points}
        placeable = {c.label for c in expected.candidates()
                     if c.status not in ("rejected", "failed", "incomplete") and "latency_p95_ms" in c.cost}
        assert plotted == placeable and plotted
        assert app.screen.recommended is not None and app.screen.recommended[2] == expected.recommended.label

        # the recommendation and its why line, in the ranking's words
        await pilot.press("7")
        await pilot.pause()
        text = app.screen.shown.plain
        assert f"Recommended: {expected.recommended.label}" in text
        assert expected.recommended.why.split(";")[0] in text

        # export the report with the report writers (in a worker)
        await pilot.press("ctrl+e")
        notes = lambda: [str(n.message) for n in app._notifications]  # noqa: E731
        await wait_for(pilot, lambda: app.report_paths or any("cannot export" in m for m in notes()), 120,
                       "the report")
        assert app.report_paths, notes()
        written = sorted(p.name for p in (tmp_path / "report").iterdir())
        assert any(n.endswith(".md") for n in written) and any(n.endswith(".html") for n in written)
        report_md = next((tmp_path / "report").glob("*.md")).read_text(encoding="utf-8")
        assert expected.recommended.model in report_md
