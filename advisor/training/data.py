"""Where training pairs come from. Every source becomes a retrieval ``Task`` (queries, corpus, qrels), so the same
held-out split and the same evaluation harness work for all three:

- ``qrels``: a retrieval task (a BEIR folder or anything a task source loads): (query, relevant document) pairs.
- ``pairs``: the user's file of (anchor, positive[, negative]) rows (TSV, CSV, JSONL or Parquet), read by the
  datasets layer's pair reader (``advisor.datasets.pairs``); anchors are the queries, positives the corpus, user
  negatives are kept in ``task.meta["negatives"]``.
- ``next-sentence``: raw text (one document per line, or JSONL with ``text``); each even-numbered sentence is a
  query whose relevant document is the sentence after it. Queries and corpus never share a sentence, so a query
  cannot find itself.
- ``span-corruption``: raw text, unsupervised: each passage gives two views of itself with different word spans
  removed (the talk's span corruption); one view is the query, the other its one relevant document, so the model
  learns what survives the corruption (the passage's meaning) rather than surface overlap. The spans are cut by
  ``advisor.datasets.spans``, the construction the evaluation's pseudo-queries use too.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from advisor.errors import ConfigError, UserError
from advisor.datasets.pairs import POSITIVE_COLUMNS, QUERY_COLUMNS, pairs_data, read_pairs
from advisor.datasets.readers import ARROW_SUFFIXES, header_fields, json_error, missing_path, read_text, text_lines
from advisor.datasets.spans import passages, span_views  # the one span construction (pseudo-queries use it too)
from advisor.datasets.tasks import RetrievalData, Task, content_hash

PAIR_SOURCES = ("qrels", "pairs", "next-sentence", "span-corruption")
ANCHOR_NAMES = QUERY_COLUMNS + ("sentence1", "text1")      # training also takes STS-style column names
POSITIVE_NAMES = POSITIVE_COLUMNS + ("sentence2", "text2")
RAW_SUFFIXES = (".txt", ".cor", ".text")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def detect_pair_source(path: str | Path) -> str:
    """Guess the pair source from the path: a folder is a task (qrels), raw text is next-sentence, a table with an
    anchor column is a pairs file."""
    p = Path(path)
    if p.is_dir():
        return "qrels"
    if p.suffix.lower() in RAW_SUFFIXES:
        return "next-sentence"
    if p.suffix.lower() in (".tsv", ".csv", ".jsonl", ".json") + ARROW_SUFFIXES:
        # a guess only: a file that cannot be read is reported by the reader it is given to, with its line
        header = {str(name).strip().lower() for name in header_fields(p)}
        if header and any(name in header for name in ANCHOR_NAMES):
            return "pairs"
        if header and "text" in header:
            return "next-sentence"
    return "qrels"


def _task(name: str, source: str, queries: dict[str, str], corpus: dict[str, str],
          qrels: dict[str, dict[str, int]], origin: str, meta: dict | None = None) -> Task:
    data = RetrievalData(corpus=corpus, queries=queries, qrels=qrels)
    payload = {"corpus": corpus, "queries": queries, "qrels": qrels, "meta": meta or {}}
    return Task(name=name, type="retrieval", source=source, content_hash=content_hash(payload), data=data,
                description=f"training pairs ({origin}) from {source}", meta={"pair_source": origin, **(meta or {})})


def read_pairs_file(path: str | Path) -> Task:
    """A table of (anchor, positive[, negative][, score]) rows, read by the datasets layer's pair reader
    (``advisor.datasets.pairs``: the reader ``--dataset`` uses for evaluation, so one file means the same pairs
    in both). Column names: anchor/query/question/sentence1/text1 and positive/document/answer/passage/
    sentence2/text2, optional negative; CSV, TSV, JSONL or Parquet. A missing or empty cell is a ConfigError naming
    the line. One query text is one query (its positives all judged relevant); user negatives are kept in
    ``task.meta["negatives"]``."""
    p = Path(path)
    pairs = read_pairs(p, query_names=ANCHOR_NAMES, positive_names=POSITIVE_NAMES)
    data, negatives = pairs_data(pairs)
    return _task(f"pairs-{p.stem}", str(p), dict(data.queries), dict(data.corpus), dict(data.qrels), "pairs",
                 {"negatives": negatives})


def split_sentences(text: str, min_words: int = 3) -> list[str]:
    """Sentences of a document (punctuation followed by a capital letter or digit); very short ones are merged into
    the next so a pair is never two fragments."""
    out: list[str] = []
    carry = ""
    for piece in _SENTENCE_END.split(" ".join(text.split())):
        piece = (carry + " " + piece).strip() if carry else piece.strip()
        if len(piece.split()) < min_words:
            carry = piece
            continue
        out.append(piece)
        carry = ""
    if carry and out:
        out[-1] = out[-1] + " " + carry
    return out


def read_documents(path: str | Path) -> list[str]:
    """Raw documents: one per non-empty line of a text file, or the ``text`` field of each JSONL record."""
    p = Path(path)
    file = str(p)
    if not p.exists():
        raise missing_path(p)
    if not p.is_file():
        raise ConfigError(file, "is a folder; give the raw text file (one document per line, or JSONL with text)")
    docs: list[str] = []
    for line_no, line in enumerate(text_lines(read_text(p)), 1):
        if not line.strip():
            continue
        if p.suffix.lower() in (".jsonl", ".json"):
            try:
                record = json.loads(line)
            except ValueError as exc:  # JSONDecodeError, or a number too long to convert
                raise ConfigError(file, f"invalid JSON: {json_error(exc)}", line=line_no) from None
            text = record.get("text") if isinstance(record, dict) else None
            if not isinstance(text, str):
                raise ConfigError(file, "each record needs a text string", field="text", line=line_no)
            docs.append(text)
        else:
            docs.append(line)
    return docs


def next_sentence_pairs(path: str | Path) -> Task:
    """Sentence 2k of each document is a query; sentence 2k+1 is its one relevant document (the talk's
    next-sentence pairs from a raw corpus)."""
    docs = read_documents(path)
    queries: dict[str, str] = {}
    corpus: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for d, doc in enumerate(docs):
        sentences = split_sentences(doc)
        for i in range(0, len(sentences) - 1, 2):
            qid, did = f"s{d}_{i}", f"s{d}_{i + 1}"
            queries[qid], corpus[did] = sentences[i], sentences[i + 1]
            qrels[qid] = {did: 1}
    if len(queries) < 2:
        raise ConfigError(str(path), f"found {len(queries)} sentence pairs; next-sentence training needs "
                                     f"documents of at least two sentences (one document per line)")
    return _task(f"nextsent-{Path(path).stem}", str(path), queries, corpus, qrels, "next-sentence")


def span_corruption_pairs(path: str | Path, *, seed: int = 0, mask_ratio: float = 0.25, mean_span: int = 3,
                          min_words: int = 8, max_words: int = 128) -> Task:
    """Each passage of each raw document -> (view a, view b) with different spans removed; deterministic for a
    ``seed`` (each passage draws from its own generator, so adding documents never changes earlier pairs)."""
    if not 0 < mask_ratio <= 0.4:
        raise UserError(f"span corruption removes 0-40% of a passage's words per view, got {mask_ratio}")
    docs = read_documents(path)
    queries: dict[str, str] = {}
    corpus: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for d, doc in enumerate(docs):
        for k, passage in enumerate(passages(doc, min_words, max_words)):
            rng = random.Random(f"span-corruption:{seed}:{d}:{k}")
            view_a, view_b, _ = span_views(passage, rng, mask_ratio=mask_ratio, mean_span=mean_span)
            qid, did = f"c{d}_{k}a", f"c{d}_{k}b"
            queries[qid], corpus[did] = view_a, view_b
            qrels[qid] = {did: 1}
    if len(queries) < 2:
        raise ConfigError(str(path), f"found {len(queries)} passages of at least {min_words} words; span "
                                     f"corruption needs raw text (one document per line) with longer documents")
    return _task(f"spancorrupt-{Path(path).stem}", str(path), queries, corpus, qrels, "span-corruption",
                 {"span_corruption": {"seed": seed, "mask_ratio": mask_ratio, "mean_span": mean_span,
                                      "min_words": min_words, "max_words": max_words}})


def load_training_task(dataset: str | Path, pair_source: str | None = None, dataset_type: str | None = None,
                       corpus: str | Path | None = None) -> Task:
    """Turn ``--dataset`` into a retrieval Task of training pairs (see the module docstring); ``corpus``
    (``--corpus``) adds documents to it (more candidates for mined negatives)."""
    source = pair_source or detect_pair_source(dataset)
    if source not in PAIR_SOURCES:
        raise UserError(f"--pairs must be one of {', '.join(PAIR_SOURCES)}, got '{source}'")
    if source == "qrels":
        from advisor.datasets.tasks import load_task

        task = load_task(dataset, dataset_type, corpus=corpus)
        if task.type != "retrieval":
            raise UserError(f"{dataset}: is a {task.type} task; training needs pairs: a retrieval task with qrels, "
                            f"a pairs file (anchor, positive) or raw text for next-sentence pairs")
        return task
    if source == "pairs":
        task = read_pairs_file(dataset)
    elif source == "next-sentence":
        task = next_sentence_pairs(dataset)
    else:
        task = span_corruption_pairs(dataset)
    if corpus is not None:
        from advisor.datasets.corpus import with_corpus

        task = with_corpus(task, corpus)
    return task
