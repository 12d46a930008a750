"""A query/document pair in the TUI, driven through Textual's Pilot: the catalog lists it like any candidate,
marked as a pair with both sides named; the results screen ranks it beside its sides (from a real SQLite store)
and its detail line gives the report's comparison of the pair with each side alone."""

from __future__ import annotations

import pytest

pytest.importorskip("textual")

from advisor.sweep.results import CellKey, CellResult  # noqa: E402

pytestmark = pytest.mark.anyio
SIZE = (160, 44)
PAIR, QUERY, DOCUMENT = "int8-queries+minilm", "all-MiniLM-L6-v2-onnx-int8", "all-MiniLM-L6-v2"
TASK, HW = "rt-reviews-plots", "hw-test"


def _cells(n: int = 120) -> list[CellResult]:
    """Quality and cost cells as the sweep stores them for the pair and each side (per-query nDCG@10)."""
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, n)
    out = []
    for model, backend, wp, shift, p95, docs in ((PAIR, "pair", "fp32", -0.01, 4.0, 60.0),
                                                 (DOCUMENT, "torch", "fp32", 0.0, 12.0, 60.0),
                                                 (QUERY, "onnx", "int8", -0.08, 4.0, 150.0)):
        items = np.clip(base + shift + rng.normal(0, 0.02, n), 0, 1).tolist()
        key = CellKey("quality", model, None, backend, "cpu", wp, TASK, "h1", None, "float32", HW, "v1")
        out.append(CellResult(key, metrics={"ndcg_at_10": float(np.mean(items))},
                              details={"main_metric": "ndcg_at_10", "per_item": items}, finished_at=1.0))
        key = CellKey("cost", model, None, backend, "cpu", wp, TASK, "h1", None, None, HW, "v1")
        out.append(CellResult(key, metrics={"latency_p50_ms": p95 / 2, "latency_p95_ms": p95, "docs_per_s": docs,
                                            "serving_memory_mb": 400.0}, finished_at=1.0))
    return out


@pytest.fixture
def pair_app(repo, tmp_path):
    from advisor.sweep.store import ResultStore
    from advisor.builtin.tui.app import AdvisorApp
    from advisor.builtin.tui.session import Session

    catalog = tmp_path / "pairs.yaml"
    catalog.write_text(f"models:\n  - {{name: {PAIR}, query_model: {QUERY}, document_model: {DOCUMENT}}}\n")
    store = tmp_path / "results.sqlite"
    with ResultStore(store) as results:
        results.put_many(_cells())
    session = Session.open(catalogs=[catalog], datasets=[str(repo / "data" / TASK)], store=store)
    assert session.load_pending() == []
    return AdvisorApp(session)


def _rows(app, table_id: str) -> dict[str, list[str]]:
    from textual.widgets import DataTable

    table = app.screen.query_one(table_id, DataTable)
    return {key.value: [str(c) for c in table.get_row(key)] for key in table.rows}


async def test_catalog_marks_a_pair_and_names_both_sides(pair_app):
    async with pair_app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        row = _rows(pair_app, "#catalog")[PAIR]
        assert row[1] == f"⇄ {PAIR}" and row[2] == "pair" and row[-1] == "admitted"
        detail = str(pair_app.screen.query_one("#catalog-detail").render())
        assert f"pair: queries by {QUERY} (onnx), documents by {DOCUMENT} (torch)" in detail


async def test_results_rank_the_pair_beside_its_sides_with_the_comparison(pair_app):
    import time

    from textual.widgets import DataTable

    async with pair_app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        end = time.monotonic() + 60
        while not (pair_app.screen.candidates and not pair_app.sweep.ranking_pending):
            assert time.monotonic() < end, "the ranking did not arrive"
            await pilot.pause(0.2)
        await pilot.pause()
        screen = pair_app.screen
        models = {r[1].strip() for r in _rows(pair_app, "#results").values()}
        assert models == {f"⇄ {PAIR}", QUERY, DOCUMENT}
        table = screen.query_one("#results", DataTable)
        table.move_cursor(row=table.get_row_index(f"model:{PAIR}"))
        await pilot.pause()
        detail = str(screen.query_one("#results-detail").render())
        (comparison,) = screen.pairs
        assert f"pair: queries by {QUERY} (onnx), documents by {DOCUMENT} (torch)" in detail
        for line in comparison.difference_lines():
            assert line in detail
        assert f"pair vs {DOCUMENT} alone on {TASK}: ndcg_at_10" in detail
