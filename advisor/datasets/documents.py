"""A corpus without queries: a folder of ``.txt`` / ``.md`` files (each file one document, its id the path inside
the folder), or one table of documents (JSONL, or CSV / TSV / Parquet / Arrow / Feather) whose columns are
``text`` with optional ``title`` and ``id`` / ``_id`` and nothing else. It is an unlabeled retrieval task with no
queries: nothing to evaluate until queries come from somewhere, so loading it for an evaluation says how to build
pseudo-queries from it (``#pseudo-queries=N``, ``advisor.datasets.pseudo``); ``advisor datasets show`` shows it as
it is. Titles are joined as BEIR joins them; a document without an id gets a content-hash id (``d`` + SHA-256), so
one text is one document."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from advisor.datasets.readers import (Row, TABLE_SUFFIXES, check_path, header_fields, inside, read_table,
                                      read_text)
from advisor.datasets.tasks import RetrievalData, Task, TaskSource, content_hash
from advisor.errors import ConfigError, UserError

DOCUMENT_SUFFIXES = (".txt", ".md")
DOCUMENT_FIELDS = ("id", "_id", "title", "text")  # a table of documents has these columns only (text required)


def _hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder))


def document_files(folder: Path) -> list[Path]:
    """The ``.txt`` and ``.md`` files under ``folder`` (sub-folders included, hidden ones left out), by path."""
    return [p for p in _files(folder) if p.suffix.lower() in DOCUMENT_SUFFIXES]


def is_documents_folder(path: Path) -> bool:
    """A folder holding text files and, anywhere under it, no data table and no judgements (those make it another
    kind of dataset, or a folder of datasets)."""
    if not path.is_dir() or (path / "qrels").exists():
        return False
    files = _files(path)
    return not any(p.suffix.lower() in TABLE_SUFFIXES for p in files) and \
        any(p.suffix.lower() in DOCUMENT_SUFFIXES for p in files)


def is_documents_table(path: Path) -> bool:
    """A table whose columns are ``text`` and at most ``title`` and an id."""
    if not path.is_file() or path.suffix.lower() not in TABLE_SUFFIXES:
        return False
    fields = header_fields(path)
    return "text" in fields and fields <= set(DOCUMENT_FIELDS)


def notice(documents: int, queries: int = 0) -> str:
    """What ``task.meta["unlabeled"]`` says of a corpus without queries."""
    return f"a corpus of {documents} documents without queries or relevance judgements" if not queries else \
        f"no relevance judgements for its {queries} queries"


def _task(name: str, corpus: dict[str, str], source: str, meta: dict[str, object], left_out: int) -> Task:
    data = RetrievalData(corpus=corpus, queries={}, qrels={})
    meta = {**meta, "unlabeled": notice(len(corpus)), "documents_only": True, "empty_left_out": left_out}
    empty = f"; {left_out} empty left out" if left_out else ""
    return Task(name=name, type="unlabeled_retrieval", source=source,
                content_hash=content_hash({"type": "unlabeled_retrieval", "data": data}), data=data, meta=meta,
                description=f"{len(corpus)} documents, no queries{empty}")


def documents_of_rows(rows: Sequence[Row], where: str) -> tuple[dict[str, str], int]:
    """(doc id -> text, number of empty documents left out) of a table's rows, however they were read: ``text``
    (and ``title``) joined as BEIR joins them, the ``id`` / ``_id`` column or a content-hash id."""
    from advisor.datasets.beir import join_title
    from advisor.datasets.pairs import text_id

    if not rows:
        raise ConfigError(where, "holds no documents")
    corpus: dict[str, str] = {}
    first: dict[str, str] = {}
    id_field = next((f for f in ("_id", "id") if f in rows[0].values), None)
    empty = 0
    for row in rows:
        title = row.values.get("title") or ""
        if not isinstance(title, str):
            raise row.error("title", f"must be a string, got {title!r}")
        text = join_title(title, row.text("text", allow_empty=True))
        if not text:
            empty += 1
            continue
        key = row.ident(id_field) if id_field else text_id("d", text)
        if id_field and key in corpus:
            raise row.error(id_field, f"duplicate id '{key}' (first on {first[key]})")
        corpus.setdefault(key, text)
        first.setdefault(key, row.where)
    if not corpus:
        raise ConfigError(where, "holds no documents (every text is empty)")
    return corpus, empty


def documents_task(rows: Sequence[Row], where: str, name: str, source: str, meta: dict[str, object]) -> Task:
    """The corpus-only task of a table of documents."""
    corpus, empty = documents_of_rows(rows, where)
    return _task(name, corpus, source, meta, empty)


def load_documents_folder(folder: Path) -> Task:
    """Every text file of ``folder`` as one document (UTF-8; an empty file is left out and counted)."""
    corpus: dict[str, str] = {}
    empty = 0
    for file in document_files(folder):
        text = read_text(inside(folder, file)).strip()
        if not text:
            empty += 1
            continue
        corpus[file.relative_to(folder).as_posix()] = text
    if not corpus:
        raise UserError(f"{folder}: every .txt/.md file in it is empty; there is no document to search")
    return _task(folder.name, corpus, "documents", {"path": str(folder)}, empty)


def load_documents(spec: str) -> Task:
    path = check_path(spec)
    if path.is_dir():
        if not document_files(path):
            raise UserError(f"{spec}: no .txt or .md file in this folder; a corpus of documents is a folder of "
                            "text files or one table (JSONL, CSV, Parquet) with a text column")
        return load_documents_folder(path)
    if path.suffix.lower() in DOCUMENT_SUFFIXES:
        raise UserError(f"{spec}: one text file is one document; give the folder that holds the documents")
    return documents_task(read_table(path, ("text",)), str(path), path.stem, "documents", {"path": str(path)})


class DocumentsSource(TaskSource):
    name = "documents"
    description = ("a corpus without queries: a folder of .txt/.md files, or a table (JSONL, CSV, Parquet) with "
                   "text [title, id] only (unlabeled retrieval; #pseudo-queries=N builds queries from it)")

    def detect(self, spec: str) -> bool:
        path = Path(spec).expanduser()
        return is_documents_folder(path) or is_documents_table(path)

    def load(self, spec: str) -> Task:
        return load_documents(spec)
