"""The one dynamic batcher: by a token budget with a maximum wait (as text-embeddings-inference batches).

``advisor serve`` runs it behind HTTP, and a cost cell's in-process load test (``advisor.cost.inprocess_load``)
drives the same class without HTTP, so a load figure measures the batching a deployment gets. It sits in
``advisor.models`` because ``advisor.cost`` lies below ``advisor.serving`` and both import it.

A request is admitted first, before any work is done for it: at ``max_queue`` requests being tokenized or waiting,
the next is refused (``QueueFull``, 429) at once, so a burst of requests cannot make the model's thread tokenize
them all before they are refused. A text longer than ``CHARS_PER_TOKEN`` characters per allowed token is cut to
that many characters (or, with ``truncate`` off, refused) before it is tokenized: the tokens a model reads come from
the start of a text, so the cut keeps them, and a huge text costs no tokenization. Then its tokens are counted
(``count_tokens``, in the model's thread) and checked against the input limit. Then it waits in a bounded queue; one worker takes the oldest, then keeps adding requests while the
batch's tokens stay within ``max_batch_tokens``, it holds fewer than ``max_batch_requests`` requests, and
``max_wait_ms`` has not passed since the first one arrived. The model runs in one dedicated thread, so the event
loop keeps accepting (and refusing) requests while a batch encodes. A request larger than the budget runs alone.

The batcher reports to metrics hooks (``BatcherMetrics``); without any it reports nowhere (``NullMetrics``), so it
needs no prometheus_client (``advisor.serving.metrics.ServerMetrics`` fills the hooks with Prometheus histograms).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import numpy as np

from advisor.models.serve_config import ServeConfig

if TYPE_CHECKING:
    from advisor.models.backends import Encoder


class QueueFull(Exception):
    """The queue holds ``max_queue`` requests; answer 429 and say when to come back."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the queue is full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Draining(Exception):
    """The server is shutting down and takes no new work."""


class TooLong(Exception):
    """An input has more tokens than the limit and the server refuses over-long inputs (``truncate`` False)."""

    def __init__(self, index: int, tokens: int, limit: int, *, chars: int | None = None) -> None:
        if chars is None:
            super().__init__(f"input {index} has {tokens} tokens, more than the {limit} allowed")
        else:  # refused by its length alone, untokenized
            super().__init__(f"input {index} has {chars} characters, more than {limit} tokens can hold "
                             f"({CHARS_PER_TOKEN} characters per token at most)")
        self.index, self.tokens, self.limit = index, tokens, limit


# Characters one token is allowed to stand for before a text is cut (or refused) unread: English averages about 4
# characters per token, so 32 keeps every token of any natural text within the limit and bounds the tokenizer's
# work on a hostile one.
CHARS_PER_TOKEN = 32


class BatcherMetrics(Protocol):
    """The hooks the batcher reports to (names as text-embeddings-inference's metrics): each has ``observe``
    (histograms) or ``set`` (``queue_depth``)."""

    queue_depth: Any
    queue_size: Any
    queue_duration: Any
    tokenization_duration: Any
    inference_duration: Any
    batch_size: Any
    batch_tokens: Any


class _Nothing:
    def observe(self, value: float) -> None:
        pass

    def set(self, value: float) -> None:
        pass


class NullMetrics:
    """Every hook, recording nothing: the in-process load test keeps what it needs itself (``on_batch``)."""

    def __init__(self) -> None:
        nothing = _Nothing()
        self.queue_depth = self.queue_size = self.queue_duration = nothing
        self.tokenization_duration = self.inference_duration = self.batch_size = self.batch_tokens = nothing


def count_tokens(encoder: "Encoder", texts: Sequence[str]) -> list[int]:
    """Tokens per text as the model's own tokenizer counts them (``Encoder.count_tokens``); words for a backend
    that cannot tell. The batch budget, the input limit and the usage a server reports all read this count."""
    counts = encoder.count_tokens(list(texts))
    if counts is None:
        counts = [max(1, len(t.split())) for t in texts]
    return [int(c) for c in counts]


def input_limit(config: ServeConfig, entry_max_tokens: int | None) -> int | None:
    """The longest input in tokens: the config's ``max_input_tokens``, else the model's ``max_tokens``."""
    return config.max_input_tokens or entry_max_tokens or None


@dataclass
class Job:
    texts: list[str]
    tokens: int
    kind: str
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


class DynamicBatcher:
    """Lives in one asyncio event loop (``start`` inside it); ``embed`` admits and queues a request and waits for
    its vectors. ``on_batch`` is called with each finished batch's jobs."""

    def __init__(self, encoder: "Encoder", config: ServeConfig, metrics: BatcherMetrics | None = None, *,
                 max_tokens: int | None = None, on_batch: Callable[[list[Job]], None] | None = None) -> None:
        self.encoder, self.config = encoder, config
        self.metrics: BatcherMetrics = metrics if metrics is not None else NullMetrics()
        self.max_tokens = max_tokens  # the input limit (``input_limit``); None: no limit
        self.queue: deque[Job] = deque()
        self._wake = asyncio.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="advisor-serve-model")
        self._task: asyncio.Task | None = None
        self.draining = False
        self.in_flight = 0
        self.admitting = 0  # requests admitted and being tokenized: counted against max_queue with the queue
        self._tokens_per_s = 0.0  # measured throughput, for Retry-After
        self.on_batch = on_batch

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="advisor-serve-batcher")

    async def embed(self, texts: list[str], kind: str) -> tuple[np.ndarray, int]:
        """Admit, queue and encode one request: (raw float32 vectors, tokens counted). QueueFull at the queue bound
        (requests being tokenized count), before any work; TooLong when an input is over the limit and
        ``truncate`` is off; Draining while shutting down."""
        if self.draining:
            raise Draining()
        if self.admitting + len(self.queue) >= self.config.max_queue:
            raise QueueFull(self.retry_after_s())
        self.admitting += 1
        try:
            texts = self._cut(texts)
            counts = await self.run_in_model_thread(self._timed_count, texts)
        finally:
            self.admitting -= 1
        if self.max_tokens:
            too_long = [i for i, c in enumerate(counts) if c > self.max_tokens]
            if too_long and not self.config.truncate:
                raise TooLong(too_long[0], counts[too_long[0]], self.max_tokens)
            counts = [min(c, self.max_tokens) for c in counts]  # the model cuts them; only the kept tokens count
        tokens = sum(counts)
        return await self.submit(texts, tokens, kind), tokens

    def _cut(self, texts: list[str]) -> list[str]:
        """The texts with any longer than ``CHARS_PER_TOKEN`` characters per allowed token cut to that length (its
        tokens within the limit are kept); refused instead (TooLong) when ``truncate`` is off."""
        if not self.max_tokens:
            return texts
        most = self.max_tokens * CHARS_PER_TOKEN
        if all(len(t) <= most for t in texts):
            return texts
        if not self.config.truncate:
            index = next(i for i, t in enumerate(texts) if len(t) > most)
            raise TooLong(index, 0, self.max_tokens, chars=len(texts[index]))
        return [t[:most] for t in texts]

    def _timed_count(self, texts: list[str]) -> list[int]:
        """Counted in the model's thread: a Rust tokenizer shared with a running encode can fail ('Already
        borrowed'), and a request that arrives mid-batch could not join that batch anyway."""
        t0 = time.perf_counter()
        counts = count_tokens(self.encoder, texts)
        self.metrics.tokenization_duration.observe(time.perf_counter() - t0)
        return counts

    async def submit(self, texts: list[str], tokens: int, kind: str) -> np.ndarray:
        """Queue one admitted request and wait for its vectors; QueueFull when the queue is at its bound."""
        if self.draining:
            raise Draining()
        if self.admitting + len(self.queue) >= self.config.max_queue:
            raise QueueFull(self.retry_after_s())
        job = Job(texts, tokens, kind, asyncio.get_running_loop().create_future())
        self.queue.append(job)
        self.metrics.queue_depth.set(len(self.queue))
        self._wake.set()
        return await job.future

    def retry_after_s(self) -> int:
        """Seconds until the queued tokens have likely been encoded (at least 1)."""
        queued = sum(j.tokens for j in self.queue)
        if self._tokens_per_s <= 0:
            return 1
        return max(1, int(np.ceil(queued / self._tokens_per_s)))

    def _take_batch(self) -> list[Job]:
        cfg = self.config
        batch = [self.queue.popleft()]
        tokens = batch[0].tokens
        while self.queue and len(batch) < cfg.max_batch_requests and self.queue[0].kind == batch[0].kind \
                and tokens + self.queue[0].tokens <= cfg.max_batch_tokens:
            job = self.queue.popleft()
            batch.append(job)
            tokens += job.tokens
        return batch

    def _full(self) -> bool:
        cfg = self.config
        if len(self.queue) >= cfg.max_batch_requests:
            return True
        return sum(j.tokens for j in self.queue) >= cfg.max_batch_tokens

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.queue:
                if self.draining:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            deadline = self.queue[0].enqueued + self.config.max_wait_ms / 1000.0
            while not self._full() and (left := deadline - time.perf_counter()) > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), left)
                except asyncio.TimeoutError:
                    break
            self.metrics.queue_size.observe(len(self.queue))
            batch = self._take_batch()
            self.metrics.queue_depth.set(len(self.queue))
            now = time.perf_counter()
            for job in batch:
                self.metrics.queue_duration.observe(now - job.enqueued)
            texts = [t for job in batch for t in job.texts]
            tokens = sum(job.tokens for job in batch)
            self.metrics.batch_size.observe(len(texts))
            self.metrics.batch_tokens.observe(tokens)
            self.in_flight += len(batch)
            t0 = time.perf_counter()
            try:
                vectors = await loop.run_in_executor(self._pool, self._encode, texts, batch[0].kind)
            except Exception as exc:  # the model failed: every request of the batch gets the error
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
            else:
                elapsed = time.perf_counter() - t0
                self.metrics.inference_duration.observe(elapsed)
                if elapsed > 0:
                    rate = tokens / elapsed
                    self._tokens_per_s = rate if self._tokens_per_s == 0 else 0.8 * self._tokens_per_s + 0.2 * rate
                start = 0
                for job in batch:
                    if not job.future.done():
                        job.future.set_result(vectors[start:start + len(job.texts)])
                    start += len(job.texts)
            finally:
                self.in_flight -= len(batch)
            if self.on_batch is not None:
                self.on_batch(batch)

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        return np.asarray(self.encoder.encode(texts, kind=kind, batch_size=self.config.batch_size),
                          dtype=np.float32)

    async def run_in_model_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` where the model runs (tokenizers are not always safe to share across threads)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def drain(self, timeout_s: float) -> None:
        """Refuse new work, finish what is queued, then stop the worker."""
        self.draining = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except asyncio.TimeoutError:
                self._task.cancel()
                for job in self.queue:
                    if not job.future.done():
                        job.future.set_exception(Draining())
        self._pool.shutdown(wait=True)


def qualified_name(cls: type) -> str:
    """``module.Class``: how a measurement records which batcher class ran."""
    return f"{cls.__module__}.{cls.__qualname__}"
