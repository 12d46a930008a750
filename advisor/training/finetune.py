"""Contrastive fine-tuning: MultipleNegativesRankingLoss (in-batch negatives) plus hard negatives mined with the
model itself, optionally wrapped in MatryoshkaLoss over the sizes the policy wants to ship; trained with
sentence-transformers' trainer on the training queries only, then evaluated before/after on the held-out ones."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from advisor.errors import UserError
from advisor.datasets.tasks import RetrievalData, Task
from advisor.training.data import load_training_task
from advisor.training.mining import MiningStats, mine_negatives
from advisor.training.settings import TrainSettings, check_settings, flat_identity
from advisor.training.split import HeldOutSplit, split_queries, subset_task
from advisor.training.workspace import Workspace

TRAIN_PAIRS = "train_pairs.jsonl"
MINING_FILE = "mining.json"


@dataclass(frozen=True)
class FinetuneConfig:
    model: str
    dataset: str
    out: str
    catalogs: tuple[str, ...] = ()
    pair_source: str | None = None          # qrels | pairs | next-sentence (detected when None)
    dataset_type: str | None = None         # passed to the task sources for qrels
    corpus: str | None = None               # --corpus: documents added to the corpus (more negatives to mine)
    hard_negatives: int = 1                 # mined negatives per pair (0: in-batch negatives only)
    mining_depth: int = 50                  # candidates looked at per query
    max_ratio: float = 0.95                 # false-negative filter: negative score < max_ratio * positive score
    margin: float = 0.0                     # ... and < positive score - margin
    matryoshka_dims: tuple[int, ...] = ()
    heldout: float = 0.2
    split_seed: int = 0
    max_pairs: int | None = None            # cap on training pairs (small CPU runs)
    name: str | None = None
    decoder_pooling: str | None = None      # a decoder base: lasttoken | mean (advisor.training.decoder)
    train: TrainSettings = field(default_factory=TrainSettings)  # learning rate: FINETUNE_LEARNING_RATE

    def identity(self) -> dict[str, Any]:
        """The fields a resumed run must share with the run it continues (flat, as ``training.json`` holds them)."""
        data = {k: v for k, v in self.__dict__.items() if k not in ("out", "train")}
        if self.decoder_pooling is None:  # runs started before the option existed resume unchanged
            data.pop("decoder_pooling")
        return flat_identity(data, self.train)


@dataclass
class PreparedData:
    task: Task
    split: HeldOutSplit
    rows: list[dict[str, Any]]
    mining: MiningStats | None = None
    dropped_leaks: int = 0
    notes: list[str] = field(default_factory=list)


def _prefix(prompt: str, text: str) -> str:
    return prompt + text if prompt else text


@dataclass(frozen=True)
class MiningOptions:
    hard_negatives: int = 1
    depth: int = 50
    max_ratio: float = 0.95
    margin: float = 0.0
    seed: int = 0


def build_rows(task: Task, split: HeldOutSplit, model: Any, *, max_pairs: int | None = None,
               mining: MiningOptions = MiningOptions(hard_negatives=0), query_prompt: str = "",
               document_prompt: str = "", progress: Any = None) -> PreparedData:
    """Training rows (anchor, positive, negative_1..n) from the training queries only. A training query whose text
    equals a held-out query's text is dropped (a duplicate would leak the held-out split)."""
    data: RetrievalData = task.data
    heldout_texts = {data.queries[q].strip().lower() for q in split.heldout_ids}
    train_ids = [q for q in split.train_ids if data.queries[q].strip().lower() not in heldout_texts]
    prepared = PreparedData(task, split, [], dropped_leaks=len(split.train_ids) - len(train_ids))
    doc_ids = list(data.corpus)
    doc_index = {d: i for i, d in enumerate(doc_ids)}
    pairs: list[tuple[str, list[int]]] = []
    for qid in train_ids:
        rel = sorted(((r, d) for d, r in data.qrels.get(qid, {}).items() if r > 0 and d in doc_index),
                     key=lambda x: (-x[0], x[1]))
        if rel:
            pairs.append((qid, [doc_index[d] for _, d in rel]))
    if max_pairs is not None:
        pairs = pairs[:max_pairs]
    if not pairs:
        raise UserError(f"{task.source}: no training pairs left after holding out {len(split.heldout_ids)} queries")
    negatives: list[list[int]] = [[] for _ in pairs]
    user_negs = task.meta.get("negatives") or {}
    for i, (qid, _) in enumerate(pairs):
        negatives[i] = [doc_index[d] for d in user_negs.get(qid, []) if d in doc_index][:mining.hard_negatives]
    need = [i for i in range(len(pairs)) if len(negatives[i]) < mining.hard_negatives]
    if mining.hard_negatives > 0 and need:
        if progress:
            progress("mine", 0, None, {"what": "encoding corpus and training queries with the base model"})
        corpus_texts = [data.corpus[d] for d in doc_ids]
        corpus_emb = model.encode([_prefix(document_prompt, t) for t in corpus_texts], batch_size=64,
                                  normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        query_emb = model.encode([_prefix(query_prompt, data.queries[pairs[i][0]]) for i in need], batch_size=64,
                                 normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        mined, stats = mine_negatives(query_emb, corpus_emb, [pairs[i][1] for i in need],
                                      num_negatives=mining.hard_negatives, depth=mining.depth,
                                      max_ratio=mining.max_ratio, margin=mining.margin, corpus_texts=corpus_texts,
                                      seed=mining.seed)
        for i, found in zip(need, mined):
            have = negatives[i]
            negatives[i] = have + [j for j in found if j not in have][:mining.hard_negatives - len(have)]
        prepared.mining = stats
        if progress:
            progress("mine", len(need), len(need), {"mined": stats.mined, "random": stats.filled_random})
    for (qid, pos), negs in zip(pairs, negatives):
        for p in pos:
            row: dict[str, Any] = {"query_id": qid, "positive_id": doc_ids[p],
                                   "anchor": _prefix(query_prompt, data.queries[qid]),
                                   "positive": _prefix(document_prompt, data.corpus[doc_ids[p]])}
            if mining.hard_negatives > 0 and len(negs) < mining.hard_negatives:
                continue  # a corpus too small to give this query enough negatives
            for k, n in enumerate(negs[:mining.hard_negatives]):
                row[f"negative_{k + 1}"] = _prefix(document_prompt, data.corpus[doc_ids[n]])
                row[f"negative_{k + 1}_id"] = doc_ids[n]
            prepared.rows.append(row)
    return prepared


def _text_columns(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    names = ["anchor", "positive"] + sorted((k for k in rows[0] if k.startswith("negative_") and not
                                             k.endswith("_id")), key=lambda k: int(k.split("_")[1]))
    return {name: [r[name] for r in rows] for name in names}


def finetune(config: FinetuneConfig, *, device: str | None = None, resume: bool = False, evaluate: bool = True,
             measure: bool = False, progress: Any = None) -> dict[str, Any]:
    """Train, save ``out/model`` (sentence-transformers, safetensors), write ``out/catalog.yaml`` and
    ``out/report.json``/``report.md`` with before/after figures on the held-out split. Returns the report."""
    from advisor.training.loading import load_sentence_transformer, pick_device, resolve_trainable
    settings = config.train
    check_settings(settings, heldout=config.heldout)
    if config.hard_negatives < 0 or not 0 < config.max_ratio <= 1:
        raise UserError("--hard-negatives must be 0 or more and --max-ratio in (0, 1]")
    base = resolve_trainable(config.model, config.catalogs)
    dims = tuple(sorted(set(config.matryoshka_dims), reverse=True))
    bad = [d for d in dims if d <= 0 or d > base.entry.embed_dim]
    if bad:
        raise UserError(f"--matryoshka-dims {bad} must be between 1 and the model's size {base.entry.embed_dim}")
    from datasets import Dataset
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss, MultipleNegativesRankingLoss

    from advisor.training.runner import quiet_libraries, train

    quiet_libraries(progress is not None)
    task = load_training_task(config.dataset, config.pair_source, config.dataset_type, config.corpus)
    ws = Workspace.open(config.out, "finetune", config.identity(), resume=resume)
    device = pick_device(device)
    split = ws.split(task, lambda: split_queries(task, config.heldout, config.split_seed))
    if config.decoder_pooling is not None:
        from advisor.training.decoder import load_decoder

        model = load_decoder(base.folder, device, pooling=config.decoder_pooling)
    else:
        model = load_sentence_transformer(base.folder, device)
    native_length = model.max_seq_length
    if settings.max_seq_length:
        model.max_seq_length = settings.max_seq_length  # a training shortcut; the saved model keeps its own length

    rows_path = ws.path(TRAIN_PAIRS)
    if resume and rows_path.exists():
        rows = [json.loads(line) for line in rows_path.read_text(encoding="utf-8").splitlines() if line]
        prepared = PreparedData(task, split, rows, notes=["training pairs reused from the interrupted run"])
        if ws.path(MINING_FILE).exists():
            prepared.mining = MiningStats(**json.loads(ws.path(MINING_FILE).read_text(encoding="utf-8")))
    else:
        mining = MiningOptions(config.hard_negatives, config.mining_depth, config.max_ratio, config.margin,
                               settings.seed)
        prepared = build_rows(task, split, model, max_pairs=config.max_pairs, mining=mining,
                              query_prompt=base.entry.query_prompt, document_prompt=base.entry.document_prompt,
                              progress=progress)
        rows_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in prepared.rows),
                             encoding="utf-8")
        if prepared.mining is not None:
            ws.path(MINING_FILE).write_text(json.dumps(prepared.mining.to_dict()), encoding="utf-8")
    dataset = Dataset.from_dict(_text_columns(prepared.rows))
    loss: Any = MultipleNegativesRankingLoss(model)
    if dims:
        full = base.entry.embed_dim
        loss = MatryoshkaLoss(model, loss, matryoshka_dims=[full, *[d for d in dims if d != full]])
    log = train(model, dataset, loss, settings, ws.root, device=device, resume=resume, progress=progress)
    model.max_seq_length = native_length
    model_dir = ws.save_model(model)

    training_info = {
        "kind": "finetune", "base": base.entry.name, "base_source": base.entry.source, "task": task.name,
        "task_source": task.source, "task_hash": task.content_hash, "pair_source": task.meta.get("pair_source"),
        "train_queries": len({r["query_id"] for r in prepared.rows}), "train_rows": len(prepared.rows),
        "heldout_queries": len(split.heldout_ids), "dropped_duplicate_of_heldout": prepared.dropped_leaks,
        "loss": "MultipleNegativesRankingLoss" + (f" in MatryoshkaLoss{list(dims)}" if dims else ""),
        "hard_negatives": config.hard_negatives,
        "mining": prepared.mining.to_dict() if prepared.mining else None, "settings": settings.to_dict(),
        "log": log.to_dict(), "notes": prepared.notes,
    }
    from advisor.training.outcome import finish

    entry = ws.new_entry(base.entry, model, model_dir, name=config.name or f"{base.entry.name}-ft-{task.name}",
                         pooling=config.decoder_pooling,
                         matryoshka_dims=dims, notes=f"fine-tuned from {base.entry.name} on {task.name} "
                                                     f"({log.steps} steps); held-out split in split.json")
    heldout = subset_task(task, split.heldout_ids, "heldout")
    reference = base.entry
    if config.decoder_pooling is not None:  # the base evaluated as it was trained: the same pooling
        from dataclasses import replace

        reference = replace(base.entry, pooling=config.decoder_pooling)
    return finish(ws, [("base", reference)], entry, heldout, training_info, device=device, evaluate=evaluate,
                  measure=measure, progress=progress, dims=dims)
