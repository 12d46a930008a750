"""A smaller task cut from a loaded one: for quick runs (``--limit``-style options) and tests on a slice of real
data. The slice is a new Task with its own content hash, so its results never mix with the full task's.

One slicer per task type (``advisor.datasets.types.DATASET_TYPES`` names them), each ``(data, n, corpus_limit) ->
data``, taking the first ``n`` of the type's unit in file order and keeping what the scoring needs whole: a query's
judged documents and candidates, a duplicate's partner, a cluster's members."""

from __future__ import annotations

from dataclasses import replace
from advisor.datasets.tasks import (ClassificationData, ClusteringData, DeduplicationData, PairClassificationData,
                                    RerankingData, RetrievalData, STSData, Task, content_hash)


def head(task: Task, n: int, *, corpus_limit: int | None = None) -> Task:
    """The first ``n`` queries / pairs / test examples / texts (file order) of ``task``, by its type's slicer.

    Retrieval and reranking keep every document judged for (or a candidate of) a kept query, then add other
    documents in corpus order up to ``corpus_limit`` in all (default: the whole corpus). Classification keeps the
    whole training split. Clustering keeps whole groups, de-duplication whole near-duplicate groups (so ``n`` is a
    ceiling: the first group is kept even when it alone is larger, and clustering keeps at least two groups)."""
    from advisor.datasets.types import dataset_type

    if n < 1:
        raise ValueError("n must be >= 1")
    data = dataset_type(task.type).slicer(task.data, n, corpus_limit)
    return replace(task, name=f"{task.name}[:{n}]", data=data,
                   content_hash=content_hash({"type": task.type, "data": data}),
                   meta={**task.meta, "sliced_from": task.content_hash})


def _corpus(corpus: dict[str, str], needed: set[str], corpus_limit: int | None) -> dict[str, str]:
    """``needed`` documents, then others in corpus order up to ``corpus_limit`` in all; corpus order kept."""
    keep = set(needed)
    limit = len(corpus) if corpus_limit is None else max(corpus_limit, len(keep))
    for doc in corpus:
        if len(keep) >= limit:
            break
        keep.add(doc)
    return {k: v for k, v in corpus.items() if k in keep}


def slice_retrieval(d: RetrievalData, n: int, corpus_limit: int | None) -> RetrievalData:
    """The first ``n`` queries with their judgements; labelled or not (unlabeled retrieval has no qrels)."""
    queries = dict(list(d.queries.items())[:n])
    qrels = {q: docs for q, docs in d.qrels.items() if q in queries}
    judged = {doc for docs in qrels.values() for doc in docs}
    return RetrievalData(corpus=_corpus(d.corpus, judged, corpus_limit), queries=queries, qrels=qrels)


def slice_reranking(d: RerankingData, n: int, corpus_limit: int | None) -> RerankingData:
    """The first ``n`` queries with their judgements and their whole candidate lists."""
    queries = dict(list(d.queries.items())[:n])
    qrels = {q: docs for q, docs in d.qrels.items() if q in queries}
    candidates = {q: docs for q, docs in d.candidates.items() if q in queries}
    needed = {doc for docs in qrels.values() for doc in docs} | {doc for docs in candidates.values() for doc in docs}
    return RerankingData(corpus=_corpus(d.corpus, needed, corpus_limit), queries=queries, qrels=qrels,
                         candidates=candidates)


def slice_sts(d: STSData, n: int, corpus_limit: int | None) -> STSData:
    return STSData(d.sentence1[:n], d.sentence2[:n], d.scores[:n])


def slice_classification(d: ClassificationData, n: int, corpus_limit: int | None) -> ClassificationData:
    return ClassificationData(d.train_texts, d.train_labels, d.test_texts[:n], d.test_labels[:n])


def slice_pair_classification(d: PairClassificationData, n: int,
                              corpus_limit: int | None) -> PairClassificationData:
    return PairClassificationData(d.text1[:n], d.text2[:n], d.labels[:n])


def _whole_groups(groups: list[list[int]], n: int, at_least: int) -> list[int]:
    """Rows of whole groups, taken in order while they fit in ``n`` rows (the first ``at_least`` always)."""
    rows: list[int] = []
    for i, members in enumerate(groups):
        if i >= at_least and len(rows) + len(members) > n:
            break
        rows.extend(members)
    return sorted(rows)


def slice_clustering(d: ClusteringData, n: int, corpus_limit: int | None) -> ClusteringData:
    """Whole groups in the order they first appear, up to ``n`` texts (at least two groups: one is no clustering)."""
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(d.labels):
        groups.setdefault(label, []).append(i)
    rows = _whole_groups(list(groups.values()), n, at_least=2)
    return ClusteringData(tuple(d.texts[i] for i in rows), tuple(d.labels[i] for i in rows))


def slice_deduplication(d: DeduplicationData, n: int, corpus_limit: int | None) -> DeduplicationData:
    """The first ``n`` texts with every near-duplicate of each kept one (whole groups, in the order their first
    text appears), renumbered: a kept duplicate pair is still a pair, and no pair loses a partner."""
    partners: dict[int, set[int]] = {}
    for a, b in d.duplicates:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    group_of: dict[int, int] = {}
    groups: list[list[int]] = []
    for row in range(len(d.texts)):
        if row in group_of:
            continue
        members, todo = {row}, [row]
        while todo:  # everything connected to ``row`` by duplicate pairs
            for other in partners.get(todo.pop(), ()):
                if other not in members:
                    members.add(other)
                    todo.append(other)
        for m in members:
            group_of[m] = len(groups)
        groups.append(sorted(members))
    rows = _whole_groups(groups, n, at_least=1)
    new = {old: i for i, old in enumerate(rows)}
    pairs = tuple(sorted((new[a], new[b]) for a, b in d.duplicates if a in new and b in new))
    return DeduplicationData(tuple(d.texts[i] for i in rows), pairs)

