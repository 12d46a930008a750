"""Retrieval tasks in the BEIR folder layout: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``). Without qrels the same
folder is an unlabeled retrieval task (scored by a rater instead of relevance judgements)."""

from __future__ import annotations

from pathlib import Path

from advisor.errors import ConfigError, UserError
from advisor.datasets.tasks import RetrievalData, Task, TaskSource, content_hash
from advisor.datasets.readers import Row, check_path, read_jsonl, read_table

SPLIT_PREFERENCE = ("test", "dev", "validation", "train")


def join_title(title: str, text: str) -> str:
    """Title and body as one text, exactly as mteb joins them (``_corpus_to_dict``)."""
    return (title + " " + text).strip() if title else text.strip()


def _doc_id(row: Row) -> str:
    for field in ("_id", "id"):
        if field in row.values:
            value = row.values[field]
            if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
                raise row.error(field, f"must be a non-empty string or integer, got {value!r}")
            return str(value)
    raise row.error("_id", "is missing")


def _read_ids_and_texts(path: Path, *, corpus: bool) -> dict[str, str]:
    texts: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for row in read_jsonl(path):
        key = _doc_id(row)
        if key in texts:
            raise row.error("_id", f"duplicate id '{key}' (first on line {first_line[key]})")
        if corpus:
            title = row.values.get("title") or ""
            if not isinstance(title, str):
                raise row.error("title", f"must be a string, got {title!r}")
            text = join_title(title, row.text("text", allow_empty=True))  # BEIR corpora hold a few empty docs
        else:
            text = row.text("text")
        texts[key] = text
        first_line[key] = row.line
    if not texts:
        raise ConfigError(str(path), "holds no records")
    return texts


def qrels_files(folder: Path) -> list[Path]:
    qrels = folder / "qrels"
    return sorted(qrels.glob("*.tsv")) if qrels.is_dir() else []


def pick_split(folder: Path, split: str | None) -> Path:
    files = {p.stem: p for p in qrels_files(folder)}
    if split is not None:
        if split not in files:
            raise UserError(f"{folder}: no qrels/{split}.tsv; the splits here are: {', '.join(files) or 'none'}")
        return files[split]
    for name in SPLIT_PREFERENCE:
        if name in files:
            return files[name]
    if len(files) == 1:
        return next(iter(files.values()))
    raise UserError(f"{folder}: several qrels files ({', '.join(files)}); name one as {folder}/qrels/<split>.tsv")


def _read_qrels(path: Path, queries: dict[str, str], corpus: dict[str, str]) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for row in read_table(path, ("query-id", "corpus-id", "score")):
        qid, did = row.values["query-id"].strip(), row.values["corpus-id"].strip()
        if qid not in queries:
            raise row.error("query-id", f"unknown query id '{qid}' (not in queries.jsonl)")
        if did not in corpus:
            raise row.error("corpus-id", f"unknown document id '{did}' (not in corpus.jsonl)")
        score = row.number("score")
        if score != int(score):
            raise row.error("score", f"must be an integer relevance grade, got {row.values['score']!r}")
        if did in qrels.get(qid, {}):
            raise row.error("corpus-id", f"duplicate judgement for query '{qid}' and document '{did}'")
        qrels.setdefault(qid, {})[did] = int(score)
    if not qrels:
        raise ConfigError(str(path), "holds no relevance judgements")
    return qrels


def _parse_spec(spec: str) -> tuple[Path, str | None]:
    """A BEIR folder, or ``<folder>/qrels/<split>.tsv`` to choose a split."""
    path = check_path(spec)
    if path.is_file() and path.suffix == ".tsv" and path.parent.name == "qrels":
        return path.parent.parent, path.stem
    return path, None


def is_beir_folder(path: Path) -> bool:
    return path.is_dir() and (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file()


def load_beir(spec: str, *, labeled: bool = True) -> Task:
    """Read and check every file, then build the task (queries without judgements in the split are dropped, as
    mteb does)."""
    folder, split = _parse_spec(spec)
    if not is_beir_folder(folder):
        raise UserError(f"{spec}: not a BEIR folder (it needs corpus.jsonl and queries.jsonl"
                        f"{' and qrels/<split>.tsv' if labeled else ''})")
    corpus = _read_ids_and_texts(folder / "corpus.jsonl", corpus=True)
    queries = _read_ids_and_texts(folder / "queries.jsonl", corpus=False)
    meta: dict[str, object] = {"path": str(folder)}
    if labeled:
        if not qrels_files(folder):
            raise UserError(f"{folder}: no qrels/<split>.tsv; without relevance judgements use "
                            "--dataset-type unlabeled")
        qrels_path = pick_split(folder, split)
        qrels = _read_qrels(qrels_path, queries, corpus)
        queries = {q: t for q, t in queries.items() if q in qrels}
        meta["split"] = qrels_path.stem
        task_type = "retrieval"
    else:
        qrels = {}
        task_type = "unlabeled_retrieval"
    data = RetrievalData(corpus=corpus, queries=queries, qrels=qrels)
    return Task(name=folder.name, type=task_type, source="beir" if labeled else "unlabeled",
                content_hash=content_hash({"type": task_type, "data": data}), data=data, meta=meta,
                description=f"{len(queries)} queries, {len(corpus)} documents")


class BeirSource(TaskSource):
    name = "beir"
    description = "BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv (retrieval)"

    def detect(self, spec: str) -> bool:
        path = Path(spec).expanduser()
        if path.is_file() and path.suffix == ".tsv" and path.parent.name == "qrels":
            path = path.parent.parent
        return is_beir_folder(path) and bool(qrels_files(path))

    def load(self, spec: str) -> Task:
        return load_beir(spec, labeled=True)


class UnlabeledSource(TaskSource):
    name = "unlabeled"
    description = "queries.jsonl + corpus.jsonl without qrels (unlabeled retrieval, scored by a rater)"

    def detect(self, spec: str) -> bool:
        path = Path(spec).expanduser()
        return is_beir_folder(path) and not qrels_files(path)

    def load(self, spec: str) -> Task:
        return load_beir(spec, labeled=False)
