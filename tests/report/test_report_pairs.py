"""The report's three-way comparison of a query/document pair: the pair against its document model alone and its
query model alone on the same tasks, with the paired bootstrap of the pair against each side.

The real run: a catalog holding only a pair (queries by MiniLM int8 on ONNX Runtime, documents by MiniLM fp32 on
torch) is planned and run through ``advisor.pipeline.recommend`` on a slice of a shipped retrieval task; the
planner adds the two sides by itself, and every figure of the section is checked against the store, read with
sqlite3 and recomputed with ``advisor.quality.bootstrap``. The cost columns and the missing-side lines are checked
on cells built by hand (the exact input the ranking reads)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from advisor.models.catalog import PairSpec, pair_entry
from advisor.policy.spec import permissive_policy
from advisor.quality import bootstrap
from advisor.ranking import rank

PAIR, QUERY, DOCUMENT = "int8-queries+minilm", "all-MiniLM-L6-v2-onnx-int8", "all-MiniLM-L6-v2"
TASK = "reviews-plots-80"


def small_retrieval(repo, out, n_queries: int = 80, n_docs: int = 100):
    """The first ``n_queries`` queries of data/rt-reviews-plots over their relevant plots and other plots as
    distractors (``n_docs`` in all): a real task, small enough for three model loads on 2 CPU cores."""
    src = repo / "data" / "rt-reviews-plots"
    (out / "qrels").mkdir(parents=True)
    queries = src.joinpath("queries.jsonl").read_text(encoding="utf-8").splitlines()[:n_queries]
    ids = {json.loads(q)["_id"] for q in queries}
    out.joinpath("queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    header, *rows = src.joinpath("qrels", "test.tsv").read_text(encoding="utf-8").splitlines()
    kept = [r for r in rows if r.split("\t")[0] in ids]
    relevant = {r.split("\t")[1] for r in kept}
    corpus = src.joinpath("corpus.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [d for d in corpus if json.loads(d)["_id"] in relevant]
    docs += [d for d in corpus if json.loads(d)["_id"] not in relevant][: max(0, n_docs - len(docs))]
    out.joinpath("corpus.jsonl").write_text("\n".join(docs) + "\n", encoding="utf-8")
    out.joinpath("qrels", "test.tsv").write_text("\n".join([header, *kept]) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory, repo, minilm_dir):
    from advisor.inputs import read_inputs
    from advisor.pipeline import recommend
    from advisor.sweep.planner import plan_sweep
    from advisor.sweep.store import ResultStore

    base = tmp_path_factory.mktemp("pairs")
    catalog = base / "pairs.yaml"
    catalog.write_text(f"models:\n  - {{name: {PAIR}, query_model: {QUERY}, document_model: {DOCUMENT}}}\n")
    inputs = read_inputs(catalogs=[catalog], datasets=[str(small_retrieval(repo, base / TASK))])
    plan = plan_sweep(inputs.entries, inputs.policy, inputs.tasks, task_refs=inputs.task_refs, measure_cost=False)
    store = base / "results.sqlite"
    with ResultStore(store) as results:
        paths, summary = recommend(plan, results, inputs.catalog, inputs.policy, base / "report",
                                   formats=["markdown", "html", "json"])
    assert summary.failed == 0
    return {"plan": plan, "paths": paths, "store": store,
            "report": json.loads(paths["json"].read_text(encoding="utf-8"))}


def _stored_details(store) -> dict[str, dict]:
    con = sqlite3.connect(store)
    rows = con.execute("SELECT model, details FROM cells WHERE kind = 'quality' AND status = 'ok'").fetchall()
    con.close()
    return {model: json.loads(details) for model, details in rows}


def test_the_planner_adds_a_pairs_sides_to_the_sweep(pair_run):
    # and BM25, the default baseline on a retrieval task
    assert sorted(g.entry.name for g in pair_run["plan"].groups) == sorted([PAIR, QUERY, DOCUMENT, "bm25"])


def test_the_pair_and_each_side_are_compared_with_bm25(pair_run):
    stored = _stored_details(pair_run["store"])
    lines = pair_run["report"]["bm25"]
    assert sorted(line["candidate"].split(" [")[0] for line in lines) == sorted([PAIR, QUERY, DOCUMENT]), lines
    for line in lines:
        expected = bootstrap.compare(stored[line["candidate"].split(" [")[0]], stored["bm25"])
        assert line["task"] == TASK
        for name in ("difference", "ci_low", "ci_high", "p_value"):
            assert line[name] == pytest.approx(getattr(expected, name), abs=1e-12), (line["candidate"], name)


def test_pair_differences_equal_the_bootstrap_of_the_stored_scores(pair_run):
    (section,) = pair_run["report"]["pairs"]
    assert (section["query_model"], section["document_model"]) == (QUERY, DOCUMENT)
    stored = _stored_details(pair_run["store"])
    for side, model in (("document", DOCUMENT), ("query", QUERY)):
        expected = bootstrap.compare(stored[PAIR], stored[model])
        got = section["differences"][side][TASK]
        for name in ("a", "b", "difference", "ci_low", "ci_high", "p_value"):
            assert got[name] == pytest.approx(getattr(expected, name), abs=1e-12), (side, name)
        assert got["different"] == expected.different


def test_pair_rows_carry_each_systems_figure_and_interval(pair_run):
    (section,) = pair_run["report"]["pairs"]
    stored = _stored_details(pair_run["store"])
    rows = {r["role"]: r for r in section["rows"]}
    assert [r["role"] for r in section["rows"]] == ["pair", "document model alone", "query model alone"]
    for role, model in (("pair", PAIR), ("document model alone", DOCUMENT), ("query model alone", QUERY)):
        per_query = stored[model]["per_item"]
        assert rows[role]["model"] == model and rows[role]["missing"] is None
        assert rows[role]["quality"][TASK] == pytest.approx(sum(per_query) / len(per_query))
        assert rows[role]["intervals"][TASK] == pytest.approx(bootstrap.mean_ci(per_query), abs=1e-6)


def test_pair_section_is_in_the_markdown_and_html_reports(pair_run):
    markdown = pair_run["paths"]["markdown"].read_text(encoding="utf-8")
    html = pair_run["paths"]["html"].read_text(encoding="utf-8")
    assert "## Query/document pairs: each pair against its sides alone" in markdown
    assert f"| pair (queries by {QUERY}, documents by {DOCUMENT}) |" in markdown
    assert f"pair vs {DOCUMENT} alone on {TASK}: ndcg_at_10" in markdown
    assert 'id="pairs"' in html and f"pair vs {QUERY} alone on {TASK}" in html


# -- cells built by hand: cost columns, a missing side ----------------------------------------------------------

def _pair(cells):
    query, document = cells.entry("small-q"), cells.entry("big-d")
    return pair_entry(PairSpec(name="small-q+big-d", query_model="small-q", document_model="big-d"), query, document)


def test_pair_cost_columns_are_each_candidates_own(cells):
    pair = _pair(cells)
    results = [cells.quality("small-q+big-d", cells.scores(0.40)), cells.quality("big-d", cells.scores(0.42, seed=1)),
               cells.quality("small-q", cells.scores(0.30, seed=2)),
               cells.cost("small-q+big-d", p95=4.0, docs=50.0, mem=300), cells.cost("big-d", p95=12.0, docs=50.0,
                                                                                     mem=600),
               cells.cost("small-q", p95=4.0, docs=150.0, mem=300)]
    rec = rank(results, [pair], permissive_policy())  # the sides' metadata comes from the pair entry
    (p,) = rec.pairs
    rows = {r.role: r for r in p.rows}
    assert (rows["pair"].latency_p95_ms, rows["pair"].docs_per_s) == (4.0, 50.0)
    assert (rows["document model alone"].latency_p50_ms, rows["query model alone"].docs_per_s) == (6.0, 150.0)
    assert {m.name for m in rec.models} == {"small-q+big-d", "small-q", "big-d"}


def test_a_side_missing_from_the_results_is_named_with_how_to_add_it(cells):
    pair = _pair(cells)
    rec = rank([cells.quality("small-q+big-d", cells.scores(0.40)), cells.quality("big-d", cells.scores(0.42))],
               [pair], permissive_policy())
    (p,) = rec.pairs
    assert p.row("query model alone").missing.startswith("small-q alone is not in these results")
    assert "--model small-q" in p.row("query model alone").missing
    assert set(p.differences) == {"document"}
    assert any(line.startswith("pair vs small-q alone: no comparison") for line in p.difference_lines())


def test_a_side_the_policy_rejects_is_named_with_the_rule(cells):
    query, document = cells.entry("small-q"), cells.entry("big-d", license="CC-BY-NC-4.0")
    pair = pair_entry(PairSpec(name="p", query_model="small-q", document_model="big-d", license="Apache-2.0"),
                      query, document)
    from advisor.policy.spec import Policy

    rec = rank([cells.quality("p", cells.scores(0.40)), cells.quality("small-q", cells.scores(0.30))], [pair],
               Policy(name="commercial", commercial_use=True))
    (p,) = rec.pairs
    assert "big-d alone was not run: rejected by rule" in p.row("document model alone").missing
