"""The bridge between advisor Tasks and mteb: ``to_mteb_task`` wraps a loaded Task as an mteb local task whose
``load_data`` hands mteb the advisor's own data (nothing is read from the hub), so a user's dataset runs through
mteb's own evaluators; ``run_mteb`` does that and returns mteb's scores; ``from_mteb_task`` turns a loaded official
mteb task into an advisor Task. The quality tests hold the advisor's fast evaluator to these numbers.

mteb, datasets and sentence-transformers are imported inside the functions (they are heavy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor.errors import UserError
from advisor.models.attention import load_with_attention
from advisor.models.folder_safety import check_model_folder, model_kwargs
from advisor.datasets.tasks import (ClassificationData, PairClassificationData, RetrievalData, STSData, Task, content_hash)
from advisor.datasets.beir import join_title

# The task types this bridge hands to mteb: mteb's type name and mteb's name for its main score (mteb's
# vocabulary, not the advisor's main metric: advisor.config.task_types holds those)
MTEB_TYPES = {"retrieval": ("Retrieval", "ndcg_at_10"), "sts": ("STS", "cosine_spearman"),
              "classification": ("Classification", "accuracy"),
              "pair_classification": ("PairClassification", "max_ap")}
ADVISOR_TYPES = {mteb_type: ours for ours, (mteb_type, _) in MTEB_TYPES.items()}  # mteb's type -> the advisor's


def _metadata(task: Task, split: str) -> Any:
    from mteb.abstasks.task_metadata import TaskMetadata

    mteb_type, main_score = MTEB_TYPES[task.type]
    return TaskMetadata(
        name=f"advisor-{task.name}-{task.content_hash}",
        description=task.description or f"advisor task {task.name} ({task.type})",
        reference=None,
        dataset={"path": str(task.meta.get("path", task.name)), "revision": task.content_hash},
        type=mteb_type,
        category="t2t",
        modalities=["text"],
        eval_splits=[split],
        eval_langs=list(task.languages) or ["eng-Latn"],
        main_score=main_score,
        date=None,
        domains=[],
        task_subtypes=[],
        license="not specified",
        annotations_creators="derived",
        dialect=[],
        sample_creation="found",
        bibtex_citation="",
    )


def to_mteb_task(task: Task, *, samples_per_label: int | None = None, n_experiments: int | None = None) -> Any:
    """An mteb ``AbsTask`` instance holding this task's data, for ``mteb.evaluate``.

    Retrieval uses the advisor's joined title+text as the document text (mteb would join them the same way).
    Classification trains mteb's logistic regression on every train example by default (``samples_per_label`` =
    the largest class, one experiment), since there is nothing to sample; pass mteb's defaults (8, 10) to mimic a
    few-shot MTEB task."""
    from datasets import Dataset, DatasetDict

    split = str(task.meta.get("split") or "test")
    if split == "train":
        split = "test"  # classification trains on "train"; the evaluated split needs another name
    if task.type not in MTEB_TYPES:
        raise UserError(f"{task.name}: mteb cannot evaluate a {task.type} task (it has no relevance judgements)")
    metadata = _metadata(task, split)
    d = task.data

    if task.type == "retrieval":
        from mteb.abstasks.retrieval import AbsTaskRetrieval

        split_data = {
            "corpus": Dataset.from_dict({"id": list(d.corpus), "text": list(d.corpus.values())}),
            "queries": Dataset.from_dict({"id": list(d.queries), "text": list(d.queries.values())}),
            "relevant_docs": {q: dict(docs) for q, docs in d.qrels.items()},
            "top_ranked": None,
        }
        dataset: Any = {"default": {split: split_data}}
        base: type = AbsTaskRetrieval
        attrs: dict[str, Any] = {}
    elif task.type == "sts":
        from mteb.abstasks.sts import AbsTaskSTS

        dataset = DatasetDict({split: Dataset.from_dict({"sentence1": list(d.sentence1),
                                                         "sentence2": list(d.sentence2),
                                                         "score": list(d.scores)})})
        base = AbsTaskSTS
        attrs = {"min_score": min(d.scores), "max_score": max(d.scores)}
    elif task.type == "classification":
        from mteb.abstasks.classification import AbsTaskClassification

        names = sorted(set(d.train_labels) | set(d.test_labels))
        index = {name: i for i, name in enumerate(names)}
        largest = max(d.train_labels.count(name) for name in set(d.train_labels))
        dataset = DatasetDict({
            "train": Dataset.from_dict({"text": list(d.train_texts), "label": [index[x] for x in d.train_labels]}),
            split: Dataset.from_dict({"text": list(d.test_texts), "label": [index[x] for x in d.test_labels]}),
        })
        base = AbsTaskClassification
        attrs = {"label_names": names, "samples_per_label": samples_per_label or largest,
                 "n_experiments": n_experiments or (1 if samples_per_label is None else 10)}
    else:
        from mteb.abstasks.pair_classification import AbsTaskPairClassification

        dataset = DatasetDict({split: Dataset.from_dict({"sentence1": list(d.text1), "sentence2": list(d.text2),
                                                         "labels": list(d.labels)})})
        base = AbsTaskPairClassification
        attrs = {}

    def load_data(self: Any, num_proc: int | None = None, **kwargs: Any) -> None:
        self.dataset = dataset
        self.data_loaded = True

    cls = type(f"AdvisorLocal{base.__name__.removeprefix('AbsTask')}", (base,),
               {"metadata": metadata, "load_data": load_data, **attrs})
    return cls()


def _load_model(model: Any, device: str | None) -> Any:
    """A SentenceTransformer from a local folder (no hub; SDPA attention where the architecture has it, eager
    otherwise), or the model object as given."""
    if isinstance(model, (str, Path)):
        path = Path(model).expanduser()
        if not path.is_dir():
            raise UserError(f"{model}: run_mteb needs a local sentence-transformers folder or a model object")
        from sentence_transformers import SentenceTransformer

        check_model_folder(path, str(path))  # none of the folder's own code, no pickle file
        loaded, _ = load_with_attention(lambda attn: SentenceTransformer(
            str(path), device=device or "cpu", local_files_only=True, trust_remote_code=False,
            model_kwargs=model_kwargs(attn)))
        return loaded
    return model


def run_mteb(task: Task, model: Any, *, device: str | None = None, batch_size: int = 32,
             cache_dir: str | Path | None = None, **task_options: Any) -> dict[str, Any]:
    """Evaluate ``task`` with mteb's own evaluator; returns mteb's scores for the task's evaluated split (metric
    name -> value, plus ``main_score``). ``model``: a SentenceTransformer (or any mteb-compatible model) or a
    local sentence-transformers folder. No results are written unless ``cache_dir`` names a folder."""
    import mteb

    mteb_task = to_mteb_task(task, **task_options)
    encoder = _load_model(model, device)
    cache = mteb.ResultCache(cache_path=str(cache_dir)) if cache_dir is not None else None
    result = mteb.evaluate(encoder, mteb_task, cache=cache, encode_kwargs={"batch_size": batch_size},
                           show_progress_bar=False, overwrite_strategy="always")
    task_result = result.task_results[0]
    split = mteb_task.metadata.eval_splits[0]
    scores = dict(task_result.scores[split][0])
    scores.pop("hf_subset", None)
    scores.pop("languages", None)
    return scores


# --- official mteb task -> advisor Task ---------------------------------------------------------------------------

def _column(dataset: Any, name: str) -> list[Any]:
    values = list(dataset[name])
    if len(values) == 1 and isinstance(values[0], list):  # mteb v1 layout: the whole split in one row
        values = values[0]
    return values


def from_mteb_task(mteb_task: Any, split: str | None = None, subset: str | None = None) -> Task:
    """An advisor Task from a loaded mteb task (its first evaluation split, English subset where there is one)."""
    meta = mteb_task.metadata
    task_type = ADVISOR_TYPES.get(meta.type)
    if task_type is None:
        raise UserError(f"mteb:{meta.name}: task type {meta.type} is not supported by the advisor "
                        f"(supported: {', '.join(ADVISOR_TYPES)})")
    split = split or meta.eval_splits[0]
    dataset = mteb_task.dataset
    if meta.is_multilingual or task_type == "retrieval":
        subsets = list(dataset)
        chosen = subset or next((s for s in ("default", "en", "eng", "eng-Latn", "en-en") if s in subsets),
                                subsets[0])
        dataset = dataset[chosen]
    else:
        chosen = "default"
    if split not in dataset:
        raise UserError(f"mteb:{meta.name}: no split '{split}' (has {', '.join(dataset)})")
    part = dataset[split]
    if task_type == "retrieval":
        corpus = {str(r["id"]): join_title(r.get("title") or "", r["text"]) for r in part["corpus"]}
        queries_all = {str(r["id"]): r["text"] for r in part["queries"]}
        qrels = {str(q): {str(doc): int(s) for doc, s in docs.items()} for q, docs in part["relevant_docs"].items()
                 if docs}
        data: Any = RetrievalData(corpus=corpus, queries={q: t for q, t in queries_all.items() if q in qrels},
                                  qrels=qrels)
    elif task_type == "sts":
        c1, c2 = mteb_task.column_names
        data = STSData(tuple(_column(part, c1)), tuple(_column(part, c2)),
                       tuple(float(x) for x in _column(part, "score")))
    elif task_type == "classification":
        train = dataset[mteb_task.train_split]
        col, lab = mteb_task.input_column_name, mteb_task.label_column_name
        names = getattr(mteb_task, "label_names", None)  # set by to_mteb_task: labels back to their names

        def label(x: Any) -> str:
            return str(names[x]) if names is not None else str(x)

        data = ClassificationData(tuple(train[col]), tuple(label(x) for x in train[lab]),
                                  tuple(part[col]), tuple(label(x) for x in part[lab]))
    else:
        data = PairClassificationData(tuple(_column(part, mteb_task.input1_column_name)),
                                      tuple(_column(part, mteb_task.input2_column_name)),
                                      tuple(int(x) for x in _column(part, mteb_task.label_column_name)))
    languages = tuple(meta.eval_langs if isinstance(meta.eval_langs, list) else meta.eval_langs.get(chosen, []))
    return Task(name=meta.name, type=task_type, source="mteb",
                content_hash=content_hash({"type": task_type, "data": data}), data=data, languages=languages,
                description=meta.description.splitlines()[0] if meta.description else "",
                meta={"split": split, "subset": chosen, "mteb_main_score": meta.main_score,
                      "mteb_revision": meta.dataset.get("revision")},
                origin=meta.name, overlaps=tuple(x for x in [meta.dataset.get("path")] if x))
