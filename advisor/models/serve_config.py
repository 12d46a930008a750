"""How a server batches and where it listens: plain data, validated at the edge.

It sits in ``advisor.models`` (below ``advisor.cost`` and ``advisor.serving``) because two layers build it: ``advisor
serve`` from its options, and a cost cell's load test, which runs the server's batcher in process or starts a real
server from this object (``advisor.cost.served``). ``advisor.serving.config`` re-exports it.

``ServeSpec`` is what such a server process is given: the catalog entry, its ``LoadOptions`` and the ``ServeConfig``,
as one JSON file (``python -P -m advisor.serving SPEC.json``), so the measuring process serves exactly the model
it has loaded, with no command line in between.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from advisor.errors import UserError

if TYPE_CHECKING:
    from advisor.models.backends import LoadOptions
    from advisor.models.catalog import ModelEntry


@dataclass(frozen=True)
class ServeConfig:
    """Dynamic batching as TEI does it: a batch closes when its tokens would pass ``max_batch_tokens``, when it
    holds ``max_batch_requests`` requests, or ``max_wait_ms`` after its first request arrived. At most
    ``max_queue`` requests wait (being tokenized or queued); the next one is answered 429 with Retry-After, before
    it is tokenized.

    What one request may cost is bounded too, each limit a default a user can raise: ``max_body_bytes`` (the body is
    read in chunks up to it: 413 past it, before it is parsed; TEI's payload limit), ``max_inputs`` texts per
    request (413; OpenAI's limit), ``max_input_tokens`` tokens per text (cut, or 413 with ``truncate`` off; a text
    is first cut, or refused, by characters: ``batcher.CHARS_PER_TOKEN`` per allowed token, so a huge text is
    never tokenized whole) and ``max_concurrent_requests`` requests handled at once (429 before the body is read).
    ``insecure``: listen on an address other than loopback without an API key (refused otherwise)."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_batch_tokens: int = 16384
    max_batch_requests: int = 64
    max_wait_ms: float = 2.0
    max_queue: int = 512
    max_input_tokens: int | None = None  # None: the model's max_tokens
    truncate: bool = True                # False: refuse an over-long input (413) instead of truncating it
    api_key: str | None = None
    kind: str = "query"                  # which prompt the model adds when a request does not say
    drain_timeout_s: float = 30.0
    batch_size: int = 32                 # texts per encode call inside one batch
    max_body_bytes: int = 2_000_000      # a request body's bytes (TEI's --payload-limit)
    max_inputs: int = 2048               # texts in one request (OpenAI's limit per request)
    max_concurrent_requests: int = 512   # requests handled at once (TEI's --max-concurrent-requests)
    insecure: bool = False               # listen off loopback without an API key

    def __post_init__(self) -> None:
        if self.max_batch_tokens < 1 or self.max_batch_requests < 1 or self.max_queue < 1:
            raise UserError("max batch tokens, max batch requests and max queue must be at least 1")
        if self.max_body_bytes < 1 or self.max_inputs < 1 or self.max_concurrent_requests < 1:
            raise UserError("max body bytes, max inputs and max concurrent requests must be at least 1")
        if self.max_wait_ms < 0:
            raise UserError("max wait must be 0 ms or more")
        if self.kind not in ("query", "document"):
            raise UserError(f"kind must be query or document, not '{self.kind}'")

    def settings(self) -> dict[str, Any]:
        """The fields as data, without the API key (what a measurement records about the server it ran)."""
        out = asdict(self)
        out.pop("api_key")
        return out


@dataclass(frozen=True)
class ServeSpec:
    """A server process's whole brief: serve ``entry`` loaded with ``load``, batching and listening by ``config``."""

    entry: "ModelEntry"
    load: "LoadOptions"
    config: ServeConfig

    def to_json(self) -> str:
        return json.dumps({"entry": self.entry.to_dict(), "load": asdict(self.load), "config": asdict(self.config)})

    @classmethod
    def from_json(cls, text: str) -> "ServeSpec":
        from advisor.models.backends import LoadOptions
        from advisor.models.catalog import ModelEntry

        try:
            data = json.loads(text)
            return cls(ModelEntry.from_dict(data["entry"]), LoadOptions(**data["load"]), ServeConfig(**data["config"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"not a serve spec (JSON with entry, load and config): {exc}") from None
