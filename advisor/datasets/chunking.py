"""Retrieval corpora cut into chunks by the model's own tokenizer, for the chunking variants.

A document becomes windows of ``tokens`` tokens (its own tokens, without the special tokens the model adds),
neighbours sharing ``overlap`` tokens; a chunk's text is the document's text between its first and last token's
character offsets, so no text is re-spelt by a decoder. Identical chunk texts are encoded once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from advisor.errors import UserError
from advisor.models.variants import Chunking


@dataclass(frozen=True)
class ChunkedCorpus:
    """The chunks of a corpus: ``texts`` are the distinct chunk texts (encode these), ``occurrences`` the
    (document row, text row) pairs in document order, one per chunk."""

    doc_ids: tuple[str, ...]
    texts: tuple[str, ...]
    occurrences: tuple[tuple[int, int], ...]
    tokens: int            # the window actually used (the policy's, capped to what the model can read)
    overlap: int
    doc_tokens: tuple[int, ...]  # each document's own token count (before any truncation)
    specials: int = 0              # tokens the model adds around each text
    max_tokens: int | None = None  # the model's limit (special tokens included)
    chunk_tokens: int = 0          # tokens of every chunk occurrence together, special tokens included

    @property
    def n_chunks(self) -> int:
        return len(self.occurrences)

    def summary(self) -> dict[str, Any]:
        n = len(self.doc_ids)
        longer = sum(1 for t in self.doc_tokens if t > self.tokens)
        limit = self.max_tokens or 10**9
        truncated = sum(min(t + self.specials, limit) for t in self.doc_tokens)
        return {"tokens": self.tokens, "overlap": self.overlap, "n_documents": n, "n_chunks": self.n_chunks,
                "n_distinct_chunks": len(self.texts), "vectors_per_document": round(self.n_chunks / n, 6) if n else 0,
                "documents_split": longer,
                "mean_document_tokens": round(sum(self.doc_tokens) / n, 3) if n else 0.0,
                # what encoding one document costs, in tokens the model reads: its chunks, or its truncated text
                "encoded_tokens_per_document": round(self.chunk_tokens / n, 3) if n else 0.0,
                "truncated_tokens_per_document": round(truncated / n, 3) if n else 0.0}


def windows(n_tokens: int, tokens: int, overlap: int) -> list[tuple[int, int]]:
    """Token ranges [start, end) covering ``n_tokens``: each ``tokens`` long (the last may be shorter), starting
    ``tokens - overlap`` apart; one window for a document that fits."""
    if n_tokens <= tokens:
        return [(0, n_tokens)]
    step = tokens - overlap
    out = []
    start = 0
    while True:
        end = min(start + tokens, n_tokens)
        out.append((start, end))
        if end == n_tokens:
            return out
        start += step


def token_offsets(tokenizer: Any, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """Character offsets of each text's tokens, without special tokens and without truncation, from a
    ``tokenizers.Tokenizer`` or a Hugging Face fast tokenizer."""
    if hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "to_str"):  # tokenizers.Tokenizer
        from tokenizers import Tokenizer

        plain = Tokenizer.from_str(tokenizer.to_str())  # a copy: the encoder's own keeps its truncation
        plain.no_truncation()
        plain.no_padding()
        return [list(e.offsets) for e in plain.encode_batch(list(texts), add_special_tokens=False)]
    if callable(tokenizer) and getattr(tokenizer, "is_fast", False):
        out = tokenizer(list(texts), add_special_tokens=False, truncation=False, return_offsets_mapping=True,
                        verbose=False)
        return [[tuple(o) for o in offsets] for offsets in out["offset_mapping"]]
    raise UserError("this model's tokenizer cannot give token offsets, so its documents cannot be chunked by it; "
                    "drop variants.chunking for this model")


def special_tokens(tokenizer: Any) -> int:
    """How many tokens the model adds around a text ([CLS] and [SEP] for BERT)."""
    if hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "to_str"):
        from tokenizers import Tokenizer

        plain = Tokenizer.from_str(tokenizer.to_str())
        plain.no_truncation()
        plain.no_padding()
        return len(plain.encode("").ids)
    return len(tokenizer("")["input_ids"])


def encoder_tokenizer(encoder: Any) -> Any:
    """The tokenizer an encoder cuts its texts with (torch, fast path and ONNX encoders keep it)."""
    tokenizer = getattr(encoder, "tokenizer", None)
    if tokenizer is None:
        model = getattr(encoder, "model", None)
        tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise UserError(f"{type(encoder).__name__} exposes no tokenizer, so documents cannot be chunked by the "
                        f"model's own tokens; drop variants.chunking for this model")
    return tokenizer


def chunk_corpus(corpus: Mapping[str, str], tokenizer: Any, chunking: Chunking,
                 max_tokens: int | None = None) -> ChunkedCorpus:
    """Cut every document into windows; ``max_tokens`` (the model's limit, special tokens included) caps the
    window so that no chunk is itself truncated."""
    tokens = chunking.tokens
    specials = special_tokens(tokenizer)
    if max_tokens:
        tokens = max(1, min(tokens, max_tokens - specials))
    overlap = min(chunking.overlap, tokens - 1)
    doc_ids = tuple(corpus)
    texts = [corpus[d] for d in doc_ids]
    offsets = token_offsets(tokenizer, texts)
    row_of: dict[str, int] = {}
    occurrences = []
    chunk_tokens = 0
    for d, (text, offs) in enumerate(zip(texts, offsets)):
        if not offs:
            pieces = [text]
            chunk_tokens += specials
        else:
            spans = windows(len(offs), tokens, overlap)
            pieces = [text[offs[s][0]:offs[e - 1][1]] for s, e in spans]
            chunk_tokens += sum(e - s + specials for s, e in spans)
        for piece in pieces:
            occurrences.append((d, row_of.setdefault(piece, len(row_of))))
    return ChunkedCorpus(doc_ids, tuple(row_of), tuple(occurrences), tokens, overlap,
                         tuple(len(o) for o in offsets), specials, max_tokens, chunk_tokens)
