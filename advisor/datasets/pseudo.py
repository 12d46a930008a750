"""Pseudo-queries: a labelled retrieval task built from a corpus that has no queries (``#pseudo-queries=N``).

The construction is the inverse cloze task's, with training's span corruption (``advisor.datasets.spans``, the
code ``advisor finetune --pairs span-corruption`` uses): N documents, drawn with a seeded generator from those of at
least ``span`` words, each give one query, a ``span``-word passage at a random start with about ``mask`` of its
words removed in spans; the document it was cut from, left whole in the corpus, is its one relevant document. The
judgements are synthetic: the figures measure how well a model finds the document a passage came from, not
relevance judged by people, and the task says so (``task.meta["synthetic"]``) for every output to print, with how it
was built (``task.meta["pseudo_queries"]``: count, span, seed, mask). The same corpus and settings give the same
queries; each document's span is drawn from its own generator, so another document added never moves it."""

from __future__ import annotations

import random
from dataclasses import replace

from advisor.datasets.spans import MEAN_SPAN, span_query
from advisor.datasets.spec import PSEUDO, PseudoQueries
from advisor.datasets.tasks import RetrievalData, Task, content_hash
from advisor.errors import UserError

CONSTRUCTION = "inverse cloze with span corruption"


def synthetic_why(built: dict, set_aside: int = 0) -> str:
    """What the task's SYNTHETIC line says of how its judgements were made."""
    asked = f" ({built['asked']} asked; {built['eligible']} documents are long enough)" \
        if built["count"] < built["asked"] else ""
    aside = f"; its own {set_aside} queries are set aside" if set_aside else ""
    return (f"{built['count']} pseudo-queries{asked} built from its documents ({CONSTRUCTION}: each a "
            f"{built['span']}-word span of one document with {built['mask']:.0%} of its words removed, seed "
            f"{built['seed']}), each judging only the document it was cut from{aside}")


def with_pseudo_queries(task: Task, settings: PseudoQueries, spec: str) -> Task:
    """``task`` (a corpus without judgements) as a retrieval task whose queries and judgements are built from its
    documents."""
    if task.type == "retrieval":
        raise UserError(f"{spec}: has relevance judgements already ({len(task.data.qrels)} queries judged); "
                        f"{PSEUDO} builds queries for a corpus without them (leave it out)")
    if task.type != "unlabeled_retrieval":
        raise UserError(f"{spec}: is a {task.type} task; {PSEUDO} builds queries from a corpus of documents (a "
                        "folder of .txt/.md files, or a table with a text column)")
    corpus = task.data.corpus
    eligible = sorted(d for d, text in corpus.items() if len(text.split()) >= settings.span)
    if not eligible:
        raise UserError(f"{spec}: no document has {settings.span} words or more, and a pseudo-query is a span of "
                        f"span={settings.span} words; give a smaller span=")
    chosen = sorted(random.Random(f"{PSEUDO}:{settings.seed}").sample(eligible, min(settings.count, len(eligible))))
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for doc_id in chosen:
        query, _ = span_query(corpus[doc_id], random.Random(f"{PSEUDO}:{settings.seed}:{doc_id}"),
                              span=settings.span, mask_ratio=settings.mask, mean_span=MEAN_SPAN)
        qid = f"pq:{doc_id}"
        queries[qid], qrels[qid] = query, {doc_id: 1}
    built = {"construction": CONSTRUCTION, "count": len(chosen), "asked": settings.count, "span": settings.span,
             "seed": settings.seed, "mask": settings.mask, "mean_span": MEAN_SPAN, "eligible": len(eligible)}
    data = RetrievalData(corpus=dict(corpus), queries=queries, qrels=qrels)
    meta = {k: v for k, v in task.meta.items() if k not in ("unlabeled", "documents_only")}
    meta.update(pseudo_queries=built, synthetic=synthetic_why(built, len(task.data.queries)))
    return replace(task, type="retrieval", data=data, meta=meta,
                   content_hash=content_hash({"type": "retrieval", "data": data}),
                   description=f"{len(queries)} pseudo-queries, {len(corpus)} documents (synthetic judgements)")
