"""Money: what embedding a million documents and answering a thousand queries costs, in USD.

Two ways to pay, one formula each, from figures the cost cell measured:

- billed per token (a catalog entry with ``price_per_million_tokens``, e.g. a hosted API): tokens per text x the
  price. Tokens are the server's reported usage when the encoder counts it (``usage_tokens``), else the local
  tokenizer's count, and the figure says which.
- a machine you pay by the hour (everything else): the policy's ``costs.machine_usd_per_hour`` divided by the
  measured rate: bulk documents per second for documents, and for queries one query at a time at the batch-1 p50
  latency (1000 / p50 ms queries per second: a serial server without batching, so an upper bound on the money).

The ranking derives these at ranking time, so a different price never needs a new measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from advisor.figures import (BILLED_TOKENS_ESTIMATED, BILLED_TOKENS_PER_DOC, BILLED_TOKENS_PER_QUERY, DOCS_PER_S,
                             LATENCY_P50_MS, MEAN_TOKENS_PER_DOC, USD_PER_MILLION_DOCS, USD_PER_THOUSAND_QUERIES)
from advisor.formatting import number

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Money:
    """USD per million documents embedded and per thousand queries, with how each was derived."""

    usd_per_million_docs: float | None = None
    usd_per_thousand_queries: float | None = None
    docs_interval: tuple[float, float] | None = None  # from the throughput interval (machine pricing only)
    basis: dict[str, str] = field(default_factory=dict)  # figure -> one sentence saying how it was computed

    def figures(self) -> dict[str, float]:
        out = {}
        if self.usd_per_million_docs is not None:
            out[USD_PER_MILLION_DOCS] = self.usd_per_million_docs
        if self.usd_per_thousand_queries is not None:
            out[USD_PER_THOUSAND_QUERIES] = self.usd_per_thousand_queries
        return out


def per_token_money(tokens_per_doc: float | None, tokens_per_query: float | None, price_per_million_tokens: float,
                    *, source: str) -> Money:
    """Billed per token: a million documents cost tokens/doc x price; a thousand queries tokens/query x price /
    1000. ``source`` says where the token counts came from."""
    basis = {"pricing": "per token"}
    docs = queries = None
    if tokens_per_doc is not None:
        docs = tokens_per_doc * price_per_million_tokens
        basis[USD_PER_MILLION_DOCS] = (f"{number(tokens_per_doc, digits=6)} tokens per document ({source}) x "
                                       f"{number(price_per_million_tokens, digits=6)} USD per million tokens")
    if tokens_per_query is not None:
        queries = tokens_per_query * price_per_million_tokens / 1000.0
        basis[USD_PER_THOUSAND_QUERIES] = (f"{number(tokens_per_query, digits=6)} tokens per query ({source}) x "
                                           f"{number(price_per_million_tokens, digits=6)} USD per million tokens")
    return Money(docs, queries, None, basis)


def machine_money(docs_per_s: float | None, latency_p50_ms: float | None, machine_usd_per_hour: float, *,
                  docs_per_s_interval: tuple[float, float] | None = None, stated: bool = True) -> Money:
    """Paid by the hour: the machine's price over the measured rate. ``stated`` False marks the default price."""
    per_s = machine_usd_per_hour / SECONDS_PER_HOUR
    price = f"{number(machine_usd_per_hour, digits=6)} USD per machine-hour" + ("" if stated else " (the default; set "
                                                                                  "costs.machine_usd_per_hour)")
    basis = {"pricing": "machine-hour"}
    docs = queries = None
    interval = None
    if docs_per_s and docs_per_s > 0:
        docs = per_s * 1e6 / docs_per_s
        basis[USD_PER_MILLION_DOCS] = f"{price} / {number(docs_per_s, digits=6)} docs/s (bulk throughput)"
        if docs_per_s_interval and min(docs_per_s_interval) > 0:
            low, high = docs_per_s_interval
            interval = (per_s * 1e6 / high, per_s * 1e6 / low)
    if latency_p50_ms and latency_p50_ms > 0:
        qps = 1000.0 / latency_p50_ms
        queries = per_s * 1000.0 / qps
        basis[USD_PER_THOUSAND_QUERIES] = (f"{price} / {number(qps, digits=4)} queries/s (one at a time: 1000 / p50 "
                                           f"{number(latency_p50_ms, digits=6)} ms, no batching)")
    return Money(docs, queries, interval, basis)


def money_of(cost: Mapping[str, float], *, price_per_million_tokens: float | None, machine_usd_per_hour: float,
             machine_price_stated: bool = True,
             docs_per_s_interval: tuple[float, float] | None = None) -> Money:
    """Money for one candidate from its cost figures (a cost cell's metrics, or the ranking's worst case over
    tasks): per token when the entry has a price, else by the machine-hour."""
    if price_per_million_tokens is not None:
        if BILLED_TOKENS_PER_DOC in cost or BILLED_TOKENS_PER_QUERY in cost:
            source = ("estimated by the client, the API reports no count" if cost.get(BILLED_TOKENS_ESTIMATED)
                      else "the server's reported usage")
            return per_token_money(cost.get(BILLED_TOKENS_PER_DOC), cost.get(BILLED_TOKENS_PER_QUERY),
                                   price_per_million_tokens, source=source)
        if MEAN_TOKENS_PER_DOC in cost:
            return per_token_money(cost.get(MEAN_TOKENS_PER_DOC), None, price_per_million_tokens,
                                   source="counted with the model's tokenizer here, not billed usage")
        return Money(basis={USD_PER_MILLION_DOCS: "no token count measured, so the per-token price cannot be "
                                                  "applied"})
    return machine_money(cost.get(DOCS_PER_S), cost.get(LATENCY_P50_MS), machine_usd_per_hour,
                         docs_per_s_interval=docs_per_s_interval, stated=machine_price_stated)


def usage_of(encoder: Any) -> int | None:
    """The tokens a server has billed this encoder so far (``usage_tokens``), or None when it does not count."""
    value = getattr(encoder, "usage_tokens", None)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def billed_tokens_per_text(encoder: Any, texts: Sequence[str], *, kind: str, batch_size: int = 32) -> float | None:
    """Encode ``texts`` once and return the server's billed tokens per text (None when the encoder does not count
    usage). One extra pass over a small sample: what a hosted model bills is measured, not estimated."""
    before = usage_of(encoder)
    if before is None or not texts:
        return None
    encoder.encode(list(texts), kind=kind, batch_size=batch_size)
    after = usage_of(encoder)
    if after is None:
        return None
    return (after - before) / len(texts)
