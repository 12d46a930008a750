"""Bulk throughput on the dataset's own texts: the same sample encoded in rounds until two rounds agree.

Each round is one ``Encoder.encode`` of the whole sample (the backend's own batching: token budgets on the fast
path), so docs/s and tokens/s are what an indexing job would see; the machine's contention over the rounds is
recorded beside them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from advisor.cost.contention import Contention, ContentionWatch
from advisor.figures import BULK_DOCS, BULK_ROUNDS, BULK_S, DOCS_PER_S, MEAN_TOKENS_PER_DOC, TOKENS_PER_S, lookup
from advisor.cost.stability import Settled, StabilityRule, bulk_rounds
from advisor.models.backends import Encoder


@dataclass
class Throughput:
    docs: int
    docs_per_s: float
    docs_per_s_low: float
    docs_per_s_high: float
    seconds_per_round: float
    tokens: int | None
    settled: Settled
    contention: Contention

    @property
    def unstable(self) -> list[str]:
        return ([self.settled.reason] if self.settled.reason else []) + self.contention.reasons()

    def figures(self) -> dict[str, float]:
        docs = lookup(DOCS_PER_S)
        out = {docs.name: round(self.docs_per_s, 3), docs.ci_low: round(self.docs_per_s_low, 3),
               docs.ci_high: round(self.docs_per_s_high, 3), BULK_DOCS: self.docs,
               BULK_S: round(self.seconds_per_round, 4), BULK_ROUNDS: len(self.settled.rounds)}
        if self.tokens is not None:
            scale = self.tokens / max(1, self.docs)
            out[TOKENS_PER_S] = round(self.docs_per_s * scale, 1)
            out[MEAN_TOKENS_PER_DOC] = round(scale, 2)
        return out


def measure_throughput(encoder: Encoder, docs: Sequence[str], *, batch_size: int = 32,
                       rule: StabilityRule | None = None, progress: Callable[[int, int], None] | None = None
                       ) -> Throughput:
    """Warm up on a few texts, then encode ``docs`` in rounds until the docs/s of two rounds agree."""
    import statistics

    rule = rule or StabilityRule()
    docs = list(docs)
    encoder.encode(docs[: min(8, len(docs))], kind="document", batch_size=batch_size)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], len(docs))

    def one_round() -> float:
        done[0] = 0
        t0 = time.perf_counter()
        encoder.encode(docs, kind="document", batch_size=batch_size, progress=tick)
        return len(docs) / max(time.perf_counter() - t0, 1e-9)

    with ContentionWatch() as watch:
        settled = bulk_rounds(one_round, rule)
    used = settled.rounds[-settled.used_rounds:]
    rate = statistics.median(used)
    tokens = encoder.count_tokens(docs)
    return Throughput(len(docs), rate, min(used), max(used), len(docs) / rate,
                      None if tokens is None else int(sum(tokens)), settled, watch.result)
