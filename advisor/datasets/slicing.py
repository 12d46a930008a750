"""A smaller task cut from a loaded one: for quick runs (``--limit``-style options) and tests on a slice of real
data. The slice is a new Task with its own content hash, so its results never mix with the full task's."""

from __future__ import annotations

from dataclasses import replace

from advisor.datasets.tasks import (ClassificationData, PairClassificationData, RetrievalData, STSData, Task, content_hash)


def head(task: Task, n: int, *, corpus_limit: int | None = None) -> Task:
    """The first ``n`` queries / pairs / test examples (file order) of ``task``.

    Retrieval keeps every document judged for a kept query, then adds other documents in corpus order up to
    ``corpus_limit`` in all (default: the whole corpus). Classification keeps the whole training split."""
    if n < 1:
        raise ValueError("n must be >= 1")
    d = task.data
    if task.type in ("retrieval", "unlabeled_retrieval"):
        queries = dict(list(d.queries.items())[:n])
        qrels = {q: docs for q, docs in d.qrels.items() if q in queries}
        keep = {doc for docs in qrels.values() for doc in docs}
        limit = len(d.corpus) if corpus_limit is None else max(corpus_limit, len(keep))
        for doc in d.corpus:
            if len(keep) >= limit:
                break
            keep.add(doc)
        data: object = RetrievalData(corpus={k: v for k, v in d.corpus.items() if k in keep}, queries=queries,
                                     qrels=qrels)
    elif task.type == "sts":
        data = STSData(d.sentence1[:n], d.sentence2[:n], d.scores[:n])
    elif task.type == "classification":
        data = ClassificationData(d.train_texts, d.train_labels, d.test_texts[:n], d.test_labels[:n])
    elif task.type == "pair_classification":
        data = PairClassificationData(d.text1[:n], d.text2[:n], d.labels[:n])
    else:
        raise ValueError(f"unknown task type {task.type}")
    return replace(task, name=f"{task.name}[:{n}]", data=data,
                   content_hash=content_hash({"type": task.type, "data": data}),
                   meta={**task.meta, "sliced_from": task.content_hash})
