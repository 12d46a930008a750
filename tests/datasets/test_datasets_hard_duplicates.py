"""The harder de-duplication example: its near-duplicates are heavy rewrites and its distinct texts come in
groups on one subject (five reviews of each movie), so word overlap alone does not separate them."""

from __future__ import annotations

from pathlib import Path

from advisor.datasets.tasks import load_task

DATA = Path(__file__).resolve().parents[2] / "data"


def words(text: str) -> set[str]:
    return {w.strip(".,;:!?\"'()").lower() for w in text.split()}


def test_hard_near_duplicates_overlap_less_than_the_easy_ones():
    hard = load_task(DATA / "rt-near-duplicates-hard")
    easy = load_task(DATA / "rt-near-duplicates")
    assert len(hard.data.texts) == 260 and len(hard.data.duplicates) == 60

    def mean_jaccard(task) -> float:
        pairs = [(words(task.data.texts[a]), words(task.data.texts[b])) for a, b in task.data.duplicates]
        return sum(len(x & y) / len(x | y) for x, y in pairs) / len(pairs)

    assert mean_jaccard(hard) < mean_jaccard(easy) - 0.2
