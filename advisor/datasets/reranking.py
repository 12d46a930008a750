"""Reranking tasks: each query reorders a short candidate list. The example one comes from a retrieval task: each
query's relevant documents plus distractors drawn (seeded) from the rest of the corpus."""

from __future__ import annotations

import random

from advisor.datasets.tasks import RerankingData, Task, TaskSource, content_hash
from advisor.errors import UserError


def reranking_from_retrieval(task: Task, *, n_candidates: int = 10, seed: int = 7,
                             name: str | None = None) -> Task:
    """Candidates per judged query: its relevant documents, then distractors up to ``n_candidates``, shuffled."""
    if task.type != "retrieval":
        raise UserError(f"task {task.name} is {task.type}; reranking candidates come from a retrieval task")
    data = task.data
    rng = random.Random(seed)
    doc_ids = sorted(data.corpus)
    candidates: dict[str, tuple[str, ...]] = {}
    for qid in sorted(data.qrels):
        if qid not in data.queries:
            continue
        relevant = [d for d, g in data.qrels[qid].items() if g > 0 and d in data.corpus]
        others = [d for d in doc_ids if d not in data.qrels[qid]]
        picked = relevant + rng.sample(others, max(0, min(len(others), n_candidates - len(relevant))))
        rng.shuffle(picked)
        candidates[qid] = tuple(picked)
    queries = {q: data.queries[q] for q in candidates}
    reranking = RerankingData(corpus=dict(data.corpus), queries=queries,
                              qrels={q: dict(data.qrels[q]) for q in candidates}, candidates=candidates)
    return Task(name=name or f"{task.name}-reranking", type="reranking", source=f"{task.source} (reranked)",
                content_hash=content_hash(reranking), data=reranking, languages=task.languages,
                description=f"queries of {task.name}, {n_candidates} candidates each")


# --- a BEIR folder with candidates.tsv (query-id, corpus-id): each query reranks its own list ----------------------

def load_reranking(spec: str) -> Task:
    from pathlib import Path

    from advisor.datasets.beir import load_beir
    from advisor.datasets.readers import inside, read_table
    from advisor.errors import ConfigError

    folder = Path(spec).expanduser()
    base = load_beir(str(folder), labeled=True)
    file = inside(folder, folder / "candidates.tsv")
    candidates: dict[str, list[str]] = {}
    for r in read_table(file, ("query-id", "corpus-id")):
        qid, did = r.text("query-id"), r.text("corpus-id")
        if did not in base.data.corpus:
            raise r.error("corpus-id", f"'{did}' is not in corpus.jsonl")
        candidates.setdefault(qid, []).append(did)
    queries = {q: t for q, t in base.data.queries.items() if q in candidates}
    if not queries:
        raise ConfigError(str(file), "names no query of queries.jsonl that has judgements")
    data = RerankingData(corpus=dict(base.data.corpus), queries=queries,
                         qrels={q: base.data.qrels[q] for q in queries},
                         candidates={q: tuple(candidates[q]) for q in queries})
    return Task(name=folder.name, type="reranking", source="reranking",
                content_hash=content_hash({"type": "reranking", "data": data}), data=data,
                meta={"path": str(folder)}, description=f"{len(queries)} queries, candidate lists from {file.name}")



class RerankingSource(TaskSource):
    name = "reranking"
    description = "reranking: a BEIR folder plus candidates.tsv (query-id, corpus-id), one row per candidate"

    def detect(self, spec: str) -> bool:
        from pathlib import Path

        from advisor.datasets.beir import is_beir_folder

        path = Path(spec).expanduser()
        return is_beir_folder(path) and (path / "candidates.tsv").is_file()

    def load(self, spec: str) -> Task:
        return load_reranking(spec)
