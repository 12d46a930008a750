"""The held-out split: queries training never sees, chosen by a hash of (seed, query id) so it is deterministic,
independent of file order, and recorded in ``split.json`` next to the trained model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from advisor.errors import UserError
from advisor.datasets.tasks import RetrievalData, Task, content_hash

SPLIT_FILE = "split.json"


@dataclass(frozen=True)
class HeldOutSplit:
    """Which query ids are held out. ``task_hash`` is the content hash of the task the split was made from."""

    task: str
    task_hash: str
    seed: int
    fraction: float
    heldout_ids: tuple[str, ...]
    train_ids: tuple[str, ...]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["heldout_ids"], data["train_ids"] = list(self.heldout_ids), list(self.train_ids)
        return data

    def save(self, out_dir: str | Path) -> Path:
        path = Path(out_dir) / SPLIT_FILE
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "HeldOutSplit":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        data["heldout_ids"], data["train_ids"] = tuple(data["heldout_ids"]), tuple(data["train_ids"])
        return cls(**data)


def _rank_key(seed: int, qid: str) -> str:
    return hashlib.sha256(f"{seed}\x1f{qid}".encode("utf-8")).hexdigest()


def split_queries(task: Task, fraction: float = 0.2, seed: int = 0) -> HeldOutSplit:
    """Hold out ``fraction`` of the queries that have at least one relevant document (at least one query, and at
    least one left for training). Queries without a relevant document can neither train nor be scored: left out."""
    if not 0 < fraction < 1:
        raise UserError(f"--heldout must be a fraction between 0 and 1 (exclusive), got {fraction}")
    data: RetrievalData = task.data
    usable = [qid for qid in data.queries if any(r > 0 for r in data.qrels.get(qid, {}).values())]
    if len(usable) < 2:
        raise UserError(f"{task.source}: needs at least 2 queries with a relevant document to hold some out, "
                        f"found {len(usable)}")
    ordered = sorted(usable, key=lambda qid: _rank_key(seed, qid))
    n_heldout = min(max(1, round(len(usable) * fraction)), len(usable) - 1)
    heldout = tuple(sorted(ordered[:n_heldout]))
    train = tuple(sorted(ordered[n_heldout:]))
    return HeldOutSplit(task.name, task.content_hash, seed, fraction, heldout, train)


def subset_task(task: Task, query_ids: tuple[str, ...] | list[str], suffix: str) -> Task:
    """The task restricted to ``query_ids`` (all documents kept): what the harness evaluates before and after."""
    data: RetrievalData = task.data
    keep = set(query_ids)
    queries = {qid: text for qid, text in data.queries.items() if qid in keep}
    qrels = {qid: dict(rel) for qid, rel in data.qrels.items() if qid in keep}
    sub = RetrievalData(corpus=dict(data.corpus), queries=queries, qrels=qrels)
    return replace(task, name=f"{task.name}-{suffix}", data=sub,
                   content_hash=content_hash({"corpus": sub.corpus, "queries": sub.queries, "qrels": sub.qrels}),
                   meta={**task.meta, "subset_of": task.name, "subset_of_hash": task.content_hash,
                         "subset": suffix})
