"""Word spans cut from a text and removed from it: the one construction behind training's span corruption
(``advisor.training.data``: two views of a passage with disjoint spans removed, one the query, the other its
document) and the evaluation's pseudo-queries (``advisor.datasets.pseudo``: a span of a document, corrupted the
same way, whose relevant document is the one it was cut from). It lives here, below training, so both read the
same code; each caller draws from its own seeded generator, so a result depends on the seed and the text only."""

from __future__ import annotations

import random

MASK_RATIO = 0.25  # share of a view's words removed
MEAN_SPAN = 3      # mean length of a removed span, in words


def mask_spans(n: int, rng: random.Random, count: int, mean_span: int, allowed: list[int]) -> set[int]:
    """Word positions to remove: spans of 1..2*mean_span-1 words started at ``allowed`` positions (and clipped to
    them) until ``count`` positions are covered."""
    allowed_set = set(allowed)
    masked: set[int] = set()
    while len(masked) < count and len(masked) < len(allowed_set):
        start = rng.choice([i for i in allowed if i not in masked])
        length = rng.randint(1, max(1, 2 * mean_span - 1))
        masked.update(i for i in range(start, min(n, start + length)) if i in allowed_set)
    return masked


def removed_count(n: int, mask_ratio: float) -> int:
    """How many of ``n`` words a view loses (at least one; none when ``mask_ratio`` is 0)."""
    return max(1, round(mask_ratio * n)) if mask_ratio > 0 else 0


def span_views(text: str, rng: random.Random, *, mask_ratio: float = MASK_RATIO,
               mean_span: int = MEAN_SPAN) -> tuple[str, str, tuple[set[int], set[int]]]:
    """Two corrupted views of ``text``: each has about ``mask_ratio`` of its words removed in spans, and the two
    removed sets are disjoint, so the views always differ and together cover the whole passage. Returns
    (view a, view b, (removed a, removed b))."""
    words = text.split()
    n = len(words)
    count = max(1, round(mask_ratio * n))
    first = mask_spans(n, rng, count, mean_span, list(range(n)))
    second = mask_spans(n, rng, count, mean_span, [i for i in range(n) if i not in first])
    views = tuple(" ".join(w for i, w in enumerate(words) if i not in removed) for removed in (first, second))
    return views[0], views[1], (first, second)


def passages(doc: str, min_words: int, max_words: int) -> list[str]:
    """A document cut into passages of at most ``max_words`` words (the last one kept if long enough)."""
    words = doc.split()
    return [" ".join(words[i:i + max_words]) for i in range(0, len(words), max_words)
            if len(words[i:i + max_words]) >= min_words]


def span_query(text: str, rng: random.Random, *, span: int, mask_ratio: float = MASK_RATIO,
               mean_span: int = MEAN_SPAN) -> tuple[str, int]:
    """A query cut from ``text`` (inverse cloze): ``span`` consecutive words at a random start, with about
    ``mask_ratio`` of them removed in spans as :func:`span_views` removes them (so the query is not a verbatim
    quote of its document). Returns (query, first word's position). ``text`` must hold at least ``span`` words."""
    words = text.split()
    if len(words) < span:
        raise ValueError(f"a span of {span} words needs a text of at least {span} words, got {len(words)}")
    start = rng.randrange(len(words) - span + 1)
    piece = words[start:start + span]
    removed = mask_spans(span, rng, removed_count(span, mask_ratio), mean_span, list(range(span)))
    return " ".join(w for i, w in enumerate(piece) if i not in removed), start
