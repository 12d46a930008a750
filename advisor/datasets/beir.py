"""Retrieval tasks in the BEIR folder layout: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``). The corpus and the queries
may also be Parquet / Arrow / Feather (or CSV / TSV) tables with the same columns, and the judgements a ``.tsv``,
``.csv``, ``.jsonl``, Parquet / Arrow / Feather table or a TREC qrels file (``.txt``/``.trec``: query, iteration,
document, grade).

Never a silently different task: a folder that holds anything that looks like judgements (a ``qrels/`` folder with
any file in it, a ``qrels*`` or ``*judg*`` file) is a labelled task, and judgements that cannot be read stop the
load with the reason. Only a folder without any is an unlabeled retrieval task (scored by a rater instead of
relevance judgements), and the task says so (``task.meta["unlabeled"]``) for every output to print."""

from __future__ import annotations

from pathlib import Path

from advisor.errors import ConfigError, UserError
from advisor.datasets.tasks import RetrievalData, Task, TaskSource, content_hash
from advisor.datasets.readers import (TABLE_SUFFIXES, Row, check_path, inside, read_table, read_text,
                                      text_lines)

SPLIT_PREFERENCE = ("test", "dev", "validation", "train")
TREC_SUFFIXES = (".txt", ".trec")
QRELS_SUFFIXES = TABLE_SUFFIXES + TREC_SUFFIXES
QRELS_COLUMNS = ("query-id", "corpus-id", "score")
_QRELS_FORMS = ".tsv, .csv, .jsonl or .parquet with the columns query-id, corpus-id, score"


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


def data_file(folder: Path, stem: str) -> Path | None:
    """``<folder>/<stem>.jsonl`` (or .parquet, .arrow, .feather, .csv, .tsv); two of them is a UserError (which one
    is the data would be a guess)."""
    found = [inside(folder, folder / f"{stem}{suffix}") for suffix in TABLE_SUFFIXES
             if (folder / f"{stem}{suffix}").is_file()]
    if len(found) > 1:
        raise UserError(f"{folder}: both {' and '.join(p.name for p in found)}; keep one {stem} file")
    return found[0] if found else None


def _read_ids_and_texts(path: Path, *, corpus: bool) -> dict[str, str]:
    texts: dict[str, str] = {}
    first: dict[str, str] = {}
    for row in read_table(path):
        key = _doc_id(row)
        if key in texts:
            raise row.error("_id", f"duplicate id '{key}' (first on {first[key]})")
        if corpus:
            title = row.values.get("title") or ""
            if not isinstance(title, str):
                raise row.error("title", f"must be a string, got {title!r}")
            text = join_title(title, row.text("text", allow_empty=True))  # BEIR corpora hold a few empty docs
        else:
            text = row.text("text")
        texts[key] = text
        first[key] = row.where
    if not texts:
        raise ConfigError(str(path), "holds no records")
    return texts


def judgement_files(folder: Path) -> list[Path]:
    """Every file of ``folder`` that looks like relevance judgements, readable or not: what ``qrels/`` holds (hidden
    files aside) and the ``qrels*`` / ``*judg*`` files beside the corpus."""
    found: list[Path] = []
    qrels = folder / "qrels"
    if qrels.is_dir():
        found += sorted(p for p in qrels.iterdir() if not p.name.startswith("."))
    if folder.is_dir():
        found += sorted(p for p in folder.iterdir() if p != qrels and not p.name.startswith(".")
                        and (p.name.lower().startswith("qrels") or "judg" in p.name.lower()))
    return [inside(folder, p) for p in found]


def qrels_files(folder: Path) -> list[Path]:
    """The judgement files of a folder (see :func:`judgement_files`)."""
    return judgement_files(folder)


def split_name(path: Path) -> str:
    """The split a judgement file holds: its stem inside ``qrels/``; beside the corpus, its stem less a leading
    'qrels' (``qrels-test.tsv`` -> test; ``qrels.tsv`` -> qrels)."""
    stem = path.name.split(".")[0]
    if path.parent.name == "qrels":
        return stem
    rest = stem[5:].lstrip("-_ ") if stem.lower().startswith("qrels") else ""
    return rest or stem


def unreadable_reason(path: Path) -> str | None:
    """Why a judgement file cannot be read (None: it can be tried)."""
    if path.is_dir():
        return "is a folder, not a judgements file"
    if path.suffix.lower() not in QRELS_SUFFIXES:
        return f"judgements in a '{path.suffix or 'no suffix'}' file cannot be read; save them as {_QRELS_FORMS}"
    return None


def pick_split(folder: Path, split: str | None) -> Path:
    """The judgement file to evaluate: the split named, else test, dev, validation, train, else the only one.
    The chosen file must be readable: a split that cannot be read is never replaced by another one."""
    by_split: dict[str, list[Path]] = {}
    for path in judgement_files(folder):
        by_split.setdefault(split_name(path), []).append(path)
    if split is not None:
        if split not in by_split:
            raise UserError(f"{folder}: no judgements for split '{split}'; the splits here are: "
                            f"{', '.join(by_split) or 'none'}")
        chosen = split
    else:
        preferred = [name for name in SPLIT_PREFERENCE if name in by_split]
        if preferred:
            chosen = preferred[0]
        elif len(by_split) == 1:
            chosen = next(iter(by_split))
        else:
            raise UserError(f"{folder}: judgements for several splits ({', '.join(by_split)}) and none is named "
                            f"test, dev, validation or train; name one as {folder}/qrels/<split>.tsv")
    files = by_split[chosen]
    if len(files) > 1:
        raise UserError(f"{folder}: two judgement files for split '{chosen}' "
                        f"({', '.join(str(p.relative_to(folder)) for p in files)}); keep one")
    reason = unreadable_reason(files[0])
    if reason:
        raise UserError(f"{files[0]}: {reason}")
    return files[0]


def _trec_rows(path: Path) -> list[Row]:
    """A TREC qrels file: 'query iteration document grade' per line, split at blanks, no header."""
    rows: list[Row] = []
    for number, line in enumerate(text_lines(read_text(path)), start=1):
        cells = line.split()
        if not cells:
            continue
        if len(cells) != 4:
            raise ConfigError(str(path), f"has {len(cells)} column(s); a TREC qrels line is 'query-id iteration "
                              f"corpus-id score' (or save the judgements as {_QRELS_FORMS})", line=number)
        rows.append(Row(str(path), number, {"query-id": cells[0], "corpus-id": cells[2], "score": cells[3]}))
    return rows


def _read_qrels(path: Path, queries: dict[str, str], corpus: dict[str, str], *,
                queries_file: str = "queries.jsonl", corpus_file: str = "corpus.jsonl") -> dict[str, dict[str, int]]:
    rows = _trec_rows(path) if path.suffix.lower() in TREC_SUFFIXES else read_table(path, QRELS_COLUMNS)
    qrels: dict[str, dict[str, int]] = {}
    for row in rows:
        qid, did = row.ident("query-id"), row.ident("corpus-id")
        if qid not in queries:
            raise row.error("query-id", f"unknown query id '{qid}' (not in {queries_file})")
        if did not in corpus:
            raise row.error("corpus-id", f"unknown document id '{did}' (not in {corpus_file})")
        score = row.number("score")
        if score != int(score):
            raise row.error("score", f"must be an integer relevance grade, got {row.values['score']!r}")
        if did in qrels.get(qid, {}):
            raise row.error("corpus-id", f"duplicate judgement for query '{qid}' and document '{did}'")
        qrels.setdefault(qid, {})[did] = int(score)
    if not qrels:
        raise ConfigError(str(path), "holds no relevance judgements")
    return qrels


def _judgement_spec(path: Path) -> tuple[Path, str] | None:
    """(folder, split) when ``path`` is one judgement file of a BEIR folder."""
    if not path.is_file():
        return None
    for folder in (path.parent.parent, path.parent):
        if is_beir_folder(folder) and path in judgement_files(folder):
            return folder, split_name(path)
    return None


def _parse_spec(spec: str) -> tuple[Path, str | None]:
    """A BEIR folder, or one of its judgement files (``<folder>/qrels/<split>.tsv``) to choose a split."""
    path = check_path(spec)
    return _judgement_spec(path) or (path, None)


def is_beir_folder(path: Path) -> bool:
    try:
        return path.is_dir() and data_file(path, "corpus") is not None and data_file(path, "queries") is not None
    except UserError:  # two corpus files: still a BEIR folder; the loader says which two
        return True


def load_beir(spec: str, *, labeled: bool = True) -> Task:
    """Read and check every file, then build the task (queries without judgements in the split are dropped, as
    mteb does)."""
    folder, split = _parse_spec(spec)
    if not is_beir_folder(folder):
        raise UserError(f"{spec}: not a BEIR folder (it needs corpus.jsonl and queries.jsonl, or .parquet"
                        f"{', and judgements in qrels/<split>.tsv' if labeled else ''})")
    corpus_path, queries_path = data_file(folder, "corpus"), data_file(folder, "queries")
    assert corpus_path is not None and queries_path is not None
    corpus = _read_ids_and_texts(corpus_path, corpus=True)
    queries = _read_ids_and_texts(queries_path, corpus=False)
    meta: dict[str, object] = {"path": str(folder)}
    judgements = judgement_files(folder)
    if labeled:
        if not judgements:
            raise UserError(f"{folder}: no relevance judgements (qrels/<split>.tsv); without them use "
                            "--dataset-type unlabeled")
        qrels_path = pick_split(folder, split)
        qrels = _read_qrels(qrels_path, queries, corpus, queries_file=queries_path.name,
                            corpus_file=corpus_path.name)
        queries = {q: t for q, t in queries.items() if q in qrels}
        meta.update(split=split_name(qrels_path), qrels=str(qrels_path))
        task_type = "retrieval"
    else:
        qrels = {}
        task_type = "unlabeled_retrieval"
        meta["unlabeled"] = (f"the judgements in {', '.join(str(p.relative_to(folder)) for p in judgements)} are "
                             "ignored (--dataset-type unlabeled)" if judgements else
                             "no relevance judgements (no qrels/ in the folder)")
    data = RetrievalData(corpus=corpus, queries=queries, qrels=qrels)
    return Task(name=folder.name, type=task_type, source="beir" if labeled else "unlabeled",
                content_hash=content_hash({"type": task_type, "data": data}), data=data, meta=meta,
                description=f"{len(queries)} queries, {len(corpus)} documents")


class BeirSource(TaskSource):
    name = "beir"
    description = ("BEIR folder: corpus and queries (.jsonl or .parquet), judgements in qrels/<split> "
                   "(.tsv, .csv, .jsonl, .parquet) (retrieval)")

    def detect(self, spec: str) -> bool:
        path = Path(spec).expanduser()
        found = _judgement_spec(path)
        if found:
            return True
        return is_beir_folder(path) and bool(judgement_files(path))

    def load(self, spec: str) -> Task:
        return load_beir(spec, labeled=True)


class UnlabeledSource(TaskSource):
    name = "unlabeled"
    description = "queries + corpus without any judgements (unlabeled retrieval, scored by a rater)"

    def detect(self, spec: str) -> bool:
        path = Path(spec).expanduser()
        return is_beir_folder(path) and not judgement_files(path)

    def load(self, spec: str) -> Task:
        return load_beir(spec, labeled=False)
