"""``--corpus FILE``: more documents for a retrieval task, so the judged documents are searched among
distractors (a pairs file's corpus is only its positives and negatives until one is added).

The file is a BEIR corpus or any table with a ``text`` column (optional ``title``, joined as BEIR joins them):
JSONL, CSV, TSV, Parquet, Arrow or Feather; a folder means its ``corpus.*`` file. A document whose text the task
already holds is not added twice (it would compete with itself); the others get content-hash ids. The task's
content hash covers the added documents, and ``task.meta["corpus"]`` names the file, so a sweep worker reads the
same task again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from advisor.datasets.readers import check_path, read_table
from advisor.datasets.tasks import Task, content_hash
from advisor.errors import ConfigError, UserError

CORPUS_TYPES = ("retrieval", "unlabeled_retrieval")


def corpus_path(spec: str | Path) -> Path:
    """The corpus file ``spec`` names (a folder: its ``corpus.*`` file)."""
    from advisor.datasets.beir import data_file

    path = check_path(spec)
    if path.is_dir():
        found = data_file(path, "corpus")
        if found is None:
            raise UserError(f"--corpus {spec}: a folder without a corpus file (corpus.jsonl or corpus.parquet); "
                            "give the corpus file itself")
        return found
    return path


def read_corpus(spec: str | Path) -> list[str]:
    """The texts of a corpus file, in file order (title and text joined, as BEIR's loader does)."""
    from advisor.datasets.beir import join_title

    path = corpus_path(spec)
    texts: list[str] = []
    for row in read_table(path, ("text",)):
        title = row.values.get("title") or ""
        if not isinstance(title, str):
            raise row.error("title", f"must be a string, got {title!r}")
        text = join_title(title, row.text("text", allow_empty=True))
        if text:
            texts.append(text)
    if not texts:
        raise ConfigError(str(path), "holds no documents (no row with a non-empty text)")
    return texts


def with_corpus(task: Task, spec: str | Path) -> Task:
    """``task`` with the documents of corpus file ``spec`` added to its corpus (texts it holds already are kept
    once, under the task's own id)."""
    from advisor.datasets.pairs import text_id

    if task.type not in CORPUS_TYPES:
        raise UserError(f"--corpus {spec}: adds documents to a retrieval task; {task.name} is a {task.type} task "
                        "(give --corpus only with retrieval datasets)")
    path = corpus_path(spec)
    corpus = dict(task.data.corpus)
    known = set(corpus.values())
    added = 0
    for text in read_corpus(path):
        if text in known:
            continue
        key = text_id("d", text)
        if key in corpus:
            raise UserError(f"--corpus {spec}: the document id {key} is already a document of {task.name}; "
                            "rename that document")
        corpus[key] = text
        known.add(text)
        added += 1
    data = replace(task.data, corpus=corpus)
    meta = {**task.meta, "corpus": str(path.resolve()), "corpus_added": added}
    return replace(task, data=data, content_hash=content_hash({"type": task.type, "data": data}), meta=meta,
                   description=f"{task.description}; {added} more documents from {path.name}")
