"""The retrieval-as-served parts of a report, computed once for every format: "is this model better than BM25 on
your data?" (``advisor.ranking.baseline``) and what switching models costs (re-embed the corpus, rebuild the
index) in hours and money at the policy's stated or default prices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.figures import BUILD_S, DOCS_PER_S, N_DOCS, lookup
from advisor.formatting import count, figure, money
from advisor.ranking import Candidate, Recommendation

BM25_TITLE = "Is this model better than BM25 on your data?"
SWITCH_TITLE = "What switching models costs"


@dataclass
class Section:
    title: str
    intro: str
    lines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "intro": self.intro, "lines": list(self.lines)}


def bm25_section(rec: Recommendation) -> Section | None:
    """Each ranked candidate's nDCG@10 minus BM25's with the paired-bootstrap interval, per retrieval task; or, on
    retrieval tasks without a BM25 cell, how to get one."""
    from advisor.ranking.baseline import bm25_lines, missing_bm25

    lines = [line.text() for line in bm25_lines(rec)]
    missing = missing_bm25(rec)
    if not lines and not missing:
        return None
    intro = ("BM25 (bm25s, Lucene variant, k1 1.5, b 0.75, English stop words) on the same queries and documents; "
             "the difference is candidate minus BM25 with a 95% paired-bootstrap interval over the queries "
             "(1,000 resamples, seed 0); 'no significant difference' when the interval holds zero.")
    if missing:
        how = ("the policy turns it off ('baselines: []'); drop that line to measure it" if
               "bm25" not in rec.policy.baselines else "run the sweep again under this policy to measure it")
        lines.append(f"BM25 was not measured on {', '.join(missing)}: {how}.")
    return Section(BM25_TITLE, intro, lines)


def _ranked(rec: Recommendation) -> list[Candidate]:
    order = {"recommended": 0, "pareto": 1, "dominated": 2}
    return sorted((c for c in rec.candidates() if c.status in order and c.cost.get(DOCS_PER_S)),
                  key=lambda c: (order[c.status], c.position or 0, c.label))


def switching_line(c: Candidate, documents: int, usd_per_hour: float) -> str:
    """Hours and money to move ``documents`` onto candidate ``c``: encode them at its measured bulk docs/s, then
    build its index at the rate measured on this corpus (scaled linearly)."""
    from advisor.index.bm25 import NAME

    docs = lookup(DOCS_PER_S)
    rate = c.cost[DOCS_PER_S]
    hours = documents / rate / 3600.0
    if c.backend == NAME:
        text = f"indexing {count(documents)} documents with BM25 at {docs.text(rate)} takes {figure(hours, 'h')}"
    else:
        text = f"re-embedding {count(documents)} documents at {docs.text(rate)} takes {figure(hours, 'h')}"
        index = c.index or {}
        if index.get(BUILD_S) and index.get(N_DOCS):
            build_rate = index[N_DOCS] / index[BUILD_S]
            build_h = documents / build_rate / 3600.0
            hours += build_h
            text += (f", rebuilding its {index['name']} index at {docs.text(build_rate)} (built on "
                     f"{count(index[N_DOCS])}) {figure(build_h, 'h')}")
        elif c.hybrid is not None:
            text += " (and re-indexing BM25)"
        else:
            text += " (exact search: no index to build)"
    return f"Switching to {c.label}: {text}; {figure(hours, 'h')} in all, {money(hours * usd_per_hour)}."


def switching_section(rec: Recommendation) -> Section | None:
    costs = getattr(rec.policy, "costs", None)
    documents = int(getattr(costs, "corpus_documents", 1_000_000))
    usd = float(getattr(costs, "machine_usd_per_hour", 0.10))
    lines = [switching_line(c, documents, usd) for c in _ranked(rec)]
    if not lines:
        return None
    stated = []
    for name, value, given in (("corpus_documents", count(documents), getattr(costs, "corpus_documents_stated", False)),
                               ("machine_usd_per_hour", money(usd), getattr(costs, "machine_price_stated", False))):
        stated.append(f"{name} {value}" + ("" if given else " (the default)"))
    intro = ("The cost of moving a corpus onto each candidate: encode every document at its measured bulk "
             "throughput on this machine, then build its index at the rate measured on this task's corpus (scaled "
             "linearly; graph indexes grow a little faster than linearly). At " + ", ".join(stated)
             + "; set them in the policy under costs: {corpus_documents: ..., machine_usd_per_hour: ...}.")
    return Section(SWITCH_TITLE, intro, lines)


def retrieval_sections(rec: Recommendation) -> list[Section]:
    return [s for s in (bm25_section(rec), switching_section(rec)) if s is not None]
