"""The retrieval-as-served parts of a report, computed once for every format: "is this model better than BM25 on
your data?" (``advisor.ranking.baseline``) and what switching models costs (re-embed the corpus, rebuild the
index) in hours and money at the policy's stated or default prices.

Each is one line per ranked candidate, so with a grid of variants it runs to dozens of near-identical lines: a
section holds them as a compact table (``columns``, ``rows``) with a one-line ``summary`` for the report's first
screen, and writers put the table below the main one (HTML: collapsed). ``lines`` keeps every line as a sentence
(the JSON report's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.figures import BUILD_S, DOCS_PER_S, N_DOCS, difference_interval, figure_of, lookup
from advisor.formatting import count, figure, money, signed
from advisor.ranking import Candidate, Recommendation

BM25_TITLE = "Is this model better than BM25 on your data?"
SWITCH_TITLE = "What switching models costs"
BM25_LABEL, SWITCH_LABEL = "Against BM25", "Switching models"  # each section's summary line starts with its label


@dataclass
class Section:
    """``lines``: every line as a sentence; ``columns`` / ``rows``: the same lines as a table; ``notes``: the lines
    that are not rows (a task without BM25); ``summary``: one line that answers the section's question for the
    recommendation, for the first screen, after ``label``."""

    title: str
    intro: str
    lines: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "intro": self.intro, "lines": list(self.lines), "summary": self.summary,
                "columns": list(self.columns), "rows": [list(r) for r in self.rows]}


def bm25_section(rec: Recommendation) -> Section | None:
    """Each ranked candidate's nDCG@10 minus BM25's with the paired-bootstrap interval, per retrieval task; or, on
    retrieval tasks without a BM25 cell, how to get one."""
    from advisor.ranking.baseline import bm25_lines, missing_bm25

    compared = bm25_lines(rec)
    lines = [line.text() for line in compared]
    missing = missing_bm25(rec)
    if not lines and not missing:
        return None
    intro = ("BM25 (bm25s, Lucene variant, k1 1.5, b 0.75, English stop words) on the same queries and documents; "
             "the difference is candidate minus BM25 with a 95% paired-bootstrap interval over the queries "
             "(1,000 resamples, seed 0); 'no significant difference' when the interval holds zero.")
    notes = []
    if missing:
        how = ("the policy turns it off ('baselines: []'); drop that line to measure it" if
               "bm25" not in rec.policy.baselines else "run the sweep again under this policy to measure it")
        notes.append(f"BM25 was not measured on {', '.join(missing)}: {how}.")
    columns = ["task", "candidate", "metric", "candidate's", "BM25's", "difference (95% CI)", "verdict"]
    rows = [[line.task, line.candidate, line.metric, figure_of(line.metric).cell(line.value),
             figure_of(line.metric).cell(line.bm25),
             f"{signed(line.difference)} ({difference_interval(line.ci_low, line.ci_high, label='')})",
             line.verdict] for line in compared]
    return Section(BM25_TITLE, intro, lines + notes, columns, rows, notes, _bm25_summary(compared) or " ".join(notes),
                   BM25_LABEL)


def _bm25_summary(compared: list) -> str:
    """The recommendation against BM25 in one line, and how the other ranked candidates fared."""
    if not compared:
        return ""
    first = compared[0]  # the recommendation, or (BM25 recommended) the best-ranked embedding model
    fig = figure_of(first.metric)
    text = (f"{'' if first.status == 'recommended' else 'the best embedding model, '}{first.candidate} on "
            f"{first.task}: {first.metric} {fig.text(first.value)} vs BM25 {fig.text(first.bm25)}, difference "
            f"{fig.difference_text(first.difference, first.ci_low, first.ci_high)}: {first.verdict}")
    if compared[1:]:
        verdicts: dict[str, int] = {}
        for line in compared[1:]:
            verdicts[line.verdict] = verdicts.get(line.verdict, 0) + 1
        counted = ", ".join(f"{n} {verdict}" for verdict, n in sorted(verdicts.items(), key=lambda kv: -kv[1]))
        text += f"; the other {len(compared) - 1} ranked candidate(s): {counted} (each in the table below)"
    return text + "."


def _ranked(rec: Recommendation) -> list[Candidate]:
    order = {"recommended": 0, "pareto": 1, "dominated": 2}
    return sorted((c for c in rec.candidates() if c.status in order and c.cost.get(DOCS_PER_S)),
                  key=lambda c: (order[c.status], c.position or 0, c.label))


@dataclass(frozen=True)
class SwitchCost:
    """Moving a corpus onto one candidate: encode it at its bulk docs/s, then build its index (if any)."""

    candidate: Candidate
    documents: int
    encode_h: float
    build_h: float | None    # None: no index to build (exact search, BM25, a hybrid's re-indexing)
    build_rate: float | None
    usd: float

    @property
    def hours(self) -> float:
        return self.encode_h + (self.build_h or 0.0)

    def index_text(self) -> str:
        """What the index part is, for a table cell: ``faiss-hnsw 0.40 h``, ``none (exact search)``."""
        from advisor.index.bm25 import NAME

        c = self.candidate
        if c.backend == NAME:
            return "BM25 (in the encode time)"
        if self.build_h is not None:
            return f"{c.index['name']} {figure(self.build_h, 'h')}"
        return "re-index BM25" if c.hybrid is not None else "none (exact search)"


def switch_cost(c: Candidate, documents: int, usd_per_hour: float) -> SwitchCost:
    rate = c.cost[DOCS_PER_S]
    encode_h = documents / rate / 3600.0
    index = c.index or {}
    build_h = build_rate = None
    if index.get(BUILD_S) and index.get(N_DOCS):
        build_rate = index[N_DOCS] / index[BUILD_S]
        build_h = documents / build_rate / 3600.0
    return SwitchCost(c, documents, encode_h, build_h, build_rate, (encode_h + (build_h or 0.0)) * usd_per_hour)


def switching_line(c: Candidate, documents: int, usd_per_hour: float) -> str:
    """Hours and money to move ``documents`` onto candidate ``c``: encode them at its measured bulk docs/s, then
    build its index at the rate measured on this corpus (scaled linearly)."""
    from advisor.index.bm25 import NAME

    docs = lookup(DOCS_PER_S)
    sc = switch_cost(c, documents, usd_per_hour)
    rate = c.cost[DOCS_PER_S]
    if c.backend == NAME:
        text = f"indexing {count(documents)} documents with BM25 at {docs.text(rate)} takes {figure(sc.encode_h, 'h')}"
    else:
        text = f"re-embedding {count(documents)} documents at {docs.text(rate)} takes {figure(sc.encode_h, 'h')}"
        if sc.build_h is not None:
            text += (f", rebuilding its {c.index['name']} index at {docs.text(sc.build_rate)} (built on "
                     f"{count(c.index[N_DOCS])}) {figure(sc.build_h, 'h')}")
        elif c.hybrid is not None:
            text += " (and re-indexing BM25)"
        else:
            text += " (exact search: no index to build)"
    return f"Switching to {c.label}: {text}; {figure(sc.hours, 'h')} in all, {money(sc.usd)}."


SWITCH_COLUMNS = ["candidate", "docs/s", "encode (h)", "index build", "in all (h)", "USD"]


def switching_row(sc: SwitchCost) -> list[str]:
    return [sc.candidate.label, lookup(DOCS_PER_S).cell(sc.candidate.cost[DOCS_PER_S]), figure(sc.encode_h),
            sc.index_text(), figure(sc.hours), money(sc.usd)]


def switching_section(rec: Recommendation) -> Section | None:
    costs = getattr(rec.policy, "costs", None)
    documents = int(getattr(costs, "corpus_documents", 1_000_000))
    usd = float(getattr(costs, "machine_usd_per_hour", 0.10))
    ranked = _ranked(rec)
    lines = [switching_line(c, documents, usd) for c in ranked]
    if not lines:
        return None
    switches = [switch_cost(c, documents, usd) for c in ranked]
    stated = []
    for name, value, given in (("corpus_documents", count(documents), getattr(costs, "corpus_documents_stated", False)),
                               ("machine_usd_per_hour", money(usd), getattr(costs, "machine_price_stated", False))):
        stated.append(f"{name} {value}" + ("" if given else " (the default)"))
    intro = ("The cost of moving a corpus onto each candidate: encode every document at its measured bulk "
             "throughput on this machine, then build its index at the rate measured on this task's corpus (scaled "
             "linearly; graph indexes grow a little faster than linearly). At " + ", ".join(stated)
             + "; set them in the policy under costs: {corpus_documents: ..., machine_usd_per_hour: ...}.")
    return Section(SWITCH_TITLE, intro, lines, SWITCH_COLUMNS, [switching_row(sc) for sc in switches],
                   summary=_switching_summary(switches), label=SWITCH_LABEL)


def _switching_summary(costs: list[SwitchCost]) -> str:
    """The recommendation's switching cost in one line, and the range over the other ranked candidates."""
    first = costs[0]
    text = (f"to {first.candidate.label}, {figure(first.hours, 'h')} and {money(first.usd)} for "
            f"{count(first.documents)} documents" if first.candidate.status == "recommended" else "")
    others = costs[1:] if text else costs
    if others:
        low, high = min(others, key=lambda sc: sc.hours), max(others, key=lambda sc: sc.hours)
        span = (f"{figure(low.hours, 'h')} ({money(low.usd)})" if low is high else
                f"{figure(low.hours, 'h')} to {figure(high.hours, 'h')} ({money(low.usd)} to {money(high.usd)})")
        text += (f"{'; the other ' if text else ''}{len(others)} ranked candidate(s): {span} (each in the table "
                 f"below)")
    return text + "."


def retrieval_sections(rec: Recommendation) -> list[Section]:
    return [s for s in (bm25_section(rec), switching_section(rec)) if s is not None]
