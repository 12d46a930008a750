"""De-duplication tasks: a corpus with known near-duplicate pairs. The example one is built from shipped texts
with paraphrase-style rewrites (deterministic: a word dropped, two neighbours swapped, case and punctuation
changed), the kind of copy a training-data clean-up has to catch."""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Sequence

from advisor.datasets.tasks import DeduplicationData, Task, TaskSource, content_hash
from advisor.errors import UserError

if TYPE_CHECKING:
    from advisor.datasets.readers import Row


def rewrite(text: str, rng: random.Random) -> str:
    """A near-duplicate of ``text``: one word dropped, two neighbours swapped, lower case, punctuation removed."""
    words = re.sub(r"[^\w\s']", "", text).lower().split()
    if len(words) > 4:
        del words[rng.randrange(len(words))]
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def hard_rewrite(text: str, donor: str, rng: random.Random) -> str:
    """A heavily edited near-duplicate: lower case, no punctuation, a quarter of the words dropped, one word in six
    replaced by a word of ``donor`` (another text on the same subject), two neighbour pairs swapped."""
    words = re.sub(r"[^\w\s']", "", text).lower().split()
    spare = re.sub(r"[^\w\s']", "", donor).lower().split() or ["the"]
    if len(words) <= 4:
        return " ".join(words)
    for _ in range(max(1, len(words) // 4)):
        del words[rng.randrange(len(words))]
    for _ in range(max(1, len(words) // 6)):
        words[rng.randrange(len(words))] = rng.choice(spare)
    for _ in range(2):
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def hard_near_duplicate_task(groups: Sequence[Sequence[str]], *, n_copies: int, name: str, source: str,
                             seed: int = 17) -> Task:
    """Texts in groups on one subject (reviews of one movie: distinct texts sharing names and topic words, the
    hard negatives) plus a :func:`hard_rewrite` of ``n_copies`` of them, each with a donor from its own group."""
    originals = [(t, g) for g, texts in enumerate(groups) for t in dict.fromkeys(texts) if t.strip()]
    if n_copies < 1 or n_copies > len(originals):
        raise UserError(f"n_copies must be between 1 and the {len(originals)} distinct texts, got {n_copies}")
    rng = random.Random(seed)
    copied = rng.sample(range(len(originals)), n_copies)
    rows = [(t, i) for i, (t, _) in enumerate(originals)]
    for i in copied:
        text, group = originals[i]
        donors = [t for t, g in originals if g == group and t != text] or [text]
        rows.append((hard_rewrite(text, rng.choice(donors), rng), i))
    rng.shuffle(rows)
    where: dict[int, list[int]] = {}
    for row, (_, origin) in enumerate(rows):
        where.setdefault(origin, []).append(row)
    pairs = tuple(sorted((a, b) for rows_of in where.values() if len(rows_of) == 2 for a, b in [sorted(rows_of)]))
    data = DeduplicationData(tuple(t for t, _ in rows), pairs)
    return Task(name=name, type="deduplication", source=source, content_hash=content_hash(data), data=data,
                description=f"{len(originals)} texts in {len(groups)} subject groups and {n_copies} heavily "
                            f"rewritten near-duplicates")


def near_duplicate_task(texts: Sequence[str], *, n_copies: int, name: str, source: str,
                        seed: int = 13) -> Task:
    """``texts`` (distinct) plus a rewritten copy of ``n_copies`` of them, the copies shuffled in."""
    originals = list(dict.fromkeys(t for t in texts if t.strip()))
    if n_copies < 1 or n_copies > len(originals):
        raise UserError(f"n_copies must be between 1 and the {len(originals)} distinct texts, got {n_copies}")
    rng = random.Random(seed)
    copied = rng.sample(range(len(originals)), n_copies)
    rows = [(t, i) for i, t in enumerate(originals)] + [(rewrite(originals[i], rng), i) for i in copied]
    rng.shuffle(rows)
    where: dict[int, list[int]] = {}
    for row, (_, origin) in enumerate(rows):
        where.setdefault(origin, []).append(row)
    pairs = tuple(sorted((a, b) for rows_of in where.values() if len(rows_of) == 2 for a, b in [sorted(rows_of)]))
    data = DeduplicationData(tuple(t for t, _ in rows), pairs)
    return Task(name=name, type="deduplication", source=source, content_hash=content_hash(data), data=data,
                description=f"{len(originals)} texts and {n_copies} rewritten near-duplicates")


def all_pairs(data: DeduplicationData) -> tuple[list[int], list[int], list[int]]:
    """Every pair ``i < j`` of the corpus with its label (1: a known near-duplicate)."""
    dup = set(data.duplicates)
    n = len(data.texts)
    left, right, labels = [], [], []
    for i in range(n):
        for j in range(i + 1, n):
            left.append(i)
            right.append(j)
            labels.append(int((i, j) in dup))
    return left, right, labels


# --- a de-duplication table: one text per row; rows sharing a ``group`` are near-duplicates of each other ----------

DEDUP_FIELDS = ("text", "group")


def load_deduplication(spec: str) -> Task:
    from pathlib import Path

    from advisor.datasets.clustering import _table
    from advisor.datasets.readers import read_table

    file = _table(spec, DEDUP_FIELDS)
    path = Path(spec).expanduser()
    return deduplication_task(read_table(file, DEDUP_FIELDS), str(file), path.name if path.is_dir() else file.stem,
                              "deduplication", {"path": str(file)})


def deduplication_task(rows: "Sequence[Row]", where: str, name: str, source: str, meta: dict) -> Task:
    """The de-duplication task of a table's rows (``text``, ``group``), however they were read."""
    from advisor.errors import ConfigError

    if not rows:
        raise ConfigError(where, "holds no rows")
    texts = tuple(r.text("text") for r in rows)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r.label("group"), []).append(i)
    pairs = tuple(sorted((a, b) for members in groups.values() for x, a in enumerate(members)
                         for b in members[x + 1:]))
    if not pairs:
        raise ConfigError(where, "no two rows share a 'group', so there is no near-duplicate to find")
    data = DeduplicationData(texts, pairs)
    return Task(name=name, type="deduplication", source=source,
                content_hash=content_hash({"type": "deduplication", "data": data}), data=data,
                meta=meta, description=f"{len(texts)} texts, {len(pairs)} near-duplicate pairs")



class DeduplicationSource(TaskSource):
    name = "deduplication"
    description = "de-duplication: TSV/CSV/JSONL/Parquet with text, group (rows sharing a group are near-duplicates)"

    def detect(self, spec: str) -> bool:
        from advisor.datasets.clustering import _detect

        return _detect(spec, DEDUP_FIELDS)

    def load(self, spec: str) -> Task:
        return load_deduplication(spec)
