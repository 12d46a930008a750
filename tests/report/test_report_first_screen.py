"""The report's first screen answers "which model, at which settings, and why" with one short table (a row per
model) and one line per per-candidate list; the long lists (every ranked candidate against BM25, the switching cost
of each) come below the main tables as compact tables, collapsed in ``<details>`` in HTML. Built from hand-made
cells of a retrieval task with a variant grid (3 models x 4 sizes x 3 vector precisions) and BM25 beside them."""

from __future__ import annotations

from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from advisor.formatting import signed
from advisor.policy.spec import load_policy
from advisor.quality import bootstrap
from advisor.ranking import rank
from advisor.reporting import Report, write_reports
from advisor.sweep.results import CellKey, CellResult

MODELS = {"alpha": 0.6, "beta": 0.55, "gamma": 0.5}
DIMS = (None, 256, 128, 64)
PRECISIONS = ("float32", "int8", "binary")
VARIANTS = len(MODELS) * len(DIMS) * len(PRECISIONS)  # 36 embedding candidates, BM25 the 37th


def bm25_cells(cells, per_item) -> list[CellResult]:
    items = [float(x) for x in per_item]
    key = CellKey("quality", "bm25", None, "bm25", "cpu", "fp32", "reviews", "h1", None, "sparse", cells.HW, "v1")
    quality = CellResult(key, metrics={"ndcg_at_10": sum(items) / len(items)},
                         details={"main_metric": "ndcg_at_10", "per_item": items, "task_type": "retrieval"},
                         finished_at=1.0)
    key = CellKey("cost", "bm25", None, "bm25", "cpu", "fp32", "reviews", "h1", None, None, cells.HW, "v1")
    cost = CellResult(key, metrics={"latency_p50_ms": 1.0, "latency_p95_ms": 2.0, "docs_per_s": 5000.0,
                                    "serving_memory_mb": 50.0}, finished_at=1.0)
    return [quality, cost]


@pytest.fixture
def report(tmp_path, cells):
    entries = [cells.entry(m, dim=384, matryoshka=(256, 128, 64)) for m in MODELS]
    results, per_item = [], {}
    for model, q in MODELS.items():
        for dim in DIMS:
            for vp in PRECISIONS:
                factor = {None: 1, 256: 0.97, 128: 0.93, 64: 0.85}[dim] * {"float32": 1, "int8": 0.99,
                                                                         "binary": 0.88}[vp]
                r = cells.quality(model, cells.scores(q * factor, seed=len(model)), dim=dim, vp=vp)
                r.details["task_type"] = "retrieval"
                results.append(r)
                per_item[(model, dim, vp)] = r.details["per_item"]
        results.append(cells.cost(model, p95=10 * q, docs=1000 * q, mem=100 * q))
    bm25 = cells.scores(0.45, seed=9)
    results += bm25_cells(cells, bm25)
    policy = tmp_path / "p.yaml"
    policy.write_text("name: grid\nvariants:\n  dims: [full, 256, 128, 64]\n  vector_precisions: [float32, int8, "
                      "binary]\ncosts: {corpus_documents: 2000000, machine_usd_per_hour: 0.5}\n", encoding="utf-8")
    rec = rank(results, entries, load_policy(policy))
    paths = write_reports(Report(rec, store="r.sqlite"), tmp_path / "out", ["markdown", "html"])
    return SimpleNamespace(rec=rec, paths=paths, per_item=per_item, bm25=[float(x) for x in bm25])


def first_screen(markdown: str) -> str:
    """The Markdown report down to the first per-machine candidate table (what a reader sees first)."""
    return markdown.split("\n## Candidates measured on", 1)[0]


def test_markdown_first_screen_is_one_row_per_model_and_one_line_per_list(report):
    screen = first_screen(report.paths["markdown"].read_text(encoding="utf-8"))
    rows = [line for line in screen.splitlines() if line.startswith("| ") and not line.startswith("| model ")]
    assert [r.split(" | ")[0][2:] for r in rows] == ["alpha", "beta", "gamma", "bm25"]
    assert rows[0].split(" | ")[1:3] == ["recommended", "cpu fp32 · 384 dims (full) · float32"]
    summaries = [line for line in screen.splitlines() if line.startswith("- **")]
    assert [s.split("**")[1] for s in summaries] == ["Against BM25", "Switching models"]
    assert "Switching to" not in screen and " vs BM25 " in summaries[0] and screen.count(" vs BM25 ") == 1


def test_the_first_screen_bm25_line_is_the_paired_bootstrap_of_the_recommendation(report):
    best = report.rec.recommended
    expected = bootstrap.compare({"per_item": report.per_item[(best.model, best.variant.dim,
                                                                best.variant.vector_precision)]},
                                 {"per_item": report.bm25})
    screen = first_screen(report.paths["markdown"].read_text(encoding="utf-8"))
    [line] = [s for s in screen.splitlines() if s.startswith("- **Against BM25**")]
    assert f"{best.label} on reviews: ndcg_at_10 {expected.a:.4f} vs BM25 {expected.b:.4f}, difference " \
           f"{signed(expected.difference)}" in line
    # the other ranked candidates, counted by verdict (each one's own bootstrap, from the ranking)
    from advisor.ranking.baseline import bm25_lines

    others = bm25_lines(report.rec)[1:]
    assert f"the other {len(others)} ranked candidate(s): " in line
    for verdict in {o.verdict for o in others}:
        assert f"{sum(o.verdict == verdict for o in others)} {verdict}" in line


def test_the_first_screen_switching_line_prices_the_recommendation_at_the_policy_costs(report):
    from advisor.formatting import count, figure, money

    best = report.rec.recommended
    hours = 2_000_000 / best.cost["docs_per_s"] / 3600  # exact search: no index to build
    screen = first_screen(report.paths["markdown"].read_text(encoding="utf-8"))
    [line] = [s for s in screen.splitlines() if s.startswith("- **Switching models**")]
    assert line.startswith(f"- **Switching models**: to {best.label}, {figure(hours, 'h')} and {money(hours * 0.5)} "
                           f"for {count(2_000_000)} documents; the other {VARIANTS} ranked candidate(s): ")
    text = report.paths["markdown"].read_text(encoding="utf-8")
    assert "At corpus_documents 2.0 M, machine_usd_per_hour $0.5;" in text  # stated by the policy, not defaults


def test_markdown_long_lists_are_compact_tables_below_the_main_tables(report):
    text = report.paths["markdown"].read_text(encoding="utf-8")
    order = [text.index(h) for h in ("## Each model at its best", "## Candidates measured on",
                                     "## Is this model better than BM25 on your data?",
                                     "## What switching models costs")]
    assert order == sorted(order)
    bm25_part = text.split("## Is this model better than BM25 on your data?", 1)[1].split("\n## ", 1)[0]
    switch_part = text.split("## What switching models costs", 1)[1].split("\n## ", 1)[0]
    bm25_rows = [line for line in bm25_part.splitlines() if line.startswith("| reviews | ")]
    switch_rows = [line for line in switch_part.splitlines() if line.startswith("| ") and "docs/s" not in line]
    assert len(bm25_rows) == VARIANTS  # every ranked embedding candidate, one row each
    assert len(switch_rows) == VARIANTS + 1  # and BM25's own switching cost
    assert "Switching to" not in text  # no sentence per candidate


class Sections(HTMLParser):
    """Each table of a page: the heading before it and whether it sits inside ``<details>``."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.heading, self.tables, self.in_h2 = 0, "", [], False

    def handle_starttag(self, tag, attrs):
        if tag == "details":
            self.depth += 1
        elif tag == "h2":
            self.in_h2, self.heading = True, ""
        elif tag == "table":
            self.tables.append((self.heading, self.depth > 0))

    def handle_endtag(self, tag):
        if tag == "details":
            self.depth -= 1
        elif tag == "h2":
            self.in_h2 = False

    def handle_data(self, data):
        if self.in_h2:
            self.heading += data


def test_html_main_table_comes_first_and_the_long_lists_are_collapsed(report):
    page = report.paths["html"].read_text(encoding="utf-8")
    parser = Sections()
    parser.feed(page)
    assert parser.tables[0] == ("Each model at its best", False)
    collapsed = {heading for heading, inside in parser.tables if inside}
    assert {"Is this model better than BM25 on your data?", "What switching models costs"} <= collapsed
    assert page.index('<ul class="summary">') < page.index("<h2>Candidates measured on") < page.index("<details>")
    assert "Switching to" not in page
